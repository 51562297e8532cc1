"""The adapter between ``mcalc run`` and ``mcalc.verify`` (the verification of every derivation)."""

from __future__ import annotations

from typing import Any

__all__ = ["verify_all", "render"]


def verify_all() -> Any:
    """``mcalc.verify()`` with its defaults: every built-in derivation, float32 and float64."""
    from ..verify import verify

    return verify()


def render(result: Any, fmt: str) -> str:
    """The verification result as ``"markdown"``, ``"json"`` or ``"text"``."""
    for name in (f"to_{fmt}", fmt, f"render_{fmt}"):
        fn = getattr(result, name, None)
        if callable(fn):
            return str(fn())
    from .. import verify as _verify_pkg

    fn = getattr(_verify_pkg, "render", None)
    if callable(fn):
        return str(fn(result, fmt))
    return str(result)
