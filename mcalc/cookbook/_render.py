"""The cookbook as text, Markdown and JSON: listings by section, and one entry in full."""

from __future__ import annotations

import inspect
import json
import math
import textwrap
from collections.abc import Sequence
from typing import Any

from ..check import GradCheckReport
from ..verify._verify import VerifyResult, VerifyRow, latex_to_text
from ._entry import CONDITIONS, Entry
from ._registry import SECTIONS

__all__ = [
    "arguments",
    "describe",
    "listing_text",
    "listing_markdown",
    "listing_json",
    "show_text",
    "show_markdown",
    "show_json",
    "md_math",
    "derivative_latex",
]

WIDTH = 100
_KIND_LABEL = {"gradient": "gradient", "hessian": "Hessian", "hvp": "Hessian-vector product"}
# LaTeX of argument names that are spelled out in Python.
_SYMBOLS = {
    "Sigma": r"\Sigma",
    "Sigma0": r"\Sigma_0",
    "Sigma1": r"\Sigma_1",
    "Lambda": r"\Lambda",
    "mu": r"\mu",
    "mu0": r"\mu_0",
    "mu1": r"\mu_1",
    "gamma": r"\gamma",
    "beta": r"\beta",
    "W0": "W_0",
    "W1": "W_1",
    "w2": "w_2",
}


def arguments(e: Entry) -> list[str]:
    """The names of ``e.f``'s positional parameters, e.g. ``['X', 'A', 'B']``."""
    try:
        params = inspect.signature(e.f).parameters.values()
    except (TypeError, ValueError):  # pragma: no cover - builtins without signatures
        return []
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _sym(name: str) -> str:
    return _SYMBOLS.get(name, name)


def derivative_latex(e: Entry) -> str:
    """The LaTeX of the derivative's side: ``\\frac{∂f}{∂X} = ...``, the Hessian's, ``H[V] = ...``."""
    wrt = _sym(e.wrt)
    g = e.grad_formula
    if e.kind == "gradient":
        return (
            g
            if g.lstrip().startswith(r"\partial")
            else rf"\frac{{\partial f}}{{\partial {wrt}}} = {g}"
        )
    if e.kind == "hessian":
        return g if "=" in g else rf"\nabla^2_{{{wrt}}} f = {g}"
    return g  # "H[V] = ..."


def function_latex(e: Entry) -> str:
    return f"f({', '.join(_sym(a) for a in arguments(e))}) = {e.formula}"


def md_math(tex: str) -> str:
    """Inline ``$...$`` math safe inside a Markdown table cell (no bare ``|``)."""
    return "$" + tex.replace(r"\|", r"\Vert ").replace("|", r"\vert ") + "$"


def _conditions_text(e: Entry) -> str:
    return "; ".join(CONDITIONS[c] for c in e.conditions) or "none"


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def _section_title(key: str) -> str:
    return next(s.title for s in SECTIONS if s.key == key)


def _grouped(entries: Sequence[Entry]) -> list[tuple[Any, list[Entry]]]:
    out = []
    for s in SECTIONS:
        members = [e for e in entries if e.section == s.key]
        if members:
            out.append((s, members))
    return out


def _kind_tag(e: Entry) -> str:
    return {"gradient": "", "hessian": "  [Hessian]", "hvp": "  [HVP]"}[e.kind]


# -- listings --------------------------------------------------------------------------


def listing_text(entries: Sequence[Entry], *, footer: bool = True) -> str:
    """One line per entry, ``name  f  →  derivative``, grouped by section."""
    lines: list[str] = []
    width = max((len(e.name) for e in entries), default=0)
    for section, members in _grouped(entries):
        n = len(members)
        lines.append(f"{section.title} ({section.key}): {n} entr{'y' if n == 1 else 'ies'}")
        for e in members:
            body = f"{latex_to_text(e.formula)}  →  {latex_to_text(e.grad_formula)}"
            room = WIDTH - width - 4 - len(_kind_tag(e))
            lines.append(f"  {e.name.ljust(width)}  {_clip(body, room)}{_kind_tag(e)}")
        lines.append("")
    if footer:
        total = len(entries)
        lines.append(
            f"{total} entr{'y' if total == 1 else 'ies'}. `mcalc cookbook show NAME` prints one "
            "with its check; `mcalc cookbook search WORD` finds entries."
        )
    return "\n".join(lines).rstrip()


