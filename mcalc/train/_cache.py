"""JAX's persistent compilation cache for mcalc's entry points, and a count of its hits.

:func:`setup_compilation_cache` is called by :func:`mcalc.train` and the ``train``
and ``run`` commands -- never at ``import mcalc`` -- so that a second run of the
same shapes loads its compiled programs from disk instead of compiling them.
The folder is ``$MCALC_CACHE_DIR`` if set (``off`` disables the cache), else
``$XDG_CACHE_HOME/mcalc/jax`` (``~/.cache/mcalc/jax``). A cache folder the user
configured for JAX already (``JAX_COMPILATION_CACHE_DIR`` or
``jax.config.update("jax_compilation_cache_dir", ...)``) is left as it is.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

__all__ = ["setup_compilation_cache", "cache_dir", "CacheCounter"]

_lock = threading.Lock()
_counts = {"hits": 0, "misses": 0}
_listening = False


def cache_dir() -> Path | None:
    """The folder mcalc asks JAX to cache compiled programs in (``None``: disabled)."""
    env = os.environ.get("MCALC_CACHE_DIR")
    if env is not None:
        return (
            None
            if env.strip().lower() in ("", "0", "off", "none", "false")
            else Path(env).expanduser()
        )
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mcalc" / "jax"


def _listener(event: str, **_: object) -> None:
    if event == "/jax/compilation_cache/cache_hits":
        with _lock:
            _counts["hits"] += 1
    elif event == "/jax/compilation_cache/cache_misses":
        with _lock:
            _counts["misses"] += 1


def setup_compilation_cache() -> str | None:
    """Point JAX's persistent compilation cache at mcalc's folder (unless set already).

    Returns:
      The cache folder in use, or ``None`` when caching is off.
    """
    global _listening
    import jax

    with _lock:
        if not _listening:
            jax.monitoring.register_event_listener(_listener)
            _listening = True
    current = jax.config.jax_compilation_cache_dir
    if current:
        return str(current)
    path = cache_dir()
    if path is None:
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a read-only home: run without the cache rather than fail
    jax.config.update("jax_compilation_cache_dir", str(path))
    # mcalc's programs compile in 0.1-2 s: cache them all (JAX's default skips those under 1 s).
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return str(path)


class CacheCounter:
    """Counts persistent-cache hits and misses between its creation and :meth:`read`."""

    def __init__(self) -> None:
        with _lock:
            self._start = dict(_counts)

    def read(self) -> dict[str, int]:
        with _lock:
            return {k: _counts[k] - self._start[k] for k in _counts}
