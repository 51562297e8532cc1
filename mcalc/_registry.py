"""A read-only collection of named records: iterates over the records, looks them up by name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(tuple, Generic[T]):
    """A tuple of records (each with a ``.name``) that can also be indexed by name.

    ``for d in reg`` yields the records in order; ``reg["name"]`` and ``"name" in reg``
    look one up by name; ``keys()`` (the names), ``values()``, ``items()`` and ``get()``
    read like a dict's.

    Example:
      >>> import mcalc
      >>> reg = mcalc.derivations()
      >>> reg["quadratic_form"].problem, "quadratic_form" in reg
      ('P6', True)
    """

    def __new__(cls, records: Iterable[T] = (), *, what: str = "entry") -> Registry[T]:
        out = super().__new__(cls, tuple(records))
        out._what = what
        out._by_name = {r.name: r for r in out}
        return out

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return self._by_name[key]
            except KeyError:
                close = difflib.get_close_matches(key, list(self._by_name), n=3)
                hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
                raise KeyError(f"no {self._what} named {key!r}.{hint}") from None
        return super().__getitem__(key)

    def __contains__(self, key: Any) -> bool:
        if isinstance(key, str):
            return key in self._by_name
        return super().__contains__(key)

    def get(self, name: str, default: Any = None) -> Any:
        return self._by_name.get(name, default)

    def keys(self) -> list[str]:
        """The records' names, in order."""
        return list(self._by_name)

    def values(self) -> list[T]:
        return list(self)

    def items(self) -> list[tuple[str, T]]:
        return list(self._by_name.items())

    def __repr__(self) -> str:
        return f"Registry([{', '.join(repr(n) for n in self._by_name)}])"
