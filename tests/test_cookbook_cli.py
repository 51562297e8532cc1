"""`mcalc cookbook`: listing by section, search, show (with its check run there and then), formats,
and bad input as a clear error with exit status 2."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import mcalc
from mcalc.cli import main
from mcalc.cookbook import _registry


def _run(capsys, *argv):
    rc = main(["cookbook", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_listing_by_section(capsys):
    rc, out, err = _run(capsys)
    assert rc == 0 and not err
    lines = out.splitlines()
    headers = [line for line in lines if not line.startswith(" ") and line.endswith("entries")]
    assert [h.split(" (")[1].split(")")[0] for h in headers] == [
        s.key for s in mcalc.cookbook.sections()
    ]
    assert lines[1].split() == ["trace_X", "tr(X)", "→", "I"]
    assert any(line.split()[:1] == ["eig_max_hvp"] and line.endswith("[HVP]") for line in lines)
    n = len(mcalc.cookbook.entries())
    assert lines[-1].startswith(f"{n} entries.") and n >= 150
    rc, one, _ = _run(capsys, "list", "norms")
    assert rc == 0 and one.splitlines()[0].startswith("Norms (norms): ")
    assert _run(capsys, "--section", "norms")[1] == one


def test_listing_formats(capsys):
    rc, out, _ = _run(capsys, "--format", "json")
    data = json.loads(out)
    assert rc == 0 and data["count"] == len(mcalc.cookbook.entries())
    first = data["sections"][0]["entries"][2]
    assert first["name"] == "trace_AXB" and first["arguments"] == ["X", "A", "B"]
    assert first["grad_formula_text"] == "Aᵀ Bᵀ" and first["published"][0]["expect"] == "transpose"
    rc, out, _ = _run(capsys, "list", "forms", "--format", "markdown")
    lines = out.splitlines()
    assert lines[0] == "## Linear, bilinear and quadratic forms"
    assert lines[2] == "| entry | function | derivative | source |"
    assert (
        "| `bilinear_aXb` | $a^\\top X b$ | $\\frac{\\partial f}{\\partial X} = ab^\\top$ | "
        "Matrix Cookbook (2012), eq. (70) |"
    ) in lines
    assert all("\\vert" in line or "|" not in line.split("$")[1] for line in lines if "$" in line)


def test_search(capsys):
    rc, out, _ = _run(capsys, "search", "Kronecker", "trace")
    names = [line.split()[0] for line in out.splitlines() if line.startswith("  ")]
    assert rc == 0 and names == ["trace_kron_AX", "trace_kron_XX", "trace_kron_form"]
    rc, out, _ = _run(capsys, "search", "attention", "--format", "json")
    assert rc == 0 and {e["name"] for s in json.loads(out)["sections"] for e in s["entries"]} >= {
        "attention_Q",
        "attention_K",
        "attention_V",
    }
    rc, out, err = _run(capsys, "search", "logdett")
    assert rc == 1 and not out
    assert err.startswith("mcalc cookbook: no entry matches 'logdett'.")


def test_show_prints_the_entry_and_its_check(capsys):
    rc, out, err = _run(capsys, "show", "quadratic_form")
    assert rc == 0 and not err
    assert out.startswith("quadratic_form: quadratic form, in the vector (P6)\n")
    assert "  source      Matrix Cookbook (2012), eq. (81)" in out
    assert "published form 1 that differs: Xw + wᵀ X → 2Xw" in out
    assert "right only for symmetric inputs" in out and "column vector plus a row vector" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("  float")]
    assert [r[0] for r in rows] == ["float32", "float64"] and all(r[-1] == "pass" for r in rows)
    assert out.rstrip().endswith("all agree")


def test_show_formats_and_second_order(capsys):
    rc, out, _ = _run(capsys, "show", "quad_hessian", "--format", "json", "--trials", "2")
    data = json.loads(out)
    assert rc == 0 and data["kind"] == "hessian" and data["grad_formula"] == "B + B^\\top"
    rows = data["verification"]["rows"]
    assert [r["dtype"] for r in rows] == ["float32", "float64"] and all(r["ok"] for r in rows)
    assert (
        data["verification"]["trials"] == 2
        and "closed-form Hessian vs autodiff" in data["verification"]["measured_as"]
    )
    rc, out, _ = _run(capsys, "--format", "markdown", "show", "det_X", "--dtype", "float64")
    assert rc == 0 and out.startswith("### `det_X`: determinant\n")
    assert "$$ \\frac{\\partial f}{\\partial X} = \\det(X)\\,X^{-\\top} $$" in out
    assert "> **Checker's diagnosis:** The claimed gradient is off by a transpose" in out
    assert "| float64 |" in out and "| float32 |" not in out


def test_show_of_a_wrong_entry_exits_1(capsys, monkeypatch):
    entries = dict(_registry._registry())
    good = entries["linear_xa"]
    broken = dataclasses.replace(
        good, derivation=dataclasses.replace(good.derivation, grad=lambda x, a: 2 * a)
    )
    monkeypatch.setattr(_registry, "_registry", lambda: {**entries, "linear_xa": broken})
    rc, out, _ = _run(capsys, "show", "linear_xa", "--dtype", "float64", "--trials", "2")
    assert rc == 1 and "FAIL" in out and "DISAGREE: " in out and "factor of 2" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["show", "detx"], "no entry is named 'detx'. Did you mean 'det_X'"),
        (["list", "trace"], "unknown section 'trace'"),
        (["--section", "nope"], "unknown section 'nope'; the sections are traces, "),
        (["show", "det_X", "--trials", "0"], "trials must be an integer >= 1; got 0"),
    ],
)
def test_bad_input_is_a_clear_error(capsys, argv, message):
    rc, out, err = _run(capsys, *argv)
    assert rc == 2 and not out
    assert err.startswith("mcalc cookbook: error: ") and message in err


def test_usage_errors_and_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["cookbook", "--format", "yaml"])
    assert e.value.code == 2 and "invalid choice: 'yaml'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0 and "cookbook" in capsys.readouterr().out


def test_page_writes_and_checks(capsys, monkeypatch, tmp_path):
    from mcalc.cookbook import _page

    page = (Path(__file__).resolve().parents[1] / "docs" / "cookbook.md").read_text()
    monkeypatch.setattr(_page, "build_page", lambda: page)  # the measurement takes minutes
    out = tmp_path / "cookbook.md"
    rc, stdout, _ = _run(capsys, "page", "--output", str(out))
    assert rc == 0 and out.read_text() == page and stdout == f"wrote {out}\n"
    rc, stdout, _ = _run(capsys, "page", "--check", str(out))
    assert rc == 0 and stdout == f"{out}: current\n"
    out.write_text(page.replace("### `det_X`: determinant", "### `det_X`: the determinant"))
    rc, stdout, _ = _run(capsys, "page", "--check", str(out))
    assert rc == 1 and stdout.startswith("stale: line ") and stdout.endswith(f"{out}: stale\n")
    rc, _, err = _run(capsys, "page", "--check", str(tmp_path / "missing.md"))
    assert rc == 2 and "--check: no such file" in err
