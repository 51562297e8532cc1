"""The benchmark scripts' helpers: the timing, the table, the floors they compute (no timing asserted)."""

import json
import pathlib
import sys
import time

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


def test_measure_stops_at_the_budget():
    calls = []

    def fn():  # instant warm-up, then 20 ms per call
        if calls:
            time.sleep(0.02)
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
