"""P7 -- a two-layer sigmoid network with a residual connection, trained by backpropagation.

For one sample ``x ∈ R^D`` (rows of ``X`` are samples)::

    v = W0 x      W0: [M, D]        z = σ(v)
    u = W1 z      W1: [D, M]        h = x + σ(u)      (the residual connection)
    a = w2ᵀ h     w2: [D]           g = σ(a)
    L = ½ Σ_i (g_i - y_i)²,  y_i ∈ {0, 1}

The delta rule, with rows as samples (``σ'(t) = σ(t)(1 - σ(t))``)::

    δ   = (g - y) ⊙ g ⊙ (1 - g)           [N]
    G_h = δ w2ᵀ                           [N, D]   = ∂L/∂h
    G_u = G_h ⊙ σ'(U)                     [N, D]
    ∇W1 = G_uᵀ Z                          [D, M]
    G_v = (G_u W1) ⊙ σ'(V)                [N, M]
    ∇W0 = G_vᵀ X                          [M, D]
    ∇w2 = Hᵀ δ                            [D]
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from .. import _validation as v
from ._derivation import Derivation

__all__ = [
    "resnet_init",
    "resnet_forward",
    "resnet_loss",
    "resnet_grad",
    "resnet_grad_h",
    "DERIVATIONS",
]

Params = dict[str, jax.Array]
_KEYS = ("W0", "W1", "w2")


def resnet_init(key: jax.Array, D: int, M: int, *, dtype: Any = jnp.float32) -> Params:
    """Random parameters of the residual network, LeCun-normal scaled.

    ``W0 ~ N(0, 1/D)``, ``W1 ~ N(0, 1/M)``, ``w2 ~ N(0, 1/D)``: each layer's
    pre-activation starts with unit variance for unit-variance inputs.

    Args:
      key: a ``jax.random`` key.
      D: input (and residual) width, ``D >= 1``.
      M: hidden width, ``M >= 1``.
      dtype: floating dtype of the parameters.

    Returns:
      ``{"W0": [M, D], "W1": [D, M], "w2": [D]}``.

    Raises:
      ValueError: if ``D`` or ``M`` is not an integer ``>= 1``.

    Example:
      >>> import jax, mcalc
      >>> p = mcalc.resnet_init(jax.random.key(0), D=3, M=5)
      >>> {k: a.shape for k, a in p.items()}
      {'W0': (5, 3), 'W1': (3, 5), 'w2': (3,)}
    """
    fn = "mcalc.resnet_init"
    D = v.check_static_int(fn, "D", D, minimum=1)
    M = v.check_static_int(fn, "M", M, minimum=1)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"{fn}: dtype must be a floating dtype; got {jnp.dtype(dtype)}.")
    k0, k1, k2 = jax.random.split(key, 3)
    return {
        "W0": jax.random.normal(k0, (M, D), dtype) / jnp.sqrt(jnp.asarray(D, dtype)),
        "W1": jax.random.normal(k1, (D, M), dtype) / jnp.sqrt(jnp.asarray(M, dtype)),
        "w2": jax.random.normal(k2, (D,), dtype) / jnp.sqrt(jnp.asarray(D, dtype)),
    }


def _params(fn: str, params: Any) -> tuple[Params, int, int]:
    if not isinstance(params, dict) or set(params) != set(_KEYS):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(
            f"{fn}: params must be a dict with keys 'W0', 'W1', 'w2' (see mcalc.resnet_init); got {got}."
        )
    p = {k: v.as_float(fn, f"params['{k}']", params[k]) for k in _KEYS}
    v.check_ndim(fn, "params['W0']", p["W0"], 2, "[M, D]")
    M, D = p["W0"].shape
    v.check_ndim(fn, "params['W1']", p["W1"], 2, "[D, M]")
    if p["W1"].shape != (D, M):
        raise ValueError(
            f"{fn}: params['W1'] must have shape [D, M] = {(D, M)} to match params['W0'] {(M, D)}; "
            f"got {p['W1'].shape}."
        )
    v.check_ndim(fn, "params['w2']", p["w2"], 1, "[D]")
    v.check_dim(fn, "params['w2']", p["w2"], 0, D, f"D = params['W0'].shape[1] = {D}")
    return p, D, M


def _inputs(fn: str, params: Any, X: Any, y: Any = None):
    p, D, M = _params(fn, params)
    X = v.as_float(fn, "X", X)
    v.check_ndim(fn, "X", X, 2, "[N, D] (one sample per row)")
    v.check_dim(
        fn, "X", X, 1, D, f"D = params['W0'].shape[1] = {D}; the residual h = x + σ(u) needs it"
    )
    if y is None:
        return p, X, None
    y = v.as_float(fn, "y", y)
    v.check_ndim(fn, "y", y, 1, "[N]")
    v.check_dim(fn, "y", y, 0, X.shape[0], f"N = X.shape[0] = {X.shape[0]}")
    return p, X, y


class _Activations(NamedTuple):
    V: jax.Array  # [N, M] pre-activations of the hidden layer
    Z: jax.Array  # [N, M] σ(V)
    U: jax.Array  # [N, D] pre-activations of the residual branch
    H: jax.Array  # [N, D] X + σ(U)
    g: jax.Array  # [N] outputs σ(H w2)


def _forward(p: Params, X: jax.Array, E: jax.Array | float = 0.0) -> _Activations:
    """Forward pass; ``E`` is an offset added to ``h`` (zero except when checking ``∂L/∂h``)."""
    V = X @ p["W0"].T
    Z = jax.nn.sigmoid(V)
    U = Z @ p["W1"].T
    H = X + jax.nn.sigmoid(U) + E
    g = jax.nn.sigmoid(H @ p["w2"])
    return _Activations(V, Z, U, H, g)


def _backward(
    p: Params, X: jax.Array, y: jax.Array, acts: _Activations
) -> tuple[Params, jax.Array]:
    """The delta rule: gradients in the parameters and in ``h``."""
    V, Z, U, H, g = acts
    delta = (g - y) * g * (1 - g)  # [N]
    G_h = delta[:, None] * p["w2"][None, :]  # [N, D]
    sU = jax.nn.sigmoid(U)
    G_u = G_h * (sU * (1 - sU))  # [N, D]
    G_v = (G_u @ p["W1"]) * (Z * (1 - Z))  # [N, M]
    # The weight gradients are sums over the samples, Gᵀ A. Written as contractions
    # over the row axis (what jax.grad emits too), XLA's CPU backend runs them outside
    # YNNPACK, its fast matmul, which takes only products whose left operand is
    # contracted on its last axis: 0.46-0.63 ms against 0.25-0.35 ms each at N = 1024,
    # D = 64, M = 256, float32. So transpose the two narrow [N, D] operands (256 KiB
    # each) and contract as plain products, Xᵀ G_v and G_uᵀ Z; the barrier stops XLA
    # from folding the transposes back into the dots.
    XT, G_uT = jax.lax.optimization_barrier((X.T, G_u.T))  # [D, N] each
    grads = {
        # (Xᵀ G_v)ᵀ: the product stays plain, only its small [D, M] result is transposed.
        "W0": jax.lax.optimization_barrier(XT @ G_v).T,  # [M, D]
        "W1": G_uT @ Z,  # [D, M]
        "w2": delta @ H,  # [D]
    }
    return grads, G_h


def resnet_forward(params: Params, X: jax.Array) -> jax.Array:
    """Outputs ``g = σ(w2ᵀ(x + σ(W1 σ(W0 x))))`` of the residual network, one per row of ``X``.

    Args:
      params: ``{"W0": [M, D], "W1": [D, M], "w2": [D]}`` (see :func:`resnet_init`).
      X: ``[N, D]`` inputs, one sample per row.

    Returns:
      ``[N]`` outputs in ``(0, 1)``.

    Raises:
      ValueError: on malformed ``params`` or an ``X`` whose width is not ``D``.

    Example:
      >>> import jax, jax.numpy as jnp, mcalc
      >>> p = mcalc.resnet_init(jax.random.key(0), D=3, M=5)
      >>> mcalc.resnet_forward(p, jnp.zeros((2, 3))).shape
      (2,)
    """
    p, X, _ = _inputs("mcalc.resnet_forward", params, X)
    return _forward(p, X).g


def resnet_loss(params: Params, X: jax.Array, y: jax.Array) -> jax.Array:
    """Half the summed squared error ``L = ½ Σ_i (g_i - y_i)²`` of the residual network.

    Args:
      params: ``{"W0": [M, D], "W1": [D, M], "w2": [D]}``.
      X: ``[N, D]`` inputs; y: ``[N]`` targets in ``{0, 1}``.

    Returns:
      The scalar loss.

    Example:
      >>> import jax, jax.numpy as jnp, mcalc
      >>> p = {"W0": jnp.zeros((2, 3)), "W1": jnp.zeros((3, 2)), "w2": jnp.zeros(3)}
      >>> float(mcalc.resnet_loss(p, jnp.zeros((4, 3)), jnp.ones(4)))  # g = σ(0) = 1/2
      0.5
    """
    p, X, y = _inputs("mcalc.resnet_loss", params, X, y)
    g = _forward(p, X).g
    return 0.5 * jnp.sum((g - y) ** 2)


def resnet_grad(params: Params, X: jax.Array, y: jax.Array) -> Params:
    """Closed-form gradient of :func:`resnet_loss` by the delta rule; equals ``jax.grad(resnet_loss)``.

    .. math::
       \\delta_i = (g_i - y_i) g_i (1 - g_i), \\quad
       \\nabla w_2 = H^\\top\\delta, \\quad
       \\nabla W_1 = G_u^\\top Z, \\quad
       \\nabla W_0 = \\big[(G_u W_1) \\odot \\sigma'(V)\\big]^\\top X

    with ``G_u = (δ w2ᵀ) ⊙ σ'(U)``; each a sum over the samples.

    Args:
      params: ``{"W0": [M, D], "W1": [D, M], "w2": [D]}``.
      X: ``[N, D]``; y: ``[N]``.

    Returns:
      A dict shaped like ``params``.

    Example:
      >>> import jax, jax.numpy as jnp, mcalc
      >>> p = mcalc.resnet_init(jax.random.key(0), D=3, M=5)
      >>> g = mcalc.resnet_grad(p, jnp.ones((4, 3)), jnp.ones(4))
      >>> {k: a.shape for k, a in g.items()}
      {'W0': (5, 3), 'W1': (3, 5), 'w2': (3,)}
    """
    p, X, y = _inputs("mcalc.resnet_grad", params, X, y)
    return _backward(p, X, y, _forward(p, X))[0]


def resnet_grad_h(params: Params, X: jax.Array, y: jax.Array) -> jax.Array:
    """``∂L/∂h``, the gradient of the loss in the residual block's output: ``δ w2ᵀ``.

    .. math:: \\frac{\\partial L}{\\partial h_{ij}} = \\delta_i\\, w_{2,j}, \\quad
              \\delta_i = (g_i - y_i)\\, g_i (1 - g_i)

    (the sigmoid's derivative is taken at the whole pre-activation ``a_i = w2ᵀh_i``).

    Args:
      params: ``{"W0": [M, D], "W1": [D, M], "w2": [D]}``.
      X: ``[N, D]``; y: ``[N]``.

    Returns:
      ``[N, D]``.
    """
    p, X, y = _inputs("mcalc.resnet_grad_h", params, X, y)
    return _backward(p, X, y, _forward(p, X))[1]


# ----------------------------------------------------------------------------
# Derivations for the registry. ∂L/∂h is checked as the gradient in an offset E
# added to h (at E = 0 it is ∂L/∂h itself); the closed form uses the same delta
# rule as resnet_grad_h, evaluated at the offset point.


def _loss_offset(E, params, X, y):
    p, X, y = _inputs("mcalc.resnet_loss", params, X, y)
    g = _forward(p, X, E).g
    return 0.5 * jnp.sum((g - y) ** 2)


def _grad_h_offset(E, params, X, y):
    p, X, y = _inputs("mcalc.resnet_grad_h", params, X, y)
    return _backward(p, X, y, _forward(p, X, E))[1]


def _sample(key, dtype, *, offset: bool = False):
    kn, kd, km, kp, kx, ky, ke = jax.random.split(key, 7)
    N = int(jax.random.randint(kn, (), 1, 20))
    D = int(jax.random.randint(kd, (), 1, 7))
    M = int(jax.random.randint(km, (), 1, 9))
    params = resnet_init(kp, D, M, dtype=dtype)
    X = jax.random.normal(kx, (N, D), dtype)
    y = jax.random.bernoulli(ky, 0.5, (N,)).astype(dtype)
    if offset:
        return 0.1 * jax.random.normal(ke, (N, D), dtype), params, X, y
    return params["W0"], params["W1"], params["w2"], X, y


def _by_param(name: str, argnum: int, grad_formula: str) -> Derivation:
    def f(W0, W1, w2, X, y):
        return resnet_loss({"W0": W0, "W1": W1, "w2": w2}, X, y)

    def grad(W0, W1, w2, X, y):
        return resnet_grad({"W0": W0, "W1": W1, "w2": w2}, X, y)[name]

    return Derivation(
        name=f"resnet_{name}",
        problem="P7",
        f=f,
        grad=grad,
        argnum=argnum,
        sample=_sample,
        formula=r"\tfrac12\sum_i(\sigma(w_2^\top(x_i + \sigma(W_1\sigma(W_0 x_i)))) - y_i)^2",
        grad_formula=grad_formula,
        wrt=name,
    )


DERIVATIONS = (
    _by_param(
        "W0", 0, r"[(G_u W_1)\odot\sigma'(V)]^\top X,\ G_u = (\delta w_2^\top)\odot\sigma'(U)"
    ),
    _by_param("W1", 1, r"G_u^\top Z,\ G_u = (\delta w_2^\top)\odot\sigma'(U)"),
    _by_param("w2", 2, r"H^\top\delta,\ \delta = (g - y)\odot g\odot(1 - g)"),
    Derivation(
        name="resnet_h",
        problem="P7",
        f=_loss_offset,
        grad=_grad_h_offset,
        argnum=0,
        sample=lambda key, dtype: _sample(key, dtype, offset=True),
        formula=r"\tfrac12\sum_i(\sigma(w_2^\top h_i) - y_i)^2",
        grad_formula=r"\partial L/\partial h_{ij} = \delta_i w_{2,j}",
        wrt="h",
    ),
)
