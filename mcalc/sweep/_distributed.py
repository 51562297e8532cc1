"""One sweep over several processes on JAX's multi-controller runtime (``jax.distributed``).

Every process runs the same program over its share of the lanes (the lane axis is
sharded over the devices of all processes); the lanes' metrics are gathered to every
process after each chunk, checkpoints are written by all of them together (orbax), and
process 0 writes the sweep folder. Two ways in:

- **one machine**: ``mcalc sweep CONFIG --processes N`` prepares the sweep folder, then
  starts N local processes (coordinator on 127.0.0.1) that train it; if one of them
  fails, the others are stopped and the command says how to resume
  (``mcalc sweep --resume DIR --processes N``);
- **a cluster**: one process per host, each joining from the cluster's environment
  (``--distributed``: ``jax.distributed.initialize()`` reads SLURM's, Open MPI's, ...)
  or from explicit ``--coordinator HOST:PORT --num-processes N --process-id I``; the
  sweep folder must be on a file system every host sees (as orbax's multi-host
  checkpoints need).

On the CPU, processes exchange data over Gloo (JAX's CPU collectives).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["initialize", "launch_local", "free_port", "is_writer", "barrier", "broadcast_text"]

_joined = False

#: Set in the environment of the processes ``--processes N`` starts.
LAUNCHED = "MCALC_SWEEP_LAUNCHED"


def initialize(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> None:
    """Join the runtime: explicit coordinator settings, or (all ``None``) the cluster's
    environment. Must run before anything else touches JAX in this process.

    Raises:
      ValueError: when the runtime cannot be joined (naming what was tried).
    """
    global _joined
    import jax

    if _joined:
        return
    try:
        # Gloo carries the collectives between processes on the CPU (a no-op on GPU/TPU).
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        kw: dict[str, Any] = {}
        if coordinator is not None:
            kw = {
                "coordinator_address": coordinator,
                "num_processes": num_processes,
                "process_id": process_id,
            }
        jax.distributed.initialize(**kw)
        _joined = True
    except Exception as e:  # noqa: BLE001 - jax raises several kinds; say what was tried
        where = (
            f"coordinator {coordinator}, process {process_id} of {num_processes}"
            if coordinator
            else "the cluster's environment (SLURM, Open MPI, ...)"
        )
        raise ValueError(
            f"mcalc sweep: cannot join JAX's distributed runtime from {where}: "
            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from None


def is_writer() -> bool:
    """Whether this process writes the sweep folder (process 0)."""
    import jax

    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Wait until every process gets here (a no-op with one process)."""
    import jax

    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def broadcast_text(text: str | None) -> str:
    """Process 0's ``text``, in every process."""
    import jax
    import numpy as np

    if jax.process_count() == 1:
        return text or ""
    from jax.experimental import multihost_utils

    buf = np.zeros(4096, np.uint8)
    if jax.process_index() == 0:
        data = (text or "").encode()
        if len(data) > buf.size:
            raise ValueError(
                f"mcalc sweep: the sweep folder's path is too long ({len(data)} bytes)."
            )
        buf[: len(data)] = np.frombuffer(data, np.uint8)
    out = np.asarray(multihost_utils.broadcast_one_to_all(buf))
    return bytes(out[out > 0].astype(np.uint8)).decode()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch_local(child_args: list[str], n: int, sweep_dir: Path) -> int:
    """Run ``mcalc sweep <child_args>`` in ``n`` local processes joined on 127.0.0.1.

    Process 0 shares this terminal; the others' output goes to files shown when they
    fail. When one fails (or Ctrl-C), the others are stopped. Returns the exit status:
    0 when all finished, else the first failure's (130 for Ctrl-C).
    """
    port = free_port()
    logs = Path(tempfile.mkdtemp(prefix="mcalc-sweep-"))
    procs: list[subprocess.Popen] = []
    files = []
    # the children's own resume hints would lack --processes: the launcher gives the right one
    env = {**os.environ, "PYTHONUNBUFFERED": "1", LAUNCHED: "1"}
    resume = f"mcalc sweep --resume {sweep_dir} --processes {n}"
    try:
        for i in range(n):
            argv = [
                sys.executable,
                "-m",
                "mcalc",
                "sweep",
                *child_args,
                "--coordinator",
                f"127.0.0.1:{port}",
                "--num-processes",
                str(n),
                "--process-id",
                str(i),
            ]
            if i == 0:
                procs.append(subprocess.Popen(argv, env=env))
            else:
                fh = open(logs / f"process-{i}.log", "w")  # noqa: SIM115 - closed below
                files.append(fh)
                procs.append(subprocess.Popen(argv, env=env, stdout=fh, stderr=subprocess.STDOUT))
        failed = None
        while failed is None and any(p.poll() is None for p in procs):
            for i, p in enumerate(procs):
                if p.poll() not in (None, 0):
                    failed = i
                    break
            time.sleep(0.2)
        if failed is None:
            failed = next((i for i, p in enumerate(procs) if p.returncode != 0), None)
        if failed is None:
            return 0
        code = procs[failed].returncode
        _stop(procs)
        tail = ""
        if failed > 0:
            text = (logs / f"process-{failed}.log").read_text(errors="replace").strip()
            tail = "\n" + "\n".join(text.splitlines()[-15:]) if text else ""
        why = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        print(
            f"mcalc sweep: process {failed} of {n} {why}; the others were stopped.{tail}\n"
            f"the sweep folder {sweep_dir} keeps its last checkpoints; continue with: {resume}",
            file=sys.stderr,
        )
        return code if code > 0 else 1
    except KeyboardInterrupt:
        _stop(procs)
        print(
            f"mcalc sweep: interrupted; the sweep folder {sweep_dir} keeps its last checkpoints.\n"
            f"continue with: {resume}",
            file=sys.stderr,
        )
        return 130
    finally:
        for fh in files:
            fh.close()
        shutil.rmtree(logs, ignore_errors=True)


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
