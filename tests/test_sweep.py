"""Sweeps: one compiled program over lanes equals separate runs; sharding, divergence, resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import mcalc
from mcalc.sweep import SweepError, expand, load_sweep, parse_sweep

# A small P2 problem with minibatches and a random start, so seeds matter.
P2 = {
    "task": "p2",
    "name": "t",
    "data": {"source": "synthetic", "n_samples": 120, "n_features": 4, "seed": 3},
    "model": {"init_scale": 0.5},
    "optimizer": {"name": "sgd", "learning_rate": 0.2},
    "train": {
        "steps": 60,
        "batch_size": 32,
        "log_every": 20,
        "checkpoint_every": 20,
        "plots": False,
    },
}


def _sweep(tmp_path, config, **overrides):
    return mcalc.sweep(config, sweeps_dir=tmp_path / "sweeps", progress=False, **overrides)


def _params(result, group=0):
    return dict(np.load(result.sweep_dir / "groups" / str(group) / "params.npz"))


# --- the sweep: section -------------------------------------------------------


def test_value_generators_and_grid_zip():
    spec = parse_sweep(
        {"params": {"model.lam": {"logspace": [1e-3, 1e3, 7]}, "seed": {"range": [0, 3]}, "x": 5}}
    )
    configs = expand(spec)
    assert len(configs) == 7 * 3
    lams = sorted({c["model.lam"] for c in configs})
    np.testing.assert_allclose(lams, [1e-3, 1e-2, 1e-1, 1, 10, 100, 1000], rtol=1e-12)
    assert {c["seed"] for c in configs} == {0, 1, 2} and {c["x"] for c in configs} == {5}
    zipped = expand(
        parse_sweep({"mode": "zip", "params": {"a": [1, 2], "b": {"linspace": [0, 1, 2]}}})
    )
    assert zipped == [{"a": 1, "b": 0.0}, {"a": 2, "b": 1.0}]


@pytest.mark.parametrize(
    "section, match",
    [
        ({"params": {"a": [1]}, "lane": 2}, r"unknown sweep key\(s\) 'sweep.lane'"),
        (
            {"params": {"a": [1]}, "mode": "cartesian"},
            "sweep.mode' must be grid or zip; got 'cartesian'",
        ),
        ({"mode": "zip", "params": {"a": [1, 2], "b": [1]}}, "needs the same number of values"),
        ({"params": {"a": {"logspace": [0, 1, 3]}}}, "logspace spans positive values"),
        (
            {"params": {"a": {"linspace": [0, 1]}}},
            r"linspace takes a list of 3 numbers; got \[0, 1\]",
        ),
        (
            {"params": {"a": {"steps": [1]}}},
            "a mapping must have exactly one of values, range, linspace, logspace",
        ),
        ({"params": {"a": []}}, "'params.a': no values to sweep over"),
        ({"params": {}}, "'sweep.params' must map config keys to values"),
        (
            {"params": {"a": [1]}, "lanes": 0},
            "'sweep.lanes' must be auto, all, loop or a positive int; got 0",
        ),
    ],
)
def test_malformed_sweep_sections_name_the_key(section, match):
    with pytest.raises(SweepError, match=match):
        parse_sweep(section)


def test_unknown_config_key_in_a_sweep_is_named(tmp_path):
    with pytest.raises(ValueError, match="model.lamda"):
        _sweep(tmp_path, {**P2, "sweep": {"params": {"model.lamda": [0.1, 1.0]}}})


def test_a_config_without_sweep_section_is_an_error(tmp_path):
    with pytest.raises(SweepError, match="the config has no 'sweep:' section"):
        _sweep(tmp_path, P2)


def test_sweep_file_with_base_and_overrides(tmp_path):
    (tmp_path / "base.yaml").write_text("task: p2\nmodel: {lam: 0.5}\n")
    (tmp_path / "s.yaml").write_text("base: base.yaml\nsweep:\n  params:\n    seed: [0, 1]\n")
    base, spec = load_sweep(
        tmp_path / "s.yaml", ["train.steps=7", "sweep.mode=zip", "sweep.params.model.lam=[1, 2]"]
    )
    assert base.model.lam == 0.5 and base.train.steps == 7
    assert spec.mode == "zip" and dict(spec.params) == {"seed": (0, 1), "model.lam": (1, 2)}


# --- one program equals separate runs ----------------------------------------------


def test_lanes_equal_separate_runs_and_groups_split_shapes(tmp_path):
    sweep = {
        "params": {"model.lam": [0.01, 1.0], "seed": [0, 1], "optimizer.learning_rate": [0.05, 0.2]}
    }
    result = _sweep(tmp_path, {**P2, "sweep": {**sweep, "lanes": "all"}})
    assert len(result.rows) == 8 and {r["group"] for r in result.rows} == {0}
    params = _params(result)
    for row in result.rows:
        single = mcalc.train(
            P2,
            runs_dir=tmp_path / "runs",
            progress=False,
            seed=row["seed"],
            **{
                "model.lam": row["model.lam"],
                "optimizer.learning_rate": row["optimizer.learning_rate"],
            },
        )
        np.testing.assert_allclose(
            params["w"][row["lane"]], single.params["w"], rtol=1e-10, atol=1e-12
        )
        np.testing.assert_allclose(row["loss"], single.metrics["loss"], rtol=1e-10)
        assert row["status"] == "completed"
    # the same sweep with lanes in sequence inside the program gives the same numbers
    seq = _sweep(tmp_path, {**P2, "sweep": {**sweep, "lanes": 1}})
    np.testing.assert_allclose(_params(seq)["w"], params["w"], rtol=1e-10, atol=1e-12)
    # ... and so does dispatching the one compiled single-lane program per configuration
    loop = _sweep(tmp_path, {**P2, "sweep": {**sweep, "lanes": "loop"}})
    np.testing.assert_allclose(_params(loop)["w"], params["w"], rtol=1e-10, atol=1e-12)
    assert json.loads((loop.sweep_dir / "groups/0/group.json").read_text())["side_by_side"] == 0
    # the written table has a row per configuration
    table = json.loads((result.sweep_dir / "results.json").read_text())
    assert [r["lane"] for r in table] == list(range(8))
    assert (result.sweep_dir / "results.csv").read_text().count("\n") == 9
    assert (result.sweep_dir / "plots" / "vs_model_lam.png").is_file()


def test_shape_changing_values_form_groups(tmp_path):
    cfg = {
        **P2,
        "task": "p7",
        "model": {"init_scale": 1.0, "hidden": 4},
        "optimizer": {"name": "sgd", "learning_rate": 0.2, "schedule": None},
        "sweep": {"params": {"model.hidden": [2, 3], "optimizer.learning_rate": [0.1, 0.5]}},
    }
    result = _sweep(tmp_path, cfg)
    assert [r["group"] for r in result.rows] == [0, 0, 1, 1]
    assert _params(result, 0)["W0"].shape == (2, 2, 4) and _params(result, 1)["W0"].shape == (
        2,
        3,
        4,
    )


def test_sharded_across_simulated_devices_equals_one_device(tmp_path):
    import jax

    assert len(jax.devices()) >= 2, "conftest simulates several CPU devices"
    sweep = {
        "params": {"model.lam": [0.01, 0.1, 1.0], "seed": [0, 1]}
    }  # 6 lanes: padded to 8 on 4 devices
    sharded = _sweep(tmp_path, {**P2, "sweep": {**sweep, "devices": "all"}})
    single = _sweep(tmp_path, {**P2, "sweep": {**sweep, "devices": 1}})
    meta = json.loads((sharded.sweep_dir / "groups" / "0" / "group.json").read_text())
    assert meta["devices"] == len(jax.devices())
    np.testing.assert_allclose(_params(sharded)["w"], _params(single)["w"], rtol=1e-12, atol=1e-14)
    # lanes dispatched round-robin to the devices: the same numbers again
    looped = _sweep(tmp_path, {**P2, "sweep": {**sweep, "devices": "all", "lanes": "loop"}})
    np.testing.assert_allclose(_params(looped)["w"], _params(single)["w"], rtol=1e-12, atol=1e-14)


def test_loop_lanes_in_threads_equal_one_at_a_time():
    import jax
    import jax.numpy as jnp

    from mcalc.sweep import GroupRunner
    from mcalc.train import build_program, make_data

    cfg = mcalc.load_config(
        {
            "task": "p7",
            "data": {"source": "synthetic", "n_samples": 80, "n_features": 3, "dtype": "float32"},
            "model": {"hidden": 5, "init_scale": 1.0},
            "optimizer": {"name": "sgd", "learning_rate": 0.5, "schedule": None},
            "train": {"steps": 30, "log_every": 10, "batch_size": 16, "tol": None},
        }
    )
    dataset = mcalc.load_data(cfg)
    program = build_program(cfg, dataset)
    data = make_data(program, dataset)
    n = 5
    hypers = {k: jnp.full((n,), d) for k, d in program.hyper().items()}
    lrs = [0.1, 0.3, 1.0, 3.0, float("nan")]  # the last lane's first update is not finite
    hypers["optimizer.learning_rate"] = jnp.asarray(lrs, jnp.float32)
    keys = jnp.stack([jax.random.PRNGKey(s) for s in range(n)])

    def run(workers):
        runner = GroupRunner(
            program, data, n, lanes="loop", memory_mb=64, devices=1, workers=workers
        )
        assert runner.mode == f"loop, {workers} at a time"
        states, hyp = runner.init(keys, hypers), runner.lanes_in(hypers)
        for _ in range(3):
            states, metrics = runner.chunk(states, hyp)
        return runner.stacked(states), metrics

    with pytest.raises(ValueError, match="GroupRunner: workers must be an integer >= 1; got 0"):
        GroupRunner(program, data, n, lanes="loop", memory_mb=64, devices=1, workers=0)
    (one, m1), (three, m3) = run(1), run(3)
    for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(three), strict=True):
        np.testing.assert_array_equal(a, b)
    for k in m1:
        np.testing.assert_array_equal(m1[k], m3[k])
    assert m1["diverged_at"].tolist() == [-1, -1, -1, -1, 0] and m1["step"].tolist()[:4] == [30] * 4


@pytest.mark.parametrize(
    "task, n, d, batch, log_every, threaded_loop",
    [
        ("p7", 2048, 64, 256, 10, True),  # medium lanes: loop on any CPU
        ("p2", 120, 4, None, 50, False),  # tiny chunks: one vmapped program
        ("p2", 569, 30, None, 500, None),  # long chunks of small lanes: loop with cores to fill
    ],
)
def test_auto_lanes_by_problem_size(task, n, d, batch, log_every, threaded_loop, monkeypatch):
    from mcalc._concurrency import host_cores
    from mcalc.train import build_program
    from mcalc.train._lanes import choose_lanes

    cfg = mcalc.load_config(
        {
            "task": task,
            "data": {"source": "synthetic", "n_samples": n, "n_features": d},
            **({"model": {"hidden": 256}} if task == "p7" else {}),
            "train": {"steps": 1000, "log_every": log_every, "batch_size": batch},
        }
    )
    program = build_program(cfg, mcalc.load_data(cfg))
    if threaded_loop is None:
        threaded_loop = host_cores() > 1
    state = program.abstract_state()
    got, why = choose_lanes("auto", program, 32, 4096, state)
    assert got == (0 if threaded_loop else 32)
    assert why.startswith("lanes: auto on cpu: " + ("loop" if threaded_loop else "32 side by side"))
    assert choose_lanes("all", program, 32, 4096, state)[0] == 32
    assert choose_lanes("loop", program, 32, 4096, state)[0] == 0
    assert choose_lanes(8, program, 32, 4096, state)[0] == 8
    # on an accelerator auto runs every lane side by side (memory allowing), and says why
    from mcalc.train import _lanes

    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    monkeypatch.setattr(_lanes, "_device_memory_mb", lambda: None)
    got, why = choose_lanes("auto", program, 32, 4096, state)
    assert got == 32 and why.startswith("lanes: auto on gpu: 32 side by side -- one vmap")
    tiny, why = choose_lanes("auto", program, 32, 1e-3, state)  # 1 KiB: one lane at a time
    assert tiny == 1 and "memory_mb=0.001 allows 1" in why
    # a device that reports its memory: half of it, whatever memory_mb says
    monkeypatch.setattr(_lanes, "_device_memory_mb", lambda: 1e-3)
    assert choose_lanes("auto", program, 32, 1e-3, state)[0] == 1
    monkeypatch.setattr(_lanes, "_device_memory_mb", lambda: 140.0 * 1024)
    wide, why = choose_lanes("auto", program, 32, 1e-3, state)
    assert wide == 32 and "MFLOP) is too little to keep the device busy" in why


def test_side_by_side_lanes_share_the_minibatch_clock():
    """Under vmap a per-lane lax.cond runs both branches: a permutation (a sort) of N at
    every step. One clock for the lanes keeps the epoch test a real cond."""
    import jax
    import jax.numpy as jnp

    from mcalc.sweep import GroupRunner
    from mcalc.train import build_program, make_data

    cfg = mcalc.load_config({**P2, "train": {**P2["train"], "steps": 20, "log_every": 10}})
    dataset = mcalc.load_data(cfg)
    program = build_program(cfg, dataset)
    runner = GroupRunner(program, make_data(program, dataset), 4, lanes="all", memory_mb=64)
    hypers = {k: jnp.full((4,), d) for k, d in program.hyper().items()}
    keys = jnp.stack([jax.random.PRNGKey(s) for s in range(4)])
    states = runner.init(keys, hypers)
    jaxpr = str(jax.make_jaxpr(runner._chunk)(states, runner.lanes_in(hypers), runner.data))
    assert " cond[" in jaxpr and "sort[" in jaxpr


def test_concurrent_map_keeps_order_and_raises():
    from mcalc._concurrency import concurrent_map, default_workers, host_cores

    assert concurrent_map(lambda x: x * x, range(7), 3) == [x * x for x in range(7)]
    assert concurrent_map(lambda x: x, [], 4) == []
    assert 1 <= default_workers(100) == min(100, host_cores()) and default_workers(1) == 1

    def boom(x):
        if x == 4:
            raise RuntimeError("lane 4")
        return x

    with pytest.raises(RuntimeError, match="lane 4"):
        concurrent_map(boom, range(6), 2)

    # the workers run with the caller's JAX settings (per-thread in JAX)
    import threading

    import jax
    import jax.numpy as jnp

    for x64, dtype in ((True, jnp.float64), (False, jnp.float32)):
        with jax.enable_x64(x64):
            assert concurrent_map(lambda _: jnp.zeros(1).dtype, range(4), 2) == [dtype] * 4

    def settings(_):
        c = jax.config
        return (c.jax_debug_nans, c.jax_default_matmul_precision, c.jax_numpy_rank_promotion)

    with jax.debug_nans(True), jax.default_matmul_precision("highest"):
        with jax.numpy_rank_promotion("warn"):
            assert set(concurrent_map(settings, range(4), 2)) == {(True, "highest", "warn")}

    # A failure cancels the calls not yet started. Items 0 and 1 run together (a barrier
    # that only they pass) and both fail: every later item is picked up after a failure,
    # so none of them may start, however the two threads are scheduled.
    started = []
    lock = threading.Lock()
    both = threading.Barrier(2, timeout=120)

    def fail_first_two(x):
        with lock:
            started.append(x)
        if x < 2:
            both.wait()
            raise RuntimeError(f"lane {x}")
        return x

    with pytest.raises(RuntimeError, match="lane 0"):  # the first failure in item order
        concurrent_map(fail_first_two, range(20), 2)
    assert sorted(started) == [0, 1], started


def test_a_diverging_configuration_is_isolated(tmp_path):
    p4 = {
        "task": "p4",
        "name": "div",
        "data": {"source": "synthetic", "n_samples": 80, "n_features": 3},
        "optimizer": {"name": "sgd", "learning_rate": 0.1},
        "train": {"steps": 400, "log_every": 100, "plots": False},
        "sweep": {"params": {"optimizer.learning_rate": [0.1, 1000.0, 0.3]}},
    }
    result = _sweep(tmp_path, p4)
    ok, bad, ok2 = result.rows
    assert bad["status"] == "diverged" and 0 <= bad["diverged_at"] < 400
    assert ok["status"] != "diverged" and ok2["status"] != "diverged"
    assert np.isfinite(
        _params(result)["w"]
    ).all()  # the diverged lane keeps its last finite weights
    plain = {k: v for k, v in p4.items() if k != "sweep"}
    single = mcalc.train(
        plain, runs_dir=tmp_path / "runs", progress=False, **{"optimizer.learning_rate": 0.3}
    )
    np.testing.assert_allclose(ok2["loss"], single.metrics["loss"], rtol=1e-10)
    assert bad["lane"] not in result.best["lanes"]
    assert bad["loss"] is None or np.isfinite(bad["loss"])  # never inf in the results
    assert result.configurations[-1]["lanes"] == [bad["lane"]]  # ranked last: no finite metric


def test_cli_sweep_smoke_and_usage_errors(tmp_path):
    import yaml

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**P2, "sweep": {"params": {"model.lam": [0.1, 1.0]}}}))
    env = {**os.environ}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcalc",
            "sweep",
            str(path),
            "train.steps=20",
            "--sweeps-dir",
            str(tmp_path / "o"),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert (
        "best by test_accuracy: model.lam=" in run.stdout and "2 lanes: 2 completed" in run.stdout
    )
    assert "Warning" not in run.stderr, run.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "mcalc", "sweep", str(path), "sweep.mode=cross"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 2 and "sweep.mode' must be grid or zip" in bad.stderr


SWEEP_CONFIGS = [
    p
    for p in sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))
    if "sweep:" in p.read_text()
]


@pytest.mark.parametrize("path", SWEEP_CONFIGS, ids=lambda p: p.name)
def test_every_sweep_config_resolves_and_is_commented(path):
    base, spec = load_sweep(path)
    assert base.name == path.stem and expand(spec)
    for line in path.read_text().splitlines():
        code = line.split("#", 1)[0].rstrip()
        if code and not code.endswith(":"):
            assert "#" in line, f"{path.name}: line without a comment: {line!r}"


def test_sweep_configs_exist():
    assert {p.name for p in SWEEP_CONFIGS} >= {
        "l2_separable_sweep.yaml",
        "l2_breast_cancer_sweep.yaml",
    }


@pytest.mark.slow
def test_l2_study_script_reports_every_claim(tmp_path):
    script = Path(__file__).parent.parent / "scripts" / "l2_study.py"
    run = subprocess.run(
        [sys.executable, str(script), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    (study,) = tmp_path.iterdir()
    report = (study / "report.md").read_text()
    for section in ("## 1.", "## 2.", "## 3.", "## 4."):
        assert section in report
    assert "**does not hold**" not in report and report.count("**holds**") >= 6
    findings = json.loads((study / "findings.json").read_text())
    assert (
        findings["norm_monotone"]
        and findings["eig_min_ge_2lam"]
        and findings["unbounded_without_l2"]
    )
    for png in ("path.png", "separable.png", "accuracy.png"):
        assert (study / png).stat().st_size > 1000


@pytest.mark.parametrize("lanes", ["all", "loop"])
def test_a_run_and_a_sweep_lane_stop_at_the_same_step_by_the_same_rule(tmp_path, lanes):
    """One stopping rule (‖∇L‖∞/N ≤ tol, checked at each logging point) for runs and lanes."""
    cfg = {
        **P2,
        "model": {"init_scale": 0.0},
        "train": {
            "steps": 3000,
            "log_every": 20,
            "checkpoint_every": 0,
            "tol": 1e-4,
            "plots": False,
        },
    }
    zipped = {"model.lam": [0.01, 10.0], "optimizer.learning_rate": [0.05, 0.3]}
    result = _sweep(tmp_path, {**cfg, "sweep": {"mode": "zip", "params": zipped, "lanes": lanes}})
    steps = []
    for row in result.rows:
        values = {k: row[k] for k in ("model.lam", "optimizer.learning_rate")}
        single = mcalc.train(cfg, runs_dir=tmp_path / "runs", progress=False, **values)
        assert single.status == row["status"] == "converged" and row["stop_reason"] == "tol"
        assert single.step == row["step"] < 3000
        assert single.metrics["grad_max"] <= 1e-4 < single.history[-2]["grad_max"]
        np.testing.assert_allclose(row["loss"], single.metrics["loss"], rtol=1e-10)
        steps.append(row["step"])
    assert steps[0] != steps[1]  # each lane stopped on its own
    # the converged lane was frozen: its last record is the one at its stopping step
    from mcalc.train._files import read_jsonl

    recs = read_jsonl(result.sweep_dir / "groups" / "0" / "metrics.jsonl")
    assert [r for r in recs if r["lane"] == 0][-1]["step"] == steps[0]


def test_a_diverging_lane_prints_no_warnings_and_reports_no_infinities(tmp_path):
    import yaml

    cfg = {
        "task": "p4",
        "name": "div",
        "data": {"source": "synthetic", "n_samples": 80, "n_features": 3, "dtype": "float32"},
        "optimizer": {"name": "sgd", "learning_rate": 0.1},
        "train": {"steps": 300, "log_every": 100},
        "sweep": {"params": {"optimizer.learning_rate": [0.1, 1.0e6]}},
    }
    path = tmp_path / "d.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcalc",
            "sweep",
            str(path),
            "--sweeps-dir",
            str(tmp_path / "o"),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "Warning" not in run.stderr and "overflow" not in run.stderr, run.stderr
    assert "lane 1 diverged at step" in run.stdout
    (sweep_dir,) = (tmp_path / "o").iterdir()
    text = (sweep_dir / "results.json").read_text()
    assert "inf" not in text.lower() and "nan" not in text.lower()


def test_a_checkpoint_written_over_more_devices_resumes_on_fewer(tmp_path):
    """Lanes padded for 4 devices in the checkpoint, resumed on 1 device: same end."""
    import json as _json

    cfg = {**P2, "sweep": {"params": {"model.lam": [0.1, 1.0, 3.0]}, "lanes": "all", "devices": 4}}
    res = _sweep(tmp_path, cfg)
    folder = res.sweep_dir
    # keep its last checkpoint but forget the group's result: resuming trains from the checkpoint
    (folder / "groups/0/result.json").unlink()
    ckpts = sorted(
        int(p.name) for p in (folder / "groups/0/checkpoints").iterdir() if p.name.isdigit()
    )
    assert ckpts  # the final one, of 4 padded lanes
    text = (folder / "sweep.yaml").read_text().replace("devices: 4", "devices: 1")
    (folder / "sweep.yaml").write_text(text)
    again = mcalc.sweep(resume=folder, progress=False)
    assert [r["loss"] for r in again.rows] == [r["loss"] for r in res.rows]
    assert _json.loads((folder / "groups/0/group.json").read_text())["devices"] == 4


def test_a_sweep_metric_that_no_lane_reports_is_an_error(tmp_path):
    cfg = {**P2, "sweep": {"params": {"model.lam": [0.1, 1.0]}, "metric": "test_acc"}}
    with pytest.raises(
        SweepError,
        match=r"sweep.metric 'test_acc' is not a metric of task p2; .* Did you mean 'test_accuracy'\?",
    ):
        _sweep(tmp_path, cfg)
    assert not (tmp_path / "sweeps").exists() or not any((tmp_path / "sweeps").iterdir())


def test_sweep_plots_draw_every_value_and_every_line_with_seed_bands(tmp_path, monkeypatch):
    """13 values of λ × 12 learning rates × 5 seeds: every λ on the x-axis, all 12 lines (no
    cap), each point the mean over 5 seeds with a ±1 std band, and the title says so."""
    from mcalc.sweep import _plots

    lams = list(np.geomspace(1e-3, 1e3, 13))
    lrs = [0.01 * (k + 1) for k in range(12)]
    rows = [
        {"lane": i, "model.lam": lam, "optimizer.learning_rate": lr, "data.seed": s,
         "status": "completed", "test_accuracy": 0.9 + 0.001 * s, "param_norm": 1.0 / (1 + lam),
         "loss": 10.0 + lam}
        for i, (lam, lr, s) in enumerate(
            (lam, lr, s) for lam in lams for lr in lrs for s in range(5)
        )
    ]  # fmt: skip
    rows[0]["status"] = "diverged"
    params = ["model.lam", "optimizer.learning_rate", "data.seed"]
    lines = _plots.sweep_series(
        [r for r in rows if r["status"] != "diverged"],
        "model.lam",
        ["optimizer.learning_rate"],
        ["test_accuracy"],
    )
    assert len(lines) == 12 and all(len(pts) == 13 for pts in lines.values())
    assert sorted(len(v["test_accuracy"]) for pts in lines.values() for v in pts.values())[1:] == [
        5
    ] * (12 * 13 - 1)
    figures = []
    monkeypatch.setattr(
        _plots, "_save", lambda fig, path, files: figures.append((path.name, fig)) or path
    )
    (tmp_path / "groups").mkdir()
    paths = _plots.plot_sweep(tmp_path, rows, params, "test_accuracy", ["data.seed"])
    by_name = dict(figures)
    fig = by_name["vs_model_lam.png"]
    title = fig._suptitle.get_text()
    assert (
        "13 values of model.lam" in title
        and "mean ± 1 std over 5 lanes per point (data.seed)" in title
    )
    assert "1 diverged lane left out" in title
    ax = fig.axes[0]
    assert len(ax.lines) == 12 and all(len(line.get_xdata()) == 13 for line in ax.lines)
    assert len(ax.collections) == 12  # one std band per line
    assert fig.legends and not ax.get_legend()  # the legend sits beside the axes
    assert {p.name for p in paths} >= {"vs_model_lam.png", "vs_optimizer_learning_rate.png"}
