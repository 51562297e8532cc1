"""Shared timing helpers for the benchmark scripts in ``scripts/``.

Every script times a reference tool and mcalc side by side in one run and prints
one table: what is timed, the reference and its median time, mcalc's median
time, the speed-up (reference / mcalc), and where there is one, the floor (the
least the job can cost on this machine) with mcalc / floor. Medians are taken
after a warm-up call; for JAX the first call's extra time (tracing and
compilation) is reported apart, never mixed into the median.

The scripts import this module as a sibling (``python scripts/bench_*.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

# OpenBLAS overrides that the development machines set on some processors for old
# OpenBLAS builds; they slow a current numpy. The benchmarks drop them from their
# own process (see docs/benchmarks.md) unless asked not to.
_BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_UNSET_MARK = "MCALC_BENCH_UNSET"


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks that the script runs")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    p.add_argument(
        "--repeat",
        type=int,
        default=15,
        help="rounds of side-by-side timing, or timed calls of a lone measurement (median)",
    )
    p.add_argument(
        "--budget",
        type=float,
        default=20.0,
        help="seconds after which a measurement stops repeating (at least one timed call)",
    )
    p.add_argument(
        "--cores",
        type=int,
        default=None,
        help="run on the first N cores only (this process's affinity; PyTorch and BLAS "
        "threads follow): per-core efficiency, robust to other jobs on the other cores",
    )
    p.add_argument(
        "--keep-blas-env",
        action="store_true",
        help=f"keep {' and '.join(_BLAS_OVERRIDES)} if set (by default they are unset here)",
    )
    return p


def clean_blas_env(args: argparse.Namespace) -> None:
    """Re-run this process without the OpenBLAS overrides (they are read when numpy loads)."""
    if args.keep_blas_env:
        return
    found = {k: os.environ[k] for k in _BLAS_OVERRIDES if k in os.environ}
    if not found:
        return
    env = {k: v for k, v in os.environ.items() if k not in found}
    env[_UNSET_MARK] = ",".join(f"{k}={v}" for k, v in found.items())
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def cores() -> int:
    """CPU cores this process may run on (``--cores``, or the machine's)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def environment() -> dict[str, Any]:
    """What the numbers depend on: versions, cores, which BLAS kernel numpy runs."""
    import jax
    import numpy as np
    import sklearn

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cores_used": cores(),
        "jax": jax.__version__,
        "jax_backend": jax.default_backend(),
        "jax_devices": [str(d) for d in jax.devices()],
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "blas_env_unset": os.environ.get(_UNSET_MARK, ""),
        "blas_env_kept": {k: os.environ[k] for k in _BLAS_OVERRIDES if k in os.environ},
    }
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [
            {
                k: p.get(k)
                for k in ("internal_api", "architecture", "num_threads", "version", "filepath")
            }
            for p in threadpool_info()
        ]
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        info["threadpools"] = "threadpoolctl not installed"
    return info


def print_environment(info: dict[str, Any]) -> None:
    print(
        f"jax {info['jax']} ({info['jax_backend']}), numpy {info['numpy']}, "
        f"scikit-learn {info['scikit-learn']}, python {info['python']}, {info['cpu_count']} cores"
        + (f" ({info['cores_used']} used)" if info["cores_used"] != info["cpu_count"] else "")
    )
    pools = info["threadpools"]
    if isinstance(pools, list):
        for p in pools:
            if p["internal_api"] != "openmp":
                kernel = p["architecture"] or "?"
                print(
                    f"BLAS: {p['internal_api']} {p['version']} kernel {kernel}, "
                    f"{p['num_threads']} threads ({os.path.basename(p['filepath'] or '')})"
                )
    if info["blas_env_unset"]:
        print(f"unset in this process: {info['blas_env_unset']}")
    if info["blas_env_kept"]:
        print(f"kept (--keep-blas-env): {info['blas_env_kept']}")
    load = info["load_average_1min"]
    if load is not None and load > 0.5:
        # Measured here: with the other core busy, a 2-thread OpenBLAS fit of breast cancer
        # took 276 ms instead of 8 ms (threads waiting on each other); JAX suffers too.
        print(
            f"WARNING: load average {load:.2f} before the run: other processes compete for the "
            "cores, and multithreaded BLAS slows down many-fold. Rerun on a quiet machine."
        )


