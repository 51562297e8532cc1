"""Standard matrix-calculus identities through mcalc.check_grad: true ones pass, corrupted ones are
flagged with the right diagnosis.

Each identity's closed form cites the Matrix Cookbook (Petersen & Pedersen, 2012), equation numbers
in brackets, in mcalc's layout convention (the gradient has the shape of the argument).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mcalc


@dataclasses.dataclass(frozen=True)
class Identity:
    name: str
    f: Callable
    grad: Callable
    sample: Callable  # (key, dtype) -> args
    argnum: int | tuple[int, ...] = 0


def _normal(key, shape, dtype, scale=1.0):
    return scale * jax.random.normal(key, shape, dtype)


def _sizes(key, n, lo=2, hi=7):
    return [int(s) for s in jax.random.randint(key, (n,), lo, hi)]


def _square(key, dtype, shift=0.0):
    """A random [n, n] matrix; ``shift`` adds ``shift * I`` (well-conditioned), 0 keeps it raw."""
    kn, kx = jax.random.split(key)
    (n,) = _sizes(kn, 1)
    X = _normal(kx, (n, n), dtype) / jnp.sqrt(jnp.asarray(n, dtype))
    return X + shift * jnp.eye(n, dtype=dtype)


def s_trace_AX(key, dtype):
    ks, ka, kx = jax.random.split(key, 3)
    m, n = _sizes(ks, 2)
    return _normal(kx, (m, n), dtype), _normal(ka, (n, m), dtype)


def s_square(key, dtype):
    return (_square(key, dtype),)


def s_square_shifted(key, dtype):
    return (_square(key, dtype, shift=2.0),)


def s_lstsq(key, dtype):
    ks, kx, ka, kb = jax.random.split(key, 4)
    m, n = _sizes(ks, 2)
    return _normal(kx, (n,), dtype), _normal(ka, (m, n), dtype), _normal(kb, (m,), dtype)


def s_bilinear(key, dtype):
    ks, kx, ka, kb = jax.random.split(key, 4)
    m, n = _sizes(ks, 2)
    return _normal(kx, (m, n), dtype), _normal(ka, (m,), dtype), _normal(kb, (n,), dtype)


def s_bilinear_square(key, dtype):
    ks, kx, ka, kb = jax.random.split(key, 4)
    (n,) = _sizes(ks, 1)
    return _normal(kx, (n, n), dtype), _normal(ka, (n,), dtype), _normal(kb, (n,), dtype)


def s_XtAX(key, dtype):
    ks, kx, ka = jax.random.split(key, 3)
    n, k = _sizes(ks, 2)
    return _normal(kx, (n, k), dtype), _normal(ka, (n, n), dtype)


def s_softmax_ce(key, dtype):
    ks, kz, ky = jax.random.split(key, 3)
    N, K = _sizes(ks, 2)
    labels = jax.random.randint(ky, (N,), 0, K)
    return _normal(kz, (N, K), dtype, 2.0), jax.nn.one_hot(labels, K, dtype=dtype)


def s_inv_trace(key, dtype):
    ka, kx = jax.random.split(key)
    X = _square(kx, dtype, shift=2.0)
    return X, _normal(ka, X.shape, dtype)


def s_XAXt(key, dtype):
    ks, kx, ka = jax.random.split(key, 3)
    m, n = _sizes(ks, 2)
    return _normal(kx, (m, n), dtype), _normal(ka, (n, n), dtype)


def s_vector(key, dtype):
    ks, kx = jax.random.split(key)
    (n,) = _sizes(ks, 1)
    return (_normal(kx, (n,), dtype),)


def s_outer(key, dtype):
    ks, ka, kx = jax.random.split(key, 3)
    (n,) = _sizes(ks, 1)
    return _normal(ka, (n, n), dtype), _normal(kx, (n,), dtype)


def s_regression(key, dtype):
    ks, kx, kw, ky = jax.random.split(key, 4)
    N, D, K = _sizes(ks, 3)
    return _normal(kw, (D, K), dtype), _normal(kx, (N, D), dtype), _normal(ky, (N, K), dtype)


def s_AXB(key, dtype):
    ks, ka, kx, kb = jax.random.split(key, 4)
    m, n, p, q = _sizes(ks, 4)
    return _normal(kx, (n, p), dtype), _normal(ka, (m, n), dtype), _normal(kb, (p, q), dtype)


def s_ridge(key, dtype):
    ks, kw, kx, ky = jax.random.split(key, 4)
    N, D = _sizes(ks, 2, 2, 9)
    return _normal(kw, (D,), dtype), _normal(kx, (N, D), dtype), _normal(ky, (N,), dtype), 0.7


def s_inv_bilinear(key, dtype):
    ka, kb, kx = jax.random.split(key, 3)
    X = _square(kx, dtype)
    n = X.shape[0]
    return X, _normal(ka, (n,), dtype), _normal(kb, (n,), dtype)


def s_affine(key, dtype):
    ks, ka, kb, kx, ky = jax.random.split(key, 5)
    N, n, m = _sizes(ks, 3)
    params = {"A": _normal(ka, (m, n), dtype), "b": _normal(kb, (m,), dtype)}
    return params, _normal(kx, (N, n), dtype), _normal(ky, (N, m), dtype)


def s_pair(key, dtype):
    ks, ka, kb = jax.random.split(key, 3)
    m, n = _sizes(ks, 2)
    return _normal(ka, (m, n), dtype), _normal(kb, (n, m), dtype)


def _affine_f(p, X, Y):
    R = X @ p["A"].T + p["b"][None, :] - Y
    return jnp.sum(R * R)


def _affine_grad(p, X, Y):
    R = X @ p["A"].T + p["b"][None, :] - Y
    return {"A": 2 * R.T @ X, "b": 2 * jnp.sum(R, axis=0)}


def _inv(X):
    return jnp.linalg.inv(X)


IDENTITIES = {
    # d tr(AX)/dX = Aᵀ  [cookbook (100)]
    "trace_AX": Identity("trace_AX", lambda X, A: jnp.trace(A @ X), lambda X, A: A.T, s_trace_AX),
    # d log|det X|/dX = X⁻ᵀ  [(57)]; raw Gaussian X: ill-conditioned points happen
    "logdet": Identity("logdet", lambda X: jnp.linalg.slogdet(X)[1], lambda X: _inv(X).T, s_square),
    # d det X/dX = det(X) X⁻ᵀ  [(49)]
    "det": Identity(
        "det", lambda X: jnp.linalg.det(X), lambda X: jnp.linalg.det(X) * _inv(X).T, s_square
    ),
    # d ‖Ax - b‖²/dx = 2Aᵀ(Ax - b)  [(84)]
    "lstsq": Identity(
        "lstsq",
        lambda x, A, b: jnp.sum((A @ x - b) ** 2),
        lambda x, A, b: 2 * A.T @ (A @ x - b),
        s_lstsq,
    ),
    # d aᵀXb/dX = abᵀ  [(70)]
    "bilinear": Identity(
        "bilinear", lambda X, a, b: a @ X @ b, lambda X, a, b: jnp.outer(a, b), s_bilinear
    ),
    # d tr(XᵀAX)/dX = (A + Aᵀ)X  [(108)]
    "trace_XtAX": Identity(
        "trace_XtAX", lambda X, A: jnp.trace(X.T @ A @ X), lambda X, A: (A + A.T) @ X, s_XtAX
    ),
    # d tr(XAXᵀ)/dX = X(A + Aᵀ)  [(117)]
    "trace_XAXt": Identity(
        "trace_XAXt", lambda X, A: jnp.trace(X @ A @ X.T), lambda X, A: X @ (A + A.T), s_XAXt
    ),
    # softmax cross-entropy -Σ Y ⊙ log softmax(Z): softmax(Z) ⊙ rowsum(Y) - Y (= p - y, one-hot Y)
    "softmax_ce": Identity(
        "softmax_ce",
        lambda Z, Y: -jnp.sum(Y * jax.nn.log_softmax(Z, axis=1)),
        lambda Z, Y: jax.nn.softmax(Z, axis=1) * jnp.sum(Y, axis=1, keepdims=True) - Y,
        s_softmax_ce,
    ),
    # d tr(X⁻¹A)/dX = -(X⁻¹AX⁻¹)ᵀ  [(63)]
    "trace_inv": Identity(
        "trace_inv",
        lambda X, A: jnp.trace(_inv(X) @ A),
        lambda X, A: -(_inv(X) @ A @ _inv(X)).T,
        s_inv_trace,
    ),
    # d aᵀX⁻¹b/dX = -X⁻ᵀabᵀX⁻ᵀ  [(61)]; raw Gaussian X
    "inv_bilinear": Identity(
        "inv_bilinear",
        lambda X, a, b: a @ _inv(X) @ b,
        lambda X, a, b: -_inv(X).T @ jnp.outer(a, b) @ _inv(X).T,
        s_inv_bilinear,
    ),
    # d logsumexp(x)/dx = softmax(x)
    "logsumexp": Identity("logsumexp", jax.nn.logsumexp, lambda x: jax.nn.softmax(x), s_vector),
    # d ‖x‖₂/dx = x/‖x‖₂  [(129)]
    "norm": Identity("norm", jnp.linalg.norm, lambda x: x / jnp.linalg.norm(x), s_vector),
    # d xᵀAx/dA = xxᵀ  [(72)]
    "quadratic_A": Identity(
        "quadratic_A", lambda A, x: x @ A @ x, lambda A, x: jnp.outer(x, x), s_outer
    ),
    # d ‖XW - Y‖_F²/dW = 2Xᵀ(XW - Y)
    "regression": Identity(
        "regression",
        lambda W, X, Y: jnp.sum((X @ W - Y) ** 2),
        lambda W, X, Y: 2 * X.T @ (X @ W - Y),
        s_regression,
    ),
    # d ‖AXB‖_F²/dX = 2Aᵀ(AXB)Bᵀ
    "frobenius_AXB": Identity(
        "frobenius_AXB",
        lambda X, A, B: jnp.sum((A @ X @ B) ** 2),
        lambda X, A, B: 2 * A.T @ (A @ X @ B) @ B.T,
        s_AXB,
    ),
    # ridge: d (‖Xw - y‖² + λ‖w‖²)/dw = 2Xᵀ(Xw - y) + 2λw; λ a static Python float
    "ridge": Identity(
        "ridge",
        lambda w, X, y, lam: jnp.sum((X @ w - y) ** 2) + lam * jnp.sum(w * w),
        lambda w, X, y, lam: 2 * X.T @ (X @ w - y) + 2 * lam * w,
        s_ridge,
    ),
    # a pytree argument: an affine map's parameters {"A", "b"}
    "affine_pytree": Identity("affine_pytree", _affine_f, _affine_grad, s_affine),
    # two arguments at once: d tr(AB)/d(A, B) = (Bᵀ, Aᵀ)
    "trace_AB_pair": Identity(
        "trace_AB_pair",
        lambda A, B: jnp.trace(A @ B),
        lambda A, B: (B.T, A.T),
        s_pair,
        argnum=(0, 1),
    ),
}

DTYPES = {"float32": jnp.float32, "float64": jnp.float64}


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("name", list(IDENTITIES))
def test_identity_passes(name, dtype):
    ident = IDENTITIES[name]
    args = ident.sample(jax.random.key(0), DTYPES[dtype])
    report = mcalc.check_grad(ident.f, ident.grad, *args, argnum=ident.argnum)
    assert report.ok, str(report)
    assert report.dtype == dtype
    assert np.isfinite(report.fd_max_rel_error)


def s_square_pair(key, dtype):
    X = _square(key, dtype)
    return X, _normal(jax.random.fold_in(key, 1), X.shape, dtype)


# --- corrupted identities: flagged, with the right diagnosis -----------------------------------

CORRUPTED = [
    # (identity, wrong gradient, sampler or None, regex the diagnosis must match)
    ("trace_AX", lambda X, A: A, s_square_pair, r"off by a transpose"),
    ("logdet", lambda X: _inv(X), s_square_shifted, r"off by a transpose"),
    ("det", lambda X: jnp.linalg.det(X) * _inv(X), s_square_shifted, r"off by a transpose"),
    ("bilinear", lambda X, a, b: jnp.outer(b, a), s_bilinear_square, r"off by a transpose"),
    ("lstsq", lambda x, A, b: -2 * A.T @ (A @ x - b), None, r"off by a sign: claimed = -1"),
    ("lstsq", lambda x, A, b: A.T @ (A @ x - b), None, r"constant factor of 0\.5"),
    ("regression", lambda W, X, Y: 4 * X.T @ (X @ W - Y), None, r"constant factor of 2\b"),
    ("logsumexp", lambda x: -3 * jax.nn.softmax(x), None, r"sign and a constant factor: .*-3"),
    ("trace_XtAX", lambda X, A: 2 * A @ X, None, r"right only for symmetric inputs.*A"),
    ("trace_XAXt", lambda X, A: 2 * X @ A, None, r"right only for symmetric inputs"),
    ("ridge", lambda w, X, y, lam: 2 * X.T @ (X @ w - y), None, r"misses a term .* w.*λ = 0\.7"),
    ("ridge", lambda w, X, y, lam: 2 * X.T @ (X @ w - y) + 4 * lam * w, None, r"extra term .* w"),
    ("quadratic_A", lambda A, x: jnp.outer(x, x) + A, None, r"extra term proportional to A\b"),
    ("trace_inv", lambda X, A: -(_inv(X) @ A @ _inv(X)), None, r"off by a transpose"),
    ("lstsq", lambda x, A, b: (2 * A.T @ (A @ x - b))[:, None], None, r"shape.*column vector"),
    ("trace_AX", lambda X, A: A, s_trace_AX, r"shape.*transpose.*transposed back it agrees"),
    ("bilinear", lambda X, a, b: jnp.outer(a, b)[None], None, r"shape.*extra leading axis"),
    ("norm", lambda x: jnp.zeros_like(x), None, r"zero where jax.grad is not"),
]


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("case", range(len(CORRUPTED)))
def test_corrupted_identity_is_flagged_with_its_diagnosis(case, dtype):
    name, wrong, sample, pattern = CORRUPTED[case]
    ident = IDENTITIES[name]
    sample = sample or ident.sample
    args = sample(jax.random.key(case), DTYPES[dtype])
    report = mcalc.check_grad(ident.f, wrong, *args, argnum=ident.argnum)
    assert not report.ok
    assert re.search(pattern, report.diagnosis), report.diagnosis


# --- no false alarms -------------------------------------------------------------------------------


_CHECKS = {"gradient": mcalc.check_grad, "hessian": mcalc.check_hessian, "hvp": mcalc.check_hvp}


def _cases():
    for name, d in mcalc.derivations().items():
        yield name, d.f, d.grad, d.sample, d.argnum, d.kind
    for name, i in IDENTITIES.items():
        yield name, i.f, i.grad, i.sample, i.argnum, "gradient"


@pytest.mark.slow
def test_no_true_identity_is_ever_flagged():
    """Every built-in derivation and every identity above, at 24 random points per dtype.

    4 seeds, each a random size and point from the sampler (keys 0..3) and 5 random points
    near it, in float32 and float64: the default tolerances never flag a true identity
    (2 seeds for the second-order closed forms, checked as Hessians or HVPs).
    (Each new size compiles; a wider offline sweep, 36 sampler draws per identity, agreed.)
    """
    failures = []
    for name, f, grad, sample, argnum, kind in _cases():
        # Second-order checks compile bigger programs: 2 sizes each keeps the test's time.
        for size in range(4 if kind == "gradient" else 2):
            with jax.enable_x64(True):
                args64 = sample(jax.random.key(size), jnp.float64)
            for dtype in DTYPES.values():
                args = jax.tree.map(lambda a, dt=dtype: np.asarray(a).astype(dt), args64)
                report = _CHECKS[kind](f, grad, *args, argnum=argnum, trials=6, seed=size)
                if not report.ok or any(t.status != "pass" for t in report.trials):
                    failures.append(f"{name} size {size} {report.dtype}:\n{report}")
    assert not failures, "\n\n".join(failures)
