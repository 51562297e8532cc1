"""YAML in and out: a safe loader that reads ``1e-8`` as a float, and a commented dump."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import yaml

__all__ = ["SafeLoader", "safe_load", "to_yaml"]


class SafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` (constructs plain data only, never objects) that also reads
    ``1e-8`` and ``1E5`` as floats -- YAML 1.1 wants a dot in the mantissa."""


SafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def safe_load(text: str) -> Any:
    """Parse YAML text into plain Python data (dicts, lists, scalars); nothing is executed."""
    return yaml.load(text, Loader=SafeLoader)  # noqa: S506 - SafeLoader subclass


def _scalar(value: Any) -> str:
    """One YAML scalar or flow collection on a single line."""
    text = yaml.safe_dump(
        value, default_flow_style=True, width=10_000, allow_unicode=True, sort_keys=False
    )
    text = text.strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")]
    if text.endswith("..."):
        text = text[: -len("...")].strip()
    return text


def _lines(obj: Any, indent: int, comments: bool) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pad = "  " * indent
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        help_ = f.metadata.get("help", "") if comments else ""
        if dataclasses.is_dataclass(value):
            out.append((f"{pad}{f.name}:", help_))
            out.extend(_lines(value, indent + 1, comments))
        else:
            out.append((f"{pad}{f.name}: {_scalar(value)}", help_))
    return out


def to_yaml(config: Any, *, comments: bool = True, header: str | None = None) -> str:
    """A config dataclass as YAML, each field followed by its one-line help as a comment.

    Args:
      config: a :class:`~mcalc.config.Config` (or any of its sections).
      comments: put each field's help beside it.
      header: optional comment lines put at the top.

    Returns:
      YAML text that :func:`mcalc.load_config` reads back to an equal config.

    Raises:
      TypeError: if ``config`` is not a dataclass instance.

    Example:
      >>> import mcalc
      >>> from mcalc.config import to_yaml
      >>> print(to_yaml(mcalc.default_config("p2").train, comments=False))
      steps: 2000
      batch_size: null
      log_every: 50
      checkpoint_every: 1000
      keep_checkpoints: 2
      tol: 1.0e-06
      gap_tol: null
      plots: true
      <BLANKLINE>
    """
    lines = _lines(config, 0, comments)
    width = max(len(code) for code, _ in lines) + 2
    body = "\n".join(f"{code:<{width}}# {c}".rstrip() if c else code for code, c in lines)
    top = "".join(f"# {h}\n" if h else "#\n" for h in (header.splitlines() if header else []))
    return top + body + "\n"