@dataclasses.dataclass
class Timing:
    """Seconds: ``first`` is the first call (with JAX, tracing + compilation + one run).

    ``times`` are the samples; the median is reported. Timings taken by one
    :func:`interleave` call share a ``group``: their samples are paired round by
    round, and a ratio of two of them is taken round by round (:func:`ratio`).
    """

    median: float
    first: float
    times: list[float]
    group: int | None = None

    @property
    def compile(self) -> float:
        """The first call's time beyond a steady-state call: tracing and compilation."""
        return max(0.0, self.first - self.median)


def _block(x: Any) -> Any:
    try:
        import jax

        return jax.block_until_ready(x)
    except Exception:  # noqa: BLE001 - non-JAX results need no blocking
        return x


def measure(fn: Callable[[], Any], *, repeat: int = 7, budget: float = 20.0) -> Timing:
    """Median wall time of ``fn()`` after one warm-up (the first) call.

    Stops repeating once ``budget`` seconds have been spent on timed calls, after
    at least one. A first call that alone takes longer than ``budget`` (a loop of
    scikit-learn fits, say) is the only sample. JAX results are waited for
    (``block_until_ready``).
    """
    t0 = time.perf_counter()
    _block(fn())
    first = time.perf_counter() - t0
    if first > budget:
        return Timing(median=first, first=first, times=[first])
    times: list[float] = []
    spent = 0.0
    while len(times) < max(1, repeat) and (not times or spent < budget):
        t0 = time.perf_counter()
        _block(fn())
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
    return Timing(median=statistics.median(times), first=first, times=times)


_groups = itertools.count()


def interleave(
    fns: dict[str, Callable[[], Any]],
    *,
    rounds: int = 15,
    budget: float = 60.0,
    sample: float = 0.02,
    calls: int | None = None,
) -> dict[str, Timing]:
    """Time several functions side by side, round after round; a :class:`Timing` each.

    Each function is called twice first (the first call's time is its ``first``:
    with JAX, tracing and compilation). Then every round times each function in
    turn; a round's sample for a function is the mean of as many back-to-back calls
    as fill about ``sample`` seconds (at least one; each call waited for). The
    order alternates from round to round (A B C, C B A, ...), so that neither side
    always runs first. Rounds stop after ``rounds``, or once ``budget`` seconds
    have been spent and three rounds are done. ``calls`` fixes the calls per
    sample and skips the second warm-up (for functions that take seconds).

    On a shared machine the load changes while a benchmark runs; two functions
    timed in the same round see the same load, so their ratio per round is much
    steadier than a ratio of two medians taken minutes apart. :func:`ratio` gives
    its median and spread.
    """
    names = list(fns)
    group = next(_groups)
    first: dict[str, float] = {}
    n_calls: dict[str, int] = {}
    for name in names:
        fn = fns[name]
        t0 = time.perf_counter()
        _block(fn())
        first[name] = time.perf_counter() - t0
        if calls is not None:
            n_calls[name] = max(1, calls)
            continue
        t0 = time.perf_counter()
        _block(fn())
        warm = time.perf_counter() - t0
        n_calls[name] = max(1, min(10_000, int(sample / max(warm, 1e-9))))
    samples: dict[str, list[float]] = {name: [] for name in names}
    spent = 0.0
    for r in range(max(1, rounds)):
        for name in names if r % 2 == 0 else names[::-1]:
            fn, n = fns[name], n_calls[name]
            t0 = time.perf_counter()
            for _ in range(n):
                _block(fn())
            dt = time.perf_counter() - t0
            samples[name].append(dt / n)
            spent += dt
        if spent > budget and r >= 2:
            break
    return {
        name: Timing(
            median=statistics.median(samples[name]),
            first=first[name],
            times=samples[name],
            group=group,
        )
        for name in names
    }


def _canonical_hlo(fn: Callable[..., Any], *args: Any) -> list[str]:
    """The optimised HLO of ``jax.jit(fn)(*args)`` without names, metadata or source info."""
    import re

    import jax

    text = jax.jit(fn).lower(*args).compile().as_text()
    text = re.sub(r", metadata=\{[^}]*\}", "", text)
    text = re.sub(r"%[\w.\-]+", "%", text)
    text = re.sub(r"\bparam(eter)?_[\d.]+", "p", text)
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip()
        and not line.startswith(("HloModule", "FileNames", "FunctionNames", "FileLocations"))
        and not line.startswith("StackFrames")
        and not re.match(r"^\d+ ", line.strip())
    ]


