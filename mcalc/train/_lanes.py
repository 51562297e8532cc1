"""The lanes of a group -- configurations that share shapes -- run by one compiled program.

A training run is a group of one lane; a sweep has a group per set of shapes.

The configurations ("lanes") of a group differ only in numeric hyperparameters
and seeds, so they stack along a leading lane axis and train as one program built
from :class:`mcalc.train.Program`'s pure ``init`` and ``chunk``:

* ``jax.lax.map(chunk, lanes, batch_size=B)`` runs ``B`` lanes side by side (one
  ``vmap``) and the rest in sequence *inside the same program*: ``B = 1`` is a
  loop in XLA, ``B = all`` a full ``vmap``. The data are an argument shared by
  every lane, never copied per lane.
* ``lanes: loop`` (what ``auto`` picks on the CPU for medium problems, and for
  small ones whose chunks are long: :func:`choose_lanes`) calls the *same*
  compiled single-lane chunk once per lane from Python instead, as many lanes at
  a time as there are cores (:mod:`mcalc._concurrency`): XLA runs such a lane on
  about one core, so a plain loop leaves the others idle, and batching
  medium-sized products in one program gained nothing
  (``scripts/bench_sweep.py``). It still compiles once per group. Off the CPU
  (one worker) the lanes are dispatched without waiting, so lanes on different
  devices run concurrently.
* With several devices the lane axis is sharded across them (``jax.shard_map``
  over a one-axis mesh); each device maps over its own lanes. In ``loop`` mode
  lanes go round-robin to the devices. Lanes are padded
  to a multiple of the device count with copies of lane 0 that are dropped.
* With several processes (``jax.distributed``: ``mcalc sweep --processes N``, or one
  process per host of a cluster) the lane axis is sharded over the devices of every
  process -- one SPMD program, each process computing the lanes on its own devices;
  ``lanes: loop`` runs them one at a time on each device there. The lanes' metrics are
  gathered to every process after each chunk (JAX's collectives, Gloo on the CPU),
  and checkpoints are written by all processes together (orbax).
* After each chunk (``train.log_every`` steps) the metrics of every lane come
  back to the host; at checkpoints the stacked state is saved (orbax, atomic),
  so a killed sweep resumes from its last finished chunk with identical results.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from .._concurrency import concurrent_map, default_workers, host_cores
from .._validation import check_static_int

__all__ = ["GroupRunner", "choose_lanes"]

# How `lanes: auto` chooses on the CPU, measured on the 2-core machine (32 lanes of P2
# unless said; loop = the single-lane chunk, one lane per core at a time):
# - Above this many FLOPs per optimizer step a lane is "medium": batching its products
#   gains nothing, and loop runs 1.8x faster than one vmapped program (64 residual-net
#   lanes, B=256, D=64, M=256: scripts/bench_sweep.py).
_SMALL_LANE_FLOPS = 2e6
# - Below it, one vmapped program over all lanes shares each step's fixed costs, while
#   loop pays a dispatch per lane and chunk and gains the other cores. Loop won once a
#   lane's chunk held this many FLOPs: breast cancer, 500 full-batch steps per chunk
#   (5.5e7 FLOPs) 0.58x the vmapped time, 50 steps (5.5e6) 0.84x; all won at 10 steps
#   (1.1e6: loop 1.8x slower) and on 120 x 4 data (1.9e6: 1.5x slower).
_THREADED_CHUNK_FLOPS = 5e6


def _lane_bytes(program: Any, state: Any) -> float:
    """Working memory of one lane side by side: its state (and the optimizer's copies) plus
    one step's data and activations, generously (XLA's count of the bytes a step touches)."""
    itemsize = jnp.dtype(program.dtype).itemsize
    state_bytes = sum(np.prod(x.shape) * x.dtype.itemsize for x in jax.tree.leaves(state))
    rows = program.batch_rows * (program.dim + 1) * itemsize
    return float(state_bytes * 3 + 8 * rows)


def _device_memory_mb() -> float | None:
    """The default device's memory in MiB, when its backend reports it (GPUs do)."""
    try:
        stats = jax.local_devices()[0].memory_stats() or {}
    except Exception:  # noqa: BLE001 - not every backend has memory statistics
        return None
    limit = stats.get("bytes_limit")
    return float(limit) / 2**20 if limit else None


