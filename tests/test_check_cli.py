"""``mcalc check MODULE:F MODULE:GRAD``: exit status 0 right, 1 wrong, 2 bad usage."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import pytest

from mcalc.cli import main

USER_MODULE = textwrap.dedent(
    '''
    """A user's own derivation of d(wᵀXw)/dw, right and wrong."""
    import jax
    import jax.numpy as jnp


    def f(w, X):
        return w @ X @ w


    def grad_right(w, X):
        return (X + X.T) @ w


    def grad_seed(w, X):  # "Xw + wᵀX" read as 2Xw
        return 2 * X @ w


    def vector(w, X):
        return X @ w


    def sample(key, dtype):
        kw, kx = jax.random.split(key)
        return jax.random.normal(kw, (3,), dtype), jax.random.normal(kx, (3, 3), dtype)
    '''
)


@pytest.fixture
def user_module(tmp_path, monkeypatch, request):
    """The module above, importable from the current directory under a unique name."""
    name = f"user_{hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:10]}"
    (tmp_path / f"{name}.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)
    yield name
    sys.modules.pop(name, None)


def _env():
    env = dict(os.environ)
    env.pop("JAX_ENABLE_X64", None)  # JAX's default config, as in a fresh shell
    return env


@pytest.mark.slow
def test_fresh_shell_wrong_gradient_exits_1(tmp_path):
    (tmp_path / "mygrad.py").write_text(USER_MODULE)
    out = subprocess.run(
        [sys.executable, "-m", "mcalc", "check", "mygrad:f", "mygrad:grad_seed"]
        + ["--shape", "4", "--shape", "4,4"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1, out.stderr
    assert "check_grad FAILED: grad_seed vs jax.grad(f) in w, float32" in out.stdout
    assert "right only for symmetric inputs" in out.stdout


@pytest.mark.slow
def test_fresh_shell_path_form_float64_json_exits_0(tmp_path):
    path = tmp_path / "sub" / "mygrad.py"
    path.parent.mkdir()
    path.write_text(USER_MODULE)
    out = subprocess.run(
        [sys.executable, "-m", "mcalc", "check", f"{path}:f", f"{path}:grad_right"]
        + ["--shape", "5", "--shape", "5x5", "--dtype", "float64", "--format", "json"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["ok"] is True and report["dtype"] == "float64"  # float64 with x64 off
    assert report["max_rel_error"] < 1e-12


def test_in_process_right_wrong_and_sampler(user_module, capsys):
    assert (
        main(
            ["check", f"{user_module}:f", f"{user_module}:grad_right", "--shape", "3"]
            + ["--shape", "3,3"]
        )
        == 0
    )
    assert "check_grad ok" in capsys.readouterr().out
    rc = main(
        ["check", f"{user_module}:f", f"{user_module}:grad_seed", "--sampler"]
        + [f"{user_module}:sample", "--trials", "3", "--seed", "1"]
    )
    assert rc == 1
    out = capsys.readouterr().out
    assert "at 3 sampled points" in out and "symmetric" in out


def test_malformed_shape_exits_2(user_module, capsys):
    with pytest.raises(SystemExit) as info:
        main(["check", f"{user_module}:f", f"{user_module}:grad_right", "--shape", "3,a"])
    assert info.value.code == 2
    assert "invalid shape '3,a'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "ref, message",
    [
        ("no_such_module_xyz:f", "cannot import module 'no_such_module_xyz' for F"),
        ("{m}:nope", "has no attribute 'nope' for F; it defines: f, grad_right"),
        ("{m}", "F must look like MODULE:NAME"),
        ("missing/file.py:f", "cannot find the file 'missing/file.py'"),
    ],
)
def test_unimportable_function_exits_2(user_module, capsys, ref, message):
    rc = main(["check", ref.format(m=user_module), f"{user_module}:grad_right", "--shape", "3"])
    assert rc == 2
    assert message in capsys.readouterr().err


def test_bad_usage_from_the_checker_exits_2(user_module, capsys):
    rc = main(
        ["check", f"{user_module}:vector", f"{user_module}:f", "--shape", "3", "--shape", "3,3"]
    )
    assert rc == 2
    assert "f must return a scalar (shape ()); got shape (3,)" in capsys.readouterr().err
    rc = main(["check", f"{user_module}:f", f"{user_module}:grad_right", "--shape", "3"])
    assert rc == 2
    assert "F takes 2 positional arguments (w, X) but 1 --shape was given" in (
        capsys.readouterr().err
    )
    rc = main(
        ["check", f"{user_module}:f", f"{user_module}:grad_right", "--shape", "3"]
        + ["--shape", "3,3", "--argnum", "2"]
    )
    assert rc == 2
    assert "argnum=2 is out of range" in capsys.readouterr().err
    rc = main(["check", f"{user_module}:f", f"{user_module}:grad_right"])
    assert rc == 2
    assert "give the shape of each positional argument" in capsys.readouterr().err


def test_hessian_and_hvp_from_the_command_line(capsys):
    pytest.importorskip("scipy")
    scipy_args = ["scipy.optimize:rosen", "--shape", "5", "--dtype", "float64"]
    rc = main(["check", scipy_args[0], "scipy.optimize:rosen_hess", "--hessian", *scipy_args[1:]])
    assert rc == 0
    out = capsys.readouterr().out
    assert out.startswith("check_hessian ok: rosen_hess vs finite differences of rosen in x")
    rc = main(["check", scipy_args[0], "scipy.optimize:rosen_hess_prod", "--hvp", *scipy_args[1:]])
    assert rc == 0 and capsys.readouterr().out.startswith("check_hvp ok: rosen_hess_prod vs")
    rc = main(["check", scipy_args[0], "scipy.optimize:rosen_der", "--hvp", *scipy_args[1:]])
    assert rc == 2  # rosen_der(x) cannot take v: said, no traceback
    assert "raised by hvp_f at the given arguments" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["check", scipy_args[0], "scipy.optimize:rosen_hess", "--hessian", "--hvp"])
    assert info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_torch_arguments_from_the_command_line(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    (tmp_path / "trosen.py").write_text(
        "import torch\n"
        "def f(x):\n    return torch.sum(torch.sin(x) ** 2)\n"
        "def grad(x):\n    return torch.sin(2 * x)\n"
    )
    monkeypatch.chdir(tmp_path)
    rc = main(["check", "trosen:f", "trosen:grad", "--shape", "4", "--torch", "--dtype", "float64"])
    assert rc == 0
    assert "vs torch.autograd(f) in x, float64" in capsys.readouterr().out
    sys.modules.pop("trosen", None)
