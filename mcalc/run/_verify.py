"""The verification step of ``mcalc run``: :func:`mcalc.verify` with its defaults."""

from __future__ import annotations

from typing import Any

__all__ = ["verify_all", "render"]


def verify_all() -> Any:
    """``mcalc.verify()``: every built-in derivation, in float32 and float64."""
    from ..verify import verify

    return verify()


def render(result: Any, fmt: str) -> str:
    """The :class:`mcalc.verify.VerifyResult` as ``"markdown"``, ``"json"`` or ``"text"``."""
    return {"markdown": result.to_markdown, "json": result.to_json, "text": result.to_text}[fmt]()
