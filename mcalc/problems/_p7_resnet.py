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
    "resnet_hvp",
    "resnet_gauss_newton_hvp",
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
      TypeError: if ``D`` or ``M`` is traced or a non-int number, or ``dtype`` is not floating.

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

    .. math:: g(x) = \\sigma\\big(w_2^\\top (x + \\sigma(W_1\\,\\sigma(W_0 x)))\\big)

    Args:
      params: ``{"W0": [M, D], "W1": [D, M], "w2": [D]}`` (see :func:`resnet_init`).
      X: ``[N, D]`` inputs, one sample per row.

    Returns:
      ``[N]`` outputs in ``(0, 1)``.

    Raises:
      ValueError: on malformed ``params`` (keys other than ``W0``, ``W1``, ``w2``, or shapes
        that do not fit together) or an ``X`` whose width is not ``D``.
      TypeError: if a parameter or ``X`` is not an array of real numbers.

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

    .. math:: L = \\tfrac12 \\sum_i (g(x_i) - y_i)^2

    Args:
      params: ``{"W0": [M, D], "W1": [D, M], "w2": [D]}`` (see :func:`resnet_init`).
      X: ``[N, D]`` inputs, one sample per row.
      y: ``[N]`` targets in ``{0, 1}``.

    Returns:
      The scalar loss, in the dtype of the inputs.

    Raises:
      ValueError: on malformed ``params``, an ``X`` whose width is not ``D``, or a ``y``
        whose length is not ``N``.
      TypeError: if a parameter, ``X`` or ``y`` is not an array of real numbers.

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

    with ``G_u = (δ w2ᵀ) ⊙ σ'(U)``; each a sum over the samples. One forward pass keeps
    ``V, Z, U, H, g`` (rows as samples); one backward pass applies the chain rule layer by
    layer, each derivative of a sigmoid taken at its whole pre-activation.

    Args:
      params: ``{"W0": [M, D], "W1": [D, M], "w2": [D]}`` (see :func:`resnet_init`).
      X: ``[N, D]`` inputs, one sample per row.
      y: ``[N]`` targets in ``{0, 1}``.

    Returns:
      A dict shaped like ``params``: ``{"W0": [M, D], "W1": [D, M], "w2": [D]}``.

    Raises:
      ValueError: on malformed ``params``, an ``X`` whose width is not ``D``, or a ``y``
        whose length is not ``N``.
      TypeError: if a parameter, ``X`` or ``y`` is not an array of real numbers.

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
      params: ``{"W0": [M, D], "W1": [D, M], "w2": [D]}`` (see :func:`resnet_init`).
      X: ``[N, D]`` inputs, one sample per row.
      y: ``[N]`` targets in ``{0, 1}``.

    Returns:
      ``[N, D]``: row ``i`` is ``∂L/∂h_i`` for sample ``i``.

    Raises:
      ValueError: on malformed ``params``, an ``X`` whose width is not ``D``, or a ``y``
        whose length is not ``N``.
      TypeError: if a parameter, ``X`` or ``y`` is not an array of real numbers.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> p = {"W0": jnp.zeros((2, 3)), "W1": jnp.zeros((3, 2)), "w2": jnp.ones(3)}
      >>> X = jnp.full((1, 3), -0.5)  # h = x + σ(W1 σ(W0 x)) = x + 1/2 = 0: g = σ(0) = 1/2
      >>> mcalc.resnet_grad_h(p, X, jnp.zeros(1))  # δ w2ᵀ with δ = (g - y) g (1 - g) = 1/8
      Array([[0.125, 0.125, 0.125]], dtype=float32)
    """
    p, X, y = _inputs("mcalc.resnet_grad_h", params, X, y)
    return _backward(p, X, y, _forward(p, X))[1]


# ----------------------------------------------------------------------------
# Second order: Hessian-vector products by the R-operator (Pearlmutter, 1994): every
# quantity of the forward pass and of the delta rule differentiated along V.


def _hvp_inputs(fn: str, params: Any, X: Any, y: Any, V: Any):
    """Validated ``(params, V, X, y, activations)`` of a Hessian-vector product."""
    p, X, y = _inputs(fn, params, X, y)
    q, _, _ = _params(fn, V)
    for k in _KEYS:
        if q[k].shape != p[k].shape:
            raise ValueError(
                f"{fn}: V['{k}'] must have the shape of params['{k}'], {p[k].shape}; "
                f"got {q[k].shape}."
            )
    return p, {k: q[k].astype(p[k].dtype) for k in _KEYS}, X, y, _forward(p, X)


def _r_delta_rule(
    p: Params, d: Params, X: jax.Array, acts: _Activations, r: jax.Array | float
) -> Params:
    """``R_d{∇L}`` for residuals ``r = g - y``: the exact HVP, or with ``r = 0`` Gauss-Newton's."""
    V, Z, U, H, g = acts
    dZ = Z * (1 - Z)  # σ'(V)
    S = jax.nn.sigmoid(U)
    dS = S * (1 - S)  # σ'(U)
    dg = g * (1 - g)  # σ'(a)
    # The forward pass along d.
    RV = X @ d["W0"].T
    RZ = dZ * RV
    RU = RZ @ p["W1"].T + Z @ d["W1"].T
    RH = dS * RU
    Ra = RH @ p["w2"] + H @ d["w2"]
    # The delta rule along d: δ = r σ'(a), so Rδ = Ra [σ'(a)² + r σ'(a)(1 - 2g)].
    delta = r * dg
    Rdelta = Ra * (dg * dg + r * dg * (1 - 2 * g))
    G_h = delta[:, None] * p["w2"][None, :]
    RG_h = Rdelta[:, None] * p["w2"][None, :] + delta[:, None] * d["w2"][None, :]
    G_u = G_h * dS
    RG_u = RG_h * dS + G_h * dS * (1 - 2 * S) * RU  # σ''(u) = σ'(u)(1 - 2σ(u))
    GW = G_u @ p["W1"]
    RG_v = (RG_u @ p["W1"] + G_u @ d["W1"]) * dZ + GW * dZ * (1 - 2 * Z) * RV
    contract_rows = (((0,), (0,)), ((), ()))
    return {
        "W0": jax.lax.dot_general(RG_v, X, contract_rows),
        "W1": jax.lax.dot_general(RG_u, Z, contract_rows)
        + jax.lax.dot_general(G_u, RZ, contract_rows),
        "w2": Rdelta @ H + delta @ RH,
    }


