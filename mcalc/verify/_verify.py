"""Verify every built-in derivation: closed form vs autodiff vs finite differences.

The built-in derivations are the problems' (:func:`mcalc.derivations`) and the
cookbook's (:func:`mcalc.cookbook.derivations`). Each goes through the one checking
engine -- :func:`mcalc.check_grad`, :func:`mcalc.check_hessian` or
:func:`mcalc.check_hvp`, by the derivation's ``kind`` -- at several random sizes,
in each dtype asked for. A row of the result is one (derivation, dtype) pair.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import math
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from ..check import GradCheckReport, check_grad, check_hessian, check_hvp
from ..check._points import cast_floats, is_floating, to_host
from ..problems import Derivation, derivations
from ._select import close_matches, describe_pattern_syntax, match_names

__all__ = ["verify", "VerifyResult", "VerifyRow", "latex_to_text"]

_FN = "mcalc.verify"
_CHECKS = {"gradient": check_grad, "hessian": check_hessian, "hvp": check_hvp}
_KIND_LABELS = {"gradient": "", "hessian": "Hessian", "hvp": "HVP"}


@dataclasses.dataclass(frozen=True)
class VerifyRow:
    """One derivation in one dtype.

    Attributes:
      problem: ``"P1"`` .. ``"P7"`` for the problems' derivations, the section
        (``"traces"``, ...) for the cookbook's.
      name: the derivation's registry name.
      formula, grad_formula: LaTeX of the function and of the closed form.
      wrt: the argument differentiated.
      kind: ``"gradient"``, ``"hessian"`` or ``"hvp"`` (see :class:`mcalc.Derivation`).
      dtype: the dtype the closed form was computed in.
      sizes: the shapes of the differentiated argument at the points tried.
      max_rel_error: largest scale-aware relative error against float64 autodiff
        (``jax.grad``, ``jax.hessian`` or ``jax.jvp`` of ``jax.grad``).
      fd_max_rel_error: the same against float64 central finite differences.
      ok: the check passed.
      diagnosis: the check's one-sentence diagnosis.
      report: the full :class:`mcalc.GradCheckReport`.
    """

    problem: str
    name: str
    formula: str
    grad_formula: str
    wrt: str
    dtype: str
    sizes: tuple[str, ...]
    max_rel_error: float
    fd_max_rel_error: float
    ok: bool
    diagnosis: str
    report: GradCheckReport
    kind: str = "gradient"

    @property
    def derivative(self) -> str:
        """Plain text of the closed form, marked with its kind (``"Hessian: Xᵀ S X + 2λ I"``)."""
        label = _KIND_LABELS.get(self.kind, self.kind)
        text = latex_to_text(self.grad_formula)
        return f"{label}: {text}" if label else text

    def to_dict(self, *, report: bool = False) -> dict[str, Any]:
        out = {
            k: getattr(self, k)
            for k in (
                "problem",
                "name",
                "kind",
                "formula",
                "grad_formula",
                "wrt",
                "dtype",
                "sizes",
                "max_rel_error",
                "fd_max_rel_error",
                "ok",
                "diagnosis",
            )
        }
        out["sizes"] = list(self.sizes)
        for k in ("max_rel_error", "fd_max_rel_error"):
            out[k] = out[k] if math.isfinite(out[k]) else None
        if report:
            out["report"] = self.report.to_dict()
        return out


@dataclasses.dataclass(frozen=True)
class VerifyResult:
    """The outcome of :func:`mcalc.verify`: one row per (derivation, dtype).

    Attributes:
      rows: the rows, in registry order, dtypes in the order asked.
      seed, trials, dtypes: how it was run.
      seconds: wall-clock time, compiles included.
    """

    rows: tuple[VerifyRow, ...]
    seed: int
    trials: int
    dtypes: tuple[str, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        """Every row passed."""
        return all(r.ok for r in self.rows)

    @property
    def failures(self) -> tuple[VerifyRow, ...]:
        return tuple(r for r in self.rows if not r.ok)

    def __bool__(self) -> bool:
        return self.ok

    def summary(self) -> str:
        names = len({r.name for r in self.rows})
        bad = len(self.failures)
        verdict = "all agree" if not bad else f"{bad} DISAGREE"
        n = len(self.dtypes)
        return (
            f"{names} derivation{'s' if names != 1 else ''} x {n} dtype{'s' if n != 1 else ''}, "
            f"{self.trials} random size{'s' if self.trials != 1 else ''} each: {verdict} "
            f"({self.seconds:.1f} s)"
        )

    def to_text(self) -> str:
        """A plain-text table, one row per (derivation, dtype), with failures explained below it."""
        header = (
            "problem",
            "function",
            "derivative",
            "sizes",
            "dtype",
            "rel err vs autodiff",
            "vs finite diff",
            "result",
        )
        body = [
            (
                r.problem,
                r.name,
                _clip(r.derivative, 40),
                _clip(" ".join(r.sizes), 22),
                r.dtype,
                _fmt(r.max_rel_error),
                _fmt(r.fd_max_rel_error),
                "pass" if r.ok else "FAIL",
            )
            for r in self.rows
        ]
        widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
        numeric = {5, 6}

        def line(cells):
            return "  ".join(
                str(c).rjust(w) if i in numeric else str(c).ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()

        lines = [line(header), line(["-" * w for w in widths])]
        lines += [line(row) for row in body]
        lines.append("")
        for r in self.failures:
            lines.append(f"FAIL {r.name} [{r.dtype}]: {r.diagnosis}")
        lines.append(self.summary())
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """A Markdown table (formulas as ``$...$`` LaTeX) and the summary line."""
        lines = [
            "| problem | function | derivative | sizes | dtype | rel. error vs autodiff | "
            "vs finite differences | result |",
            "|---|---|---|---|---|---:|---:|---|",
        ]
        for r in self.rows:
            formula = r.grad_formula.replace(r"\|", r"\Vert ").replace("|", r"\vert ")
            label = _KIND_LABELS.get(r.kind, r.kind)
            formula = f"{label}: ${formula}$" if label else f"${formula}$"
            lines.append(
                f"| {r.problem} | `{r.name}` | {formula} | {' '.join(r.sizes)} | {r.dtype} | "
                f"{_fmt(r.max_rel_error)} | {_fmt(r.fd_max_rel_error)} | "
                f"{'pass' if r.ok else '**FAIL**'} |"
            )
        lines.append("")
        for r in self.failures:
            lines.append(f"- **{r.name}** ({r.dtype}): {r.diagnosis}")
        if self.failures:
            lines.append("")
        lines.append(self.summary())
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the settings, ``ok``, and every row (failing rows carry their full report)."""
        return {
            "ok": self.ok,
            "seed": self.seed,
            "trials": self.trials,
            "dtypes": list(self.dtypes),
            "seconds": self.seconds,
            "rows": [r.to_dict(report=not r.ok) for r in self.rows],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def __str__(self) -> str:
        return self.to_text()


def _fmt(x: float) -> str:
    return f"{x:.1e}" if math.isfinite(x) else "-"


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


_LATEX = [
    (r"^{-\top}", "⁻ᵀ"),
    (r"^{+\top}", "⁺ᵀ"),
    (r"^{-1}", "⁻¹"),
    (r"^{-2}", "⁻²"),
    (r"^{-3}", "⁻³"),
    (r"^+", "⁺"),
    (r"^{\odot 2}", "²"),
    (r"\operatorname{tr}", "tr"),
    (r"\operatorname{softplus}", "softplus"),
    (r"^\top", "ᵀ"),
    (r"^{\top}", "ᵀ"),
    (r"\odot", " ⊙ "),
    (r"\otimes", " ⊗ "),
    (r"\oslash", " ⊘ "),
    (r"\circ", " ∘ "),
    (r"\sigma", "σ"),
    (r"\Sigma", "Σ"),
    (r"\delta", "δ"),
    (r"\lambda", "λ"),
    (r"\Lambda", "Λ"),
    (r"\kappa", "κ"),
    (r"\gamma", "γ"),
    (r"\beta", "β"),
    (r"\epsilon", "ε"),
    (r"\psi", "ψ"),
    (r"\mu", "μ"),
    (r"\ell", "ℓ"),
    (r"\operatorname{diag}", "diag"),
    (r"\nabla", "∇"),
    (r"\theta", "θ"),
    (r"\text", ""),
    (r"\partial ", "∂"),
    (r"\partial", "∂"),
    (r"\sum", "Σ"),
    (r"\prod", "∏"),
    (r"\pi", "π"),
    (r"\infty", "∞"),
    (r"\langle", "⟨"),
    (r"\rangle", "⟩"),
    (r"\|", "‖"),
    (r"\ln", "ln"),
    (r"\det", "det"),
    (r"\max", "max"),
    (r"\min", "min"),
    (r"\arg", "arg"),
    (r"\tanh", "tanh"),
    (r"\cosh", "cosh"),
    (r"\mathbf 1", "1"),
    (r"\mathcal N", "N"),
    (r"\mathbb R", "ℝ"),
    (r"\mathrm{KL}", "KL"),
    (r"\tfrac12", "½"),
    (r"\textstyle", ""),
    (r"\Big", ""),
    (r"\big", ""),
    (r"\quad", " "),
    (r"\times", "×"),
    (r"\in ", "∈ "),
    (r"\to ", "→ "),
    (r"\cdot", "·"),
    (r"\,", " "),
    (r"\ ", " "),
]

# Constructs with arguments, rewritten before the symbols above.
_LATEX_RE = [
    (
        r"\\begin\{cases\}(.*)\\end\{cases\}",
        lambda m: m[1].replace("&", " if ").replace("\\\\", ";"),
    ),
    (r"\\operatorname\{(\w+)\}", r"\1"),
    (r"\\text\{([^{}]*)\}", r"\1"),
    (r"\\overline\{([^{}]*)\}", r"mean(\1)"),
    (r"\\sqrt\{([^{}]*)\}", r"√(\1)"),
    (r"\\sqrt\s*(\w)", r"√\1"),
    (r"\\hat\s*(\w)", "\\1\u0302"),
    (r"\\bar\s*(\w)", "\\1\u0304"),
    (r"\\dot\s*(\w)", "\\1\u0307"),
    (r"\\le(?![a-z])", "≤"),
    (r"\\ne(?![a-z])", "≠"),
    (r"\\frac\{", r"\\tfrac{"),
    # a named function right after a symbol: keep a space (Σ_i ln, ln det, W_1 σ)
    (r"(?<=[\w)}])(\\(?:ln|det|tanh|cosh|max|min|operatorname)(?![a-z]))", r" \1"),
    (r"(\\(?:ln|det))(?=\\)", r"\1 "),
]


def _group(s: str) -> str:
    """``a + b`` -> ``(a + b)``; a single symbol (``1``, ``σ^2``) stays as it is."""
    s = s.strip()
    return s if re.fullmatch(r"[\w.]+|\w\^\w+", s) else f"({s})"


def latex_to_text(tex: str) -> str:
    """Readable Unicode for the small LaTeX of mcalc's formulas (for plain-text tables).

    Example:
      >>> from mcalc.verify import latex_to_text
      >>> latex_to_text(r"X^\\top(\\sigma(Xw) - y) + 2\\lambda w")
      'Xᵀ(σ(Xw) - y) + 2λ w'
    """
    out = tex
    for pattern, repl in _LATEX_RE:
        out = re.sub(pattern, repl, out)
    for a, b in _LATEX:
        out = out.replace(a, b)
    for _ in range(3):  # innermost first: a_{ij} inside a fraction's braces
        out = re.sub(r"_\{([^{}]*)\}(?=[A-Za-z\\])", r"_\1 ", out)
        out = re.sub(r"_\{([^{}]*)\}", r"_\1", out)
    out = re.sub(
        r"\\tfrac\{([^{}]*)\}\{([^{}]*)\}", lambda m: f"{_group(m[1])}/{_group(m[2])} ", out
    )
    out = re.sub(r"\\tfrac\{([^{}]*)\}\s*(\w)", lambda m: f"{_group(m[1])}/{m[2]} ", out)
    out = re.sub(r"\\tfrac\s*(\w)\s*(\w)", r"\1/\2 ", out)
    out = re.sub(r"\^\{([^{}]*)\}", r"^\1", out)
    out = re.sub(r"_\{([^{}]*)\}", r"_\1", out)
    out = out.replace("{", "").replace("}", "").replace("\\", "")
    return re.sub(r"\s+", " ", out).strip()


# ---------------------------------------------------------------------------


def builtin_derivations() -> dict[str, Derivation]:
    """Every built-in derivation: the seven problems', then the cookbook's, by name."""
    from ..cookbook import derivations as cookbook_derivations

    # The cookbook's "problems" section holds the problems' own records: one entry each.
    return {**derivations(), **cookbook_derivations()}


def _select(
    registry: Mapping[str, Derivation] | Sequence[Derivation] | None, names: Iterable[str] | None
) -> list[Derivation]:
    if registry is None:
        registry = builtin_derivations()
    if not isinstance(registry, Mapping):
        registry = {d.name: d for d in registry}
    for key, d in registry.items():
        if not isinstance(d, Derivation):
            raise TypeError(
                f"{_FN}: derivations must be mcalc.Derivation records; got {type(d).__name__} "
                f"for {key!r}."
            )
    if names is None:
        return list(registry.values())
    if isinstance(names, str):
        names = [names]
    chosen: set[str] = set()
    for pattern in names:
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f"{_FN}: names must be non-empty strings; got {pattern!r}.")
        hits = match_names(pattern, registry)
        if not hits:
            close = close_matches(pattern, registry)
            hint = (
                f"close matches: {', '.join(close)}"
                if close
                else "`mcalc cookbook` lists the cookbook's names"
            )
            raise ValueError(
                f"{_FN}: no derivation matches {pattern!r} ({describe_pattern_syntax}); {hint}."
            )
        chosen.update(hits)
    return [d for n, d in registry.items() if n in chosen]  # in registry order


