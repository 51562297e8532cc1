"""``mcalc cookbook``: list, search and show the verified identities; write the docs page.

Exit status: 0 on success; 1 when ``search`` finds nothing, ``show``'s check
disagrees or ``page --check`` finds the page stale; 2 on bad usage (an unknown
name or section).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_arguments", "main"]

_FORMATS = ["text", "markdown", "json"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "The verified matrix cookbook: identities of matrix calculus for machine learning, each "
        "a function beside its closed-form derivative in the layout jax.grad returns, checked "
        "by `mcalc verify`. Without an action, list the entries by section."
    )
    parser.add_argument("--format", choices=_FORMATS, default="text", help="output (text)")
    parser.add_argument("--section", metavar="SECTION", help="list one section only")
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    p_list = sub.add_parser("list", help="list the entries by section (the default)")
    p_list.add_argument("list_section", nargs="?", metavar="SECTION", help="one section only")
    p_search = sub.add_parser(
        "search", help="entries whose name, formulas, note, source or conditions contain WORDs"
    )
    p_search.add_argument("words", nargs="+", metavar="WORD")
    p_show = sub.add_parser(
        "show", help="one entry in full, with its verification run there and then"
    )
    p_show.add_argument("name", metavar="NAME")
    p_show.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p_show.add_argument("--trials", type=int, default=3, help="random sizes per dtype (3)")
    p_show.add_argument(
        "--dtype",
        action="append",
        choices=["float16", "bfloat16", "float32", "float64"],
        help="dtype to check in; repeat for several (default: float32 and float64)",
    )
    for p in (p_list, p_search, p_show):
        # Accepted after the action too; the value given before it stays otherwise.
        p.add_argument("--format", choices=_FORMATS, default=argparse.SUPPRESS, help="output")
    p_page = sub.add_parser(
        "page", help="measure every entry and write the docs page (Markdown) generated from them"
    )
    where = p_page.add_mutually_exclusive_group()
    where.add_argument(
        "-o", "--output", metavar="FILE", help="write the page here (default: stdout)"
    )
    where.add_argument(
        "--check", metavar="FILE", help="exit 1 if FILE is not the page the registry gives now"
    )


def _error(message: str) -> int:
    print(f"mcalc cookbook: error: {message}", file=sys.stderr)
    return 2


def main(args: argparse.Namespace) -> int:
    from . import _registry

    action = args.action or "list"
    try:
        if action == "list":
            return _list(args, _registry)
        if action == "search":
            return _search(args, _registry)
        if action == "show":
            return _show(args, _registry)
        return _page(args)
    except (ValueError, TypeError) as e:
        return _error(str(e))


def _list(args, registry) -> int:
    section = getattr(args, "list_section", None) or args.section
    found = list(registry.entries(section).values())
    print(_render_listing(args.format, found))
    return 0


def _render_listing(fmt: str, found) -> str:
    from . import _render

    return {
        "text": _render.listing_text,
        "markdown": _render.listing_markdown,
        "json": _render.listing_json,
    }[fmt](found)


def _search(args, registry) -> int:
    from ..verify._select import close_matches

    found = registry.search(*args.words)
    if not found:
        names = list(registry.entries())
        close = sorted({c for w in args.words for c in close_matches(w, names, n=3)})
        hint = f" Close names: {', '.join(close)}." if close else ""
        print(
            f"mcalc cookbook: no entry matches {' '.join(args.words)!r}.{hint} "
            "`mcalc cookbook` lists every entry.",
            file=sys.stderr,
        )
        return 1
    print(_render_listing(args.format, found))
    return 0


def _show(args, registry) -> int:
    from . import _render
    from ._measure import check_published, measure

    entry = registry.get(args.name)
    result = measure(
        [entry.name],
        dtypes=tuple(args.dtype or ("float32", "float64")),
        trials=args.trials,
        seed=args.seed,
    )
    published = check_published(entry, seed=args.seed)
    render = {
        "text": _render.show_text,
        "markdown": _render.show_markdown,
        "json": _render.show_json,
    }[args.format]
    print(render(entry, result, published))
    return 0 if result.ok else 1


def _page(args) -> int:
    from ._page import build_page, compare_pages

    if args.check:
        path = Path(args.check)
        if not path.is_file():
            raise ValueError(f"--check: no such file {str(path)!r}.")
        problems = compare_pages(path.read_text(encoding="utf-8"), build_page())
        for p in problems:
            print(f"stale: {p}")
        print(f"{path}: {'stale' if problems else 'current'}")
        return 1 if problems else 0
    page = build_page()
    if args.output:
        Path(args.output).write_text(page, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(page)
    return 0
