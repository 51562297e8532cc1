"""A task written outside the package gets everything the built-in ones get, from the CLI and
from Python: it trains, sweeps, resumes, verifies, reports and predicts.

Written from the user's side: nothing here imports a private module of mcalc. The tasks
are the worked examples in ``examples/`` (Poisson and softmax regression).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import mcalc

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))

from poisson import poisson  # noqa: E402
from softmax import softmax  # noqa: E402


def _cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k != "MCALC_TEST_HOLD_AT_CHECKPOINT"}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "mcalc", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=600,
    )


# --- Python ------------------------------------------------------------------------------


def test_poisson_trains_from_python_and_matches_scikit_learn(tmp_path):
    from sklearn.linear_model import PoissonRegressor

    res = mcalc.train(poisson, runs_dir=tmp_path, progress=False, **{"model.lam": 2.0})
    assert res.status == "converged", res.summary["message"]
    cfg = mcalc.load_config(poisson, {"model.lam": 2.0})
    data = mcalc.load_data(cfg)
    n = data.n_train
    sk = PoissonRegressor(alpha=2 * 2.0 / n, fit_intercept=False, tol=1e-12, max_iter=10_000)
    sk.fit(data.X_train, data.y_train)
    np.testing.assert_allclose(res.params["w"], sk.coef_, rtol=1e-5)
    # the run folder keeps what prediction needs: predictions on raw features
    model = mcalc.load_run(res.run_dir)
    assert model.task is poisson and model.features == [f"x{j}" for j in range(5)]
    np.testing.assert_allclose(
        model.predict(data.X_test), np.exp(data.X_test @ res.params["w"]), rtol=1e-12
    )


def test_softmax_trains_and_matches_scikit_learn(tmp_path):
    from sklearn.linear_model import LogisticRegression

    res = mcalc.train(softmax, runs_dir=tmp_path, progress=False)
    assert res.status == "converged"
    data = mcalc.load_data(mcalc.load_config(softmax))
    lam = res.config.model.lam
    sk = LogisticRegression(C=1 / (2 * lam), fit_intercept=False, tol=1e-12, max_iter=10_000)
    sk.fit(data.X_train, data.y_train.astype(int))
    np.testing.assert_allclose(res.params["W"], sk.coef_.T, rtol=1e-5, atol=1e-7)
    model = res.model()
    raw = data.X_test * data.scale + data.mean  # load_data standardises; predict takes raw features
    proba = model.predict(raw)
    assert proba.shape == (data.n_test, 3)
    np.testing.assert_allclose(proba, sk.predict_proba(data.X_test), rtol=1e-5, atol=1e-7)
    assert model.predict_labels(raw).tolist() == np.argmax(proba, axis=1).tolist()
    assert res.metrics["test_accuracy"] == pytest.approx(
        np.mean(np.argmax(proba, 1) == data.y_test)
    )


def test_a_sweep_over_the_tasks_hyperparameter_and_a_lane_loaded(tmp_path):
    result = mcalc.sweep(EXAMPLES / "poisson_sweep.yaml", sweeps_dir=tmp_path, progress=False)
    assert len(result.rows) == 15 and {r["status"] for r in result.rows} == {"converged"}
    assert result.metric == "test_deviance" and result.seeds == ["data.seed"]
    means = [c["mean"] for c in result.configurations]
    assert means == sorted(means)  # ranked by the mean test deviance, lowest first
    best = result.best
    assert best["n"] == 3 and best["std"] >= 0 and len(best["lanes"]) == 3
    lane = best["lanes"][0]
    model = mcalc.load_run(result.sweep_dir, lane=lane)
    assert model.lane == lane and model.config.model.lam == best["model.lam"]
    single = mcalc.train(model.config, runs_dir=tmp_path / "runs", progress=False)
    np.testing.assert_allclose(model.params["w"], single.params["w"], rtol=1e-9)
    with pytest.raises(ValueError, match=r"lane must be an int in \[0, 14\]"):
        mcalc.load_run(result.sweep_dir, lane=15)


def test_a_task_made_in_a_notebook_trains_and_loads_with_the_object(tmp_path):
    import dataclasses

    local = dataclasses.replace(poisson, name="poisson_nb")  # not importable from any module
    res = mcalc.train(local, runs_dir=tmp_path, progress=False, **{"train.steps": 20})
    assert res.config.task == "poisson_nb"
    model = mcalc.load_run(res.run_dir, task=local)
    assert model.task is local


# --- the command line ----------------------------------------------------------------------


def test_cli_train_resume_predict_and_report(tmp_path):
    cfg = str(EXAMPLES / "poisson.yaml")
    # a slow optimizer, so that there is a checkpoint to resume from
    slow = [
        "optimizer.name=sgd",
        "optimizer.learning_rate=0.001",
        "train.steps=200",
        "train.checkpoint_every=50",
        "train.tol=null",
    ]
    marker = tmp_path / "held"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcalc", "train", cfg, "--runs-dir", "runs", "--no-progress", *slow],
        cwd=tmp_path,
        env={**os.environ, "MCALC_TEST_HOLD_AT_CHECKPOINT": str(marker)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 600  # a safety net against a hang, never the verdict
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    (run_dir,) = (tmp_path / "runs").glob("poisson-*")
    resumed = _cli("train", "--resume", str(run_dir), "--no-progress", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    ref = _cli("train", cfg, "--runs-dir", "ref", "--no-progress", *slow, cwd=tmp_path)
    assert ref.returncode == 0, ref.stderr
    (ref_dir,) = (tmp_path / "ref").glob("poisson-*")
    np.testing.assert_array_equal(
        np.load(run_dir / "params.npz")["w"], np.load(ref_dir / "params.npz")["w"]
    )

    # predictions on raw features, from a CSV with a header (the label column is ignored)
    data = mcalc.load_data(mcalc.load_config(cfg))
    csv = tmp_path / "new.csv"
    header = ",".join(["y", *data.feature_names])
    rows = "\n".join(",".join(f"{v:.17g}" for v in (0.0, *x)) for x in data.X_test[:4])
    csv.write_text(header + "\n" + rows + "\n")
    out = _cli("predict", str(run_dir), str(csv), "--out", "pred.csv", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    got = np.loadtxt(tmp_path / "pred.csv", delimiter=",", skiprows=1)
    w = np.load(run_dir / "params.npz")["w"]
    np.testing.assert_allclose(got, np.exp(data.X_test[:4] @ w), rtol=1e-8)
    # an existing file is replaced only with --force
    before = (tmp_path / "pred.csv").read_text()
    again = _cli("predict", str(run_dir), str(csv), "--out", "new.csv", cwd=tmp_path)
    assert again.returncode == 2 and "--out 'new.csv' exists already" in again.stderr
    assert csv.read_text().startswith("y,")  # the user's data, untouched
    forced = _cli("predict", "--force", str(run_dir), str(csv), "--out", "pred.csv", cwd=tmp_path)
    assert forced.returncode == 0 and (tmp_path / "pred.csv").read_text() == before
    # the wrong number of features is a clear error
    (tmp_path / "bad.csv").write_text("1,2,3\n4,5,6\n")
    bad = _cli("predict", str(run_dir), "bad.csv", cwd=tmp_path)
    assert (
        bad.returncode == 2
        and "has 3 columns and no header; the model needs exactly its 5 features" in bad.stderr
    )

    # the main job's report, on the user's configs, beside their reference fits
    report = _cli(
        "run",
        "--config",
        cfg,
        "--config",
        str(EXAMPLES / "softmax.yaml"),
        "--no-verify",
        "--out",
        "res",
        "--no-progress",
        cwd=tmp_path,
    )
    assert report.returncode == 0, report.stderr
    text = Path(report.stdout.strip().splitlines()[-1]).read_text()
    assert (
        "| poisson | Poisson regression + L2 |" in text
        and "| softmax | softmax regression + L2 |" in text
    )
    assert "scikit-learn PoissonRegressor(alpha=2λ/N)" in text


def test_cli_sweep_of_the_users_task(tmp_path):
    out = _cli(
        "sweep",
        str(EXAMPLES / "poisson_sweep.yaml"),
        "--sweeps-dir",
        "s",
        "--no-progress",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "best by mean test_deviance over 3 seeds (data.seed): model.lam=" in out.stdout
    (sweep_dir,) = (tmp_path / "s").iterdir()
    summary = json.loads((sweep_dir / "summary.json").read_text())
    assert len(summary["ranking"]) == 5 and (sweep_dir / "plots" / "vs_model_lam.png").is_file()


def test_verify_task_passes_a_right_closed_form_and_fails_a_wrong_one(tmp_path):
    ok = _cli(
        "verify", "--task", str(EXAMPLES / "poisson.py") + ":poisson", "--task", "p2", cwd=tmp_path
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "poisson.grad" in ok.stdout and "p2.grad" in ok.stdout
    # the same task with the penalty's 2λw dropped from its gradient: invisible at w = 0,
    # caught at the random points the check draws
    (tmp_path / "broken.py").write_text(
        "import dataclasses, jax.numpy as jnp\n"
        f"import sys; sys.path.insert(0, {str(EXAMPLES)!r})\n"
        "from poisson import poisson\n"
        "broken = dataclasses.replace(poisson, name='broken',\n"
        "    grad=lambda p, X, y, lam: {'w': (jnp.exp(X @ p['w']) - y) @ X})\n"
    )
    bad = _cli("verify", "--task", "broken.py:broken", cwd=tmp_path)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "FAIL broken.grad" in bad.stdout


# --- bad input is a clear error naming the task and the field --------------------------------


def test_a_task_missing_a_field_or_with_bad_declarations_is_refused():
    kw = dict(name="t", loss=poisson.loss, init=poisson.init, predict=poisson.predict)
    with pytest.raises(
        ValueError,
        match=r"mcalc.Task 't': loss is required: loss\(params, X, y, \*\*hyper\) returning",
    ):
        mcalc.Task(**{**kw, "loss": None})
    with pytest.raises(ValueError, match=r"mcalc.Task 't': init is required"):
        mcalc.Task(**{**kw, "init": None})
    with pytest.raises(TypeError, match=r"mcalc.Task 't': grad must be a function .* got int"):
        mcalc.Task(**kw, grad=3)
    with pytest.raises(
        ValueError, match=r"labels must be one of binary, pm1, real, categorical; got 'count'"
    ):
        mcalc.Task(**kw, labels="count")
    with pytest.raises(
        ValueError, match=r"hyperparameter 'grad' clashes with the config key model.grad"
    ):
        mcalc.Task(**kw, hyper={"grad": 1.0})
    with pytest.raises(
        ValueError, match=r"the default of hyper\['lam'\]: .*must be finite, a number ≥ 0; got -1.0"
    ):
        mcalc.Task(**kw, hyper={"lam": mcalc.Hyper(-1.0, ge=0.0)})
    with pytest.raises(ValueError, match=r"categorical labels need the number of classes"):
        mcalc.Task(**kw, labels="categorical")


def test_a_closed_form_of_the_wrong_shape_is_caught_before_training(tmp_path):
    import dataclasses

    import jax.numpy as jnp

    wrong = dataclasses.replace(
        poisson, name="wrong", grad=lambda p, X, y, lam: {"w": X.T @ X @ p["w"][:2]}
    )
    with pytest.raises(
        ValueError, match=r"task 'wrong': grad\(params, X, y\) failed on these shapes"
    ):
        mcalc.train(wrong, runs_dir=tmp_path, progress=False)
    wrong = dataclasses.replace(
        poisson, name="wrong2", grad=lambda p, X, y, lam: {"w": jnp.zeros(3)}
    )
    with pytest.raises(
        ValueError,
        match=r"task 'wrong2': grad must return a pytree shaped like params \(\['w'\]: \[5\]\); got \['w'\]: \[3\]",
    ):
        mcalc.train(wrong, runs_dir=tmp_path, progress=False)
    assert not any(tmp_path.iterdir())  # nothing was written


def test_a_hyperparameter_out_of_range_in_a_config_or_a_sweep_grid(tmp_path):
    with pytest.raises(
        mcalc.ConfigError,
        match=r"'model.lam' must be finite, a number ≥ 0; got -2.0 \(a hyperparameter of task poisson\)",
    ):
        mcalc.load_config(poisson, {"model.lam": -2.0})
    with pytest.raises(
        ValueError, match=r"sweep.params.model.lam value -1: config key 'model.lam' must be finite"
    ):
        mcalc.sweep(
            EXAMPLES / "poisson_sweep.yaml",
            sweeps_dir=tmp_path,
            progress=False,
            **{"sweep.params.model.lam": [1.0, -1]},
        )
    assert not any(tmp_path.iterdir())
    with pytest.raises(
        mcalc.ConfigError,
        match=r"unknown config key 'model.hidden'. The keys of 'model' are: lam, n_features",
    ):
        mcalc.load_config(poisson, {"model.hidden": 3})


def test_a_task_reference_that_does_not_import(tmp_path):
    with pytest.raises(
        mcalc.ConfigError,
        match=r"config key 'task' 'nowhere.py:t': cannot find the file '.*nowhere.py' for task",
    ):
        mcalc.load_config({"task": "nowhere.py:t"})
    with pytest.raises(mcalc.ConfigError, match=r"cannot import module 'no_such_module' for task"):
        mcalc.load_config({"task": "no_such_module:t"})
    with pytest.raises(
        mcalc.ConfigError, match=r"has no attribute 'nope' for task; it defines: .*poisson"
    ):
        mcalc.load_config({"task": f"{EXAMPLES / 'poisson.py'}:nope"})
    with pytest.raises(
        mcalc.ConfigError, match=r"'.*poisson.py:loss' is a function, not a mcalc.Task"
    ):
        mcalc.load_config({"task": f"{EXAMPLES / 'poisson.py'}:loss"})
    out = _cli("train", "task=nowhere.py:t", cwd=tmp_path)
    assert (
        out.returncode == 2
        and "Traceback" not in out.stderr
        and "cannot find the file" in out.stderr
    )


def test_predict_on_the_wrong_number_of_features(tmp_path):
    res = mcalc.train(poisson, runs_dir=tmp_path, progress=False)
    model = res.model()
    with pytest.raises(
        ValueError,
        match=r"the model was trained on D=5 features \(x0, x1, x2, x3, x4\); X has 4 columns",
    ):
        model.predict(np.zeros((3, 4)))
    with pytest.raises(
        ValueError, match=r"X holds a non-finite value \(nan\) at row 1, column 2 \('x2'\)"
    ):
        model.predict(np.where(np.arange(15).reshape(3, 5) == 7, np.nan, 0.0))


def test_verify_task_checks_a_declared_hessian(tmp_path):
    (tmp_path / "hess.py").write_text(
        "import dataclasses, jax, jax.numpy as jnp, mcalc\n"
        "p2 = mcalc.tasks()['p2']\n"
        "def gauss_newton_only(params, X, y, *, lam):  # the 2λI of the penalty is missing\n"
        "    s = jax.nn.sigmoid(X @ params['w'])\n"
        "    return (X * (s * (1 - s))[:, None]).T @ X\n"
        "mine = dataclasses.replace(p2, name='mine', hessian=gauss_newton_only)\n"
    )
    out = _cli("verify", "--task", "hess.py:mine", "--dtype", "float64", cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "mine.grad" in out.stdout and "FAIL mine.hessian" in out.stdout
    assert "multiple of the identity" in out.stdout


def test_a_notebook_task_resumes_in_another_process_with_the_object(tmp_path):
    """A task made in __main__ cannot be imported by another process: its run resumes there
    when the same task is passed again, and the interrupted run says so."""
    script = (
        "import dataclasses, sys, mcalc\n"
        f"sys.path.insert(0, {str(EXAMPLES)!r})\n"
        "from poisson import poisson\n"
        "nb = dataclasses.replace(poisson, name='nb')\n"
        "slow = {'optimizer.name': 'sgd', 'optimizer.learning_rate': 0.001, 'train.tol': None}\n"
    )
    first = subprocess.run(
        [sys.executable, "-c", script + "r = mcalc.train(nb, progress=False, train__steps=20, **slow)\nprint(r.run_dir)"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    run_dir = first.stdout.strip().splitlines()[-1]
    again = subprocess.run(
        [sys.executable, "-c", script + f"r = mcalc.train(resume={run_dir!r}, task=nb, progress=False, train__steps=40)\nprint(r.step)"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == "40"
    with pytest.warns(UserWarning, match="task 'nb2' is redefined in this process"):
        a = dataclasses_replace(poisson, name="nb2")
        b = dataclasses_replace(poisson, name="nb2")
        mcalc.load_config(a)
        mcalc.load_config(b)


def dataclasses_replace(task, **kw):
    import dataclasses

    return dataclasses.replace(task, **kw)


def test_a_task_file_is_one_module_whichever_way_it_is_loaded_first(tmp_path):
    """A file loaded by path (a config's ``task: poisson.py:poisson``) and imported by name
    (``from poisson import poisson``) in one process: either order, the task the user holds
    is the one its runs load with."""
    script = (
        "import sys, mcalc\n"
        "from mcalc.task import resolve_task\n"
        f"path = {str(EXAMPLES / 'poisson.py')!r} + ':poisson'\n"
        "{first}\n"
        f"sys.path.insert(0, {str(EXAMPLES)!r})\n"
        "from poisson import poisson\n"
        "{second}\n"
        "r = mcalc.train(poisson, progress=False, train__steps=3, train__tol=None)\n"
        "print(mcalc.load_run(r.run_dir).task is poisson, resolve_task(path) is poisson)\n"
    )
    orders = {
        "path first": ("by_path = resolve_task(path)", "print(by_path is poisson)"),
        "import first": ("", "print(resolve_task(path) is poisson)"),
    }
    for order, (first, second) in orders.items():
        run = subprocess.run(
            [sys.executable, "-c", script.format(first=first, second=second)],
            cwd=tmp_path, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        printed = run.stdout.split()
        # loaded by path first: two modules (Python imported the name itself), the newer wins
        assert printed == (["False", "True", "True"] if order == "path first" else ["True"] * 3)