def resnet_hvp(params: Params, X: jax.Array, y: jax.Array, V: Params) -> Params:
    """Closed-form Hessian-vector product of :func:`resnet_loss`; equals ``jvp(jax.grad(resnet_loss))``.

    .. math:: \\nabla^2 L\\,V = \\mathcal{R}_V\\{\\nabla L\\} =
              \\frac{d}{dt}\\nabla L(\\theta + tV)\\Big|_{t=0}

    The R-operator applied to the forward pass and to the delta rule of
    :func:`resnet_grad`: with ``RV = X dW0ᵀ``, ``RZ = σ'(V) ⊙ RV``,
    ``RU = RZ W1ᵀ + Z dW1ᵀ``, ``RH = σ'(U) ⊙ RU``, ``Ra = RH w2 + H dw2`` and
    ``r = g - y``::

        Rδ    = Ra ⊙ [σ'(a)² + r ⊙ σ'(a)(1 - 2g)]
        RG_u  = (Rδ w2ᵀ + δ dw2ᵀ) ⊙ σ'(U) + G_u ⊙ (1 - 2σ(U)) ⊙ RU
        R∇W1  = RG_uᵀ Z + G_uᵀ RZ
        R∇W0  = [(RG_u W1 + G_u dW1) ⊙ σ'(V) + (G_u W1) ⊙ σ'(V) ⊙ (1 - 2Z) ⊙ RV]ᵀ X
        R∇w2  = Hᵀ Rδ + RHᵀ δ

    Two passes over the data, like the gradient: no Hessian is formed.

    Args:
      params: ``{"W0": [M, D], "W1": [D, M], "w2": [D]}``.
      X: ``[N, D]``; y: ``[N]``.
      V: the direction, a dict shaped like ``params``.

    Returns:
      A dict shaped like ``params``.

    Raises:
      ValueError: on malformed ``params`` or ``V``, or shapes that do not fit.

    Example:
      >>> import jax, jax.numpy as jnp, mcalc
      >>> p = mcalc.resnet_init(jax.random.key(0), D=3, M=5)
      >>> hv = mcalc.resnet_hvp(p, jnp.ones((4, 3)), jnp.ones(4), p)
      >>> {k: a.shape for k, a in hv.items()}
      {'W0': (5, 3), 'W1': (3, 5), 'w2': (3,)}
    """
    p, d, X, y, acts = _hvp_inputs("mcalc.resnet_hvp", params, X, y, V)
    return _r_delta_rule(p, d, X, acts, acts.g - y)


