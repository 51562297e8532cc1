"""Run folders and files that survive a crash: atomic writes, collision-safe folders, JSON lines.

A run folder is created with ``os.mkdir`` (atomic: it fails if the name exists),
so two runs started in the same second never share one; every file is written to
a temporary name in the same folder and moved into place with ``os.replace``, so a
reader sees the old file or the new one, never half of one. Metrics are appended
one JSON line at a time (flushed and synced); a line torn by a kill is dropped
when the run is resumed.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = [
    "check_parent",
    "create_run_dir",
    "remove_temporary",
    "atomic_write",
    "write_text",
    "write_json",
    "append_jsonl",
    "read_jsonl",
    "rewrite_jsonl",
    "to_jsonable",
]


def check_parent(parent: str | os.PathLike, what: str, fn: str = "mcalc") -> Path:
    """``parent`` as an absolute path, checked to be a folder or creatable as one.

    Raises:
      ValueError: naming ``what`` (``"runs_dir"``, ``--out``) when ``parent`` or one of its
        ancestors is a file, or cannot be created.
    """
    path = Path(parent).absolute()
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                which = "is a file" if p == path else f"is inside {str(p)!r}, which is a file"
                raise ValueError(
                    f"{fn}: {what} {str(parent)!r} {which}, not a folder; give a folder for the "
                    "results (it is created if missing)."
                )
            break
    return path


def create_run_dir(parent: str | os.PathLike, name: str, *, stamp: str | None = None) -> Path:
    """Create a new folder ``parent/<name>-<YYYYmmdd-HHMMSS>[-k]``; return its absolute path.

    ``os.mkdir`` fails when the folder exists, so a folder is never reused: on a
    collision the next suffix ``-2``, ``-3``, ... is tried.

    Raises:
      ValueError: when ``parent`` is a file (or inside one), or cannot be created.
    """
    parent = check_parent(parent, "the parent folder")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(
            f"mcalc: cannot create the folder {str(parent)!r}: {e.strerror}."
        ) from None
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
    base = f"{name}-{stamp}"
    for k in range(1, 10_000):
        path = parent / (base if k == 1 else f"{base}-{k}")
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(
        f"mcalc: could not create a new folder {base}-k in {parent}."
    )  # pragma: no cover


def remove_temporary(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files :func:`atomic_write` leaves when killed mid-write
    (``.<name>.<random>.tmp``) anywhere under ``folder``; return what was removed."""
    removed = []
    for p in Path(folder).rglob(".*.tmp"):
        if p.is_file():
            try:
                p.unlink()
                removed.append(p)
            except FileNotFoundError:
                pass
    return removed


def atomic_write(
    path: str | os.PathLike, write: Callable[[Any], None], *, binary: bool = False
) -> Path:
    """Write a file through ``write(fh)`` into a temporary file, then ``os.replace`` it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(
            fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})
        ) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda fh: fh.write(text))


def to_jsonable(obj: Any) -> Any:
    """Plain JSON data: arrays to lists, NumPy/JAX scalars to numbers, NaN/Inf to strings."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        arr = np.asarray(obj)
        if arr.ndim:
            return to_jsonable(arr.tolist())
        obj = arr.item()
    if isinstance(obj, bool | int | str) or obj is None:
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)  # JSON has no NaN/Infinity
    return str(obj)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    text = json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False) + "\n"
    return write_text(path, text)


def append_jsonl(path: str | os.PathLike, *records: dict[str, Any]) -> None:
    """Append JSON lines in one write, flushed and synced once (a kill leaves at most a torn
    last line)."""
    if not records:
        return
    text = "".join(json.dumps(to_jsonable(r), ensure_ascii=False) + "\n" for r in records)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a JSON-lines file; a torn (unparseable) line is skipped."""
    out: list[dict[str, Any]] = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(rec, dict):
                    out.append(rec)
    except FileNotFoundError:
        pass
    return out


def rewrite_jsonl(path: str | os.PathLike, records: Iterable[dict[str, Any]]) -> Path:
    text = "".join(json.dumps(to_jsonable(r), ensure_ascii=False) + "\n" for r in records)
    return write_text(path, text)
