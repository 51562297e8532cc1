"""The one driver of training runs and sweep groups: chunks, metrics, checkpoints, resuming.

A training run is a group of one lane; a sweep group is many. Both go through
:func:`drive`:

    restore the last checkpoint (its metrics kept, later ones dropped) or init
    -> evaluate and log the initial point (chunk 0)
    -> compiled chunks (``train.log_every`` steps each), each followed by one metrics
       record per live lane, a checkpoint every ``train.checkpoint_every`` steps and
       when every lane has finished
    -> the final state of every lane.

A lane finishes when it has taken ``train.steps`` steps, when the stopping rule
(:func:`mcalc.train.stop_rule`, applied inside the compiled chunk) is met, or when
its loss stops being finite; a finished lane is frozen, and the group ends when all of
its lanes have finished. Checkpoints are named by the number of chunks done (a logging
point's index) and hold it; metrics records carry the chunk they followed, so a resumed
run drops exactly the records written after its checkpoint and ends with the
parameters of one never interrupted (resumed with a larger ``train.steps``, it goes on
from where the checkpoint stopped).

Ctrl-C is held back while a checkpoint or a metrics line is written, so an
interruption never leaves a torn file; the callers turn it into :class:`Interrupted`,
which names the folder to resume.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import _files

__all__ = ["GroupRun", "Outcome", "drive", "Interrupted", "deferred_interrupt", "lane_status"]


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (``SIGINT``) stopped a run or sweep; its folder keeps the last checkpoint.

    :func:`mcalc.train` and :func:`mcalc.sweep` raise it in place of the
    ``KeyboardInterrupt`` (a subclass, so code that catches that still works) once the
    files being written are complete; the message says how to continue.

    Args:
      folder: the run or sweep folder.
      resume: the command (or, for a task no other process can import, the Python call)
        that continues it.

    Attributes:
      folder: the run or sweep folder, as a ``Path``.
      resume: the command that continues it.

    Example:
      >>> import mcalc
      >>> e = mcalc.Interrupted("runs/p2-20260101-120000",
      ...                       "mcalc train --resume runs/p2-20260101-120000")
      >>> isinstance(e, KeyboardInterrupt), e.folder.name
      (True, 'p2-20260101-120000')
      >>> print(e)
      interrupted; continue with: mcalc train --resume runs/p2-20260101-120000
    """

    def __init__(self, folder: Path, resume: str) -> None:
        super().__init__(f"interrupted; continue with: {resume}")
        self.folder = Path(folder)
        self.resume = resume