def same_program(f: Callable[..., Any], g: Callable[..., Any], *args: Any) -> bool:
    """Whether XLA compiles ``f`` and ``g`` at ``args`` to the same program (names aside)."""
    return _canonical_hlo(f, *args) == _canonical_hlo(g, *args)


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def ratio(num: Timing, den: Timing) -> tuple[float, tuple[float, float] | None]:
    """``num / den`` and its spread (first and third quartiles), or ``None`` unpaired.

    Two timings of one :func:`interleave` call are paired: the ratio is taken in
    each round and its median reported, with the interquartile range of the
    rounds as the spread. Otherwise, the ratio of the medians.
    """
    if num.group is not None and num.group == den.group and len(num.times) == len(den.times):
        q1, q2, q3 = _quartiles([a / b for a, b in zip(num.times, den.times, strict=True)])
        return q2, (q1, q3)
    return num.median / den.median, None


@dataclasses.dataclass
class Row:
    """One line of a benchmark table. ``ref`` or ``floor`` may be missing.

    The floor is ``floor`` seconds, or ``floor_scale`` times the timing
    ``floor_timing`` (a product timed beside mcalc, say): then ``mcalc/floor`` is
    paired round by round like the speed-up.
    """

    task: str
    reference: str
    ref: Timing | None
    mcalc_label: str
    mcalc: Timing
    floor: float | None = None
    floor_note: str = ""
    goal: str = ""  # e.g. ">= 3x ref", "<= 1.15x floor"
    goal_met: bool | None = None
    note: str = ""
    floor_timing: Timing | None = None
    floor_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.floor is None and self.floor_timing is not None:
            self.floor = self.floor_scale * self.floor_timing.median

    @property
    def speedup(self) -> float | None:
        return None if self.ref is None else ratio(self.ref, self.mcalc)[0]

    @property
    def speedup_spread(self) -> tuple[float, float] | None:
        return None if self.ref is None else ratio(self.ref, self.mcalc)[1]

    @property
    def over_floor(self) -> float | None:
        if self.floor_timing is not None:
            return ratio(self.mcalc, self.floor_timing)[0] / self.floor_scale
        return None if not self.floor else self.mcalc.median / self.floor

    @property
    def over_floor_spread(self) -> tuple[float, float] | None:
        if self.floor_timing is None:
            return None
        spread = ratio(self.mcalc, self.floor_timing)[1]
        return (
            None if spread is None else (spread[0] / self.floor_scale, spread[1] / self.floor_scale)
        )

    def check(
        self,
        *,
        min_speedup: float | None = None,
        max_over_floor: float | None = None,
        same_program: bool = False,
    ) -> Row:
        """Set ``goal`` and ``goal_met`` (on the medians) from the goals' thresholds.

        ``same_program``: mcalc and the reference compile to the same program (see
        :func:`same_program`), so a goal of ``>=1x`` is met by construction -- their
        measured ratio is 1 up to noise, on either side of it.
        """
        parts, met = [], True
        if min_speedup is not None:
            level = same_program and min_speedup <= 1.0
            parts.append(f">={min_speedup:g}x" + (" (same program)" if level else ""))
            met &= level or (self.speedup is not None and self.speedup >= min_speedup)
        if max_over_floor is not None:
            parts.append(f"<={max_over_floor:g}x floor")
            met &= self.over_floor is not None and self.over_floor <= max_over_floor
        self.goal, self.goal_met = ", ".join(parts), met
        return self

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("ref", "mcalc", "floor_timing"):
            t = getattr(self, k)
            d[k] = None if t is None else {**dataclasses.asdict(t), "compile": t.compile}
        d["speedup"] = self.speedup
        d["speedup_spread"] = self.speedup_spread
        d["over_floor"] = self.over_floor
        d["over_floor_spread"] = self.over_floor_spread
        d["rounds"] = len(self.mcalc.times)
        return d


def fmt_time(s: float | None) -> str:
    if s is None:
        return "—"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms" if s < 0.1 else f"{s * 1e3:.0f} ms"
    return f"{s * 1e6:.0f} µs"


def fmt_ratio(r: float | None, spread: tuple[float, float] | None = None) -> str:
    """``1.23x``, with the spread when there is one: ``1.23x (1.18-1.27)``."""
    if r is None:
        return "—"
    return f"{r:.2f}x" if spread is None else f"{r:.2f}x ({spread[0]:.2f}-{spread[1]:.2f})"