def listing_markdown(entries: Sequence[Entry]) -> str:
    """A Markdown table per section: entry, function, derivative, source."""
    lines: list[str] = []
    for section, members in _grouped(entries):
        lines += [
            f"## {section.title}",
            "",
            "| entry | function | derivative | source |",
            "|---|---|---|---|",
        ]
        for e in members:
            kind = "" if e.kind == "gradient" else f" ({_KIND_LABEL[e.kind]})"
            lines.append(
                f"| `{e.name}`{kind} | {md_math(e.formula)} | {md_math(derivative_latex(e))} | "
                f"{e.source} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip()


def describe(e: Entry) -> dict[str, Any]:
    """An entry as JSON-ready data (no functions)."""
    return {
        "name": e.name,
        "title": e.title,
        "section": e.section,
        "kind": e.kind,
        "arguments": arguments(e),
        "wrt": e.wrt,
        "argnum": e.argnum,
        "formula": e.formula,
        "grad_formula": e.grad_formula,
        "formula_text": latex_to_text(e.formula),
        "grad_formula_text": latex_to_text(e.grad_formula),
        "conditions": [{"key": c, "text": CONDITIONS[c]} for c in e.conditions],
        "source": e.source,
        "note": e.note,
        "published": [
            {"source": p.source, "formula": p.formula, "why": p.why, "expect": p.expect}
            for p in e.published
        ],
    }


def listing_json(entries: Sequence[Entry]) -> str:
    data = {
        "count": len(entries),
        "sections": [
            {
                "key": s.key,
                "title": s.title,
                "entries": [describe(e) for e in members],
            }
            for s, members in _grouped(entries)
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False)


# -- one entry -----------------------------------------------------------------------------


def _fmt(x: float) -> str:
    return f"{x:.1e}" if math.isfinite(x) else "-"


def _measured_as(e: Entry) -> str:
    if e.kind == "gradient":
        return "closed form vs jax.grad (float64) and finite differences"
    return f"closed-form {_KIND_LABEL[e.kind]} vs autodiff (float64) and finite differences"


def _wrap(label: str, text: str) -> list[str]:
    pad = " " * 14
    return textwrap.wrap(text, WIDTH, initial_indent=f"  {label:<12}", subsequent_indent=pad) or [
        f"  {label}"
    ]


def show_text(e: Entry, result: VerifyResult, published: Sequence[GradCheckReport]) -> str:
    """Everything about one entry, and its verification computed now."""
    args = arguments(e)
    lines = [f"{e.name}: {e.title}"]
    lines += _wrap("section", f"{e.section} ({_section_title(e.section)})")
    lines += _wrap("kind", f"{_KIND_LABEL[e.kind]} in {e.wrt}; f takes ({', '.join(args)})")
    lines += _wrap("f", latex_to_text(e.formula))
    lines += _wrap("derivative", latex_to_text(e.grad_formula))
    lines += _wrap("LaTeX", f"{e.formula}   ->   {derivative_latex(e)}")
    lines += _wrap("conditions", _conditions_text(e))
    lines += _wrap("source", e.source)
    if e.note:
        lines += _wrap("note", e.note)
    call = ", ".join(args) + (", V" if e.kind == "hvp" else "")
    lines += _wrap(
        "use", f'e = mcalc.cookbook.get("{e.name}"); e.f({", ".join(args)}); e.grad({call})'
    )
    for i, (p, report) in enumerate(zip(e.published, published, strict=True), 1):
        lines += ["", f"published form {i} that differs: {latex_to_text(p.formula)}"]
        lines += _wrap("where", p.source)
        lines += _wrap("why", p.why)
        lines += _wrap("checker", report.diagnosis)
    lines += [
        "",
        f"verified now: {_measured_as(e)}; seed {result.seed}, {result.trials} random sizes",
    ]
    lines += _rows_text(result.rows)
    lines.append(
        "all agree" if result.ok else "DISAGREE: " + "; ".join(r.diagnosis for r in result.failures)
    )
    return "\n".join(lines)


def _rows_text(rows: Sequence[VerifyRow]) -> list[str]:
    header = ("dtype", "rel err vs autodiff", "vs finite diff", "sizes", "result")
    body = [
        (
            r.dtype,
            _fmt(r.max_rel_error),
            _fmt(r.fd_max_rel_error),
            " ".join(r.sizes),
            "pass" if r.ok else "FAIL",
        )
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
    return [
        "  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *body]
    ]


def show_markdown(e: Entry, result: VerifyResult, published: Sequence[GradCheckReport]) -> str:
    lines = [
        f"### `{e.name}`: {e.title}",
        "",
        f"$$ {function_latex(e)} $$",
        "",
        f"$$ {derivative_latex(e)} $$",
        "",
        f"- **Kind:** {_KIND_LABEL[e.kind]} in ${_sym(e.wrt)}$",
        f"- **Conditions:** {_conditions_text(e)}",
        f"- **Source:** {e.source}",
    ]
    if e.note:
        lines.append(f"- **Note:** {e.note}")
    for p, report in zip(e.published, published, strict=True):
        lines += [
            "",
            f"> **Published form:** ${p.formula}$ ({p.source})  ",
            f"> **Why it differs:** {p.why}  ",
            f"> **Checker's diagnosis:** {report.diagnosis}",
        ]
    lines += [
        "",
        f"Verified now: {_measured_as(e)}; seed {result.seed}, {result.trials} random sizes.",
        "",
        "| dtype | rel. error vs autodiff | vs finite differences | sizes | result |",
        "|---|---:|---:|---|---|",
    ]
    for r in result.rows:
        lines.append(
            f"| {r.dtype} | {_fmt(r.max_rel_error)} | {_fmt(r.fd_max_rel_error)} | "
            f"{' '.join(r.sizes)} | {'pass' if r.ok else '**FAIL**'} |"
        )
    return "\n".join(lines)


def show_json(e: Entry, result: VerifyResult, published: Sequence[GradCheckReport]) -> str:
    data = describe(e)
    for record, report in zip(data["published"], published, strict=True):
        record["diagnosis"] = report.diagnosis
        record["flagged"] = not report.ok
    data["verification"] = {"measured_as": _measured_as(e), **result.to_dict()}
    return json.dumps(data, indent=2, ensure_ascii=False)