def _dtypes(dtypes: Sequence[Any]) -> tuple[str, ...]:
    if isinstance(dtypes, str):
        dtypes = (dtypes,)
    out = []
    for dt in dtypes:
        try:
            name = str(np.dtype(dt)) if dt != "bfloat16" else "bfloat16"
            ok = is_floating(dt)
        except TypeError:
            ok = False
        if not ok:
            raise ValueError(
                f"{_FN}: dtypes must be floating dtypes such as 'float32' or 'float64'; got {dt!r}."
            )
        out.append(name)
    if not out:
        raise ValueError(f"{_FN}: dtypes must name at least one dtype; got {dtypes!r}.")
    return tuple(dict.fromkeys(out))


class _SharedSample:
    """``d.sample`` drawn once per key in float64 and cast to each dtype.

    The float32 and the float64 check of a derivation then see the same random
    sizes and values, and the random-number programs compile once per size
    instead of once per size and dtype.
    """

    def __init__(self, d: Derivation):
        self.d = d
        self.cache: dict[tuple, tuple] = {}

    def __call__(self, key: jax.Array, dtype: Any) -> tuple:
        k = tuple(np.asarray(jax.random.key_data(key)).ravel().tolist())
        if k not in self.cache:
            with jax.enable_x64(True):
                self.cache[k] = to_host(tuple(self.d.sample(key, np.float64)))
        return cast_floats(self.cache[k], np.dtype(dtype) if dtype != "bfloat16" else dtype)


