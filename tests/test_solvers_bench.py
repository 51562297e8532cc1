"""The benchmark scripts' helpers: the timing, the table, the floors they compute (no timing asserted)."""

import json
import pathlib
import sys

import jax
import jax.numpy as jnp
import pytest

import mcalc

SCRIPTS = pathlib.Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))

import _bench  # noqa: E402
import bench_gradients  # noqa: E402


@pytest.mark.parametrize("k", [2, 3, 4, 8, 9, 32])
def test_product_count_is_what_the_closed_form_compiles_to(k):
    """The floor of trace_power_grad counts its D x D products: check against the compiled HLO."""
    X = jnp.ones((8, 8), jnp.float32)
    hlo = jax.jit(lambda X: mcalc.trace_power_grad(X, k)).lower(X).compile().as_text()
    assert hlo.count(" dot(") == bench_gradients._products(k)


def test_measure_reports_median_and_first_call():
    calls = []
    timing = _bench.measure(lambda: calls.append(1), repeat=3, budget=10.0)
    assert len(calls) == 4  # one warm-up, three timed
    assert len(timing.times) == 3 and timing.median == sorted(timing.times)[1]
    assert timing.compile >= 0.0


def test_measure_stops_at_the_budget(monkeypatch):
    # A clock of the test's own: each call after the warm-up takes exactly 20 ms of it, so the
    # verdict does not depend on how fast the machine is.
    clock = [0.0]
    monkeypatch.setattr(_bench.time, "perf_counter", lambda: clock[0])
    calls = []

    def fn():  # instant warm-up, then 20 ms per call
        if calls:
            clock[0] += 0.02
        calls.append(1)

    timing = _bench.measure(fn, repeat=50, budget=0.03)
    assert len(timing.times) == 2 and len(calls) == 3
    slow = _bench.measure(lambda: calls.append(1), repeat=5, budget=-1.0)
    assert slow.times == [slow.first]  # a first call beyond the budget is the only sample


def _row(ref, m, floor=None):
    t = lambda s: _bench.Timing(median=s, first=s, times=[s])  # noqa: E731
    return _bench.Row("task", "ref", t(ref), "mcalc", t(m), floor=floor)


def test_row_ratios_and_goals():
    row = _row(3.0, 1.0, floor=0.8).check(min_speedup=2.5, max_over_floor=1.3)
    assert row.speedup == 3.0 and row.over_floor == pytest.approx(1.25)
    assert row.goal == ">=2.5x, <=1.3x floor" and row.goal_met
    assert not _row(3.0, 1.0, floor=0.5).check(max_over_floor=1.3).goal_met
    assert not _row(2.0, 1.0).check(min_speedup=2.5).goal_met
    missing = _bench.Row("task", "torch (absent)", None, "mcalc", _row(1, 1).mcalc)
    assert missing.speedup is None and not missing.check(min_speedup=1.2).goal_met


def test_table_and_json(tmp_path, capsys):
    rows = [_row(0.5, 0.1, floor=0.08).check(min_speedup=8.0), _row(2e-3, 1e-3)]
    _bench.print_table("title", rows)
    out = capsys.readouterr().out
    assert "speed-up" in out and "5.00x" in out and "1.25x" in out and ">=8x MISSED" in out
    path = tmp_path / "r.json"

    class Args:
        quick, repeat = True, 3

    _bench.save_json(str(path), "bench_x", Args, rows, {"jax": jax.__version__})
    data = json.loads(path.read_text())
    assert data["rows"][0]["speedup"] == pytest.approx(5.0) and data["rows"][0]["goal_met"] is False
    assert data["rows"][1]["mcalc"]["median"] == 1e-3


def test_blas_env_is_unset_by_reexec(monkeypatch):
    """clean_blas_env re-runs the script without the overrides, and says which it dropped."""
    seen = {}
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setattr(_bench.os, "execve", lambda exe, argv, env: seen.update(env=env))
    _bench.clean_blas_env(_bench.parser("x").parse_args([]))
    assert "OPENBLAS_CORETYPE" not in seen["env"]
    assert seen["env"][_bench._UNSET_MARK] == "OPENBLAS_CORETYPE=Haswell"
    seen.clear()
    _bench.clean_blas_env(_bench.parser("x").parse_args(["--keep-blas-env"]))
    assert not seen


