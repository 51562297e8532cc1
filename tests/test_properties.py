"""Property-based tests: closed forms agree with jax.grad over random shapes and values."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import mcalc

_settings = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Subnormals excluded: XLA flushes them to zero on the CPU, numpy does not.
finite = st.floats(-3, 3, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=64)


@st.composite
def linear_problem(draw, labels=(0.0, 1.0)):
    N = draw(st.integers(1, 12))
    D = draw(st.integers(1, 6))
    w = draw(arrays(np.float64, (D,), elements=finite))
    X = draw(arrays(np.float64, (N, D), elements=finite))
    y = draw(arrays(np.float64, (N,), elements=st.sampled_from(labels)))
    return w, X, y


@_settings
@given(linear_problem(), st.floats(0, 5))
def test_logistic_grad(problem, lam):
    w, X, y = problem
    ref = jax.grad(lambda w: mcalc.logistic_l2(w, X, y, lam=lam))(w)
    np.testing.assert_allclose(
        mcalc.logistic_l2_grad(w, X, y, lam=lam), ref, rtol=1e-10, atol=1e-10
    )


@_settings
@given(linear_problem(labels=(-1.0, 1.0)))
def test_bipolar_grad(problem):
    w, X, y = problem
    ref = jax.grad(mcalc.bipolar_squared)(w, X, y)
    np.testing.assert_allclose(mcalc.bipolar_squared_grad(w, X, y), ref, rtol=1e-10, atol=1e-10)


@_settings
@given(linear_problem(labels=(-2.0, 0.5, 3.0)), st.floats(0.01, 10))
def test_gaussian_grad(problem, sigma2):
    w, X, y = problem
    ref = jax.grad(lambda w: mcalc.gaussian_nll(w, X, y, sigma2=sigma2))(w)
    np.testing.assert_allclose(
        mcalc.gaussian_nll_grad(w, X, y, sigma2=sigma2), ref, rtol=1e-10, atol=1e-9
    )


@_settings
@given(
    st.integers(1, 6).flatmap(
        lambda d: st.tuples(
            arrays(np.float64, (d,), elements=finite), arrays(np.float64, (d, d), elements=finite)
        )
    )
)
def test_quadratic_form_grads(args):
    w, X = args
    np.testing.assert_allclose(
        mcalc.quadratic_form_grad(w, X), jax.grad(mcalc.quadratic_form)(w, X), atol=1e-10
    )
    np.testing.assert_allclose(
        mcalc.quadratic_form_grad_X(w, X), jax.grad(mcalc.quadratic_form, 1)(w, X), atol=1e-10
    )


@_settings
@given(
    st.tuples(st.integers(1, 5), st.integers(1, 5)).flatmap(
        lambda s: st.tuples(
            arrays(np.float64, s, elements=finite), arrays(np.float64, s, elements=finite)
        )
    )
)
def test_frobenius_grad_any_shape(args):
    A, B = args
    np.testing.assert_array_equal(mcalc.frobenius_grad(A, B), jax.grad(mcalc.frobenius)(A, B))


@_settings
@given(st.integers(1, 5), st.integers(0, 12), st.integers(0, 2**31 - 1))
def test_trace_power_grad(D, k, seed):
    X = jax.random.normal(jax.random.key(seed), (D, D), jnp.float64) / np.sqrt(D)
    ref = jax.grad(lambda X: jnp.trace(jnp.linalg.matrix_power(X, k)))(X)
    np.testing.assert_allclose(mcalc.trace_power_grad(X, k), ref, rtol=1e-9, atol=1e-12)