def _sizes(report: GradCheckReport) -> tuple[str, ...]:
    out = []
    for t in report.trials:
        # A Hessian's leaf is shaped arg.shape + arg.shape: show the argument's shape.
        half = 2 if report.kind == "hessian" else 1
        s = "+".join(
            "x".join(map(str, leaf.shape[: len(leaf.shape) // half])) or "()" for leaf in t.leaves
        )
        if s and s not in out:
            out.append(s)
    return tuple(out)


def verify(
    *,
    dtypes: Sequence[Any] = ("float32", "float64"),
    trials: int = 3,
    seed: int = 0,
    names: Iterable[str] | None = None,
    derivations: Mapping[str, Derivation] | Sequence[Derivation] | None = None,
    workers: int | None = None,
) -> VerifyResult:
    """Check every built-in closed-form derivative against autodiff and finite differences.

    For each derivation ``d`` (the problems' of :func:`mcalc.derivations` and the
    cookbook's of :func:`mcalc.cookbook.derivations`, or those given) and each dtype:
    by ``d.kind``, :func:`mcalc.check_grad` of ``d.grad`` against ``jax.grad(d.f)``,
    :func:`mcalc.check_hessian` against ``jax.hessian(d.f)`` or :func:`mcalc.check_hvp`
    against ``jax.jvp`` of ``jax.grad(d.f)``, in float64, and against float64 central
    finite differences, at ``trials`` points of random sizes drawn by ``d.sample``.
    Float64 works whatever JAX's global x64 setting.

    Args:
      dtypes: dtypes to compute the closed forms in.
      trials: random sizes per derivation and dtype.
      seed: seeds the sizes and values.
      names: only these derivations: each an exact name, a glob (``"det*"``) or a
        piece of a name (``"det"``), case ignored; each must match at least one.
      derivations: check these instead of the built-in ones (a name -> Derivation
        mapping or a sequence of Derivation).
      workers: derivations checked at once, in threads (default: one per CPU core, at
        most 4). Most of the time goes into XLA compiles, which run in parallel.

    Returns:
      A :class:`VerifyResult`: ``.ok``, ``.rows``, and renderers ``to_text()``,
      ``to_markdown()``, ``to_json()``.

    Raises:
      ValueError: a name that matches nothing (with close matches), a non-floating
        dtype, ``trials < 1``, a derivation whose ``kind`` is not ``"gradient"``,
        ``"hessian"`` or ``"hvp"``.

    Example:
      >>> import mcalc
      >>> result = mcalc.verify(names=["quadratic_form"], dtypes=["float64"], trials=2)
      >>> result.ok, [(r.name, r.dtype) for r in result.rows]
      (True, [('quadratic_form', 'float64')])
    """
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"{_FN}: trials must be an integer >= 1; got {trials!r}.")
    if workers is None:
        workers = min(4, os.cpu_count() or 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"{_FN}: workers must be an integer >= 1; got {workers!r}.")
    selected = _select(derivations, names)
    for d in selected:
        if d.kind not in _CHECKS:
            raise ValueError(
                f"{_FN}: derivation {d.name!r} has kind {d.kind!r}; expected one of "
                f"{', '.join(repr(k) for k in _CHECKS)}."
            )
    dts = _dtypes(dtypes)
    x64 = bool(jax.config.jax_enable_x64)  # the caller's setting, for the worker threads

    def rows_of(d: Derivation) -> list[VerifyRow]:
        with jax.enable_x64(x64):
            sample = _SharedSample(d)
            return [_row(d, dt, sample, trials, seed) for dt in dts]

    start = time.perf_counter()
    if workers == 1 or len(selected) <= 1:
        per_derivation = [rows_of(d) for d in selected]
    else:
        with concurrent.futures.ThreadPoolExecutor(min(workers, len(selected))) as pool:
            per_derivation = list(pool.map(rows_of, selected))
    rows = tuple(row for rows in per_derivation for row in rows)
    return VerifyResult(rows, seed, trials, dts, time.perf_counter() - start)


def _row(d: Derivation, dtype: str, sample: _SharedSample, trials: int, seed: int) -> VerifyRow:
    check = _CHECKS[d.kind]
    report = check(
        d.f, d.grad, argnum=d.argnum, sampler=sample, dtype=dtype, trials=trials, seed=seed
    )
    return VerifyRow(
        problem=d.problem,
        name=d.name,
        formula=d.formula,
        grad_formula=d.grad_formula,
        wrt=d.wrt,
        dtype=dtype,
        sizes=_sizes(report),
        max_rel_error=report.max_rel_error,
        fd_max_rel_error=report.fd_max_rel_error,
        ok=report.ok,
        diagnosis=report.diagnosis,
        report=report,
        kind=d.kind,
    )
