"""Render the JSON files of the benchmark scripts as the Markdown tables of the README.

python scripts/bench_table.py results/gradients.json results/solvers.json ...
"""

from __future__ import annotations

import json
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import _bench  # noqa: E402


def table(path: str) -> str:
    data = json.load(open(path, encoding="utf-8"))
    env = data["environment"]
    blas = ", ".join(
        f"{t['internal_api']} {t.get('version') or ''} {t.get('architecture') or ''} x{t['num_threads']}".replace(
            "  ", " "
        )
        for t in env.get("threadpools", [])
        if t["internal_api"] == "openblas"
    )
    lines = [
        f"`python scripts/{data['script']}.py` — jax {env['jax']} ({env['jax_backend']}), numpy {env['numpy']}, "
        f"scikit-learn {env['scikit-learn']}, {env['cpu_count']} cores, load average {env['load_average_1min']:.2f} "
        f"at the start; BLAS: {blas or 'n/a'}",
        "",
        "| task | reference | ref time | mcalc | mcalc time | speed-up | mcalc/floor | compile | goal |",
        "|---|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in data["rows"]:
        ref = r["ref"]["median"] if r["ref"] else None
        goal = r["goal"] + (" met" if r["goal_met"] else " **missed**") if r["goal"] else ""
        lines.append(
            f"| {r['task']} | {r['reference']} | {_bench.fmt_time(ref)} | {r['mcalc_label']} | "
            f"{_bench.fmt_time(r['mcalc']['median'])} | "
            f"{_bench.fmt_ratio(r['speedup'], r.get('speedup_spread'))} | "
            f"{_bench.fmt_ratio(r['over_floor'], r.get('over_floor_spread'))} | {_bench.fmt_time(r['mcalc']['compile'])} | {goal} |"
        )
    notes = [f"- {r['task']}: {r['floor_note']}" for r in data["rows"] if r.get("floor_note")]
    notes += [f"- {r['task']}: {r['note']}" for r in data["rows"] if r.get("note")]
    if notes:
        lines += ["", *dict.fromkeys(notes)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="bench_table.py",
        description="Render the JSON written by the benchmark scripts (--json PATH) as Markdown tables.",
    )
    parser.add_argument("json", nargs="+", metavar="JSON", help="a benchmark script's JSON output")
    args = parser.parse_args(argv)
    try:
        print("\n\n".join(table(p) for p in args.json))
    except FileNotFoundError as e:
        parser.error(f"no such file: {e.filename}")
    except (ValueError, KeyError, TypeError) as e:
        parser.error(f"not a benchmark script's JSON output ({type(e).__name__}: {e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
