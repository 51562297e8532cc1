"""The command line as a user types it: overrides anywhere among the flags, clear errors for a
path that is a file, and resuming that keeps the run's own config."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

import pytest
import yaml

from mcalc.cli import parse_args

# Each subcommand: its positional arguments, overrides (in order) and documented flags.
COMMANDS = {
    "train": (
        ["p2"],
        ["train.steps=100", "model.lam=0.5"],
        [["--no-progress"], ["--runs-dir", "R"], ["--print-config"], ["--resume", "D"]],
    ),
    "sweep": (
        ["s.yaml"],
        ["train.steps=100", "sweep.lanes=all"],
        [["--no-progress"], ["--sweeps-dir", "S"], ["--resume", "D"]],
    ),
    "run": ([], [], [["--no-progress"], ["--out", "O"], ["--config", "c.yaml"], ["--no-verify"]]),
    "verify": (
        [],
        [],
        [
            ["--format", "json"],
            ["--only", "logistic_l2"],
            ["--seed", "3"],
            ["--trials", "2"],
            ["--dtype", "float64"],
            ["--task", "p2"],
        ],
    ),
    "predict": (["RUN", "data.csv"], [], [["--out", "o.csv"], ["--lane", "2"], ["--force"]]),
}


def _orders(cmd: str):
    """Every placement of each flag group among the positionals and overrides (whose own order
    is kept: a later override wins)."""
    positional, overrides, flags = COMMANDS[cmd]
    plain = [*positional, *overrides]
    for flag in flags:
        for i in range(len(plain) + 1):
            yield flag, [cmd, *plain[:i], *flag, *plain[i:]]
    # all flags at once, in every order, before and after the overrides
    for perm in itertools.permutations([f for f in flags if f[0] != "--resume"]):
        tokens = [t for f in perm for t in f]
        yield None, [cmd, *positional, *tokens, *overrides]
        yield None, [cmd, *tokens, *positional, *overrides]


@pytest.mark.parametrize("cmd", list(COMMANDS))
def test_flags_parse_the_same_in_every_position(cmd):
    positional, overrides, flags = COMMANDS[cmd]
    seen: dict[tuple, dict] = {}
    for flag, argv in _orders(cmd):
        if positional and positional[0] in (flag or []):
            continue
        ns = vars(parse_args(argv))
        if overrides:
            assert ns["overrides"] == overrides, argv
        key = tuple(flag) if flag else None
        if key in seen:
            assert ns == seen[key], argv
        seen[key] = ns


def test_an_unknown_flag_or_a_stray_word_is_still_an_error(capsys):
    with pytest.raises(SystemExit):
        parse_args(["train", "p2", "--no-such-flag", "train.steps=1"])
    assert "unrecognized arguments: --no-such-flag" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["verify", "train.steps=1"])
    assert "unrecognized arguments: train.steps=1" in capsys.readouterr().err


@pytest.mark.parametrize("cmd", ["train", "sweep"])
def test_the_config_may_stand_anywhere_among_the_overrides(cmd, capsys):
    expected = parse_args([cmd, "c.yaml", "a.b=1", "c.d=2", "--no-progress"])
    for argv in (
        [cmd, "a.b=1", "c.yaml", "c.d=2", "--no-progress"],
        [cmd, "a.b=1", "c.d=2", "--no-progress", "c.yaml"],
        [cmd, "--no-progress", "a.b=1", "c.d=2", "c.yaml"],
        [cmd, "a.b=1", "--no-progress", "c.yaml", "c.d=2"],
    ):
        assert vars(parse_args(argv)) == vars(expected), argv
    assert expected.config == "c.yaml" and expected.overrides == ["a.b=1", "c.d=2"]
    resumed = parse_args([cmd, "--resume", "R", "a.b=1"])
    assert resumed.config is None and resumed.overrides == ["a.b=1"]
    with pytest.raises(SystemExit):
        parse_args([cmd, "c.yaml", "a.b=1", "other.yaml"])
    assert "2 arguments that are not key=value: c.yaml, other.yaml" in capsys.readouterr().err


def _mcalc(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "MCALC_TEST_HOLD_AT_CHECKPOINT"}
    return subprocess.run(
        [sys.executable, "-m", "mcalc", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize(
    "args, flag",
    [
        (["run", "--no-verify", "--out", "afile"], "out"),
        (["train", "p2", "--runs-dir", "afile"], "runs_dir"),
        (["train", "p2", "--runs-dir", "afile/below"], "runs_dir"),
        (["sweep", "s.yaml", "--sweeps-dir", "afile"], "sweeps_dir"),
    ],
)
def test_a_results_folder_that_is_a_file_is_a_clear_error(tmp_path, args, flag):
    (tmp_path / "afile").write_text("not a folder\n")
    (tmp_path / "s.yaml").write_text(
        yaml.safe_dump({"task": "p2", "sweep": {"params": {"model.lam": [0.1, 1.0]}}})
    )
    out = _mcalc(*args, cwd=tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert f"{flag} 'afile" in out.stderr and "not a folder" in out.stderr, out.stderr
    assert (tmp_path / "afile").read_text() == "not a folder\n"  # untouched


def test_resume_keeps_the_runs_own_config_unless_an_override_changes_it(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "task": "p2",
                "data": {"source": "synthetic", "n_samples": 60, "n_features": 3},
                "train": {"steps": 20, "log_every": 10, "checkpoint_every": 10, "plots": False},
            }
        )
    )
    first = _mcalc("train", str(cfg), "--no-progress", "train.steps=40", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    # the config file says 20 steps; the run was started with 40 and keeps them
    again = _mcalc("train", str(cfg), "--resume", str(run_dir), "--no-progress", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 40 and summary["step"] == 40 and "resuming with" not in again.stderr
    # an override extends it, and says so
    more = _mcalc(
        "train", "--resume", str(run_dir), "train.steps=60", "--no-progress", cwd=tmp_path
    )
    assert more.returncode == 0, more.stderr
    assert "mcalc train: resuming with train.steps: 40 -> 60 (override)" in more.stderr
    assert json.loads((run_dir / "summary.json").read_text())["step"] == 60
    # a config that differs in anything else is refused, naming the key
    other = _mcalc("train", str(cfg), "--resume", str(run_dir), "model.lam=3", cwd=tmp_path)
    assert other.returncode == 2 and "model.lam: 1.0 -> 3.0" in other.stderr


def test_bench_table_has_a_usage():
    script = os.path.join(os.path.dirname(__file__), "..", "scripts", "bench_table.py")
    ok = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True)
    assert (
        ok.returncode == 0 and "usage: bench_table.py" in ok.stdout and "Traceback" not in ok.stderr
    )
    bare = subprocess.run([sys.executable, script], capture_output=True, text=True)
    assert bare.returncode == 2 and "the following arguments are required: JSON" in bare.stderr


def test_a_ctrl_c_once_the_command_is_done_prints_no_traceback(tmp_path):
    """Ctrl-C while the interpreter shuts down (JAX's exit handlers take a moment) reached the
    user as a traceback from inside them; once ``mcalc`` has done its work it is ignored."""
    script = (
        "import os, signal, sys\n"
        "sys.argv = ['mcalc', 'cookbook', 'search', 'logdet']\n"
        "from mcalc.cli import main\n"
        "rc = main()\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "print('exit status', rc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert "Traceback" not in out.stderr and "KeyboardInterrupt" not in out.stderr, out.stderr
    assert out.returncode == 0 and "exit status 0" in out.stdout
