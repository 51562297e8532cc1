"""``mcalc run``: the main job on its embedded defaults, end to end, as a user runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mcalc.config import default_config


@pytest.mark.slow
def test_mcalc_run_writes_a_report_showing_every_task(tmp_path):
    # From a folder without configs/: the defaults are embedded in the package.
    env = {**os.environ, "MCALC_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run(
        [sys.executable, "-m", "mcalc", "run", "--out", "out", "--no-progress"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = Path(proc.stdout.strip().splitlines()[-1])
    assert report.name == "report.md" and report.is_file()
    results = report.parent
    assert results.parent == tmp_path / "out" and results.name.startswith("run-")
    text = report.read_text()

    assert "## 1. Verification" in text and "| problem | function |" in text
    assert "every closed-form gradient agrees with `jax.grad`" in text
    for task in ("p2", "p3", "p4", "p7"):
        title = {"p2": "P2 logistic", "p3": "P3 bipolar", "p4": "P4 Gaussian", "p7": "P7 residual"}[
            task
        ]
        assert re.search(rf"^\| {task} \| {title}.*\| (completed|converged)", text, re.M), task
        assert f"### {title}" in text
    assert "p4, gradient descent against the closed-form optimum" in text
    # each run beside its task's reference fit on the same split (scikit-learn for P2 and P4)
    for task, ref in (("p2", "LogisticRegression"), ("p4", "LinearRegression")):
        row = re.search(rf"^\| {task} \| scikit-learn {ref}.*$", text, re.M)
        assert row, task
        its_loss, ours = (float(x) for x in row.group(0).split("|")[3:5])
        assert abs(its_loss - ours) <= 1e-6 * abs(ours), row.group(0)
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(images) == 8 and all((results / p).is_file() for p in images)

    summary = json.loads((results / "summary.json").read_text())
    assert summary["ok"] and summary["verification_ok"]
    assert set(summary["runs"]) == {"p2", "p3", "p4", "p7"}
    for task, run in summary["runs"].items():
        run_dir = results / run["run_dir"]
        assert (run_dir / "config.yaml").is_file() and (run_dir / "params.npz").is_file()
        cfg = json.loads((run_dir / "summary.json").read_text())
        assert cfg["name"] == default_config(task).name
    assert (results / "verification.md").is_file() and json.loads(
        (results / "verification.json").read_text()
    )["ok"]


def test_run_from_python_without_verification(tmp_path, monkeypatch):
    import mcalc

    monkeypatch.setenv("MCALC_CACHE_DIR", "off")
    report = mcalc.run(tmp_path, tasks=("p4",), verify=False, progress=False, quiet=True)
    assert report.ok and set(report.runs) == {"p4"} and report.verification is None
    text = report.report.read_text()
    assert "## 1. Verification\n\nSkipped." in text
    assert re.search(
        r"^\| p4 \| P4 Gaussian linear regression \| diabetes \(354/88\) \| sgd\(momentum=0.9\)",
        text,
        re.M,
    )
    assert "‖θ − θ*‖/‖θ*‖ =" in text
    assert report.references["p4"]["name"] == "scikit-learn LinearRegression"
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (report.path / image).is_file()
