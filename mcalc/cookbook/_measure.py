"""Measure the cookbook's entries: ``mcalc.verify`` on their derivations (a second-order
entry through :func:`mcalc.check_hessian` or :func:`mcalc.check_hvp`), and check the
published forms an entry records."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..check import GradCheckReport, check_grad
from ..verify._verify import VerifyResult, verify
from . import _registry
from ._entry import Entry

__all__ = ["measure", "check_published"]


def measure(
    names: Iterable[str] | None = None,
    *,
    dtypes: Sequence[Any] = ("float32", "float64"),
    trials: int = 3,
    seed: int = 0,
    workers: int | None = None,
) -> VerifyResult:
    """Verify cookbook entries now, second-order ones included.

    Args:
      names: entry names or patterns (as ``mcalc verify --only``); ``None`` for all.
      dtypes, trials, seed, workers: as :func:`mcalc.verify`.

    Returns:
      The :class:`mcalc.verify.VerifyResult`, one row per (entry, dtype).

    Raises:
      ValueError: a name that matches no entry; bad dtypes or trials.

    Example:
      >>> import mcalc
      >>> result = mcalc.cookbook.measure(["trace_XtBX_hessian"], dtypes=["float64"], trials=1)
      >>> result.ok, result.rows[0].name
      (True, 'trace_XtBX_hessian')
    """
    registry = {n: e.derivation for n, e in _registry._registry().items()}
    return verify(
        dtypes=dtypes, trials=trials, seed=seed, names=names, derivations=registry, workers=workers
    )


def check_published(entry: Entry, *, trials: int = 3, seed: int = 0) -> list[GradCheckReport]:
    """:func:`mcalc.check_grad` of each published form of ``entry``, in float64.

    Each form is checked at its own inputs when it has them (a transcription that
    indexes samples by features needs as many samples as features), else at the
    entry's. A report that passes means the record is wrong: tests require failure.

    Example:
      >>> import mcalc
      >>> e = mcalc.cookbook.get("quadratic_form")
      >>> [r.ok for r in mcalc.cookbook.check_published(e)]
      [False, False]
    """
    return [
        check_grad(
            entry.f,
            p.grad,
            argnum=entry.argnum,
            sampler=p.sample or entry.sample,
            dtype="float64",
            trials=trials,
            seed=seed,
        )
        for p in entry.published
    ]
