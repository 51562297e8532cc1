"""Training: the compiled program's contract, the run loop, run folders, solvers, parity."""

from __future__ import annotations

import json
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

import mcalc
from mcalc.config import load_config
from mcalc.data import load_data
from mcalc.train import build_program, make_data
from mcalc.train._files import create_run_dir, read_jsonl

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


@pytest.fixture(autouse=True)
def _no_persistent_cache(monkeypatch):
    # In-process runs must not point this test process's JAX at a cache folder;
    # the cache is tested in a subprocess (tests/test_train_resume.py).
    monkeypatch.setenv("MCALC_CACHE_DIR", "off")


def _tiny(task, **over):
    """A small synthetic config of ``task``: a few dozen samples, few steps."""
    base = {
        "data.source": "synthetic",
        "data.n_samples": 60,
        "data.n_features": 3,
        "train.steps": 40,
        "train.log_every": 10,
        "train.checkpoint_every": 20,
        "train.tol": None,
        "train.gap_tol": None,
    }
    if task == "p3":
        base["data.relabel"] = "none"
    if task == "p7":
        base |= {"model.hidden": 4, "train.batch_size": 16}
    return load_config(task, {**base, **over})


def _program(cfg):
    ds = load_data(cfg)
    prog = build_program(cfg, ds)
    return prog, make_data(prog, ds)


def _run_steps(prog, data, hyper, key, n_chunks):
    state = jax.jit(prog.init)(key, hyper)
    chunk = jax.jit(prog.chunk)
    for _ in range(n_chunks):
        state, metrics = chunk(state, hyper, data)
    return state, metrics


# ----------------------------------------------------------------------------- the program


def test_hyper_holds_every_numeric_hyperparameter():
    prog, _ = _program(
        _tiny("p2", **{"optimizer.name": "adam", "optimizer.args": {"b1": 0.8, "momentum": None}})
    )
    hyper = prog.hyper()
    assert set(hyper) == {
        "model.init_scale",
        "model.lam",
        "optimizer.learning_rate",
        "optimizer.args.b1",
        "optimizer.args.b2",  # optax's defaults too: a sweep may vary them
        "optimizer.args.eps",
        "optimizer.args.eps_root",
    }
    assert all(v.shape == () and v.dtype == jnp.float64 for v in hyper.values())
    assert float(hyper["optimizer.args.b1"]) == 0.8
    with pytest.raises(
        KeyError, match=r"'model.sigma2' is not a numeric hyperparameter of this program"
    ):
        prog.hyper(**{"model.sigma2": 1.0})


def test_schedule_arguments_are_hyper_when_traceable():
    cfg = _tiny("p7", **{"optimizer.schedule.args": {"init_value": 0.05, "decay_steps": 40}})
    prog, _ = _program(cfg)
    assert "optimizer.schedule.args.init_value" in prog.hyper()
    assert "optimizer.learning_rate" not in prog.hyper()
    # exponential_decay checks decay_rate in Python: its arguments stay static.
    cfg = _tiny(
        "p7",
        **{
            "optimizer.schedule": {
                "name": "exponential_decay",
                "args": {"init_value": 0.05, "transition_steps": 10, "decay_rate": 0.5},
            }
        },
    )
    prog, _ = _program(cfg)
    assert not any(k.startswith("optimizer.schedule") for k in prog.hyper())


@pytest.mark.parametrize(
    "name, args, lr",
    [
        ("lbfgs", {"memory_size": 5}, 1.0),
        ("adamw", {"weight_decay": 1e-3}, 0.05),
        ("rmsprop", {}, 0.01),
    ],
)
def test_any_optax_optimizer_by_name(name, args, lr):
    # lbfgs needs the loss (value, value_fn) and keeps its integer memory_size static.
    cfg = _tiny(
        "p2", optimizer={"name": name, "args": {"momentum": None, **args}, "learning_rate": lr}
    )
    prog, data = _program(cfg)
    state, m = _run_steps(prog, data, prog.hyper(), jax.random.PRNGKey(0), 2)
    m0 = prog.evaluate(prog.init(jax.random.PRNGKey(0), prog.hyper()).params, prog.hyper(), data)
    assert int(m["diverged_at"]) == -1 and float(m["loss"]) < float(m0["loss"])


def test_optimizer_hyperparameters_live_in_the_optimizer_state():
    prog, _ = _program(_tiny("p2"))
    hyper = prog.hyper(**{"optimizer.learning_rate": 0.25})
    state = prog.init(jax.random.PRNGKey(0), hyper)
    assert float(state.opt_state.hyperparams["learning_rate"]) == 0.25
    assert float(state.opt_state.hyperparams["momentum"]) == 0.9


