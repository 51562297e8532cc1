"""The seed document's wrong worked answers (docs/problems.md, "where the seed went wrong") are flagged.

Each wrong answer is transcribed as code beside the function it claims to differentiate; the right
gradients are mcalc's closed forms (checked against jax.grad in test_problems.py).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

import mcalc

# The wrong answers are transcribed once, as the cookbook's records of them.
from mcalc.cookbook._problems import _p6_seed_2Xw as p6_seed_as_2Xw
from mcalc.cookbook._problems import _p6_seed_literal as p6_seed_literal
from mcalc.cookbook._problems import _p7b_seed as p7b_seed

sigmoid = jax.nn.sigmoid


def dsigmoid(t):
    return sigmoid(t) * (1 - sigmoid(t))


# --- P6: f(w) = wᵀXw; the seed ends with "Xw + wᵀX" ------------------------------------------------


def p6_seed_as_2Xtw(w, X):
    """wᵀX turned into a column the other way round: Xᵀw + Xᵀw."""
    return 2 * X.T @ w


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64], ids=["f32", "f64"])
def test_p6_seed_answers(dtype):
    d = mcalc.derivations()["quadratic_form"]
    w, X = d.sample(jax.random.key(0), dtype)
    assert mcalc.check_grad(mcalc.quadratic_form, mcalc.quadratic_form_grad, w, X).ok
    for wrong in (p6_seed_as_2Xw, p6_seed_as_2Xtw):
        report = mcalc.check_grad(mcalc.quadratic_form, wrong, w, X)
        assert not report.ok
        assert "right only for symmetric inputs" in report.diagnosis
    report = mcalc.check_grad(mcalc.quadratic_form, p6_seed_literal, w, X)
    assert not report.ok
    assert "wrong shape" in report.diagnosis.lower()
    assert "column vector plus a row vector" in report.diagnosis


# --- P7: the residual network ------------------------------------------------------------------


def loss_in_h(H, w2, y):
    """L = ½ Σ_i (σ(w2ᵀ h_i) - y_i)² as a function of the residual block's outputs h_i (rows)."""
    return 0.5 * jnp.sum((sigmoid(H @ w2) - y) ** 2)


def p7a_right(H, w2, y):
    g = sigmoid(H @ w2)
    delta = (g - y) * g * (1 - g)
    return delta[:, None] * w2[None, :]


def p7a_seed(H, w2, y):
    """(a): (g(x) - y_j) σ(w_{2,j} h_j)(1 - σ(w_{2,j} h_j)) w_{2,j}.

    The sigmoid's derivative at one term w_{2,j} h_j of the pre-activation instead of the whole
    w2ᵀh, and the target indexed by the node j instead of the sample i.
    """
    g = sigmoid(H @ w2)
    s = sigmoid(w2[None, :] * H)
    y_j = y[None, : w2.shape[0]]
    return (g[:, None] - y_j) * s * (1 - s) * w2[None, :]


def sample_h(key, dtype=jnp.float32):
    kp, kh, ky = jax.random.split(key, 3)
    w2 = mcalc.resnet_init(kp, D=4, M=6, dtype=dtype)["w2"]
    H = jax.random.normal(kh, (8, 4), dtype)  # N = 8 >= D, so that y_j exists for every node j
    return H, w2, jax.random.bernoulli(ky, 0.5, (8,)).astype(dtype)


def loss_in_W1(W0, W1, w2, X, y):
    return mcalc.resnet_loss({"W0": W0, "W1": W1, "w2": w2}, X, y)


def p7b_right(W0, W1, w2, X, y):
    return mcalc.resnet_grad({"W0": W0, "W1": W1, "w2": w2}, X, y)["W1"]


def sample_W1(key, dtype=jnp.float32):
    kp, kx, ky = jax.random.split(key, 3)
    p = mcalc.resnet_init(kp, D=4, M=6, dtype=dtype)  # N, M >= D: x_d and z_d exist
    X = jax.random.normal(kx, (8, 4), dtype)
    y = jax.random.bernoulli(ky, 0.5, (8,)).astype(dtype)
    return p["W0"], p["W1"], p["w2"], X, y


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64], ids=["f32", "f64"])
def test_p7_seed_answers(dtype):
    args = sample_h(jax.random.key(1), dtype)
    assert mcalc.check_grad(loss_in_h, p7a_right, *args).ok
    report = mcalc.check_grad(loss_in_h, p7a_seed, *args)
    assert not report.ok and report.worst_leaf == "H"
    assert "no transpose, sign, constant factor" in report.diagnosis

    args = sample_W1(jax.random.key(2), dtype)
    assert mcalc.check_grad(loss_in_W1, p7b_right, *args, argnum=1).ok
    report = mcalc.check_grad(loss_in_W1, p7b_seed, *args, argnum=1)
    assert not report.ok and report.worst_leaf == "W1"
    assert "no transpose, sign, constant factor" in report.diagnosis


def test_p7_seed_answer_through_the_registry_sampler():
    """The registry's own P7 sampler (random N, D, M) and derivation flag the seed's (a) too."""
    d = mcalc.derivations()["resnet_h"]

    def seed_grad_h(E, params, X, y):
        H = X + sigmoid(sigmoid(X @ params["W0"].T) @ params["W1"].T) + E
        g = sigmoid(H @ params["w2"])
        s = sigmoid(params["w2"][None, :] * H)  # σ at one term of the pre-activation
        return (g - y)[:, None] * s * (1 - s) * params["w2"][None, :]

    assert mcalc.check_grad(d.f, d.grad, sampler=d.sample, trials=3).ok
    report = mcalc.check_grad(d.f, seed_grad_h, sampler=d.sample, trials=3)
    assert not report.ok and report.wrt == "E"
