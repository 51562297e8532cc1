"""The records of the cookbook: an entry, a published form that disagrees with it, a section.

An :class:`Entry` holds a :class:`mcalc.Derivation` (what ``mcalc verify`` checks:
the function, its closed-form derivative, a sampler of valid inputs, the LaTeX of
both sides) and the cookbook's own metadata: the section, the conditions the
identity needs, a note, a source, and the published forms that disagree with it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ..problems import Derivation

__all__ = ["CONDITIONS", "KINDS", "Entry", "Published", "Section", "make"]

# The conditions an identity can need, each with what its sampler guarantees. The
# keys are what entries list; the text is what `mcalc cookbook show` and the page say.
CONDITIONS: dict[str, str] = {
    "square": "square",
    "invertible": "invertible (sampled with singular values in [1, 2])",
    "symmetric": "symmetric",
    "spd": "symmetric positive definite (sampled with eigenvalues in [0.5, 2])",
    "orthogonal": "orthogonal (sampled Haar-random)",
    "invertible_combination": (
        "the matrix that is inverted (a sum or product of the arguments) invertible, sampled "
        "well-conditioned"
    ),
    "diagonal": "diagonal, with nonzero diagonal",
    "lower_triangular": "lower triangular, with nonzero diagonal",
    "simple_eigenvalues": "symmetric with simple eigenvalues (sampled at least 0.5 apart)",
    "simple_singular_values": (
        "full rank with simple singular values (sampled at least 0.3 apart, all >= 0.5)"
    ),
    "full_column_rank": "full column rank (at least as many rows as columns)",
    "full_row_rank": "full row rank (at least as many columns as rows)",
    "nonzero": "nonzero",
    "nonzero_entries": "no zero entries (sampled with |entry| >= 0.3): |.| and sign are smooth there",
    "unique_max": "a unique largest entry (sampled with a gap of at least 0.3)",
    "simplex": "a probability vector (entries >= 0, summing to 1)",
    "labels_pm1": "labels in {-1, 1}",
    "labels_01": "labels in {0, 1}",
    "away_from_kinks": "no residual at a kink of the loss (sampled at least 0.1 away)",
    "positive_definite_part": (
        "a positive definite symmetric part (so that the products it enters stay invertible)"
    ),
}

KINDS = ("gradient", "hessian", "hvp")


@dataclasses.dataclass(frozen=True)
class Section:
    """A section of the cookbook: ``key`` (used in names and filters), ``title``, ``intro``."""

    key: str
    title: str
    intro: str


@dataclasses.dataclass(frozen=True)
class Published:
    """A published form of an entry's derivative that is wrong, or right only under a convention.

    Attributes:
      source: where the form is published.
      formula: its LaTeX.
      why: why it differs from the entry's closed form (layout, a transpose, a
        missing symmetry assumption, an algebra slip).
      grad: the published form as code, called like the entry's ``grad``.
      expect: a phrase that :func:`mcalc.check_grad`'s diagnosis of it contains.
      sample: inputs to check it at (default: the entry's sampler).
    """

    source: str
    formula: str
    why: str
    grad: Callable[..., Any]
    expect: str
    sample: Callable[..., tuple] | None = None


@dataclasses.dataclass(frozen=True)
class Entry:
    """One identity of the cookbook: a verified derivation with its conditions and source.

    ``f`` and ``grad`` are plain JAX functions: call them, ``jax.jit`` them,
    ``jax.vmap`` them. For ``kind == "gradient"``, ``grad(*args)`` is
    ``jax.grad(f, argnums=argnum)(*args)`` in closed form (the gradient has the
    argument's shape, ``[∂f/∂A]_ij = ∂f/∂A_ij``); for ``"hessian"``, ``grad(*args)``
    is ``jax.hessian(f, argnums=argnum)(*args)``, shaped ``arg.shape + arg.shape``;
    for ``"hvp"``, ``grad(*args, v)`` is the Hessian applied to a direction ``v``
    shaped like the argument.

    Attributes:
      derivation: the :class:`mcalc.Derivation` that ``mcalc verify`` checks.
      section: the key of the entry's :class:`Section`.
      title: a short name in words.
      conditions: keys of :data:`CONDITIONS` the identity needs (its sampler draws
        inputs that meet them).
      note: one line on what the identity says or where it is used.
      source: where it is published (an equation of *The Matrix Cookbook*, 2012
        version, a paper, a textbook) or ``"derived here"``.
      published: published forms that disagree with it (:class:`Published`).
    """

    derivation: Derivation
    section: str
    title: str
    conditions: tuple[str, ...] = ()
    note: str = ""
    source: str = "derived here"
    published: tuple[Published, ...] = ()

    def __post_init__(self):
        unknown = [c for c in self.conditions if c not in CONDITIONS]
        if unknown:
            raise ValueError(f"cookbook entry {self.name!r}: unknown conditions {unknown}.")
        if self.kind not in KINDS:
            raise ValueError(f"cookbook entry {self.name!r}: kind must be one of {KINDS}.")

    # The derivation's fields, read through.
    name = property(lambda self: self.derivation.name)
    f = property(lambda self: self.derivation.f)
    grad = property(lambda self: self.derivation.grad)
    argnum = property(lambda self: self.derivation.argnum)
    sample = property(lambda self: self.derivation.sample)
    formula = property(lambda self: self.derivation.formula)
    grad_formula = property(lambda self: self.derivation.grad_formula)
    wrt = property(lambda self: self.derivation.wrt)
    kind = property(lambda self: getattr(self.derivation, "kind", "gradient"))


def make(
    section: str,
    name: str,
    title: str,
    f: Callable[..., Any],
    grad: Callable[..., Any],
    sample: Callable[..., tuple],
    formula: str,
    grad_formula: str,
    wrt: str,
    *,
    argnum: int = 0,
    conditions: tuple[str, ...] = (),
    note: str = "",
    source: str = "derived here",
    kind: str = "gradient",
    published: tuple[Published, ...] = (),
) -> Entry:
    """An :class:`Entry` and its :class:`mcalc.Derivation` (whose ``problem`` is the section)."""
    derivation = Derivation(
        name=name,
        problem=section,
        f=f,
        grad=grad,
        argnum=argnum,
        sample=sample,
        formula=formula,
        grad_formula=grad_formula,
        wrt=wrt,
        kind=kind,
    )
    return Entry(derivation, section, title, tuple(conditions), note, source, tuple(published))
