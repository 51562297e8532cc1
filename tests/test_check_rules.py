"""mcalc.check_vjp / check_jvp: custom differentiation rules against finite differences of f.

The rules are written wrong on purpose, the way jax-ml/jax#17496 reported one: a backward rule
returning a zero cotangent for one input. The right derivatives are those of x * y (y, x),
A @ v (outer(g, v), Aᵀg) and softplus (σ).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

import mcalc

x = jnp.array([1.0, 2.0, -0.5])
y = jnp.array([3.0, -1.0, 0.25])


def _mul(bwd):
    @jax.custom_vjp
    def mul(x, y):
        return x * y

    mul.defvjp(lambda x, y: (x * y, (x, y)), bwd)
    return mul


mul_right = _mul(lambda res, g: (g * res[1], g * res[0]))
mul_zero_for_y = _mul(lambda res, g: (g * res[1], jnp.zeros_like(res[1])))  # jax#17496


def test_a_right_vjp_rule_passes():
    report = mcalc.check_vjp(mul_right, x, y)
    assert report.ok and report.kind == "vjp" and report.reference == "finite differences"
    assert [leaf.name for leaf in report.trials[0].leaves] == ["x", "y"]
    assert str(report).startswith("check_vjp ok: jax.vjp(mul) vs finite differences of mul in x, y")


def test_a_zero_cotangent_names_its_input():
    report = mcalc.check_vjp(mul_zero_for_y, x, y)
    assert not report.ok
    assert report.diagnosis == (
        "The cotangent for y is zero where finite differences are not: the backward rule "
        "returns a zero cotangent for it (x is right)."
    )
    assert report.worst_leaf == "y"


def test_a_rule_inside_a_model_names_the_models_input():
    def model(params, X):
        return jnp.sum(jnp.tanh(mul_zero_for_y(X @ params["W"], params["b"][None, :])))

    params = {"W": jnp.ones((3, 2)) / 3, "b": jnp.array([0.5, 2.0])}
    X = jnp.arange(12.0).reshape(4, 3) / 10
    report = mcalc.check_vjp(model, params, X)
    assert report.diagnosis.startswith("The cotangent for params['b'] is zero")
    assert "(params['W'], X are right)" in report.diagnosis


def test_a_transposed_cotangent_and_a_multi_output_rule():
    @jax.custom_vjp
    def matvec(A, v):
        return A @ v, jnp.sum(v)

    def bwd(res, g):
        A, v = res
        g0, g1 = g
        return jnp.outer(g0, v).T, A.T @ g0 + g1  # the cotangent for A transposed

    matvec.defvjp(lambda A, v: (matvec(A, v), (A, v)), bwd)
    A = jnp.array([[1.0, 2.0], [3.0, 4.0]])
    report = mcalc.check_vjp(matvec, A, jnp.array([1.0, -1.0]))
    assert "The cotangent for A from out[0] is off by a transpose of the input's two axes" in (
        report.diagnosis
    )


def test_wrong_shape_and_dtype_of_a_rule():
    bad_shape = _mul(lambda res, g: (g * res[1], (g * res[0])[:, None]))
    report = mcalc.check_vjp(bad_shape, x, y)
    assert report.diagnosis == (
        "Wrong shape: the backward rule returns a cotangent of shape (3, 1) for y, whose shape "
        "is (3,)."
    )
    nested = mcalc.check_vjp(lambda x, y: jnp.sum(bad_shape(x, y) ** 2), x, y)
    assert "a custom_vjp backward rule inside f returns a cotangent of type" in nested.diagnosis
    assert "[3,1] for its input[1]" in nested.diagnosis
    bad_dtype = _mul(lambda res, g: (g * res[1], (g * res[0]).astype(jnp.float16)))
    report = mcalc.check_vjp(bad_dtype, x.astype(jnp.float32), y.astype(jnp.float32))
    assert "wrong dtype: the backward rule returns a cotangent of dtype float16 for y" in (
        report.diagnosis.lower()
    )


def test_custom_jvp_with_a_wrong_factor():
    def _softplus(factor):
        @jax.custom_jvp
        def softplus(x):
            return jnp.logaddexp(x, 0.0)

        softplus.defjvp(lambda p, t: (softplus(p[0]), factor * jax.nn.sigmoid(p[0]) * t[0]))
        return softplus

    assert mcalc.check_jvp(_softplus(1.0), x).ok
    report = mcalc.check_jvp(_softplus(2.0), x)
    assert report.diagnosis.startswith("The tangent of out is off by a constant factor of 2")
    # The same rule, transposed, is what reverse mode uses: check_vjp finds it too.
    assert "off by a constant factor of 2" in mcalc.check_vjp(_softplus(2.0), x).diagnosis


def test_forward_mode_of_a_custom_vjp_is_bad_usage():
    with pytest.raises(TypeError, match="f uses a custom_vjp rule.*mcalc.check_vjp"):
        mcalc.check_jvp(mul_right, x, y)