def resnet_gauss_newton_hvp(params: Params, X: jax.Array, y: jax.Array, V: Params) -> Params:
    """The Gauss-Newton approximation ``JᵀJ V`` of :func:`resnet_hvp`, ``J = ∂g/∂θ``.

    .. math:: G\\,V = J^\\top (J V), \\qquad J = \\frac{\\partial g}{\\partial \\theta}

    For the squared loss ``L = ½ Σ (g_i - y_i)²``, ``∇²L = JᵀJ + Σ_i r_i ∇²g_i``
    with residuals ``r = g - y``; Gauss-Newton keeps the first term, positive
    semi-definite, and drops the curvature of the network weighted by the
    residuals. It is :func:`resnet_hvp` with ``r`` set to zero: ``Rδ = σ'(a)² Ra``
    (``J V = σ'(a) Ra`` back-propagated through ``σ'(a)``), and every term carrying
    ``δ`` gone. Exact where the residuals vanish; NOT the Hessian elsewhere. It is
    the Hessian of the loss of the network linearised at ``params``, which is how
    ``mcalc verify`` checks it.

    Args:
      params: ``{"W0": [M, D], "W1": [D, M], "w2": [D]}``.
      X: ``[N, D]``; y: ``[N]`` (unused by the formula, checked for shape).
      V: the direction, a dict shaped like ``params``.

    Returns:
      A dict shaped like ``params``.

    Raises:
      ValueError: on malformed ``params`` or ``V``, or shapes that do not fit.

    Example:
      >>> import jax, jax.numpy as jnp, mcalc
      >>> p = mcalc.resnet_init(jax.random.key(0), D=3, M=5)
      >>> gv = mcalc.resnet_gauss_newton_hvp(p, jnp.ones((4, 3)), jnp.ones(4), p)
      >>> float(sum(jnp.vdot(gv[k], p[k]) for k in p)) >= 0  # vᵀ G v = ‖J v‖² >= 0
      True
    """
    p, d, X, _, acts = _hvp_inputs("mcalc.resnet_gauss_newton_hvp", params, X, y, V)
    return _r_delta_rule(p, d, X, acts, 0.0)


def _loss_linearised(params, params0, X, y):
    """The loss of the network linearised at ``params0``: its Hessian in ``params`` is ``JᵀJ``."""

    def g(p):
        return resnet_forward(p, X)

    g0, Jd = jax.jvp(g, (params0,), (jax.tree_util.tree_map(jnp.subtract, params, params0),))
    return 0.5 * jnp.sum((g0 + Jd - y) ** 2)


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


_FORMULA = r"\tfrac12\sum_i(\sigma(w_2^\top(x_i + \sigma(W_1\sigma(W_0 x_i)))) - y_i)^2"


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
        formula=_FORMULA,
        grad_formula=grad_formula,
        wrt=name,
    )


def _sample_params(key, dtype, *, linearised: bool = False):
    W0, W1, w2, X, y = _sample(key, dtype)
    params = {"W0": W0, "W1": W1, "w2": w2}
    return (params, params, X, y) if linearised else (params, X, y)


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
    Derivation(
        name="resnet_hvp",
        problem="P7",
        f=resnet_loss,
        grad=resnet_hvp,
        argnum=0,
        sample=_sample_params,
        formula=_FORMULA,
        grad_formula=r"\nabla^2 L\,V\ (\text{R-operator of the delta rule})",
        wrt="params",
        kind="hvp",
    ),
    Derivation(
        name="resnet_gauss_newton_hvp",
        problem="P7",
        f=_loss_linearised,
        grad=lambda params, params0, X, y, V: resnet_gauss_newton_hvp(params0, X, y, V),
        argnum=0,
        sample=lambda key, dtype: _sample_params(key, dtype, linearised=True),
        formula=r"\tfrac12\sum_i(g_i(\theta_0) + J(\theta - \theta_0) - y_i)^2",
        grad_formula=r"J^\top J V,\ J = \partial g/\partial\theta\ (\text{Gauss-Newton})",
        wrt="params",
        kind="hvp",
    ),
)