@pytest.mark.parametrize("task", ["p2", "p3", "p4", "p7"])
def test_closed_form_and_autodiff_give_the_same_trajectory(task):
    over = {"data.intercept": True} if task == "p2" else {}  # P2 with its unpenalised intercept
    cf = _tiny(task, **over)
    ad = load_config(cf, ["model.grad=autodiff"])
    (p1, d1), (p2, d2) = _program(cf), _program(ad)
    key = jax.random.PRNGKey(3)
    s1, m1 = _run_steps(p1, d1, p1.hyper(), key, 3)
    s2, m2 = _run_steps(p2, d2, p2.hyper(), key, 3)
    tol = 1e-5 if task == "p7" else 1e-10  # P7 is float32
    chex.assert_trees_all_close(s1.params, s2.params, rtol=tol, atol=tol)
    assert int(s1.step) == int(s2.step) == 30
    assert abs(float(m1["loss"]) - float(m2["loss"])) <= tol * abs(float(m1["loss"]))


def test_intercept_is_not_penalised():
    # With an intercept column, P2's gradient in the intercept has no 2λw term: the loss is
    # logistic_l2 minus λ w_b², whose gradient jax.grad confirms entry by entry.
    cfg = _tiny("p2", **{"data.intercept": True, "model.lam": 5.0})
    prog, data = _program(cfg)
    w = jnp.linspace(-1, 1, prog.dim)

    def loss(w):
        return mcalc.logistic_l2(w, data.X, data.y, lam=5.0) - 5.0 * w[-1] ** 2

    m = prog.evaluate({"w": w}, prog.hyper(), data)
    np.testing.assert_allclose(float(m["loss"]), float(loss(w)), rtol=1e-12)
    np.testing.assert_allclose(
        float(m["grad_norm"]), float(jnp.linalg.norm(jax.grad(loss)(w))), rtol=1e-12
    )


