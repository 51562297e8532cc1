"""All cookbook entries, by section; lookup by name, search by words."""

from __future__ import annotations

import functools
import re

from .._registry import Registry
from ..problems import Derivation
from ..verify._select import close_matches
from ..verify._verify import latex_to_text
from . import (
    _determinants,
    _eigen,
    _forms,
    _gaussian,
    _inverses,
    _layers,
    _losses,
    _norms,
    _problems,
    _traces,
)
from ._entry import CONDITIONS, Entry, Section

__all__ = ["SECTIONS", "entries", "get", "search", "sections", "derivations"]

_FN = "mcalc.cookbook"

SECTIONS: tuple[Section, ...] = (
    Section(
        "traces",
        "Traces",
        "Traces of products, powers, Kronecker and Hadamard forms: once d tr(F(X)) = tr(M dX), "
        "the gradient is Mᵀ.",
    ),
    Section(
        "determinants",
        "Determinants and log-determinants",
        "Jacobi's formula d det(X) = det(X) tr(X⁻¹ dX): the gradient of ln|det X| is X⁻ᵀ.",
    ),
    Section(
        "inverses",
        "Inverses and pseudo-inverses",
        "d(X⁻¹) = -X⁻¹ dX X⁻¹, and Golub & Pereyra's differential of the pseudo-inverse.",
    ),
    Section(
        "norms",
        "Norms",
        "Vector and matrix norms where they are differentiable: away from zero entries, ties "
        "and repeated singular values.",
    ),
    Section(
        "forms",
        "Linear, bilinear and quadratic forms",
        "d(aᵀXb) = tr(baᵀ dX); xᵀBx has gradient (B + Bᵀ)x, 2Bx only for symmetric B.",
    ),
    Section(
        "eigenvalues",
        "Eigenvalues of symmetric matrices",
        "dλ = vᵀ dS v for a simple eigenvalue; eigh reads the symmetric part of its input, so "
        "the gradients are symmetric.",
    ),
    Section(
        "gaussian",
        "The multivariate Gaussian",
        "Log-likelihood in the mean, covariance, precision and a Cholesky factor; KL "
        "divergence; entropy; mixtures.",
    ),
    Section(
        "losses",
        "Losses of machine learning",
        "Softmax, log-sum-exp and cross-entropy; logistic, ridge, lasso, Huber and other "
        "regressions; PCA; matrix factorisation.",
    ),
    Section(
        "layers",
        "Layers: attention and normalisation",
        "Scaled dot-product attention in Q, K and V; layer, RMS and batch normalisation; a "
        "dense layer. A layer's entry is ⟨G, layer(·)⟩ for an upstream gradient G.",
    ),
    Section(
        "problems",
        "The seven problems",
        "The problems mcalc grew from, with the wrong worked answers recorded.",
    ),
)

_MODULES = (
    _traces,
    _determinants,
    _inverses,
    _norms,
    _forms,
    _eigen,
    _gaussian,
    _losses,
    _layers,
)


@functools.cache
def _registry() -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    keys = {s.key for s in SECTIONS}
    for entry in [e for m in _MODULES for e in m.ENTRIES] + list(_problems.entries()):
        if entry.name in out:
            raise RuntimeError(f"{_FN}: two entries are named {entry.name!r}.")
        if entry.section not in keys:
            raise RuntimeError(
                f"{_FN}: entry {entry.name!r} has unknown section {entry.section!r}."
            )
        for fn, suffix in ((entry.f, ""), (entry.grad, "_" + entry.kind)):
            if getattr(fn, "__name__", "") == "<lambda>":
                fn.__name__ = entry.name + suffix  # readable names in reports and tracebacks
        out[entry.name] = entry
    return out


def sections() -> tuple[Section, ...]:
    """The sections, in the cookbook's order."""
    return SECTIONS