def test_interleave_alternates_the_order_and_pairs_the_rounds():
    order = []
    fns = {name: (lambda name=name: order.append(name)) for name in "abc"}
    tm = _bench.interleave(fns, rounds=4, calls=1, budget=1e9)
    # two warm-up calls each, then rounds a b c, c b a, a b c, c b a (calls=1: no second
    # warm-up)
    assert order == list("abc") + list("abccbaabccba")
    groups = {t.group for t in tm.values()}
    assert len(groups) == 1 and None not in groups
    assert all(len(t.times) == 4 for t in tm.values())
    assert _bench.interleave(fns, rounds=2, calls=1)["a"].group not in groups  # a new group


def test_ratio_is_taken_round_by_round_when_paired():
    def timing(times, group):
        return _bench.Timing(
            median=sorted(times)[len(times) // 2], first=0.0, times=times, group=group
        )

    # the machine got twice as slow in rounds 3-4: per-round ratios stay 2, the ratio of
    # medians would not
    ref, m = timing([2.0, 2.0, 4.0, 4.0, 4.0], 7), timing([1.0, 1.0, 2.0, 2.0, 2.0], 7)
    assert _bench.ratio(ref, m) == (2.0, (2.0, 2.0))
    unpaired = timing([2.0, 2.0, 4.0, 4.0, 4.0], None)
    r, spread = _bench.ratio(unpaired, m)
    assert r == pytest.approx(2.0) and spread is None
    row = _bench.Row("t", "ref", ref, "mcalc", m, floor_timing=timing([0.5] * 5, 7), floor_scale=2)
    assert row.speedup == 2.0 and row.speedup_spread == (2.0, 2.0)
    assert row.floor == 1.0 and row.over_floor == 2.0  # m / (2 x 0.5) round by round
    assert row.over_floor_spread == (1.0, 2.0)
    d = row.as_dict()
    assert d["speedup_spread"] == (2.0, 2.0) and d["rounds"] == 5


def test_same_program_and_the_level_goal():
    x = jnp.ones((4, 4))
    assert _bench.same_program(lambda X: X.T + X.T, jax.grad(lambda X: jnp.sum(X * X.T)), x)
    assert not _bench.same_program(lambda X: X.T + X.T, lambda X: X @ X, x)
    slower = _row(1.0, 1.01)
    assert not slower.check(min_speedup=1.0).goal_met
    level = slower.check(min_speedup=1.0, same_program=True)
    assert level.goal_met and level.goal == ">=1x (same program)"


def test_accelerator_check_dry_run(tmp_path):
    """scripts/accelerator_check.sh --dry-run: every step of the GPU check, on the CPU."""
    import os
    import subprocess

    root = SCRIPTS.parent
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_PLATFORMS")}
    env["PYTHON"] = sys.executable
    proc = subprocess.run(
        ["bash", str(SCRIPTS / "accelerator_check.sh"), "--dry-run", "--out", str(tmp_path)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    result = json.loads((tmp_path / "accelerator_check.json").read_text())
    assert result["ok"]
    assert [s["name"] for s in result["steps"]] == ["environment", "tests", "mcalc_run", "bench"]
    assert result["environment"]["missing"] == [] and result["environment"]["dry_run"]
    assert result["tests"]["tests"] >= 2 and result["tests"]["failed"] == []
    tasks = {r["task"].split(" B=")[0].split(" x")[0] for r in result["bench"]}
    assert {"resnet SGD step", "resnet sweep 10 configs", "λ path"} <= tasks, tasks
    assert all(r["mcalc"]["median"] > 0 for r in result["bench"])


def test_accelerator_check_says_what_is_missing(tmp_path):
    """Without JAX (here: a Python that cannot import it) the check names what to carry."""
    import os
    import subprocess

    env = {**os.environ, "PYTHON": sys.executable, "PYTHONNOUSERSITE": "1"}
    fake = tmp_path / "site"
    fake.mkdir()
    (fake / "omegaconf.py").write_text("raise ImportError('not here')\n")
    env["PYTHONPATH"] = str(fake)  # shadows omegaconf, which mcalc needs
    proc = subprocess.run(
        ["bash", str(SCRIPTS / "accelerator_check.sh"), "--dry-run", "--out", str(tmp_path / "o")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    log = (tmp_path / "o" / "environment.log").read_text()
    assert "missing: omegaconf" in log and "pip download" in log and "omegaconf" in log
    result = json.loads((tmp_path / "o" / "accelerator_check.json").read_text())
    assert not result["ok"] and [s["name"] for s in result["steps"]] == ["environment"]
    assert result["environment"]["missing"] == ["omegaconf"]
