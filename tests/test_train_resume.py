"""``mcalc train`` as a process: killed with SIGKILL once a checkpoint exists, resumed, compared.

The resumed run must end with the same parameters (bit for bit) and the same logged
history as a run never interrupted; the persistent compilation cache must serve the
later processes.
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

from mcalc.train._files import read_jsonl

CONFIG = """\
base: p7
name: killme
data: {source: synthetic, n_samples: 60, n_features: 3}
model: {hidden: 4}
optimizer:
  schedule: {args: {init_value: 0.01, decay_steps: 1000}}
train: {steps: 1000, batch_size: 16, log_every: 50, checkpoint_every: 50, plots: false}
"""


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "MCALC_CACHE_DIR": str(cache), "PYTHONUNBUFFERED": "1"}


def _mcalc(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mcalc", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _complete_checkpoints(runs: Path) -> list[Path]:
    # orbax renames a checkpoint folder to its step number only once it is complete
    return [p for p in runs.glob("killme-*/checkpoints/*") if p.name.isdigit()]


@pytest.mark.slow
def test_sigkill_then_resume_ends_like_an_uninterrupted_run(tmp_path):
    cfg = tmp_path / "killme.yaml"
    cfg.write_text(CONFIG)
    cache = tmp_path / "cache"
    env = _env(cache)

    # 1. Start a run, SIGKILL it as soon as its first checkpoint is on disk.
    killed_runs = tmp_path / "killed"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mcalc",
            "train",
            str(cfg),
            "--runs-dir",
            str(killed_runs),
            "--no-progress",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 240
    try:
        while not _complete_checkpoints(killed_runs):
            assert proc.poll() is None, (
                f"the run ended before it could be killed:\n{proc.stderr.read()}"
            )
            assert time.monotonic() < deadline, "no checkpoint appeared in time"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, (
        "the run finished before the kill landed; make it longer"
    )
    (run_dir,) = killed_runs.glob("killme-*")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "running"  # killed mid-run
    assert not (run_dir / "params.npz").exists()
    killed_at = max(int(p.name) for p in _complete_checkpoints(killed_runs))
    assert 0 < killed_at < 1000

    # 2. Resume it.
    resumed = _mcalc(
        "train", str(cfg), "--resume", str(run_dir), "--no-progress", env=env, cwd=tmp_path
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"run folder: {run_dir}" in resumed.stdout

    # 3. The same config, never interrupted.
    ref = _mcalc(
        "train",
        str(cfg),
        "--runs-dir",
        str(tmp_path / "ref"),
        "--no-progress",
        env=env,
        cwd=tmp_path,
    )
    assert ref.returncode == 0, ref.stderr
    (ref_dir,) = (tmp_path / "ref").glob("killme-*")

    a, b = np.load(run_dir / "params.npz"), np.load(ref_dir / "params.npz")
    assert sorted(a.files) == ["W0", "W1", "w2"]
    for k in a.files:
        np.testing.assert_array_equal(a[k], b[k])  # bit for bit
    ha, hb = read_jsonl(run_dir / "metrics.jsonl"), read_jsonl(ref_dir / "metrics.jsonl")
    assert [r["step"] for r in ha] == [r["step"] for r in hb] == list(range(0, 1001, 50))
    assert [r["loss"] for r in ha] == [r["loss"] for r in hb]
    sa = json.loads((run_dir / "summary.json").read_text())
    assert sa["status"] == "completed" and sa["resumes"] and sa["resumes"][0] >= killed_at

    # 4. The later processes loaded their compiled programs from the persistent cache.
    assert any(cache.iterdir())
    sb = json.loads((ref_dir / "summary.json").read_text())
    assert sb["compile_cache"]["dir"] == str(cache) and sb["compile_cache"]["hits"] > 0
    assert sa["compile_cache"]["hits"] > 0


def test_cli_errors_and_print_config(tmp_path, capsys, monkeypatch):
    from mcalc.cli import main

    monkeypatch.setenv("MCALC_CACHE_DIR", "off")
    assert main(["train", "p2", "train.stepz=1", "--runs-dir", str(tmp_path)]) == 2
    assert (
        "unknown config key 'train.stepz'. Did you mean 'train.steps'?" in capsys.readouterr().err
    )
    assert main(["train", "p4", "model.sigma2=2", "--print-config"]) == 0
    out = capsys.readouterr().out
    assert "sigma2: 2.0" in out and "# P4: noise variance" in out
    assert not any(tmp_path.iterdir())


def test_cli_trains_and_reports(tmp_path, capsys, monkeypatch):
    from mcalc.cli import main

    monkeypatch.setenv("MCALC_CACHE_DIR", "off")
    rc = main(["train", "p4", "solver=closed_form", "--runs-dir", str(tmp_path), "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and "closed form (rank 11 of 11" in out
    (run_dir,) = tmp_path.glob("p4-*")
    assert f"run folder: {run_dir}" in out
