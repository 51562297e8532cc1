"""``mcalc.verify`` and ``mcalc verify``: every built-in derivation against jax.grad and finite
differences; a broken derivation makes the result, and the command, fail."""

from __future__ import annotations

import argparse
import dataclasses
import json

import jax.numpy as jnp
import pytest

import mcalc
from mcalc.cli import main
from mcalc.verify import _cli as verify_cli
from mcalc.verify import latex_to_text


def _broken() -> mcalc.Derivation:
    """P6 with the seed's answer 2Xw in place of (X + Xᵀ)w."""
    d = mcalc.derivations()["quadratic_form"]
    return mcalc.Derivation(
        name="quadratic_form_seed",
        problem="P6",
        f=d.f,
        grad=lambda w, X: 2 * X @ w,
        argnum=0,
        sample=d.sample,
        formula=d.formula,
        grad_formula="2Xw",
        wrt="w",
    )


def test_verify_rows_and_renderers():
    result = mcalc.verify(names=["quadratic_form", "resnet_w2"], trials=2, seed=1)
    assert result.ok and bool(result)
    assert [(r.name, r.dtype) for r in result.rows] == [
        ("quadratic_form", "float32"),
        ("quadratic_form", "float64"),
        ("resnet_w2", "float32"),
        ("resnet_w2", "float64"),
    ]
    for row in result.rows:
        assert row.problem in ("P6", "P7") and row.grad_formula and row.sizes
        assert row.report.ok and len(row.report.trials) == 2
        assert row.max_rel_error <= (1e-10 if row.dtype == "float64" else 1e-4)
        assert row.fd_max_rel_error < 1e-4
    text = result.to_text()
    assert text.splitlines()[0].split() == [
        "problem", "function", "derivative", "sizes", "dtype", "rel", "err", "vs", "autodiff", "vs",
        "finite", "diff", "result",
    ]  # fmt: skip
    assert "(X + Xᵀ) w" in text and "all agree" in text.splitlines()[-1]
    markdown = result.to_markdown().splitlines()
    assert markdown[0].startswith("| problem | function | derivative |")
    assert markdown[2].startswith("| P6 | `quadratic_form` | $(X + X^\\top)\\,w$ |")
    data = json.loads(result.to_json())
    assert data["ok"] is True and data["seed"] == 1 and len(data["rows"]) == 4
    assert "report" not in data["rows"][0]  # full reports only for failures


def test_a_broken_derivation_fails_the_result():
    result = mcalc.verify(derivations=[_broken()], dtypes=["float64"], trials=2)
    assert not result.ok and len(result.failures) == 1
    row = result.rows[0]
    assert "right only for symmetric inputs" in row.diagnosis
    assert "FAIL quadratic_form_seed [float64]: " in result.to_text()
    assert "**FAIL**" in result.to_markdown()
    data = json.loads(result.to_json())
    assert data["ok"] is False and data["rows"][0]["report"]["ok"] is False


def test_a_broken_derivation_makes_the_command_exit_1(capsys):
    args = argparse.Namespace(format="text", only=None, seed=0, trials=2, dtype=["float32"])
    assert verify_cli.run(args, derivations=[_broken()]) == 1
    out = capsys.readouterr().out
    assert "quadratic_form_seed" in out and "FAIL" in out and "1 DISAGREE" in out


def test_unknown_names_and_dtypes_are_bad_usage(capsys):
    with pytest.raises(ValueError, match=r"mcalc.verify: no derivation matches 'nope'"):
        mcalc.verify(names=["nope"])
    with pytest.raises(ValueError, match="dtypes must be floating dtypes .* got 'int32'"):
        mcalc.verify(dtypes=["int32"])
    with pytest.raises(ValueError, match="trials must be an integer >= 1; got 0"):
        mcalc.verify(trials=0)
    assert main(["verify", "--only", "nope"]) == 2
    assert "no derivation matches 'nope'" in capsys.readouterr().err


def test_only_subset_from_the_command_line(capsys):
    rc = main(["verify", "--only", "frobenius", "--dtype", "float64", "--format", "markdown"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "| P5 | `frobenius` | $B$ |" in out and "trace_power" not in out


def test_second_order_rows_show_their_kind_and_are_checked_as_such():
    result = mcalc.verify(
        names=["trace_power_hvp_k3", "quadratic_form_hessian"], dtypes=["float64"], trials=2
    )
    assert result.ok and [r.kind for r in result.rows] == ["hvp", "hessian"]
    assert [r.report.kind for r in result.rows] == ["hvp", "hessian"]
    assert result.rows[1].sizes and all("x" not in s for s in result.rows[1].sizes)  # w, not H
    text = result.to_text()
    assert "HVP: 3 (VX + XV)ᵀ" in text and "Hessian: X + Xᵀ" in text
    assert "| Hessian: $X + X^\\top$ |" in result.to_markdown()
    assert json.loads(result.to_json())["rows"][1]["kind"] == "hessian"
    gn = mcalc.derivations()["resnet_gauss_newton_hvp"]
    assert latex_to_text(gn.grad_formula) == "Jᵀ J V, J = ∂g/∂θ (Gauss-Newton)"


def test_every_closed_form_hessian_and_hvp_is_registered():
    kinds = {n: d.kind for n, d in mcalc.derivations().items()}
    hessians = {"logistic_l2_hessian", "bipolar_squared_hessian", "gaussian_nll_hessian",
                "quadratic_form_hessian"}  # fmt: skip
    hvps = {"trace_power_hvp_k3", "trace_power_hvp_k7", "resnet_hvp", "resnet_gauss_newton_hvp"}
    assert {n for n, k in kinds.items() if k == "hessian"} == hessians
    assert {n for n, k in kinds.items() if k == "hvp"} == hvps
    assert kinds["quadratic_form_X"] == "gradient"  # P6's gradient in X


def test_a_broken_hessian_fails_with_its_diagnosis_and_bad_kinds_are_bad_usage():
    d = mcalc.derivations()["logistic_l2_hessian"]
    broken = dataclasses.replace(
        d, name="no_penalty", grad=lambda w, X, y: d.grad(w, X, y) - 1.4 * jnp.eye(w.shape[0])
    )
    result = mcalc.verify(derivations=[broken], dtypes=["float64"], trials=2)
    assert not result.ok
    assert "misses a multiple of the identity: claimed - jax.hessian = -1.4 × I" in (
        result.rows[0].diagnosis
    )
    with pytest.raises(ValueError, match="derivation 'odd' has kind 'jacobian'; expected one of"):
        mcalc.verify(derivations=[dataclasses.replace(d, name="odd", kind="jacobian")])


def test_latex_to_text():
    assert latex_to_text(r"k\,(X^{k-1})^\top") == "k (X^k-1)ᵀ"
    assert latex_to_text(r"-\tfrac{1}{\sigma^2}X^\top(y - Xw)") == "-1/σ^2 Xᵀ(y - Xw)"
    assert latex_to_text(r"\tfrac{a + b}{2}") == "(a + b)/2"
    assert latex_to_text(r"\partial L/\partial h_{ij}") == "∂L/∂h_ij"
    assert latex_to_text(r"\tfrac12\sum_i(f_i - y_i)^2") == "½Σ_i(f_i - y_i)^2"


def test_float64_rows_with_x64_off():
    import jax

    with jax.enable_x64(False):
        result = mcalc.verify(names=["logistic_l2"], dtypes=["float64"], trials=2)
    row = result.rows[0]
    assert row.ok and row.report.dtype == "float64" and row.max_rel_error < 1e-12
    assert jnp.zeros(1).dtype == jnp.float64  # the global setting is untouched afterwards
