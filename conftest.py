"""Runs the examples of README.md, docs/**/*.md and mcalc's docstrings as tests.

Every example a reader sees runs, and what it prints is compared with what the page
shows, so a page cannot drift from the code:

- A ```python block is a doctest: ``>>>``/``...`` prompts, each followed by the exact
  output (ELLIPSIS and NORMALIZE_WHITESPACE: ``...`` stands for any text). A block
  without prompts is an error: its output would go unchecked.
- A ```console block holds ``$ command`` lines, each followed by what it prints (stdout
  and stderr together, as a terminal shows them; ``...`` stands for any text, several
  lines included). The command must exit 0, unless the last line shown is
  ``[exit status N]``. A number in e-notation (``9.5e-08``: a measured error or
  gradient norm, which rounding makes differ between CPUs) matches any number within a
  factor of 10 of it. Each command runs in ``bash`` in the page's working folder, a
  temporary folder where ``configs/`` and ``examples/`` of this repository are reachable
  by relative path, with ``mcalc`` and ``python`` meaning this interpreter (``python -m
  mcalc``), whether or not mcalc is installed.
- A ```bash block is shown, not run: it may only hold commands whose effect the suite
  checks elsewhere (installing, the whole test suite, the benchmarks, the docs build,
  ``mcalc run``), so that nothing else escapes execution.
- ``>>>`` examples in the docstrings of ``mcalc/`` run the same way.

The examples of one page (or module) are one test, run in order in one namespace and
one working folder, with JAX's default configuration (float32, rank promotion allowed):
the suite's own strict settings (``tests/conftest.py``) would change what they print.
"""

from __future__ import annotations

import contextlib
import difflib
import doctest
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
# The environment as it was before tests/conftest.py adds its simulated devices.
ENVIRON = dict(os.environ)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
COMMAND_TIMEOUT_S = 600

# Commands a ```bash block may show without running them (checked elsewhere or too long).
SHOWN_ONLY = re.compile(
    r"(pip install |python -m pytest|mcalc run$|mcalc run |python scripts/|scripts/\S+\.sh |"
    r"python -m sphinx |bash \.ci/run|git clone |cd )"
)


# ---------------------------------------------------------------------------- console


def _split_console(text: str) -> list[tuple[str, list[str]]]:
    """``$ command`` lines (a trailing backslash continues one) and the output after each."""
    steps: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps and not steps[-1][1] and steps[-1][0].endswith("\\"):
            steps[-1] = (steps[-1][0] + "\n" + line, [])
        elif steps:
            steps[-1][1].append(line)
        elif line.strip():
            raise ValueError(f"console block: output before the first '$ ' command: {line!r}")
    return steps


_E_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?e[-+]\d+")


def _same_up_to_rounding(want: str, got: str) -> bool:
    """Whether ``got`` is ``want`` with each e-notation number within a factor of 10 of it
    (and ``...`` standing for any text)."""
    import math

    shown = _E_NUMBER.findall(want)
    if not shown:
        return False
    pattern = ""
    for part in re.split(rf"({_E_NUMBER.pattern}|\.\.\.)", want):
        if part == "...":
            pattern += ".*?"
        elif _E_NUMBER.fullmatch(part):
            pattern += f"({_E_NUMBER.pattern})"
        else:
            pattern += re.escape(part)
    m = re.fullmatch(pattern, got, re.DOTALL)
    if m is None:
        return False
    for a, b in zip(shown, m.groups(), strict=True):
        a, b = float(a), float(b)
        if a == b:
            continue
        if a == 0 or b == 0 or (a > 0) != (b > 0) or abs(math.log10(abs(b) / abs(a))) > 1:
            return False
    return True


def _shims(folder: Path) -> Path:
    """``mcalc`` and ``python`` on PATH as this interpreter (mcalc may be on PYTHONPATH only)."""
    bin_dir = folder / ".bin"
    bin_dir.mkdir()
    for name, args in (("mcalc", " -m mcalc"), ("python", ""), ("python3", "")):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}"{args} "$@"\n')
        shim.chmod(0o755)
    return bin_dir


def _console_env(folder: Path) -> dict[str, str]:
    env = dict(ENVIRON)
    env["PATH"] = f"{folder / '.bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"  # stdout and stderr interleave as on a terminal
    env["MCALC_CACHE_DIR"] = str(folder / ".cache")  # a user's default: a compilation cache
    return env