@contextlib.contextmanager
def deferred_interrupt():
    """Hold a Ctrl-C back until the block is done, then raise it (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    except ValueError:  # not the main interpreter's thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            raise KeyboardInterrupt


_held = False


def _hold_for_tests(path: Path) -> None:
    """A test hook: with ``MCALC_TEST_HOLD_AT_CHECKPOINT=<file>`` in the environment, the first
    checkpoint a process writes is followed by writing ``<file>`` (the process id, then the
    checkpoint's path; ``<file>.<i>`` for process ``i`` of several) and waiting there until
    the process is killed or interrupted -- so that a test can kill or interrupt a run at a
    known point, however fast or slow the machine."""
    global _held
    marker = os.environ.get("MCALC_TEST_HOLD_AT_CHECKPOINT")
    if not marker or _held:
        return
    _held = True
    import jax

    if jax.process_count() > 1:  # one marker per process: <file>.<process index>
        marker = f"{marker}.{jax.process_index()}"
    _files.write_text(marker, f"{os.getpid()}\n{path}\n")
    while True:
        time.sleep(1.0)


@dataclasses.dataclass
class GroupRun:
    """The unchanging context of one training run or one sweep group.

    Attributes:
      folder: holds ``metrics.jsonl`` and ``checkpoints/``.
      program: the compiled program's description (:class:`mcalc.train.Program`).
      runner: runs its chunks: ``init(keys, hypers)``, ``chunk(states, hypers)``,
        ``lanes_in``, ``lanes_out``, ``stacked``, ``restore``, ``abstract_lanes`` and
        ``evaluate(states, hypers)`` (:class:`mcalc.sweep.GroupRunner` or a single lane).
      keys: ``[L, 2]`` the lanes' PRNG keys.
      hypers: ``{key: [L]}`` their hyperparameters.
      lanes: the lane numbers written into each record (``None``: a single run, no ``lane``).
      checkpoints: a :class:`mcalc.train.Checkpoints` of ``folder / "checkpoints"``.
      every: checkpoint every this many chunks (and when the group finishes).
      tick: called after each chunk with ``(chunks_done, records_of_the_chunk)``.
      t_start: ``time.perf_counter()`` at the start (records carry ``time_s``).
      writer: whether this process writes the metrics (process 0 of several; every
        process takes part in the checkpoints).
    """

    folder: Path
    program: Any
    runner: Any
    keys: Any
    hypers: dict[str, Any]
    lanes: list[int] | None
    checkpoints: Any
    every: int
    tick: Callable[[int, list[dict[str, Any]]], None] | None = None
    t_start: float = dataclasses.field(default_factory=time.perf_counter)
    writer: bool = True

    @property
    def n_lanes(self) -> int:
        return int(np.shape(self.keys)[0])

    @property
    def n_chunks(self) -> int:
        """Chunks a fresh run takes (for progress bars)."""
        return math.ceil(self.program.steps / self.program.log_every)

    @property
    def metrics_path(self) -> Path:
        return self.folder / "metrics.jsonl"


@dataclasses.dataclass
class Outcome:
    """What :func:`drive` returns.

    Attributes:
      params: the final parameters, stacked over lanes (NumPy, ``[L, ...]`` leaves).
      final: the last metrics of every lane, ``{name: [L]}`` (NumPy).
      history: every record written (or kept on resume), in order.
      chunks: chunks done in all, the resumed ones included.
      first_chunk_s: the wall time of this invocation's first chunk (compile included).
      resumed_from: the step resumed from (the furthest lane's), or ``None``.
    """

    params: Any
    final: dict[str, np.ndarray]
    history: list[dict[str, Any]]
    chunks: int
    first_chunk_s: float | None
    resumed_from: int | None


def _records(run: GroupRun, chunk: int, m: dict[str, np.ndarray], live: np.ndarray) -> list[dict]:
    t = time.perf_counter() - run.t_start
    out = []
    for j in range(run.n_lanes):
        if not live[j]:
            continue
        rec: dict[str, Any] = {"chunk": chunk}
        if run.lanes is not None:
            rec["lane"] = run.lanes[j]
        rec["step"] = int(m["step"][j])
        for k, v in m.items():
            if k in ("step", "diverged_at", "stopped"):
                continue
            rec[k] = float(v[j])
        if m["diverged_at"][j] >= 0:
            rec["diverged_at"] = int(m["diverged_at"][j])
        if m["stopped"][j] > 0:
            rec["stopped"] = int(m["stopped"][j])
        rec["time_s"] = t
        out.append(rec)
    return out


def _finished(program: Any, m: dict[str, np.ndarray]) -> np.ndarray:
    return (m["diverged_at"] >= 0) | (m["stopped"] > 0) | (m["step"] >= program.steps)


def _save(run: GroupRun, chunks: int, states: Any) -> None:
    tree = {"state": run.runner.stacked(states), "chunks": np.asarray(chunks, np.int64)}
    with deferred_interrupt():
        path = run.checkpoints.save(chunks, tree)
    _hold_for_tests(path)


def _append(run: GroupRun, records: list[dict[str, Any]]) -> None:
    if not run.writer:
        return
    with deferred_interrupt():
        _files.append_jsonl(run.metrics_path, *records)


def _rewrite(run: GroupRun, records: list[dict[str, Any]]) -> None:
    if run.writer:
        with deferred_interrupt():
            _files.rewrite_jsonl(run.metrics_path, records)


def _from_records(run: GroupRun, history: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Every lane's last record, as the metrics arrays of a finished group."""
    last: dict[Any, dict[str, Any]] = {}
    for r in history:
        last[r.get("lane")] = r
    rows = [last[lane] for lane in (run.lanes or [None])]
    keys = [k for k in rows[0] if k not in ("chunk", "lane", "time_s")]
    out = {k: np.asarray([r.get(k, math.nan) for r in rows]) for k in keys}
    out["diverged_at"] = np.asarray([r.get("diverged_at", -1) for r in rows])
    out["stopped"] = np.asarray([r.get("stopped", 0) for r in rows])
    return out


def drive(run: GroupRun) -> Outcome:
    """Train a group of lanes to its end (or resume it), logging and checkpointing as it goes.

    Returns:
      An :class:`Outcome`: the final parameters and metrics of every lane and the history.

    Raises:
      KeyboardInterrupt: on Ctrl-C, after any file being written is complete (the callers
        turn it into :class:`Interrupted`).
    """
    runner, ckpt = run.runner, run.checkpoints
    hypers = runner.lanes_in(run.hypers)
    last = ckpt.latest_step()
    history: list[dict[str, Any]] = []
    resumed_from = None
    if last is None:
        states = runner.init(run.keys, run.hypers)
        done = 0
        _rewrite(run, [])
        m0 = runner.lanes_out(runner.evaluate(states, hypers))
        history = _records(run, 0, m0, np.ones(run.n_lanes, bool))
        _append(run, history)
        final = m0
    else:
        # the checkpoint's own lane count: written over another number of devices, its lanes
        # were padded to another multiple
        n_saved = ckpt.leading_size(last)
        abstract = {"state": runner.abstract_lanes(n_saved), "chunks": np.asarray(0, np.int64)}
        restored = ckpt.restore(last, abstract)
        states, done = runner.restore(restored["state"]), int(restored["chunks"])
        # records written after the checkpoint are written again by the resumed run
        history = [r for r in _files.read_jsonl(run.metrics_path) if r.get("chunk", 0) <= done]
        _rewrite(run, history)
        final = _from_records(run, history)
        # (a train.steps below this step is refused before the folder is touched: _run.py)
        resumed_from = int(np.max(final["step"]))
    first_chunk_s = None
    live = ~_finished(run.program, final)
    if run.tick is not None:
        run.tick(done, [])
    while live.any():  # every chunk advances each live lane, until its steps are done
        t0 = time.perf_counter()
        states, m = runner.chunk(states, hypers)
        m = runner.lanes_out(m)
        if first_chunk_s is None:
            first_chunk_s = time.perf_counter() - t0
        done += 1
        records = _records(run, done, m, live)
        _append(run, records)
        history.extend(records)
        final = m
        live = ~_finished(run.program, m)
        if not live.any() or done % run.every == 0:
            _save(run, done, states)
        if run.tick is not None:
            run.tick(done, records)
    params = runner.lanes_out(runner.stacked(states).params)
    return Outcome(
        params=params,
        final=final,
        history=history,
        chunks=done,
        first_chunk_s=first_chunk_s,
        resumed_from=resumed_from,
    )


def lane_status(final: dict[str, np.ndarray], j: int) -> tuple[str, str | None]:
    """``(status, reason)`` of lane ``j`` from its final metrics: ``("diverged", "diverged")``,
    ``("converged", "tol" | "gap_tol")`` or ``("completed", "steps")``."""
    from ._program import STOP_REASONS

    if final["diverged_at"][j] >= 0:
        return "diverged", "diverged"
    code = int(final["stopped"][j])
    if code > 0:
        return "converged", STOP_REASONS[code]
    return "completed", "steps"
