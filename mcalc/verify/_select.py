"""Choosing derivations by name: exact names, glob patterns, substrings; close matches for typos."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable

__all__ = ["match_names", "close_matches", "describe_pattern_syntax"]

_GLOB = set("*?[")

describe_pattern_syntax = (
    "a pattern is an exact name, a glob such as 'det*' or '*_hessian', or a piece of a name "
    "such as 'det'; case is ignored"
)


def match_names(pattern: str, names: Iterable[str]) -> list[str]:
    """The names ``pattern`` selects, in the order given.

    An exact name selects itself alone (so that ``frobenius`` does not also bring in
    ``frobenius_norm``); a pattern with ``*``, ``?`` or ``[`` is a glob; anything else
    selects every name that contains it. Case is ignored.

    Example:
      >>> from mcalc.verify._select import match_names
      >>> names = ["det_X", "logdet_spd", "trace_X"]
      >>> match_names("det", names), match_names("*_X", names), match_names("trace_X", names)
      (['det_X', 'logdet_spd'], ['det_X', 'trace_X'], ['trace_X'])
    """
    names = list(names)
    if pattern in names:
        return [pattern]
    p = pattern.lower()
    same = [n for n in names if n.lower() == p]
    if len(same) == 1:  # an exact name in another case
        return same
    if _GLOB & set(p):
        return [n for n in names if fnmatch.fnmatchcase(n.lower(), p)]
    return [n for n in names if p in n.lower()]


def close_matches(word: str, names: Iterable[str], n: int = 5) -> list[str]:
    """Names that look like ``word`` (a typo, another case, a missing part), best first."""
    names = list(names)
    lower = {name.lower(): name for name in names}
    hits = difflib.get_close_matches(word.lower(), list(lower), n=n, cutoff=0.6)
    return [lower[h] for h in hits]
