"""Loading a user's object by reference: ``MODULE:NAME`` or ``path/to/file.py:NAME``.

Shared by ``mcalc check`` (a user's function and gradient) and user-defined tasks
(``task: mypkg.losses:poisson`` in a config). A dotted module is imported from the
current directory or ``sys.path``; a ``.py`` path is executed once per process under
a private module name (its folder goes on ``sys.path`` so that it can import its
neighbours), unless the process imported that file already: then it is that module.
``NAME`` may be dotted (``mod:Class.attr``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["LoadError", "split_reference", "is_file_reference", "load_object", "reference_of"]


class LoadError(ValueError):
    """A reference that does not resolve; the message says what was tried and how to fix it."""


# private module name -> the file it was loaded from (to write references back as paths)
_FILES: dict[str, Path] = {}


def split_reference(ref: str, *, what: str) -> tuple[str, str]:
    """``"a.b:c"`` -> ``("a.b", "c")``; raises when ``ref`` is not ``MODULE:NAME``."""
    if not isinstance(ref, str):
        raise LoadError(
            f"{what} must be a string MODULE:NAME (e.g. mymodule:f, pkg.mod:f or "
            f"path/to/file.py:f); got {type(ref).__name__}"
        )
    module_part, sep, attr = ref.rpartition(":")
    # A Windows drive letter ("C:\\x.py:f") leaves a one-letter module part: not ours to split.
    if not sep or not module_part or not attr or attr.startswith(("\\", "/")):
        raise LoadError(
            f"{what} must look like MODULE:NAME (e.g. mymodule:f, pkg.mod:f or path/to/file.py:f); "
            f"got {ref!r}"
        )
    return module_part, attr


def is_file_reference(module_part: str) -> bool:
    """Whether the module part of a reference is a path to a ``.py`` file."""
    return module_part.endswith(".py") or "/" in module_part or os.sep in module_part


def _module_from_path(path: Path, what: str) -> Any:
    if path.is_dir():
        raise LoadError(f"{str(path)!r} is a folder, not a .py file, for {what}")
    if not path.is_file():
        raise LoadError(f"cannot find the file {str(path)!r} for {what}")
    path = path.resolve()
    name = f"_mcalc_user_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
    if name in sys.modules:
        return sys.modules[name]
    imported = _imported_from(path)
    if imported is not None:  # imported already (``from poisson import ...``): one module per file
        return imported
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[name]
        raise LoadError(
            f"importing {str(path)!r} for {what} failed: {type(e).__name__}: {e}"
        ) from e
    _FILES[name] = path
    return module


def _imported_from(path: Path) -> Any:
    """The module this process already imported from ``path``, if any."""
    for module in list(sys.modules.values()):
        origin = getattr(module, "__file__", None)
        if origin and origin.endswith(path.name):
            try:
                if Path(origin).resolve() == path:
                    return module
            except OSError:
                continue
    return None


def load_object(ref: str, *, what: str, base: str | os.PathLike | None = None) -> Any:
    """The object a ``MODULE:NAME`` reference names.

    Args:
      ref: ``pkg.module:name`` or ``path/to/file.py:name`` (``name`` may be dotted).
      what: what the object is for, used in error messages (``"task"``, ``"F"``).
      base: the folder a relative file path is taken from (default: the current one).

    Raises:
      LoadError: (a ``ValueError``) naming the part that failed: a malformed
        reference, a missing file or module, an import that raised, a missing name.
    """
    module_part, attr = split_reference(ref, what=what)
    if is_file_reference(module_part):
        path = Path(module_part).expanduser()
        if not path.is_absolute() and base is not None:
            path = Path(base) / path
        module = _module_from_path(path, what)
    else:
        cwd = os.getcwd()
        if cwd not in sys.path:
            sys.path.insert(0, cwd)
        try:
            module = importlib.import_module(module_part)
        except ModuleNotFoundError as e:
            raise LoadError(
                f"cannot import module {module_part!r} for {what} ({e}); run from the folder "
                "that contains it, or give a path such as path/to/file.py:NAME"
            ) from e
        except Exception as e:
            raise LoadError(
                f"importing {module_part!r} for {what} failed: {type(e).__name__}: {e}"
            ) from e
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            public = sorted(n for n in dir(module) if not n.startswith("_"))
            raise LoadError(
                f"{module_part!r} has no attribute {attr!r} for {what}; it defines: "
                f"{', '.join(public) or 'nothing public'}"
            )
        obj = getattr(obj, part)
    return obj


def reference_of(obj: Any, module_name: str | None) -> str | None:
    """A ``MODULE:NAME`` (or ``/abs/file.py:NAME``) reference under which ``obj`` can be
    loaded again, found among the globals of ``module_name``; ``None`` when there is none
    (an object made in ``__main__``, a notebook or a function's body)."""
    if not module_name or module_name == "__main__":
        return None
    module = sys.modules.get(module_name)
    if module is None:
        return None
    for name, value in vars(module).items():
        if value is obj and not name.startswith("_"):
            if module_name in _FILES:
                return f"{_FILES[module_name]}:{name}"
            origin = getattr(module, "__file__", None)
            # A top-level module found through a path the user added (sys.path.insert, the
            # current folder): its file path works from anywhere; an installed or packaged
            # module is named as a module (its relative imports need the package).
            if "." not in module_name and origin and not _installed(origin):
                return f"{Path(origin).resolve()}:{name}"
            return f"{module_name}:{name}"
    return None


def _installed(path: str) -> bool:
    """Whether a module file lives in site-packages (or the standard library)."""
    import sysconfig

    p = str(Path(path).resolve())
    roots = {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib")}
    return any(p.startswith(str(Path(r).resolve())) for r in roots if r)
