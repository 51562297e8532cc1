"""docs/cookbook.md is generated from the registry, and its measured errors are current.

Design (so that the test cannot flake across machines): the page's text -- entries,
formulas, conditions, sources, notes, published forms, examples -- must equal what the
registry renders now, exactly, with the measured numbers and the checker's diagnoses masked
(fast, every run). The numbers are compared with a fresh measurement on a log scale, within a
factor of 30 above each dtype's rounding floor: they are rounding noise whose last digits
differ between machines, and a wrong formula is off by orders of magnitude more. That
measurement is the full `mcalc verify` run (fresh process, JAX's default config), which is
also the acceptance check that every entry passes in float32 and float64.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mcalc
from mcalc.cookbook._page import (
    MEASURED,
    PAGE_TRIALS,
    compare_measurements,
    compare_structure,
    mask,
    measurements_from,
    parse_measurements,
    render_page,
)
from mcalc.verify._verify import builtin_derivations

PAGE = Path(__file__).resolve().parents[1] / "docs" / "cookbook.md"
REGENERATE = "regenerate it: mcalc cookbook page --output docs/cookbook.md"


def test_the_page_is_generated_from_the_registry():
    page = PAGE.read_text(encoding="utf-8")
    assert compare_structure(page, render_page()) == [], REGENERATE
    measured = parse_measurements(page)
    assert set(measured) == set(mcalc.cookbook.entries())
    assert all("float32" in m for m in measured.values()), "every entry shows its errors"


def test_a_stale_page_is_caught():
    page = PAGE.read_text(encoding="utf-8")
    fresh = parse_measurements(page)
    # A formula changed in the registry, or edited on the page:
    edited = page.replace("$$ \\frac{\\partial f}{\\partial X} = A^\\top B^\\top $$", "$$ x $$", 1)
    (problem,) = compare_structure(edited, page)
    assert "differs from what the registry gives" in problem and "A^\\top B^\\top" in problem
    # A number off by far more than rounding (a wrong formula) or a sizes change:
    line = next(x for x in page.splitlines() if x.startswith(MEASURED + "float32"))
    worse = page.replace(line, line.replace("float64 `", "float64 `3.0e-05` was `", 1), 1)
    problems = compare_measurements(parse_measurements(worse), fresh)
    assert len(problems) == 1 and "float64 error 3.0e-05 on the page" in problems[0]
    # ... but not the last digits that differ between machines:
    jitter = {n: dict(m) for n, m in fresh.items()}
    for m in jitter.values():
        m["float32"] = 3 * m["float32"] + 1e-8
        m["fd"] = 5 * m["fd"]
    assert compare_measurements(parse_measurements(page), jitter) == []
    assert mask(page) == mask(render_page())  # placeholders mask like numbers


@pytest.mark.slow
def test_every_entry_verifies_and_the_page_shows_current_errors():
    """The acceptance run: JAX's default config (x64 off), every built-in derivation -- the
    problems' and the cookbook's -- in float32 and float64; then the page's numbers against it."""
    env = dict(os.environ)
    env.pop("JAX_ENABLE_X64", None)
    out = subprocess.run(
        [sys.executable, "-m", "mcalc", "verify", "--format", "json", "--trials", str(PAGE_TRIALS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    data = json.loads(out.stdout)
    names = list(builtin_derivations())
    assert [(r["name"], r["dtype"]) for r in data["rows"]] == [
        (n, dt) for n in names for dt in ("float32", "float64")
    ]
    for row in data["rows"]:
        assert row["ok"], row
        bound = 1e-10 if row["dtype"] == "float64" else 1e-4
        assert row["max_rel_error"] <= bound, row
        assert row["fd_max_rel_error"] is not None and row["fd_max_rel_error"] < 1e-4, row
        assert len(row["sizes"]) >= 1
    entries = mcalc.cookbook.entries()
    rows = data["rows"]
    page = parse_measurements(PAGE.read_text(encoding="utf-8"))
    # The diagnoses of the published forms are compared with the page by
    # test_cookbook.py::test_published_forms_are_flagged_with_their_diagnosis.
    fresh = measurements_from(rows, {n: m["diagnoses"] for n, m in page.items()})
    assert set(fresh) == set(entries)
    assert compare_measurements(page, fresh) == [], REGENERATE
