"""One sweep over several processes on JAX's runtime (jax.distributed, Gloo on the CPU), with
real processes on 127.0.0.1: the results equal a single process's, and a process killed
mid-sweep is resumed to the same end."""

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
import yaml

pytestmark = pytest.mark.slow

SWEEP = {
    "task": "p2",
    "name": "mp",
    "data": {"source": "synthetic", "n_samples": 120, "n_features": 4, "seed": 3},
    "model": {"init_scale": 0.5},
    "optimizer": {"name": "sgd", "learning_rate": 0.2},
    "train": {
        "steps": 200,
        "batch_size": 32,
        "log_every": 20,
        "checkpoint_every": 40,
        "plots": False,
    },
    "sweep": {"params": {"model.lam": [0.1, 1.0, 3.0], "seed": [0, 1]}},
}


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MCALC_TEST_HOLD_AT_CHECKPOINT"}
    # one CPU device per process (the suite's own setting simulates four)
    env["XLA_FLAGS"] = " ".join(
        f for f in env.get("XLA_FLAGS", "").split() if "force_host_platform_device_count" not in f
    )
    return {**env, "MCALC_CACHE_DIR": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1", **extra}


def _sweep(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mcalc", "sweep", *args, "--no-progress"],
        cwd=tmp_path,
        env=_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def _folder(parent: Path) -> Path:
    (d,) = parent.iterdir()
    return d


def _same(a: Path, b: Path) -> None:
    ra = json.loads((a / "results.json").read_text())
    rb = json.loads((b / "results.json").read_text())
    assert len(ra) == len(rb) == 6
    for x, y in zip(ra, rb, strict=True):
        assert x["lane"] == y["lane"] and x["status"] == y["status"] and x["step"] == y["step"]
        np.testing.assert_allclose(x["loss"], y["loss"], rtol=1e-12)
    np.testing.assert_allclose(
        np.load(a / "groups/0/params.npz")["w"], np.load(b / "groups/0/params.npz")["w"], rtol=1e-12
    )


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> Path:
    """The same sweep in one process, the reference."""
    tmp = tmp_path_factory.mktemp("single")
    (tmp / "s.yaml").write_text(yaml.safe_dump(SWEEP))
    out = _sweep("s.yaml", "--sweeps-dir", "one", tmp_path=tmp)
    assert out.returncode == 0, out.stderr
    return _folder(tmp / "one")


def test_two_local_processes_equal_one(tmp_path, single):
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(SWEEP))
    out = _sweep("s.yaml", "--sweeps-dir", "two", "--processes", "2", tmp_path=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    folder = _folder(tmp_path / "two")
    assert f"mcalc sweep: {folder}: training over 2 processes" in out.stderr
    assert "best by mean test_accuracy over 2 seeds (seed)" in out.stdout  # process 0 reports
    assert json.loads((folder / "summary.json").read_text())["processes"] == 2
    group = json.loads((folder / "groups/0/group.json").read_text())
    assert group["devices"] == 2 and group["processes"] == 2 and group["side_by_side"] >= 1
    _same(folder, single)


def test_processes_joined_by_explicit_coordinator_flags(tmp_path, single):
    """What one process per host of a cluster runs: the same command with its own index."""
    from mcalc.sweep._distributed import free_port

    (tmp_path / "s.yaml").write_text(yaml.safe_dump(SWEEP))
    port = free_port()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mcalc",
                "sweep",
                "s.yaml",
                "--sweeps-dir",
                "c",
                "--no-progress",
                "--coordinator",
                f"127.0.0.1:{port}",
                "--num-processes",
                "2",
                "--process-id",
                str(i),
            ],
            cwd=tmp_path,
            env=_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    # process 0 writes and reports (Gloo's own connection line aside, the others print nothing)
    assert "best by mean" in outs[0][0] and "best by" not in outs[1][0] and "lane" not in outs[1][0]
    _same(_folder(tmp_path / "c"), single)


def test_a_process_killed_mid_sweep_then_resumed_ends_identical(tmp_path, single):
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(SWEEP))
    marker = tmp_path / "held"
    launcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mcalc",
            "sweep",
            "s.yaml",
            "--sweeps-dir",
            "k",
            "--processes",
            "2",
            "--no-progress",
        ],
        cwd=tmp_path,
        env=_env(tmp_path, MCALC_TEST_HOLD_AT_CHECKPOINT=str(marker)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 600  # a safety net against a hang, never the verdict
        held = Path(f"{marker}.1")
        while not held.exists():
            assert launcher.poll() is None, launcher.communicate()
            assert time.monotonic() < deadline, "process 1 never reached a checkpoint"
            time.sleep(0.05)
        os.kill(int(held.read_text().split()[0]), signal.SIGKILL)  # process 1 dies mid-sweep
        out, err = launcher.communicate(timeout=300)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    folder = _folder(tmp_path / "k")
    assert launcher.returncode == 1, err
    assert "process 1 of 2 was killed by signal 9; the others were stopped" in err
    assert f"continue with: mcalc sweep --resume {folder} --processes 2" in err
    assert not (folder / "results.json").exists()
    resumed = _sweep("--resume", str(folder), "--processes", "2", tmp_path=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    _same(folder, single)
    lines = [json.loads(x) for x in (folder / "groups/0/metrics.jsonl").read_text().splitlines()]
    assert sorted((r["chunk"], r["lane"]) for r in lines) == [
        (c, j) for c in range(11) for j in range(6)
    ]


def test_bad_distributed_flags_are_clear_errors(tmp_path):
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(SWEEP))
    out = _sweep("s.yaml", "--processes", "2", "--distributed", tmp_path=tmp_path)
    assert out.returncode == 2 and "do not combine it with --distributed" in out.stderr
    out = _sweep(
        "s.yaml", "--coordinator", "127.0.0.1:1", "--num-processes", "2", tmp_path=tmp_path
    )
    assert (
        out.returncode == 2
        and "--coordinator, --num-processes and --process-id go together" in out.stderr
    )
    out = _sweep(
        "s.yaml",
        "--coordinator",
        "127.0.0.1:1",
        "--num-processes",
        "2",
        "--process-id",
        "2",
        tmp_path=tmp_path,
    )
    assert out.returncode == 2 and "--process-id must be in 0..1; got 2" in out.stderr
