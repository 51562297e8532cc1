"""Layers of neural networks: attention, layer/RMS/batch normalisation, a dense layer.

A layer's output is an array, so its entry is the scalar ``⟨G, layer(·)⟩ = Σ G ⊙
layer(·)`` for an upstream gradient ``G`` of the output's shape: its gradient is the
vector-Jacobian product that backpropagation computes. Attention is
``softmax(QKᵀ/√d) V`` with the softmax taken over each row.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ._entry import make
from ._samplers import reordered, sampler

SECTION = "layers"
E = functools.partial(make, SECTION)
VASWANI = "Vaswani et al., 'Attention is all you need', NeurIPS (2017)"
DAO = "Dao et al., 'FlashAttention', NeurIPS (2022), the standard attention backward pass"
BA = "Ba, Kiros & Hinton, 'Layer normalization', arXiv:1607.06450 (2016)"
EPS = 1e-5  # the variance floor of the normalisations


def _scores(Q, K):
    return Q @ K.T / math.sqrt(Q.shape[1])


def _attention(Q, K, V, mask=None):
    S = _scores(Q, K)
    if mask is not None:
        S = jnp.where(mask > 0, S, -jnp.inf)
    return jax.nn.softmax(S, axis=1) @ V


def _attention_backward(Q, K, V, G, mask=None):
    """(dQ, dK, dV) of ⟨G, softmax(QKᵀ/√d)V⟩."""
    S = _scores(Q, K)
    if mask is not None:
        S = jnp.where(mask > 0, S, -jnp.inf)
    P = jax.nn.softmax(S, axis=1)
    O = P @ V
    dP = G @ V.T
    D = jnp.sum(G * O, axis=1, keepdims=True)  # = rowsum(dP ⊙ P)
    dS = P * (dP - D)
    scale = 1 / math.sqrt(Q.shape[1])
    return dS @ K * scale, dS.T @ Q * scale, P.T @ G


def _standardise(X, axis):
    mu = jnp.mean(X, axis=axis, keepdims=True)
    sigma = jnp.sqrt(jnp.mean((X - mu) ** 2, axis=axis, keepdims=True) + EPS)
    return (X - mu) / sigma, sigma


def _standardise_backward(X, g, axis):
    """The VJP of standardisation along ``axis`` for the cotangent ``g``."""
    Xh, sigma = _standardise(X, axis)
    return (
        g - jnp.mean(g, axis=axis, keepdims=True) - Xh * jnp.mean(g * Xh, axis=axis, keepdims=True)
    ) / sigma


def _rms(X):
    return jnp.sqrt(jnp.mean(X**2, axis=1, keepdims=True) + EPS)


# -- samplers ---------------------------------------------------------------------------


@sampler
def _QKVG(d):  # Q [n, dk], K [m, dk], V [m, dv], G [n, dv]
    n, m, dk, dv = d.size(2, 4), d.size(2, 4), d.size(2, 4), d.size(2, 3)
    return d.normal(n, dk), d.normal(m, dk), d.normal(m, dv), d.normal(n, dv)


_KQVG = reordered(_QKVG, 1, 0, 2, 3)
_VQKG = reordered(_QKVG, 2, 0, 1, 3)
_VQKT = _VQKG  # V, Q, K and a target T shaped like the output, as G is


@sampler
def _causal(d):  # n = m, lower-triangular 0/1 mask
    n, dk, dv = d.size(2, 4), d.size(2, 4), d.size(2, 3)
    mask = np.tril(np.ones((n, n)))
    return d.normal(n, dk), d.normal(n, dk), d.normal(n, dv), d.normal(n, dv), mask


@sampler
def _X_gamma_beta_G(d):  # X [N, d] rows, gamma, beta [d], G [N, d]
    n, dim = d.size(2, 4), d.size(3, 5)
    return d.normal(n, dim), 1 + d.normal(dim, scale=0.3), d.normal(dim), d.normal(n, dim)


_gamma_X_beta_G = reordered(_X_gamma_beta_G, 1, 0, 2, 3)
_beta_X_gamma_G = reordered(_X_gamma_beta_G, 2, 0, 1, 3)
_X_gamma_G = reordered(_X_gamma_beta_G, 0, 1, 3)


@sampler
def _X_G_batch(d):  # a batch of N >= 3 rows, standardised per column
    n, dim = d.size(3, 5), d.size(2, 4)
    return d.normal(n, dim), d.normal(n, dim)


@sampler
def _W_X_b_G(d):  # W [D, H], X [N, D], b [H], G [N, H]
    n, dim, h = d.size(2, 5), d.size(2, 4), d.size(2, 4)
    return d.normal(dim, h, scale=0.5), d.normal(n, dim), d.normal(h), d.normal(n, h)


_b_W_X_G = reordered(_W_X_b_G, 2, 0, 1, 3)


# -- functions ----------------------------------------------------------------------------


def _layernorm(X, gamma, beta):
    return _standardise(X, 1)[0] * gamma[None, :] + beta[None, :]


def _dense(W, X, b):
    return jnp.tanh(X @ W + b[None, :])


ENTRIES = [
    E(
        "attention_V",
        "attention, in the values",
        lambda V, Q, K, G: jnp.sum(G * _attention(Q, K, V)),
        lambda V, Q, K, G: _attention_backward(Q, K, V, G)[2],
        _VQKG,
        r"\langle G, \operatorname{softmax}(QK^\top/\sqrt d)\,V\rangle",
        r"P^\top G,\ P = \operatorname{softmax}(QK^\top/\sqrt d)",
        "V",
        note="Linear in V: the attention weights route the upstream gradient back to the values.",
        source=VASWANI + "; " + DAO,
    ),
    E(
        "attention_Q",
        "attention, in the queries",
        lambda Q, K, V, G: jnp.sum(G * _attention(Q, K, V)),
        lambda Q, K, V, G: _attention_backward(Q, K, V, G)[0],
        _QKVG,
        r"\langle G, \operatorname{softmax}(QK^\top/\sqrt d)\,V\rangle",
        r"\tfrac{1}{\sqrt d}\,dS\,K,\ dS = P\odot\big(GV^\top - \operatorname{rowsum}(G\odot PV)"
        r"\mathbf 1^\top\big)",
        "Q",
        note="dS is the softmax's backward pass by rows: P ⊙ (dP - rowsum(dP ⊙ P)), "
        "with rowsum(dP ⊙ P) = rowsum(G ⊙ O) for O = PV.",
        source=VASWANI + "; " + DAO,
    ),
    E(
        "attention_K",
        "attention, in the keys",
        lambda K, Q, V, G: jnp.sum(G * _attention(Q, K, V)),
        lambda K, Q, V, G: _attention_backward(Q, K, V, G)[1],
        _KQVG,
        r"\langle G, \operatorname{softmax}(QK^\top/\sqrt d)\,V\rangle",
        r"\tfrac{1}{\sqrt d}\,dS^\top Q",
        "K",
        note="The same dS as for the queries, transposed.",
        source=VASWANI + "; " + DAO,
    ),
    E(
        "attention_causal_Q",
        "causal (masked) attention, in the queries",
        lambda Q, K, V, G, M: jnp.sum(G * _attention(Q, K, V, M)),
        lambda Q, K, V, G, M: _attention_backward(Q, K, V, G, M)[0],
        _causal,
        r"\langle G, \operatorname{softmax}(QK^\top/\sqrt d + \log M)\,V\rangle",
        r"\tfrac{1}{\sqrt d}\,dS\,K\ \text{with}\ P_{ij} = 0\ \text{where}\ M_{ij} = 0",
        "Q",
        note="Masked scores are -∞: their weights and their share of dS vanish.",
        source=VASWANI + "; " + DAO,
    ),
    E(
        "attention_squared_V",
        "attention regression, in the values",
        lambda V, Q, K, T: 0.5 * jnp.sum((_attention(Q, K, V) - T) ** 2),
        lambda V, Q, K, T: _attention_backward(Q, K, V, _attention(Q, K, V) - T)[2],
        _VQKT,
        r"\tfrac12\|\operatorname{softmax}(QK^\top/\sqrt d)\,V - T\|_F^2",
        r"P^\top(PV - T)",
        "V",
        source="derived here",
        note="Least squares in V through the attention weights P.",
    ),
    E(
        "layernorm_x",
        "layer normalisation, in the inputs",
        lambda X, gamma, beta, G: jnp.sum(G * _layernorm(X, gamma, beta)),
        lambda X, gamma, beta, G: _standardise_backward(X, G * gamma[None, :], 1),
        _X_gamma_beta_G,
        r"\langle G, \gamma\odot\hat x + \beta\rangle,\ \hat x = (x - \bar x)/\sqrt{\operatorname{var}(x) + \epsilon}",
        r"\frac{1}{\sigma}\big(g - \bar g - \hat x\,\overline{g\odot\hat x}\big),\ g = G\odot\gamma",
        "X",
        note="Per row; bars are means over the row's features, σ = √(var + ε). The gradient is "
        "orthogonal to 1 and to x̂.",
        source=BA + " (the function); gradient derived here",
    ),
    E(
        "layernorm_gamma",
        "layer normalisation, in the gain",
        lambda gamma, X, beta, G: jnp.sum(G * _layernorm(X, gamma, beta)),
        lambda gamma, X, beta, G: jnp.sum(G * _standardise(X, 1)[0], axis=0),
        _gamma_X_beta_G,
        r"\langle G, \gamma\odot\hat x + \beta\rangle",
        r"\textstyle\sum_{\text{rows}} G\odot\hat X",
        "gamma",
        source=BA,
        note="Each feature's gain collects G ⊙ x̂ over the rows.",
    ),
    E(
        "layernorm_beta",
        "layer normalisation, in the bias",
        lambda beta, X, gamma, G: jnp.sum(G * _layernorm(X, gamma, beta)),
        lambda beta, X, gamma, G: jnp.sum(G, axis=0),
        _beta_X_gamma_G,
        r"\langle G, \gamma\odot\hat x + \beta\rangle",
        r"\textstyle\sum_{\text{rows}} G",
        "beta",
        source=BA,
        note="The bias receives the upstream gradient, summed over the rows.",
    ),
    E(
        "rmsnorm_x",
        "RMS normalisation, in the inputs",
        lambda X, gamma, G: jnp.sum(G * X / _rms(X) * gamma[None, :]),
        lambda X, gamma, G: (
            (
                G * gamma[None, :]
                - X / _rms(X) * jnp.mean(G * gamma[None, :] * X / _rms(X), axis=1, keepdims=True)
            )
            / _rms(X)
        ),
        _X_gamma_G,
        r"\langle G, \gamma\odot x/\operatorname{rms}(x)\rangle,\ \operatorname{rms}(x) "
        r"= \sqrt{\overline{x^2} + \epsilon}",
        r"\frac{1}{\operatorname{rms}(x)}\big(g - \hat x\,\overline{g\odot\hat x}\big),\ "
        r"\hat x = x/\operatorname{rms}(x),\ g = G\odot\gamma",
        "X",
        note="Layer normalisation without the centring, and so without the ḡ term.",
        source="Zhang & Sennrich, 'Root mean square layer normalization', NeurIPS (2019)",
    ),
    E(
        "batchnorm_x",
        "batch normalisation (training mode), in the inputs",
        lambda X, G: jnp.sum(G * _standardise(X, 0)[0]),
        lambda X, G: _standardise_backward(X, G, 0),
        _X_G_batch,
        r"\langle G, \hat X\rangle,\ \hat X\ \text{standardised per column over the batch}",
        r"\frac{1}{\sigma}\big(G - \bar G - \hat X\odot\overline{G\odot\hat X}\big)",
        "X",
        note="Layer normalisation's formula along the batch axis; bars are column means.",
        source="Ioffe & Szegedy, 'Batch normalization', ICML (2015)",
    ),
    E(
        "dense_tanh_W",
        "a tanh layer, in the weights",
        lambda W, X, b, G: jnp.sum(G * _dense(W, X, b)),
        lambda W, X, b, G: X.T @ (G * (1 - _dense(W, X, b) ** 2)),
        _W_X_b_G,
        r"\langle G, \tanh(XW + \mathbf 1b^\top)\rangle",
        r"X^\top\big(G\odot(1 - \tanh^2(XW + \mathbf 1b^\top))\big)",
        "W",
        source="Rumelhart, Hinton & Williams, 'Learning representations by back-propagating "
        "errors', Nature 323 (1986)",
        note="The delta rule: the upstream gradient times tanh' at the pre-activation, times the inputs.",
    ),
    E(
        "dense_tanh_b",
        "a tanh layer, in the bias",
        lambda b, W, X, G: jnp.sum(G * _dense(W, X, b)),
        lambda b, W, X, G: jnp.sum(G * (1 - _dense(W, X, b) ** 2), axis=0),
        _b_W_X_G,
        r"\langle G, \tanh(XW + \mathbf 1b^\top)\rangle",
        r"\textstyle\sum_{\text{rows}} G\odot(1 - \tanh^2(XW + \mathbf 1b^\top))",
        "b",
        source="Rumelhart, Hinton & Williams (1986)",
        note="The same deltas, summed over the rows.",
    ),
    # -- second-order entries --
    E(
        "attention_squared_V_hvp",
        "Hessian-vector product of attention regression in the values",
        lambda V, Q, K, T: 0.5 * jnp.sum((_attention(Q, K, V) - T) ** 2),
        lambda V, Q, K, T, U: (
            jax.nn.softmax(_scores(Q, K), axis=1).T @ (jax.nn.softmax(_scores(Q, K), axis=1) @ U)
        ),
        _VQKT,
        r"\tfrac12\|\operatorname{softmax}(QK^\top/\sqrt d)\,V - T\|_F^2",
        r"H[U] = P^\top PU",
        "V",
        kind="hvp",
        note="A linear least-squares problem in V: the Gauss–Newton matrix PᵀP is the exact "
        "Hessian.",
        source="derived here",
    ),
]