def test_chunks_compose_and_minibatches_depend_on_seed_and_step_only():
    cfg = _tiny("p2", **{"train.batch_size": 8, "train.steps": 40})
    prog, data = _program(cfg)
    hyper, key = prog.hyper(), jax.random.PRNGKey(1)
    a, _ = _run_steps(prog, data, hyper, key, 4)
    # The same 40 steps as 2 chunks of 20: same batches, same parameters (bitwise).
    cfg20 = load_config(cfg, ["train.log_every=20"])
    prog20, _ = _program(cfg20)
    b, _ = _run_steps(prog20, data, hyper, key, 2)
    np.testing.assert_array_equal(a.params["w"], b.params["w"])
    # Step by step with the batch recomputed from (key, step): epoch e draws
    # permutation(fold_in(key_batch, e)), step t takes slice t % (N // B).
    state = prog.init(key, hyper)
    nb = prog.n_train // 8
    batch, step = jax.jit(prog._batch), jax.jit(prog.step)
    for t in range(2 * nb + 1):  # across two epoch boundaries
        perm = jax.random.permutation(jax.random.fold_in(state.key, t // nb), prog.n_train)
        idx = perm[(t % nb) * 8 : (t % nb + 1) * 8]
        Xb, _, _ = batch(state, data, state.step)
        np.testing.assert_array_equal(Xb, data.X[idx])
        state = step(state, hyper, data)


def test_steps_past_the_end_are_no_ops():
    prog, data = _program(_tiny("p4", **{"train.steps": 25}))
    state, m = _run_steps(prog, data, prog.hyper(), jax.random.PRNGKey(0), 5)  # 50 steps asked
    assert int(state.step) == 25 and int(m["step"]) == 25


def test_lanes_vmap_like_separate_runs_and_a_diverging_lane_is_frozen():
    cfg = _tiny("p2")
    prog, data = _program(cfg)
    lrs = jnp.array([0.1, 1e12, 0.5])  # the middle lane diverges
    hyper = prog.hyper()
    lanes = {k: jnp.broadcast_to(v, lrs.shape) for k, v in hyper.items()} | {
        "optimizer.learning_rate": lrs
    }
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    states = jax.jit(jax.vmap(prog.init))(keys, lanes)
    chunk = jax.jit(jax.vmap(prog.chunk, in_axes=(0, 0, None)))  # data shared, never per lane
    for _ in range(4):
        states, metrics = chunk(states, lanes, data)
    assert bool(jnp.all(jnp.isfinite(states.params["w"])))
    assert int(metrics["diverged_at"][1]) >= 0 and int(states.step[1]) == int(
        metrics["diverged_at"][1]
    )
    assert list(np.asarray(metrics["diverged_at"])[[0, 2]]) == [-1, -1]
    for lane in (0, 2):
        single, _ = _run_steps(
            prog, data, prog.hyper(**{"optimizer.learning_rate": float(lrs[lane])}), keys[lane], 4
        )
        np.testing.assert_allclose(
            states.params["w"][lane], single.params["w"], rtol=1e-12, atol=1e-14
        )


# ----------------------------------------------------------------------------- train()


def test_train_writes_a_complete_run_folder(tmp_path):
    res = mcalc.train(_tiny("p7"), runs_dir=tmp_path, progress=False)
    d = res.run_dir
    assert d.parent == tmp_path and d.name.startswith("p7-")
    for name in (
        "config.yaml",
        "metrics.jsonl",
        "summary.json",
        "params.npz",
        "plots/loss.png",
        "plots/metrics.png",
    ):
        assert (d / name).is_file(), name
    # named by logging points done (log_every 10, a checkpoint every 20 steps)
    assert sorted(int(p.name) for p in (d / "checkpoints").iterdir() if p.name.isdigit()) == [2, 4]
    assert load_config(d / "config.yaml") == res.config
    history = read_jsonl(d / "metrics.jsonl")
    assert [r["step"] for r in history] == [0, 10, 20, 30, 40]
    for key in (
        "loss",
        "grad_norm",
        "param_norm",
        "accuracy",
        "test_loss",
        "test_accuracy",
        "learning_rate",
    ):
        assert all(np.isfinite(r[key]) for r in history), key
    summary = json.loads((d / "summary.json").read_text())
    assert summary["status"] == res.status == "completed" and summary["step"] == res.step == 40
    assert res.metrics["step"] == 40 and res.history == history
    saved = np.load(d / "params.npz")
    for k, v in res.params.items():
        np.testing.assert_array_equal(saved[k], v)
        assert v.dtype == np.float32  # P7's config is float32
    net = mcalc.ResidualNet.from_params(res.params)
    assert isinstance(net, mcalc.ResidualNet) and net(jnp.zeros((2, 3))).shape == (2,)
    model = res.model()  # the trained model, predicting on raw features
    assert isinstance(model, mcalc.TrainedModel) and model.predict(np.zeros((2, 3))).shape == (2,)


def test_python_api_overrides_and_runs_never_share_a_folder(tmp_path):
    a = mcalc.train(
        "p4",
        runs_dir=tmp_path,
        progress=False,
        train__steps=20,
        **{"train.log_every": 10, "data.n_samples": 50, "data.source": "synthetic"},
        train={"checkpoint_every": 10},
    )
    b = mcalc.train(a.config, runs_dir=tmp_path, progress=False)
    assert a.run_dir != b.run_dir and a.config.train.steps == 20
    np.testing.assert_array_equal(a.params["w"], b.params["w"])  # same config: same result
    # Folders are created with os.mkdir: a name that exists gets the next suffix.
    first = create_run_dir(tmp_path, "x", stamp="20260101-000000")
    second = create_run_dir(tmp_path, "x", stamp="20260101-000000")
    assert (first.name, second.name) == ("x-20260101-000000", "x-20260101-000000-2")


def test_divergence_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    # The learning rate grows linearly from 0.01 to 1e6 over 200 steps: the run is healthy at
    # first, then the loss overflows.
    sched = {
        "name": "linear_schedule",
        "args": {"init_value": 0.01, "end_value": 1e6, "transition_steps": 200},
    }
    cfg = _tiny(
        "p4",
        **{
            "optimizer.learning_rate": None,
            "optimizer.schedule": sched,
            "optimizer.args": {"momentum": None},
            "train.steps": 200,
            "train.checkpoint_every": 10,
            "train.log_every": 10,
        },
    )
    res = mcalc.train(cfg, runs_dir=tmp_path, progress=False)
    k = res.summary["diverged_at"]
    assert res.status == "diverged" and not res.ok and k is not None and k > 10
    assert f"non-finite at step {k}" in res.summary["message"]
    assert all(np.all(np.isfinite(v)) for v in res.params.values())
    assert res.step == k  # frozen at the last finite parameters
    # the diverged run's final checkpoint holds that frozen state: resuming trains nothing more
    again = mcalc.train(resume=res.run_dir, progress=False)
    assert again.status == "diverged" and again.step == k
    for key in res.params:
        np.testing.assert_array_equal(again.params[key], res.params[key])


def test_tolerance_stops_the_run_and_is_reported(tmp_path):
    res = mcalc.train(
        _tiny(
            "p2",
            **{
                "train.steps": 4000,
                "train.tol": 1e-6,
                "train.log_every": 20,
                "train.checkpoint_every": 0,
            },
        ),
        runs_dir=tmp_path,
        progress=False,
    )
    assert res.status == "converged" and res.step < 4000
    assert res.metrics["grad_max"] <= 1e-6 < res.history[-2]["grad_max"]
    assert "converged at step" in res.summary["message"] and res.summary["stop_reason"] == "tol"
    # only the final checkpoint, after the logging point that converged (log_every 20)
    assert [p.name for p in (res.run_dir / "checkpoints").iterdir() if p.name.isdigit()] == [
        str(res.step // 20)
    ]


def test_p4_reports_the_gap_to_the_closed_form(tmp_path):
    res = mcalc.train(
        _tiny(
            "p4",
            **{
                "train.steps": 2000,
                "train.gap_tol": 1e-8,
                "train.log_every": 50,
                "train.checkpoint_every": 0,
            },
        ),
        runs_dir=tmp_path,
        progress=False,
    )
    assert res.status == "converged" and res.summary["stop_reason"] == "gap_tol"
    assert 0 <= res.metrics["objective_gap"] <= 1e-8
    w_star = mcalc.least_squares(*_xy(res.config)).w
    np.testing.assert_allclose(res.params["w"], w_star, rtol=1e-4)
    assert res.summary["optimum"]["param_gap"] == res.metrics["param_gap"] < 1e-4


def _xy(cfg):
    ds = load_data(cfg)
    return ds.X_train, ds.y_train


def test_exact_solvers(tmp_path):
    newton = mcalc.train(
        _tiny("p2", solver="newton", **{"train.steps": 50, "train.tol": 1e-12}),
        runs_dir=tmp_path,
        progress=False,
    )
    lbfgs = mcalc.train(
        _tiny("p2", solver="lbfgs", **{"train.steps": 500, "train.tol": 1e-10}),
        runs_dir=tmp_path,
        progress=False,
    )
    assert newton.status == lbfgs.status == "converged"
    assert newton.summary["solver_result"]["grad_max"] <= 1e-12
    np.testing.assert_allclose(lbfgs.params["w"], newton.params["w"], rtol=1e-7)
    closed = mcalc.train(_tiny("p4", solver="closed_form"), runs_dir=tmp_path, progress=False)
    assert closed.status == "converged" and closed.metrics["param_gap"] == 0.0
    assert closed.summary["solver_result"]["rank"] == 4  # 3 features + intercept


def test_resume_in_process_matches_an_uninterrupted_run(tmp_path):
    # A run killed after its step-20 checkpoint (logging point 2), simulated: the checkpoint
    # of step 40 (logging point 4) removed, metrics logged past the checkpoint (and a line
    # torn by the kill) left behind. (tests/test_interrupts.py kills a real process.)
    import shutil

    full = mcalc.train(_tiny("p7"), runs_dir=tmp_path / "a", progress=False)
    killed = tmp_path / "b" / full.run_dir.name
    shutil.copytree(full.run_dir, killed)
    shutil.rmtree(killed / "checkpoints" / "4")
    (killed / "params.npz").unlink()
    summary = json.loads((killed / "summary.json").read_text())
    (killed / "summary.json").write_text(json.dumps({**summary, "status": "running"}))
    with open(killed / "metrics.jsonl", "a") as fh:
        fh.write('{"step": 50, "loss": 1.')
    resumed = mcalc.train(resume=killed, progress=False)
    assert resumed.run_dir == killed and resumed.step == 40 and resumed.status == "completed"
    chex.assert_trees_all_equal(resumed.params, full.params)
    assert [r["step"] for r in read_jsonl(killed / "metrics.jsonl")] == [0, 10, 20, 30, 40]
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in full.history]
    assert resumed.summary["resumes"] == [20]
    # Resuming a run that has ended trains nothing more.
    again = mcalc.train(resume=killed, progress=False)
    assert again.step == 40 and again.summary["resumes"] == [20]
    chex.assert_trees_all_equal(again.params, full.params)


def test_resume_refuses_a_different_config(tmp_path):
    res = mcalc.train(_tiny("p2", **{"train.steps": 10}), runs_dir=tmp_path, progress=False)
    with pytest.raises(
        ValueError,
        match=r"cannot resume .* with changes other than train.steps \(model.lam: 1.0 -> 0.5\)",
    ):
        mcalc.train(res.config, resume=res.run_dir, progress=False, **{"model.lam": 0.5})
    with pytest.raises(ValueError, match=r"is not a run folder \(it has no config.yaml\)"):
        mcalc.train(resume=tmp_path, progress=False)


def test_bad_inputs_fail_before_a_folder_is_made(tmp_path):
    with pytest.raises(mcalc.ConfigError, match=r"unknown config key 'train.stepz'"):
        mcalc.train("p2", runs_dir=tmp_path, progress=False, **{"train.stepz": 3})
    with pytest.raises(ValueError, match=r"train.batch_size=1000 exceeds the 48 training samples"):
        mcalc.train(_tiny("p2", **{"train.batch_size": 1000}), runs_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"give a config"):
        mcalc.train(runs_dir=tmp_path)
    assert not any(tmp_path.iterdir())


# ----------------------------------------------------------------------------- every config


def _train_configs():
    # Files with a top-level `sweep:` section are sweeps (tests/test_sweep.py runs them).
    return [
        p
        for p in sorted(CONFIGS.glob("*.yaml"))
        if "sweep" not in (yaml.safe_load(p.read_text()) or {})
    ]


@pytest.mark.parametrize("path", _train_configs(), ids=lambda p: p.name)
def test_every_config_trains(path, tmp_path):
    cfg = load_config(path)
    short = {
        "train.steps": min(cfg.train.steps, 2 * cfg.train.log_every),
        "train.checkpoint_every": 0,
    }
    res = mcalc.train(path, runs_dir=tmp_path, progress=False, **short, **{"train.plots": False})
    assert res.ok and res.step >= 1
    assert np.isfinite(res.metrics["loss"])


# ----------------------------------------------------------------------------- parity


def test_p2_parity_with_scikit_learn(tmp_path):
    """Standardised breast cancer: P2 trained to convergence equals LogisticRegression(C=1/(2λ))."""
    from sklearn.linear_model import LogisticRegression

    lam = 1.0
    ds = load_data(load_config("p2"))
    ref = LogisticRegression(C=1 / (2 * lam), fit_intercept=False, tol=1e-12, max_iter=10_000)
    w_ref = ref.fit(ds.X_train, ds.y_train).coef_[0]
    for over in (
        {"solver": "newton", "train.steps": 50, "train.tol": 1e-12},
        {"train.steps": 5000, "train.tol": 1e-11, "train.checkpoint_every": 0},
    ):
        res = mcalc.train("p2", runs_dir=tmp_path, progress=False, **over)
        assert res.status == "converged"
        np.testing.assert_allclose(res.params["w"], w_ref, rtol=1e-5, atol=0)


def test_p4_parity_with_numpy_lstsq(tmp_path):
    ds = load_data(load_config("p4"))
    w_ref = np.linalg.lstsq(ds.X_train, ds.y_train, rcond=None)[0]
    res = mcalc.train("p4", runs_dir=tmp_path, progress=False, solver="closed_form")
    np.testing.assert_allclose(res.params["w"], w_ref, rtol=1e-8, atol=0)
    np.testing.assert_allclose(
        mcalc.least_squares(ds.X_train, ds.y_train).w, w_ref, rtol=1e-8, atol=0
    )


def test_resuming_with_more_steps_off_the_logging_grid_reaches_them(tmp_path):
    """50 steps logged every 20 (20, 40, 50), then resumed to 100: the run goes on to step 100
    and ends where a 100-step run ends."""
    cfg = _tiny(
        "p2",
        **{
            "train.steps": 50,
            "train.log_every": 20,
            "train.checkpoint_every": 20,
            "train.tol": None,
        },
    )
    first = mcalc.train(cfg, runs_dir=tmp_path, progress=False)
    assert first.step == 50
    more = mcalc.train(resume=first.run_dir, progress=False, train__steps=100)
    assert more.status == "completed" and more.step == 100
    assert [r["step"] for r in more.history] == [0, 20, 40, 50, 70, 90, 100]
    fresh = mcalc.train(cfg, runs_dir=tmp_path / "fresh", progress=False, train__steps=100)
    np.testing.assert_allclose(more.params["w"], fresh.params["w"], rtol=1e-12)
    with pytest.raises(
        ValueError,
        match=r"train.steps=60 is below the step this run has reached \(100\); give at least 100",
    ):
        mcalc.train(resume=first.run_dir, progress=False, train__steps=60)
    # the refused resume changed nothing: the run's own config still says 100 steps
    again = mcalc.train(resume=first.run_dir, progress=False)
    assert again.step == 100 and again.config.train.steps == 100