def entries(section: str | None = None) -> dict[str, Entry]:
    """Every entry by name, section by section (or one section's).

    Args:
      section: a section key (``"traces"``, ``"determinants"``, ...), or ``None`` for all.

    Returns:
      ``{name: Entry}`` in the cookbook's order.

    Raises:
      ValueError: an unknown section.

    Example:
      >>> import mcalc
      >>> len(mcalc.cookbook.entries()) >= 150
      True
      >>> list(mcalc.cookbook.entries("traces"))[:3]
      ['trace_X', 'trace_XA', 'trace_AXB']
    """
    reg = _registry()
    if section is None:
        return dict(reg)
    keys = [s.key for s in SECTIONS]
    if section not in keys:
        close = close_matches(section, keys, n=3)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"{_FN}.entries: unknown section {section!r}; the sections are {', '.join(keys)}.{hint}"
        )
    return {n: e for n, e in reg.items() if e.section == section}


def get(name: str) -> Entry:
    """The entry called ``name``: its ``f`` and ``grad`` work under ``jax.jit`` and ``jax.vmap``.

    Args:
      name: the entry's name, e.g. ``"logdet_spd"`` (``mcalc cookbook`` lists them).

    Returns:
      The :class:`Entry`.

    Raises:
      TypeError: ``name`` is not a string.
      ValueError: no entry has that name; the message lists close matches.

    Example:
      >>> import jax, jax.numpy as jnp, mcalc
      >>> e = mcalc.cookbook.get("logabsdet_X")
      >>> X = jnp.array([[2.0, 1.0], [0.0, 4.0]])
      >>> jax.jit(e.grad)(X)  # X⁻ᵀ
      Array([[ 0.5  ,  0.   ],
             [-0.125,  0.25 ]], dtype=float32)
    """
    if not isinstance(name, str):
        raise TypeError(f"{_FN}.get: name must be a string; got {type(name).__name__}.")
    reg = _registry()
    if name in reg:
        return reg[name]
    close = close_matches(name, reg) or [n for n in reg if name.lower() in n.lower()][:5]
    hint = (
        f" Did you mean {', '.join(repr(c) for c in close)}?"
        if close
        else " `mcalc cookbook` lists every entry; `mcalc cookbook search WORD` finds them."
    )
    raise ValueError(f"{_FN}.get: no entry is named {name!r}.{hint}")


def _haystack(e: Entry) -> str:
    parts = [
        e.name,
        e.title,
        e.section,
        e.kind,
        e.formula,
        e.grad_formula,
        latex_to_text(e.formula),
        latex_to_text(e.grad_formula),
        e.note,
        e.source,
        " ".join(e.conditions),
        " ".join(CONDITIONS[c] for c in e.conditions),
        " ".join(p.source + " " + p.why for p in e.published),
    ]
    return " ".join(parts).lower()


def search(*words: str) -> list[Entry]:
    """Entries whose name, title, formulas, note, source or conditions contain every word.

    Case is ignored; a word matches anywhere (``"logdet"`` finds ``ln det`` only through
    names, ``"cookbook (101)"`` finds an equation).

    Args:
      *words: one or more words.

    Returns:
      The matching entries, in the cookbook's order (possibly none).

    Raises:
      ValueError: no words, or an empty word.

    Example:
      >>> import mcalc
      >>> [e.name for e in mcalc.cookbook.search("Kronecker", "trace")]
      ['trace_kron_AX', 'trace_kron_XX', 'trace_kron_form']
    """
    words = [w for w in words]
    if not words or any(not isinstance(w, str) or not w.strip() for w in words):
        raise ValueError(f"{_FN}.search: give one or more non-empty words; got {words!r}.")
    needles = [re.sub(r"\s+", " ", w.strip().lower()) for w in words]
    return [e for e in _registry().values() if all(n in _haystack(e) for n in needles)]


def derivations() -> Registry[Derivation]:
    """Every entry's :class:`mcalc.Derivation`: what ``mcalc verify`` checks. Like
    :func:`mcalc.derivations`, iterate over it for the records or index it by name.

    Example:
      >>> import mcalc
      >>> d = mcalc.cookbook.derivations()["det_X"]
      >>> d.kind, d.wrt
      ('gradient', 'X')
    """
    return Registry((e.derivation for e in _registry().values()), what="cookbook derivation")
