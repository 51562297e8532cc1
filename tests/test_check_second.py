"""mcalc.check_hessian / check_hvp on JAX functions, each second-order diagnosis, and the built-in
second-order closed forms.

Expected Hessians are closed forms: of wᵀAw (A + Aᵀ), of a penalty λ‖w‖² (2λI), of
½‖r(w)‖² (JᵀJ + Σ rᵢ∇²rᵢ, Gauss-Newton keeps JᵀJ), of tr(X³) (HVP 3(XV + VX)ᵀ).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mcalc

KEY = jax.random.key(3)


def _normal(i, shape):
    return jax.random.normal(jax.random.fold_in(KEY, i), shape, jnp.float64)


W = _normal(0, (4,))
A = _normal(1, (4, 4))
B = _normal(2, (6, 4))
Y = _normal(3, (6,))


def quartic(w, A):
    return w @ A @ w + jnp.sum(w**4)


def quartic_hess(w, A):
    return A + A.T + jnp.diag(12 * w**2)


def residuals(w, B, y):
    return 0.5 * jnp.sum((jnp.tanh(B @ w) - y) ** 2)


def gauss_newton(w, B, y):
    J = (1 - jnp.tanh(B @ w) ** 2)[:, None] * B
    return J.T @ J


# --- the Hessian ----------------------------------------------------------------------------------


def test_a_right_hessian_and_its_report():
    report = mcalc.check_hessian(quartic, quartic_hess, W, A)
    assert report.ok and report.kind == "hessian" and report.reference == "jax.hessian"
    assert report.max_rel_error < 1e-12 and report.fd_max_rel_error < 1e-7
    assert report.trials[0].leaves[0].shape == (4, 4)
    assert str(report).startswith("check_hessian ok: quartic_hess vs jax.hessian(quartic) in w")


def test_not_symmetric_says_by_how_much_and_whether_its_symmetric_part_is_right():
    report = mcalc.check_hessian(quartic, lambda w, A: 2 * A + jnp.diag(12 * w**2), W, A)
    assert not report.ok
    assert "is not symmetric: max |H - Hᵀ| = " in report.diagnosis
    assert "its symmetric part (H + Hᵀ)/2 is right" in report.diagnosis


@pytest.mark.parametrize(
    ("claimed", "expected"),
    [
        (lambda w, A: -quartic_hess(w, A), "off by a sign: claimed = -1 × jax.hessian"),
        (lambda w, A: 2 * quartic_hess(w, A), "off by a constant factor of 2"),
        (
            lambda w, A: quartic_hess(w, A) - 1.4 * jnp.eye(4),
            "misses a multiple of the identity: claimed - jax.hessian = -1.4 × I at every point "
            "(a forgotten 1.4·I, like the 2λI of a penalty λ‖w‖² with λ = 0.7)",
        ),
        (
            lambda w, A: quartic_hess(w, A) + 0.5 * jnp.eye(4),
            "has an extra multiple of the identity: claimed - jax.hessian = 0.5 × I",
        ),
    ],
    ids=["sign", "factor", "missing-2λI", "extra-I"],
)
def test_hessian_corruptions(claimed, expected):
    report = mcalc.check_hessian(quartic, claimed, W, A)
    assert not report.ok and expected in report.diagnosis


def test_gauss_newton_part_alone():
    assert mcalc.check_hessian(residuals, jax.hessian(residuals), W, B, Y).ok
    report = mcalc.check_hessian(residuals, gauss_newton, W, B, Y)
    assert "looks like the Gauss-Newton part alone" in report.diagnosis
    assert "second-order term of the residuals (Σ rᵢ ∇²rᵢ) is missing" in report.diagnosis


def test_hessian_in_a_matrix_argument_layouts_and_transposes():
    X = _normal(4, (3, 3))

    def f(X):
        return jnp.trace(X @ X @ X)

    H = jax.hessian(f)
    assert mcalc.check_hessian(f, lambda X: H(X).reshape(9, 9), X, trials=2).ok  # [n, n] too
    report = mcalc.check_hessian(f, lambda X: H(X).transpose(1, 0, 3, 2), X, trials=2)
    assert "off by a transpose of both index pairs" in report.diagnosis
    shape = mcalc.check_hessian(f, lambda X: H(X)[0], X)
    assert "has shape (3, 3, 3), but a Hessian has shape arg.shape + arg.shape" in shape.diagnosis


def test_hessian_right_at_the_given_point_only():
    # The Hessian of Σ w⁴ at w = 0 is 0: a claimed zero Hessian is right there only.
    def f(w):
        return jnp.sum(w**4) + jnp.sum(jnp.sin(w))

    report = mcalc.check_hessian(f, lambda w: -jnp.diag(jnp.sin(w)), jnp.zeros(3))
    assert report.trials[0].ok and not report.ok
    assert "right at the given point but wrong elsewhere" in report.diagnosis


def test_hessian_bad_usage():
    with pytest.raises(ValueError, match="the Hessian is checked in one array argument"):
        mcalc.check_hessian(lambda p: jnp.sum(p["a"] ** 2), lambda p: p, {"a": W})
    with pytest.raises(TypeError, match="hess_f must be callable"):
        mcalc.check_hessian(quartic, None, W, A)


# --- the Hessian-vector product ------------------------------------------------------------------


def test_hvp_right_transposed_and_with_a_given_direction():
    X = _normal(5, (3, 3))

    def f(X):
        return jnp.trace(X @ X @ X)

    right = mcalc.check_hvp(f, lambda X, V: 3 * (X @ V + V @ X).T, X, v=jnp.eye(3))
    assert right.ok and right.kind == "hvp" and right.fd_method == "along v"
    report = mcalc.check_hvp(f, lambda X, V: 3 * (X @ V + V @ X), X)
    assert "off by a transpose: claimed = (jvp(jax.grad))ᵀ" in report.diagnosis
    with pytest.raises(ValueError, match="v must have the structure and shape"):
        mcalc.check_hvp(f, lambda X, V: V, X, v=jnp.ones(3))


def test_hvp_gauss_newton_and_asymmetry_are_found_by_rebuilding_the_operator():
    gn = mcalc.check_hvp(residuals, lambda w, B, y, v: gauss_newton(w, B, y) @ v, W, B, Y)
    assert "looks like the Gauss-Newton part alone" in gn.diagnosis
    asym = mcalc.check_hvp(quartic, lambda w, A, v: (2 * A + jnp.diag(12 * w**2)) @ v, W, A)
    assert "is not symmetric as the operator v ↦ claimed(v)" in asym.diagnosis


def test_hvp_of_a_pytree_argument_names_the_leaf():
    params = mcalc.resnet_init(jax.random.key(1), D=2, M=2, dtype=jnp.float64)
    X, y = _normal(6, (4, 2)), (jnp.arange(4) % 2).astype(jnp.float64)

    def wrong(p, X, y, V):
        hv = mcalc.resnet_hvp(p, X, y, V)
        return {**hv, "w2": -hv["w2"]}

    report = mcalc.check_hvp(mcalc.resnet_loss, wrong, params, X, y, trials=2)
    assert report.diagnosis.startswith("params['w2'] is off by a sign")


# --- the built-in closed forms --------------------------------------------------------------------


def test_resnet_gauss_newton_hvp_is_jtj_v_and_not_the_hessian():
    params = mcalc.resnet_init(jax.random.key(2), D=2, M=3, dtype=jnp.float64)
    X, y = _normal(7, (6, 2)), (jnp.arange(6) % 2).astype(jnp.float64)
    V = jax.tree.map(lambda a: jnp.ones_like(a) / 3, params)
    flat, unravel = jax.flatten_util.ravel_pytree(params)

    @jax.jit  # one compile instead of a kernel per eager operation
    def products(flat, V):
        J = jax.jacobian(lambda p: mcalc.resnet_forward(unravel(p), X))(flat)  # [N, P], autodiff
        v = jax.flatten_util.ravel_pytree(V)[0]
        gn = jax.flatten_util.ravel_pytree(mcalc.resnet_gauss_newton_hvp(params, X, y, V))[0]
        hv = jax.flatten_util.ravel_pytree(mcalc.resnet_hvp(params, X, y, V))[0]
        return J.T @ (J @ v), gn, hv

    jtjv, gn, hv = products(flat, V)
    np.testing.assert_allclose(gn, jtjv, rtol=1e-12, atol=1e-14)
    assert np.max(np.abs(hv - gn)) > 1e-3  # the residuals' term is not negligible here
    report = mcalc.check_hvp(
        mcalc.resnet_loss, mcalc.resnet_gauss_newton_hvp, params, X, y, trials=2
    )
    assert report.diagnosis.startswith(
        "The claimed Hessian-vector product looks like the Gauss-Newton part alone"
    )


def test_trace_power_hvp_is_the_sum_formula():
    X, V = _normal(8, (4, 4)) / 2, _normal(9, (4, 4))
    for k in (0, 1, 2, 3, 6):
        terms = sum(
            jnp.linalg.matrix_power(X, j) @ V @ jnp.linalg.matrix_power(X, k - 2 - j)
            for j in range(k - 1)
        )
        want = k * jnp.asarray(terms).T if k >= 2 else jnp.zeros((4, 4))
        np.testing.assert_allclose(mcalc.trace_power_hvp(X, V, k), want, rtol=1e-12, atol=1e-12)


def test_second_order_closed_forms_validate_their_inputs():
    with pytest.raises(ValueError, match="mcalc.trace_power_hvp: .*V"):
        mcalc.trace_power_hvp(jnp.eye(3), jnp.eye(2), 3)
    params = mcalc.resnet_init(jax.random.key(0), D=3, M=2)
    bad = {**params, "w2": jnp.ones(4)}
    with pytest.raises(ValueError, match=r"mcalc.resnet_hvp: .*params\['w2'\]|V\['w2'\]"):
        mcalc.resnet_hvp(params, jnp.ones((2, 3)), jnp.ones(2), bad)
    with pytest.raises(ValueError, match="mcalc.quadratic_form_hessian"):
        mcalc.quadratic_form_hessian(jnp.ones(3), jnp.ones((2, 2)))
