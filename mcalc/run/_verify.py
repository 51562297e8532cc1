"""The verification step of ``mcalc run``: the seven problems' derivations, in float32 and float64.

The run's report is about the seven problems, so it verifies their derivations
(:func:`mcalc.derivations`, about 20 s). The cookbook's identities are verified
by ``mcalc verify`` (every built-in derivation) and in CI, not on every run.
"""

from __future__ import annotations

from typing import Any

__all__ = ["verify_all", "render"]


def verify_all() -> Any:
    """``mcalc.verify`` of the problems' derivations, in float32 and float64."""
    from ..problems import derivations
    from ..verify import verify

    return verify(derivations=derivations())


def render(result: Any, fmt: str) -> str:
    """The :class:`mcalc.verify.VerifyResult` as ``"markdown"``, ``"json"`` or ``"text"``."""
    return {"markdown": result.to_markdown, "json": result.to_json, "text": result.to_text}[fmt]()