def print_table(title: str, rows: list[Row]) -> None:
    """One table: reference and mcalc side by side, the speed-up, the floor."""
    header = [
        "task",
        "reference",
        "ref time",
        "mcalc",
        "mcalc time",
        "speed-up",
        "floor",
        "mcalc/floor",
        "compile",
        "goal",
    ]
    body = []
    for r in rows:
        goal = "" if not r.goal else f"{r.goal} {'met' if r.goal_met else 'MISSED'}"
        body.append(
            [
                r.task,
                r.reference,
                fmt_time(r.ref.median if r.ref else None),
                r.mcalc_label,
                fmt_time(r.mcalc.median),
                fmt_ratio(r.speedup, r.speedup_spread),
                fmt_time(r.floor),
                fmt_ratio(r.over_floor, r.over_floor_spread),
                fmt_time(r.mcalc.compile),
                goal,
            ]
        )
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    line = "  ".join("-" * w for w in widths)
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    for b in body:
        print("  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)))
    notes = [(r.task, r.floor_note) for r in rows if r.floor_note]
    notes += [(r.task, r.note) for r in rows if r.note]
    seen = set()
    for task, note in notes:
        if (task, note) not in seen:
            seen.add((task, note))
            print(f"  * {task}: {note}")
    print(
        "speed-up = reference / mcalc (higher is better); mcalc/floor: 1.00x is the machine's "
        "limit; (a-b): first and third quartiles of the ratio over the rounds, where the two "
        "were timed side by side; compile: mcalc's first call beyond a steady one (not in the "
        "medians)."
    )


def save_json(
    path: str | None, script: str, args: argparse.Namespace, rows: list[Row], info: dict
) -> None:
    if not path:
        return
    payload = {
        "script": script,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "load_average_1min_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "quick": bool(args.quick),
        "repeat": args.repeat,
        "environment": info,
        "rows": [r.as_dict() for r in rows],
    }
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=2, default=str)
    print(f"results written to {path}")


def breast_cancer() -> tuple[Any, Any]:
    """Standardised ``sklearn.datasets.load_breast_cancer`` (569 x 30, float64), labels 0/1."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y.astype(np.float64)


def synthetic_logistic(n: int, d: int, *, seed: int = 0) -> tuple[Any, Any]:
    """``X ~ N(0, 1)``, ``y ~ Bernoulli(σ(X w*))`` with ``w* ~ N(0, 9/d)`` (float64)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d) * (3 / np.sqrt(d))
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ w))).astype(np.float64)
    return X, y


def matmul_rate(t: Callable[[Callable[[], Any]], Timing], *, quick: bool) -> tuple[float, str]:
    """The float32 FLOP rate of one square JAX product, timed in this run, and its label."""
    import jax
    import jax.numpy as jnp

    S = 512 if quick else 2048
    A = jax.random.normal(jax.random.key(1), (S, S), jnp.float32)
    matmul = jax.jit(jnp.matmul)
    rate = 2 * S**3 / t(lambda: matmul(A, A)).median
    return rate, f"{rate / 1e9:.0f} GFLOP/s ({S}x{S} f32 product)"


def side_by_side(
    args: argparse.Namespace,
    fns: dict[str, Callable[[], Any]],
    *,
    rounds: int | None = None,
    calls: int | None = None,
) -> dict[str, Timing]:
    """:func:`interleave` with the script's ``--repeat`` rounds and ``--budget`` per function.

    ``rounds`` (fewer, for jobs of seconds) is capped by ``--repeat`` too.
    """
    rounds = args.repeat if rounds is None else min(rounds, args.repeat)
    return interleave(fns, rounds=rounds, budget=args.budget * len(fns), calls=calls)


def start(
    p: argparse.ArgumentParser,
) -> tuple[argparse.Namespace, dict[str, Any], Callable[[Callable[[], Any]], Timing]]:
    """The prologue of every benchmark script: parse, drop the BLAS overrides, float64 on.

    Returns the arguments, the environment (printed) and ``t(fn)``, :func:`measure`
    with the script's ``--repeat`` and ``--budget``.
    """
    args = p.parse_args()
    clean_blas_env(args)
    if args.cores:
        # Before JAX, NumPy's BLAS and PyTorch size their thread pools from it.
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.cores)
    import jax

    jax.config.update("jax_enable_x64", True)
    info = environment()
    print_environment(info)
    return args, info, lambda fn: measure(fn, repeat=args.repeat, budget=args.budget)