def evaluate_console(example) -> str | None:
    """Run each ``$ command`` of a console block; the differences from the page, if any."""
    folder = Path(example.namespace["__page_folder__"])
    env = _console_env(folder)
    checker = doctest.OutputChecker()
    for command, shown in _split_console(str(example.parsed)):
        while shown and not shown[-1].strip():
            shown.pop()
        want_status = 0
        if shown and (m := re.fullmatch(r"\[exit status (\d+)\]", shown[-1].strip())):
            want_status = int(m.group(1))
            shown = shown[:-1]
        run = subprocess.run(
            ["bash", "-c", command],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
        )
        got = "\n".join(line.rstrip() for line in run.stdout.splitlines()).strip("\n") + "\n"
        want = "\n".join(line.rstrip() for line in shown).strip("\n") + "\n"
        same = (
            checker.check_output(want, got, doctest.ELLIPSIS)
            or (want.strip() == "" and got.strip() == "")
            or _same_up_to_rounding(want, got)
        )
        if not same or run.returncode != want_status:
            diff = "\n".join(
                difflib.unified_diff(
                    want.splitlines(), got.splitlines(), "shown", "printed", lineterm=""
                )
            )
            return f"$ {command}\nexit status {run.returncode}, expected {want_status}\n" + (
                diff or "(the output matches)"
            )
    return None


# ---------------------------------------------------------------------------- parsers


def _not_doctest(example) -> str:
    return "a ```python block must be in doctest form (>>> prompts and the output they print)"


def _shown_only(example) -> str | None:
    for line in str(example.parsed).splitlines():
        command = line.split("#", 1)[0].strip()
        if command and not SHOWN_ONLY.match(command):
            return (
                f"`{command}` is in a ```bash block, which is not run: put it in a ```console "
                "block with the output it prints, so the test suite runs it"
            )
    return None


def _sybil_parsers() -> list:
    from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser

    python = PythonCodeBlockParser(doctest_optionflags=FLAGS)
    python.codeblock_parser = CodeBlockParser("python", _not_doctest)
    return [
        python,
        CodeBlockParser("console", evaluate_console),
        CodeBlockParser("bash", _shown_only),
        *(CodeBlockParser(lang, _shown_only) for lang in ("sh", "shell", "shell-session")),
    ]


def parse_page(path: Path):
    """The Sybil document of a Markdown page or a module's docstrings."""
    from sybil import Document
    from sybil.document import PythonDocStringDocument
    from sybil.parsers.rest import DocTestParser

    if path.suffix == ".py":
        return PythonDocStringDocument.parse(str(path), DocTestParser(optionflags=FLAGS))
    return Document.parse(str(path), *_sybil_parsers())


# ---------------------------------------------------------------------------- running a page


@contextlib.contextmanager
def page_context(document) -> Iterator[None]:
    """A fresh working folder, JAX's defaults, and no persistent JAX cache in-process."""
    import jax

    folder = Path(tempfile.mkdtemp(prefix="mcalc-docs-"))
    for name in ("configs", "examples"):
        if (ROOT / name).is_dir():
            (folder / name).symlink_to(ROOT / name, target_is_directory=True)
    _shims(folder)
    document.namespace["__page_folder__"] = str(folder)
    old_cwd, old_cache = os.getcwd(), os.environ.get("MCALC_CACHE_DIR")
    # mcalc.train would point JAX's process-wide compilation cache at a folder.
    os.environ["MCALC_CACHE_DIR"] = "off"
    os.chdir(folder)
    try:
        with (
            jax.enable_x64(False),
            jax.numpy_rank_promotion("allow"),
            jax.numpy_dtype_promotion("standard"),
        ):
            yield
    finally:
        os.chdir(old_cwd)
        if old_cache is None:
            os.environ.pop("MCALC_CACHE_DIR", None)
        else:
            os.environ["MCALC_CACHE_DIR"] = old_cache
        shutil.rmtree(folder, ignore_errors=True)


def run_page(path: Path) -> None:
    """Evaluate every example of a page in order; raises on the first that differs."""
    document = parse_page(path)
    with page_context(document):
        for example in document.examples():
            example.evaluate()


class PageExamples(pytest.Item):
    """All examples of one page: they share a namespace and a working folder, in order."""

    def runtest(self) -> None:
        run_page(self.path)

    def repr_failure(self, excinfo, style=None):
        from sybil.example import SybilFailure

        if isinstance(excinfo.value, SybilFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"examples of {self.path.relative_to(ROOT)}"


class PageFile(pytest.File):
    def collect(self):
        examples = list(parse_page(self.path).examples())
        if examples:
            item = PageExamples.from_parent(self, name="examples")
            if any(e.region.evaluator is evaluate_console for e in examples):
                item.add_marker(pytest.mark.slow)  # it spawns processes, like the CLI tests
            yield item


def _is_page(path: Path) -> bool:
    try:
        rel = path.resolve().relative_to(ROOT)
    except ValueError:
        return False
    parts = rel.parts
    if rel == Path("README.md"):
        return True
    if parts[0] == "docs" and path.suffix == ".md":
        return not any(p.startswith("_") for p in parts[1:])  # _build, _data
    if parts[0] == "mcalc" and path.suffix == ".py":
        return ">>>" in path.read_text(encoding="utf-8")
    return False


def pytest_collect_file(file_path: Path, parent):
    if _is_page(file_path):
        return PageFile.from_parent(parent, path=file_path)
    return None
