"""Bad input gets a clear error naming the function and the argument, before anything runs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import mcalc

w3, X43, y4 = jnp.ones(3), jnp.ones((4, 3)), jnp.ones(4)


@pytest.mark.parametrize("fn", [mcalc.trace_power, mcalc.trace_power_grad])
def test_trace_power_rejects_non_square_X(fn):
    with pytest.raises(
        ValueError, match=rf"mcalc.{fn.__name__}: X must be square \[D, D\]; got shape \(3, 4\)"
    ):
        fn(jnp.ones((3, 4)), 2)
    with pytest.raises(ValueError, match=r"X must have 2 dimensions \[D, D\]; got shape \(3,\)"):
        fn(jnp.ones(3), 2)


@pytest.mark.parametrize("fn", [mcalc.trace_power, mcalc.trace_power_grad])
def test_trace_power_rejects_bad_k(fn):
    with pytest.raises(ValueError, match="k must be a non-negative integer; got -1"):
        fn(jnp.eye(2), -1)
    with pytest.raises(ValueError, match="k must be a non-negative integer; got 1.5"):
        fn(jnp.eye(2), 1.5)
    with pytest.raises(TypeError, match="k must be an int; got float 2.0"):
        fn(jnp.eye(2), 2.0)
    with pytest.raises(TypeError, match="k must be a static Python int"):
        jax.jit(fn)(jnp.eye(2), 2)


def test_trace_power_rejects_complex_and_bool():
    with pytest.raises(TypeError, match="X must be an array of real numbers .* got dtype complex"):
        mcalc.trace_power(jnp.eye(2, dtype=jnp.complex64), 2)
    with pytest.raises(TypeError, match="got dtype bool"):
        mcalc.trace_power(np.eye(2, dtype=bool), 2)


def test_integer_input_is_promoted_to_float():
    assert mcalc.trace_power(np.eye(2, dtype=np.int32), 3).dtype == jnp.float64


@pytest.mark.parametrize(
    "fn", [mcalc.logistic_l2, mcalc.logistic_l2_grad, mcalc.logistic_l2_hessian]
)
def test_logistic_rejects_negative_lam(fn):
    with pytest.raises(
        ValueError, match=rf"mcalc.{fn.__name__}: lam must be finite and >= 0; got -0.5"
    ):
        fn(w3, X43, y4, lam=-0.5)
    with pytest.raises(ValueError, match="lam must be finite"):
        fn(w3, X43, y4, lam=float("nan"))


@pytest.mark.parametrize(
    "fn",
    [
        mcalc.logistic_l2,
        mcalc.logistic_l2_grad,
        mcalc.bipolar_squared,
        mcalc.bipolar_squared_grad,
        mcalc.gaussian_nll,
        mcalc.gaussian_nll_grad,
    ],
)
def test_linear_models_reject_mismatched_shapes(fn):
    name = f"mcalc.{fn.__name__}"
    with pytest.raises(
        ValueError,
        match=rf"{name}: X has shape \(4, 3\), but its axis 1 must have size 2 \(D = w.shape\[0\] = 2\)",
    ):
        fn(jnp.ones(2), X43, y4)
    with pytest.raises(
        ValueError,
        match=r"y has shape \(5,\), but its axis 0 must have size 4 \(N = X.shape\[0\] = 4\)",
    ):
        fn(w3, X43, jnp.ones(5))
    with pytest.raises(ValueError, match=r"w must have 1 dimension \[D\]; got shape \(3, 1\)"):
        fn(jnp.ones((3, 1)), X43, y4)
    with pytest.raises(
        ValueError, match=r"X must have 2 dimensions \[N, D\] .*got shape \(2, 4, 3\).*jax.vmap"
    ):
        fn(w3, jnp.ones((2, 4, 3)), y4)


@pytest.mark.parametrize("fn", [mcalc.gaussian_nll, mcalc.gaussian_nll_grad])
@pytest.mark.parametrize("sigma2", [0.0, -1.0])
def test_gaussian_rejects_non_positive_sigma2(fn, sigma2):
    with pytest.raises(ValueError, match=r"sigma2 must be finite and > 0; got"):
        fn(w3, X43, y4, sigma2=sigma2)


def test_least_squares_rejects_non_finite_and_bad_shapes():
    X = np.ones((4, 3))
    X[2, 1] = np.nan
    with pytest.raises(
        ValueError,
        match=r"mcalc.least_squares: X must be finite; found 1 NaN/Inf value\(s\), the first at index \(2, 1\)",
    ):
        mcalc.least_squares(X, np.ones(4))
    with pytest.raises(ValueError, match="y must be finite"):
        mcalc.least_squares(np.ones((4, 3)), np.array([1.0, np.inf, 0.0, 0.0]))
    with pytest.raises(ValueError, match=r"y has shape \(3,\), but its axis 0 must have size 4"):
        mcalc.least_squares(np.ones((4, 3)), np.ones(3))
    with pytest.raises(ValueError, match="at least one row and one column"):
        mcalc.least_squares(np.ones((0, 3)), np.ones(0))


def test_frobenius_rejects_different_shapes():
    with pytest.raises(
        ValueError,
        match=r"mcalc.frobenius: A and B must have the same shape; got A \(3, 2\) and B \(2, 3\)",
    ):
        mcalc.frobenius(jnp.ones((3, 2)), jnp.ones((2, 3)))


def test_quadratic_form_rejects_bad_shapes():
    with pytest.raises(ValueError, match="mcalc.quadratic_form_grad: X must be square"):
        mcalc.quadratic_form_grad(w3, jnp.ones((3, 2)))
    with pytest.raises(ValueError, match=r"X has shape \(2, 2\), but its axis 0 must have size 3"):
        mcalc.quadratic_form(w3, jnp.ones((2, 2)))


@pytest.mark.parametrize("D, M, bad", [(0, 3, "D"), (3, 0, "M"), (-1, 3, "D")])
def test_resnet_init_rejects_non_positive_sizes(D, M, bad):
    with pytest.raises(ValueError, match=rf"mcalc.resnet_init: {bad} must be an integer >= 1"):
        mcalc.resnet_init(jax.random.key(0), D, M)
    with pytest.raises(ValueError, match=rf"{bad} must be an integer >= 1"):
        mcalc.ResidualNet(D, M, rngs=nnx.Rngs(0))


def test_resnet_rejects_malformed_params_and_inputs():
    p = mcalc.resnet_init(jax.random.key(0), 3, 4)
    with pytest.raises(
        ValueError, match=r"params must be a dict with keys 'W0', 'W1', 'w2'.*got \['W0', 'W1'\]"
    ):
        mcalc.resnet_loss({"W0": p["W0"], "W1": p["W1"]}, X43, y4)
    with pytest.raises(ValueError, match=r"params\['W1'\] must have shape \[D, M\] = \(3, 4\)"):
        mcalc.resnet_grad({**p, "W1": p["W1"].T}, X43, y4)
    with pytest.raises(
        ValueError, match=r"X has shape \(4, 2\), but its axis 1 must have size 3 .*residual"
    ):
        mcalc.resnet_forward(p, jnp.ones((4, 2)))
    with pytest.raises(ValueError, match=r"mcalc.resnet_grad_h: y has shape \(5,\)"):
        mcalc.resnet_grad_h(p, X43, jnp.ones(5))


def test_no_xla_error_leaks_for_mismatched_shapes_under_jit():
    with pytest.raises(ValueError, match="mcalc.logistic_l2_grad"):
        jax.jit(mcalc.logistic_l2_grad)(jnp.ones(2), X43, y4)
