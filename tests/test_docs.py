"""The docs: the site builds without a warning, the README stays short and self-contained, and
the runner of the docs' examples (the root conftest.py) catches output that drifted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    build = subprocess.run(
        [
            sys.executable,
            *("-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html"),
            *("-d", str(tmp_path / "doctrees"), str(ROOT / "docs"), str(tmp_path / "html")),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    html = (tmp_path / "html" / "config.html").read_text(encoding="utf-8")
    # the generated config reference holds every key, with its help text
    assert "train.checkpoint_every" in html and "steps between checkpoints" in html
    api = (tmp_path / "html" / "api.html").read_text(encoding="utf-8")
    assert 'id="mcalc.logistic_l2_grad"' in api and 'id="mcalc.solvers.default_tol"' in api


def test_readme_is_short():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 200


def test_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    install = next(line.strip() for line in ci if line.strip().startswith("pip install"))
    tests = next(line.strip() for line in ci if line.strip().startswith("python -m pytest"))
    assert f"{install} && {tests}" in README.read_text(encoding="utf-8").splitlines()


def test_readme_links_point_into_the_repository():
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README.read_text(encoding="utf-8"))
    local = [link for link in links if "://" not in link]
    assert local, "the README links into the docs"
    missing = [link for link in local if not (ROOT / link).exists()]
    assert not missing


def test_user_docs_and_code_cite_no_file_outside_the_repository():
    """The team's spec and the seed document are not the users': nothing may point there."""
    files = [README, *(ROOT / "docs").glob("*.md"), *(ROOT / "mcalc").rglob("*.py")]
    files += [*(ROOT / "configs").glob("*.yaml"), *(ROOT / "examples").glob("*.py")]
    outside = re.compile(r"(?<![\w-])spec/|\.\./shared|(?<![\w-])seed/")
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in files
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if outside.search(line)
    ]
    assert not hits


# ---------------------------------------------------------------------------- the runner


@pytest.fixture(scope="module")
def runner(request):
    """The root conftest.py, which collects and runs the examples of the docs."""
    for plugin in request.config.pluginmanager.get_plugins():
        if getattr(plugin, "__file__", None) == str(ROOT / "conftest.py"):
            return plugin
    raise AssertionError("the root conftest.py is not loaded")


def _page(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "page.md"
    path.write_text(text, encoding="utf-8")
    return path


FENCE = "```"

GOOD = f"""\
{FENCE}python
>>> import jax.numpy as jnp
>>> jnp.ones(3).dtype, [1.5 * k for k in range(3)]
(dtype('float32'), [0.0, 1.5, 3.0])
>>> print("a long line ... with a varying middle")
a long line ... middle
{FENCE}

{FENCE}console
$ python -c "print(2 + 3)"
5
$ python -c "print('rel err', 8.8e-08, 'in', 3)"
rel err 9.5e-08 in 3
$ ls configs/p2.yaml examples/mygrad.py
configs/p2.yaml
examples/mygrad.py
$ mcalc verify --only no_such_derivation
mcalc verify: error: ...no_such_derivation...
[exit status 2]
{FENCE}

{FENCE}bash
pip install ".[docs]"   # shown, not run
{FENCE}
"""


@pytest.mark.slow
def test_runner_passes_a_page_whose_output_matches(runner, tmp_path):
    runner.run_page(_page(tmp_path, GOOD))


@pytest.mark.slow
@pytest.mark.parametrize(
    "drift, message",
    [
        ("(dtype('float32'), [0.0, 1.5, 3.0])", "(dtype('float32'), [0.0, 1.5, 3.5])"),
        ('$ python -c "print(2 + 3)"\n5\n', '$ python -c "print(2 + 3)"\n6\n'),
        ("[exit status 2]", "[exit status 1]"),
        ("rel err 9.5e-08 in 3", "rel err 9.5e-10 in 3"),
        ("rel err 9.5e-08 in 3", "rel err 9.5e-08 in 4"),
        ("examples/mygrad.py\n$", "examples/other.py\n$"),
        ('pip install ".[docs]"   # shown, not run', "mcalc train configs/p2.yaml"),
        (
            "```python\n>>> import jax.numpy as jnp",
            "```python\nimport jax.numpy as jnp\n>>> import jax.numpy as jnp",
        ),
    ],
    ids=[
        "python-output",
        "console-output",
        "exit-status",
        "e-number-off-by-100x",
        "text-beside-an-e-number",
        "console-line",
        "unrun-command",
        "no-prompt",
    ],
)
def test_runner_fails_a_page_that_drifted(runner, tmp_path, drift, message):
    assert drift in GOOD
    page = _page(tmp_path, GOOD.replace(drift, message))
    with pytest.raises(AssertionError):
        runner.run_page(page)