def choose_lanes(
    lanes: str | int, program: Any, n_local: int, memory_mb: float, abstract_state: Any
) -> tuple[int, str]:
    """How many lanes run side by side per device (``lax.map``'s ``batch_size``; 0 = ``loop``),
    and why.

    ``"all"`` or an int are taken as given (capped at the lanes there are and by
    ``memory_mb``), ``"loop"`` is 0. ``"auto"``:

    - on an accelerator (GPU, TPU): every lane side by side, as memory allows (half of the
      device's memory when it reports it, else ``memory_mb``) -- one ``vmap`` turns the
      lanes' matrix-vector products into matrix products that keep the device busy, where a
      loop would launch small kernels one lane at a time;
    - on the CPU: ``loop`` for medium problems (a lane's step above 2 MFLOP: batching
      their products gains nothing there), and for small ones too when there are several
      cores and a chunk is long enough to pay for its dispatch; else all side by side.

    Returns:
      ``(batch, reason)``: the width and one sentence saying why.
    """
    n_local = max(1, n_local)
    by_memory = max(1, int(memory_mb * 2**20 // max(_lane_bytes(program, abstract_state), 1.0)))
    capped = max(1, min(n_local, by_memory))
    mem = f" (memory_mb={memory_mb:g} allows {by_memory})" if by_memory < n_local else ""
    if lanes == "loop":
        return 0, "lanes: loop (as configured): one compiled single-lane program per lane"
    if lanes == "all":
        return capped, f"lanes: all (as configured): {capped} side by side{mem}"
    if isinstance(lanes, int):
        b = max(1, min(lanes, capped))
        return b, f"lanes: {lanes} (as configured): {b} side by side{mem}"
    backend = jax.default_backend()
    if backend != "cpu":
        # The device's own memory, when it says, rather than the CPU-minded memory_mb: a
        # thousand residual-net lanes of ~5 MB fit easily in an accelerator's tens of GB.
        device_mb = _device_memory_mb()
        budget = max(memory_mb, device_mb / 2) if device_mb else memory_mb
        by_device = max(1, int(budget * 2**20 // max(_lane_bytes(program, abstract_state), 1.0)))
        width = max(1, min(n_local, by_device))
        flops = program.flops_per_step()
        room = (
            f"half of the device's {device_mb / 1024:.3g} GB"
            if device_mb
            else f"memory_mb={memory_mb:g}"
        )
        limit = f", {room} allows {by_device}" if by_device < n_local else ""
        return width, (
            f"lanes: auto on {backend}: {width} side by side{limit} -- one vmap turns the lanes' "
            f"products into batched ones; a lane's step alone ({flops / 1e6:.3g} MFLOP) is too "
            "little to keep the device busy"
        )
    flops = program.flops_per_step()
    chunk = flops * program.log_every
    if flops > _SMALL_LANE_FLOPS:
        return 0, (
            f"lanes: auto on cpu: loop -- a step is {flops / 1e6:.3g} MFLOP (> "
            f"{_SMALL_LANE_FLOPS / 1e6:g}): batching medium products gains nothing on the CPU, "
            "and a lane per core does"
        )
    if host_cores() > 1 and chunk >= _THREADED_CHUNK_FLOPS:
        return 0, (
            f"lanes: auto on cpu: loop -- a chunk is {chunk / 1e6:.3g} MFLOP (≥ "
            f"{_THREADED_CHUNK_FLOPS / 1e6:g}), long enough to run a lane per core"
        )
    return capped, (
        f"lanes: auto on cpu: {capped} side by side{mem} -- small lanes share each step's fixed "
        "costs in one program"
    )


@functools.lru_cache(maxsize=16)
def _side_by_side(program: Any, batch: int, devices: tuple[Any, ...]) -> tuple[Any, ...]:
    """The jitted ``chunk``, ``init`` and ``report`` over a lane axis, and the lanes' and the
    data's shardings: one set per (program, width, devices), so that groups of equal programs
    (sweeps over ``data.seed``, say) and repeated sweeps in one process share compiled code."""

    def local_chunk(states, hypers, data):
        # Every live lane is at the same step (frozen lanes lag behind and ignore their
        # draws): one clock for all, so the minibatch order's epoch test stays a lax.cond
        # under vmap instead of a permutation at every step.
        start = jnp.max(states.step)

        def one(sh):
            return program.chunk(sh[0], sh[1], data, start)

        return jax.lax.map(one, (states, hypers), batch_size=batch)

    if len(devices) > 1:
        mesh = jax.make_mesh((len(devices),), ("lanes",), devices=list(devices))
        lane_sharding, replicated = NamedSharding(mesh, P("lanes")), NamedSharding(mesh, P())
        # Lanes are independent: no collectives, so the varying-axis check has nothing to
        # protect (and it rejects the lane-local lax.cond of the minibatch order).
        local_chunk = jax.shard_map(
            local_chunk,
            mesh=mesh,
            in_specs=(P("lanes"), P("lanes"), P()),
            out_specs=(P("lanes"), P("lanes")),
            check_vma=False,
        )
    else:
        lane_sharding = replicated = None
    return (
        jax.jit(local_chunk, donate_argnums=0),
        jax.jit(jax.vmap(program.init), out_shardings=lane_sharding),
        jax.jit(jax.vmap(program.report, in_axes=(0, 0, None))),
        lane_sharding,
        replicated,
    )


class GroupRunner:
    """The compiled ``init`` and ``chunk`` of one group, over ``n_lanes`` lanes.

    Args:
      program: the group's :class:`mcalc.train.Program`.
      data: its :class:`mcalc.train.Data`.
      n_lanes: configurations in the group.
      lanes: the ``sweep.lanes`` setting.
      memory_mb: the ``sweep.memory_mb`` budget.
      devices: ``"all"`` or how many of ``jax.devices()`` to shard the lanes over.
      workers: ``loop`` mode: how many lanes run at once (threads); default one per
        CPU core (:func:`mcalc._concurrency.default_workers`).

    Raises:
      TypeError, ValueError: for ``workers`` that is not an int ≥ 1.

    Example:
      Two lanes of P2, λ = 0.1 and λ = 1, side by side in one program:

      >>> import jax, jax.numpy as jnp, mcalc
      >>> from mcalc.sweep import GroupRunner
      >>> from mcalc.train import build_program, make_data
      >>> cfg = mcalc.load_config("p2", {"data": {"source": "synthetic", "n_samples": 40,
      ...                                         "n_features": 3, "dtype": "float32"}})
      >>> dataset = mcalc.load_data(cfg)
      >>> program = build_program(cfg, dataset)
      >>> runner = GroupRunner(program, make_data(program, dataset), 2, lanes="all",
      ...                      memory_mb=64, devices=1)
      >>> hypers = {k: jnp.stack([v, v]) for k, v in program.hyper().items()}  # [L] each
      >>> hypers["model.lam"] = jnp.array([0.1, 1.0])
      >>> keys = jnp.stack([jax.random.PRNGKey(0), jax.random.PRNGKey(1)])  # [L, 2]
      >>> states = runner.init(keys, hypers)
      >>> lane_hypers = runner.lanes_in(hypers)
      >>> states, metrics = runner.chunk(states, lane_hypers)  # program.log_every steps
      >>> runner.lanes_out(metrics)["step"]
      array([50, 50], dtype=int32)
    """

    def __init__(
        self,
        program: Any,
        data: Any,
        n_lanes: int,
        *,
        lanes: str | int,
        memory_mb: float,
        devices: str | int = "all",
        workers: int | None = None,
    ):
        self.program = program
        self.n_lanes = n_lanes
        devices = jax.devices() if devices == "all" else jax.devices()[: int(devices)]
        multi = jax.process_count() > 1
        # several processes: one SPMD program over every process's devices, whatever n_lanes
        self.n_devices = len(devices) if len(devices) > 1 and (n_lanes > 1 or multi) else 1
        self.padded = math.ceil(n_lanes / self.n_devices) * self.n_devices
        self.abstract_state = program.abstract_state()
        self.batch, self.reason = choose_lanes(
            lanes, program, self.padded // self.n_devices, memory_mb, self.abstract_state
        )
        if multi and self.batch == 0:
            self.batch = 1
            self.reason += (
                f"; over {jax.process_count()} processes: one program sharded over every "
                "process's devices, a lane at a time on each"
            )
        self.loop = self.batch == 0
        self.workers = (
            default_workers(n_lanes)
            if workers is None
            else check_static_int("mcalc.sweep.GroupRunner", "workers", workers, minimum=1)
        )
        if self.loop:
            self._setup_loop(data, devices)
        else:
            self._setup_program(data, devices)

    def _setup_loop(self, data: Any, devices: list[Any]) -> None:
        # One compiled single-lane chunk, called once per lane, ``workers`` lanes at a
        # time (round-robin over the devices). No padding is needed.
        local = [
            d for d in devices if d.process_index == jax.process_index()
        ] or jax.local_devices()
        self._devices = local[: self.n_devices]
        self.padded = self.n_lanes
        from ._program import compiled

        self._init1, self._eval1, self._chunk1 = compiled(self.program)
        self._data = [jax.device_put(data, d) for d in self._devices]

    def _setup_program(self, data: Any, devices: list[Any]) -> None:
        compiled = _side_by_side(self.program, self.batch, tuple(devices[: self.n_devices]))
        self._chunk, self._init, self._eval, self._lane_sharding, self._replicated = compiled
        self.data = self._put(data, self._replicated)

    @property
    def mode(self) -> str:
        """How the lanes run, ``"loop, <W> at a time"`` or ``"<B> side by side"``.

        ``reason`` says why (``sweep.lanes`` as configured, or what ``auto`` chose).

        Example:
          >>> runner.mode  # the runner of the class example
          '2 side by side'
        """
        return f"loop, {self.workers} at a time" if self.loop else f"{self.batch} side by side"

    # -- placement ----------------------------------------------------------------

    def _put(self, tree: Any, sharding: Any) -> Any:
        """``tree`` (the same host values in every process) placed with ``sharding``."""
        if sharding is None:
            return tree
        if jax.process_count() == 1:
            return jax.device_put(tree, sharding)

        def put(x: Any) -> jax.Array:  # every process holds the whole value: take its shards
            x = np.asarray(x)
            return jax.make_array_from_callback(x.shape, sharding, lambda idx: x[idx])

        return jax.tree.map(put, tree)

    def _pad(self, tree: Any) -> Any:
        extra = self.padded - self.n_lanes
        if not extra:
            return tree
        return jax.tree.map(lambda x: jnp.concatenate([x, jnp.repeat(x[:1], extra, axis=0)]), tree)

    def _device(self, lane: int) -> Any:
        return self._devices[lane % len(self._devices)]

    def _lane(self, tree: Any, lane: int) -> Any:
        return jax.device_put(jax.tree.map(lambda x: x[lane], tree), self._device(lane))

    def lanes_in(self, tree: Any) -> Any:
        """Pad a ``[n_lanes, ...]`` pytree to the device multiple and shard it
        (``loop``: one pytree per lane, on its device).

        Args:
          tree: a pytree of ``[n_lanes, ...]`` arrays (the lanes' hyperparameters).

        Returns:
          The pytree as :meth:`chunk` and :meth:`evaluate` take it: ``[padded, ...]``
          leaves sharded over the devices, or (``loop``) a list of one pytree per lane.

        Example:
          >>> lane_hypers["model.lam"].shape  # the class example's, on one device
          (2,)
        """
        if self.loop:
            return [self._lane(tree, i) for i in range(self.n_lanes)]
        return self._put(self._pad(tree), self._lane_sharding)

    def lanes_out(self, tree: Any) -> Any:
        """The host (NumPy) copy of a stacked lane pytree, padding dropped.

        With several processes (``jax.distributed.initialize``) the lanes of other
        hosts are gathered first, so every process sees every lane.

        Args:
          tree: a pytree of stacked lanes (``[padded, ...]`` leaves), such as the metrics
            of :meth:`chunk`.

        Returns:
          The same pytree of ``[n_lanes, ...]`` NumPy arrays.

        Example:
          >>> runner.lanes_out(metrics)["loss"].round(2)  # the class example's two lanes
          array([16.13, 17.56], dtype=float32)
        """
        if jax.process_count() > 1 and not self.loop:
            from jax.experimental import multihost_utils

            tree = multihost_utils.process_allgather(tree, tiled=True)
        return jax.tree.map(lambda x: np.asarray(x)[: self.n_lanes], tree)

    def stacked(self, states: Any) -> Any:
        """The lanes' states as one pytree with a leading lane axis (what checkpoints hold).

        Args:
          states: the lanes' states, as :meth:`init` and :meth:`chunk` return them.

        Returns:
          A :class:`mcalc.train.TrainState` of ``[padded, ...]`` leaves (``loop``: NumPy).

        Example:
          >>> runner.stacked(states).params["w"].shape  # the class example's: [L, D]
          (2, 3)
        """
        if not self.loop:
            return states
        return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *states)

    # -- the program ----------------------------------------------------------------

    def init(self, keys: jax.Array, hypers: dict[str, jax.Array]) -> Any:
        """Initial states of every lane: stacked and sharded like the lanes (``loop``: a list).

        Args:
          keys: ``[n_lanes, 2]`` the lanes' PRNG keys.
          hypers: ``{key: [n_lanes]}`` the lanes' hyperparameters (before :meth:`lanes_in`).

        Returns:
          The states at step 0, as :meth:`chunk` takes them.

        Example:
          >>> fresh = runner.init(keys, hypers)  # the class example's runner and lanes
          >>> runner.lanes_out(runner.stacked(fresh).step)
          array([0, 0], dtype=int32)
        """
        if self.loop:
            return [self._init1(*self._lane((keys, hypers), i)) for i in range(self.n_lanes)]
        keys, hypers = self._put(self._pad((jnp.asarray(keys), hypers)), self._lane_sharding)
        return self._init(keys, hypers)

    def evaluate(self, states: Any, hypers: Any) -> dict[str, Any]:
        """The metrics of every lane's current state (:meth:`Program.report`), as a chunk gives.

        Args:
          states: the lanes' states.
          hypers: the lanes' hyperparameters from :meth:`lanes_in`.

        Returns:
          ``{name: [padded]}`` metrics; :meth:`lanes_out` brings them to the host.

        Example:
          >>> m0 = runner.evaluate(fresh, lane_hypers)  # the initial states of init's example
          >>> runner.lanes_out(m0)["loss"].round(2)  # 32 log 2 at w = 0
          array([22.18, 22.18], dtype=float32)
        """
        if not self.loop:
            return self._eval(states, hypers, self.data)
        out = [
            self._eval1(states[i], hypers[i], self._data[i % len(self._data)])
            for i in range(len(states))
        ]
        return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *out)

    def chunk(self, states: Any, hypers: Any) -> tuple[Any, dict[str, Any]]:
        """``log_every`` steps of every lane; ``states`` is donated. ``hypers`` from :meth:`lanes_in`.

        Args:
          states: the lanes' states (donated: do not use them afterwards).
          hypers: the lanes' hyperparameters from :meth:`lanes_in`.

        Returns:
          ``(states, metrics)``: the states after the chunk, and ``{name: [padded]}``
          metrics at its end (:meth:`mcalc.train.Program.chunk`'s, per lane).

        Example:
          >>> sorted(runner.lanes_out(metrics))[:4]  # the class example's chunk
          ['accuracy', 'diverged_at', 'grad_max', 'grad_norm']
        """
        if not self.loop:
            return self._chunk(states, hypers, self.data)

        def one(i: int) -> Any:
            return self._chunk1(states[i], hypers[i], self._data[i % len(self._data)])

        if self.workers == 1:  # dispatched without waiting: devices run their lanes at once
            out = [one(i) for i in range(len(states))]
        else:  # a thread per core, each waiting for its lane
            out = concurrent_map(
                lambda i: jax.block_until_ready(one(i)), range(len(states)), self.workers
            )
        metrics = jax.tree.map(
            lambda *xs: np.stack([np.asarray(x) for x in xs]), *[m for _, m in out]
        )
        return [s for s, _ in out], metrics

    def abstract_lanes(self, n: int | None = None) -> Any:
        """The shapes of the stacked state of a checkpoint of ``n`` lanes (default: this
        runner's padded count), for restoring it: with several processes, sharded like the
        lanes (each process reads its own); else whole, on one device, so that a checkpoint
        written over another number of devices (lanes padded to another count) restores too.

        Args:
          n: the checkpoint's lane count (default: this runner's padded count).

        Returns:
          A :class:`mcalc.train.TrainState` of ``jax.ShapeDtypeStruct`` ``[n, ...]``
          leaves with their shardings.

        Example:
          >>> runner.abstract_lanes().params["w"].shape  # the class example's runner
          (2, 3)
        """
        n = self.padded if n is None else n
        if jax.process_count() > 1:
            sharding = self._lane_sharding
        else:
            from jax.sharding import SingleDeviceSharding

            sharding = SingleDeviceSharding(jax.local_devices()[0])
        return jax.tree.map(
            lambda x: jax.ShapeDtypeStruct((n, *x.shape), x.dtype, sharding=sharding),
            self.abstract_state,
        )

    def restore(self, states: Any) -> Any:
        """Place restored (stacked, padded) states on the devices like fresh ones.

        Args:
          states: a stacked :class:`mcalc.train.TrainState` as a checkpoint holds it
            (``[n, ...]`` leaves, padded for the devices it was written over).

        Returns:
          The states as :meth:`chunk` takes them.

        Example:
          >>> restored = runner.restore(runner.stacked(states))  # the class example's
          >>> runner.lanes_out(runner.stacked(restored).step)
          array([50, 50], dtype=int32)
        """
        if self.loop:
            return [self._lane(states, i) for i in range(self.n_lanes)]
        if jax.process_count() > 1:
            return states  # restored with the lanes' sharding already
        states = jax.tree.map(lambda x: x[: self.n_lanes], states)  # padded for other devices
        return self._put(self._pad(states), self._lane_sharding)
