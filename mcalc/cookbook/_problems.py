"""The seven problems mcalc grew from, as cookbook entries, with the wrong worked answers recorded.

The entries are the derivations of :func:`mcalc.derivations` themselves (the same
records ``mcalc verify`` checks), with the cookbook's metadata added here. The
worked answers mcalc grew from were wrong in problems 4, 6 and 7: each wrong answer
is transcribed as code in a :class:`Published` record of the entry it claims to
give, so the checker's diagnosis of it is reproducible.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp

from ..problems import derivations as problem_derivations
from ..problems import logistic_l2, logistic_l2_hessian
from ..problems._p2_logistic import _LAM
from ..problems._p2_logistic import _sample as _logistic_sample
from ..problems._p4_gaussian import _SIGMA2
from ._entry import Entry, Published, make
from ._samplers import sampler

SECTION = "problems"
SEED = "the worked answers mcalc grew from"
COOKBOOK = "Matrix Cookbook (2012), eq. "
sigmoid = jax.nn.sigmoid


def _dsigmoid(t):
    return sigmoid(t) * (1 - sigmoid(t))


# -- the wrong worked answers, as code ------------------------------------------------------


def _p4_seed_factor(w, X, y):
    """d(-ln P)/dw with ln P written as -(1/√(2πσ²)) Σ (y_i - wᵀx_i)²/(2σ²): an extra factor."""
    return -((y - X @ w) @ X) / _SIGMA2 / math.sqrt(2 * math.pi * _SIGMA2)


def _p4_seed_one_sample(w, X, y):
    """The same with the sum dropped, as written: one sample (y, x) stands for all of them."""
    return -(y[0] - X[0] @ w) * X[0] / _SIGMA2 / math.sqrt(2 * math.pi * _SIGMA2)


def _p6_seed_2Xw(w, X):
    """The answer Xw + wᵀX read as Xw + Xw."""
    return 2 * X @ w


def _p6_seed_literal(w, X):
    """Xw + wᵀX with w a column [D, 1]: a column plus a row broadcasts to [D, D]."""
    w = w[:, None]
    return X @ w + w.T @ X


def _p7a_seed(E, params, X, y):
    """(a): (g(x) - y_j) σ(w_{2,j} h_j)(1 - σ(w_{2,j} h_j)) w_{2,j}.

    The sigmoid's derivative at one term w_{2,j} h_j of the pre-activation instead of the
    whole w2ᵀh, and the target indexed by the node j instead of the sample i.
    """
    w2 = params["w2"]
    H = X + sigmoid(sigmoid(X @ params["W0"].T) @ params["W1"].T) + E
    g = sigmoid(H @ w2)
    s = sigmoid(w2[None, :] * H)
    return (g[:, None] - y[None, : w2.shape[0]]) * s * (1 - s) * w2[None, :]


def _p7b_seed(W0, W1, w2, X, y):
    """(b): (g(x_d) - y_d) σ'(w_{2,d} h(x_d)) w_{2,d} σ'(w_{1,d,m} z_d) z_d.

    No sum over samples (the sample index is d), σ' at w_{1,d,m} z_d instead of
    u_d = Σ_m w_{1,d,m} z_m, and z_d at the end instead of z_m.
    """
    Z = sigmoid(X @ W0.T)
    H = X + sigmoid(Z @ W1.T)
    g = sigmoid(H @ w2)
    d = jnp.arange(w2.shape[0])
    z_d = Z[d, d]
    outer = (g[d] - y[d]) * _dsigmoid(w2 * H[d, d]) * w2
    return outer[:, None] * _dsigmoid(W1 * z_d[:, None]) * z_d[:, None]


# The literal transcriptions index samples and hidden units by the input index d, so
# they need N >= D and M >= D: their own inputs, of fixed sizes.
_N, _D, _M = 8, 4, 6


def _resnet_params(d):
    return {
        "W0": d.normal(_M, _D, scale=1 / math.sqrt(_D)),
        "W1": d.normal(_D, _M, scale=1 / math.sqrt(_M)),
        "w2": d.normal(_D, scale=1 / math.sqrt(_D)),
    }


@sampler
def _p7a_sample(d):
    return d.normal(_N, _D, scale=0.1), _resnet_params(d), d.normal(_N, _D), d.labels_01(_N)


@sampler
def _p7b_sample(d):
    p = _resnet_params(d)
    return p["W0"], p["W1"], p["w2"], d.normal(_N, _D), d.labels_01(_N)


P4_WHY = (
    "The worked answer takes the log of the product into a product with the normaliser "
    "1/√(2πσ²) instead of a sum of logs, drops the sum over samples (one (x, y) for all), and "
    "ends by 'inverting' the vector x: w = (x⁻¹)ᵀyᵀ, which has no meaning. The right answer is "
    "the normal equations XᵀXw = Xᵀy."
)

PUBLISHED: dict[str, tuple[Published, ...]] = {
    "gaussian_nll": (
        Published(
            source=SEED + " (problem 4)",
            formula=r"-\tfrac{1}{\sqrt{2\pi\sigma^2}}\tfrac{1}{\sigma^2}X^\top(y - Xw)",
            why=P4_WHY + " With the sum restored, the normaliser is left as a spurious factor.",
            grad=_p4_seed_factor,
            expect="factor",
        ),
        Published(
            source=SEED + " (problem 4, as written)",
            formula=r"-\tfrac{1}{\sqrt{2\pi\sigma^2}}\tfrac{1}{\sigma^2}(y - w^\top x)\,x",
            why=P4_WHY,
            grad=_p4_seed_one_sample,
            expect="no transpose, sign, constant factor",
        ),
    ),
    "quadratic_form": (
        Published(
            source=SEED + " (problem 6), read as 2Xw",
            formula="Xw + w^\\top X \\to 2Xw",
            why="wᵀX is a row vector; turned into a column it is Xᵀw, not Xw. The answer "
            "is right only for symmetric X.",
            grad=_p6_seed_2Xw,
            expect="right only for symmetric inputs",
        ),
        Published(
            source=SEED + " (problem 6), as written",
            formula="Xw + w^\\top X",
            why="A column vector plus a row vector: as arrays it broadcasts to a [D, D] matrix.",
            grad=_p6_seed_literal,
            expect="column vector plus a row vector",
        ),
    ),
    "resnet_h": (
        Published(
            source=SEED + " (problem 7a)",
            formula=r"(g - y_j)\,\sigma'(w_{2,j}h_j)\,w_{2,j}",
            why="σ' is taken at one term w_{2,j}h_j of the pre-activation instead of the whole "
            "a = w2ᵀh, and the target is indexed by the node j instead of the sample.",
            grad=_p7a_seed,
            expect="no transpose, sign, constant factor",
            sample=_p7a_sample,
        ),
    ),
    "resnet_W1": (
        Published(
            source=SEED + " (problem 7b)",
            formula=r"(g(x_d) - y_d)\,\sigma'(w_{2,d}h(x_d))\,w_{2,d}\,\sigma'(w_{1,d,m}z_d)\,z_d",
            why="The sum over samples is dropped (d indexes samples and units at once), σ' is "
            "taken at w_{1,d,m}z_d instead of u_d = Σ_m w_{1,d,m}z_m, and the answer ends with "
            "z_d instead of z_m.",
            grad=_p7b_seed,
            expect="no transpose, sign, constant factor",
            sample=_p7b_sample,
        ),
    ),
}


# -- metadata of the problem derivations ------------------------------------------------------

_P1 = dict(
    title="trace of a matrix power (P1)",
    conditions=("square",),
    note="k (X^{k-1})ᵀ, computed by repeated squaring in O(log k) products.",
    source=COOKBOOK + "(121); (106) for k = 2",
)

META: dict[str, dict] = {
    **{f"trace_power_k{k}": _P1 for k in (0, 1, 2, 3, 7)},
    "logistic_l2": dict(
        title="L2-regularised logistic regression (P2)",
        conditions=("labels_01",),
        note="λ = 0.7; the loss is evaluated as Σ softplus(a) - y a, stable for large |a|.",
        source="Bishop, Pattern Recognition and Machine Learning (2006), §4.3.2",
    ),
    "bipolar_squared": dict(
        title="bipolar sigmoid with squared loss (P3)",
        conditions=("labels_pm1",),
        note="f = tanh(a/2) = 2σ(a) - 1, df/da = (1 - f²)/2.",
        source="derived here",
    ),
    "gaussian_nll": dict(
        title="Gaussian likelihood of linear regression (P4)",
        note="σ² = 0.8; zero at the least-squares solution XᵀXw = Xᵀy.",
        source="Bishop, Pattern Recognition and Machine Learning (2006), §3.1.1",
    ),
    "frobenius": dict(
        title="Frobenius inner product (P5)",
        note="Any shape, square or not.",
        source=COOKBOOK + "(103)",
    ),
    "frobenius_norm_sq": dict(
        title="squared Frobenius norm (P5)",
        note="‖A‖_F² = ⟨A, A⟩ = tr(AᵀA): twice A.",
        source=COOKBOOK + "(115)",
    ),
    "quadratic_form": dict(
        title="quadratic form, in the vector (P6)",
        note="(X + Xᵀ)w for any square X; 2Xw only for symmetric X.",
        source=COOKBOOK + "(81)",
    ),
    "quadratic_form_X": dict(
        title="quadratic form, in the matrix (P6)",
        note="wᵀXw = ⟨wwᵀ, X⟩ is linear in X.",
        source=COOKBOOK + "(72)",
    ),
    **{
        f"resnet_{p}": dict(
            title=f"residual network, in {p} (P7)",
            conditions=("labels_01",),
            note="The delta rule: each layer's error is the next one's, through its weights, "
            "times σ' at the layer's own pre-activation.",
            source="Rumelhart, Hinton & Williams, 'Learning representations by back-propagating "
            "errors', Nature 323 (1986)",
        )
        for p in ("W0", "W1", "w2")
    },
    **{
        f"trace_power_hvp_k{k}": dict(
            title=f"Hessian-vector product of tr(X^{k}) (P1)",
            conditions=("square",),
            note="k Σ_j (X^j V X^{k-2-j})ᵀ: the directional derivative of k (X^{k-1})ᵀ along V.",
            source="derived here (the product rule on X^{k-1})",
        )
        for k in (3, 7)
    },
    "logistic_l2_hessian": dict(
        title="Hessian of L2-regularised logistic regression (P2)",
        conditions=("labels_01",),
        note="Xᵀ S X + 2λI, S = diag(σ(1-σ)): positive definite for λ > 0 (strictly convex).",
        source="Bishop, Pattern Recognition and Machine Learning (2006), §4.3.3",
    ),
    "bipolar_squared_hessian": dict(
        title="Hessian of the bipolar sigmoid's squared loss (P3)",
        conditions=("labels_pm1",),
        note="Xᵀ diag(f'² + (f - y) f'') X with f' = (1 - f²)/2: indefinite where f - y is large.",
        source="derived here",
    ),
    "gaussian_nll_hessian": dict(
        title="Hessian of the Gaussian likelihood of linear regression (P4)",
        note="XᵀX/σ², constant in w: the NLL is a quadratic, minimised by the normal equations.",
        source="Bishop, Pattern Recognition and Machine Learning (2006), §3.1.1",
    ),
    "quadratic_form_hessian": dict(
        title="Hessian of a quadratic form (P6)",
        note="X + Xᵀ for any square X (2X only when X is symmetric).",
        source=COOKBOOK + "(81), differentiated once more",
    ),
    "resnet_hvp": dict(
        title="Hessian-vector product of the residual network (P7)",
        note="The R-operator of the delta rule: forward and backward passes along a direction "
        "of the parameters, exact.",
        source="Pearlmutter, 'Fast exact multiplication by the Hessian', Neural Computation 6 "
        "(1994)",
    ),
    "resnet_gauss_newton_hvp": dict(
        title="Gauss-Newton Hessian-vector product of the residual network (P7)",
        note="JᵀJ v alone: the Hessian of the network linearised at the point, positive "
        "semi-definite; the second-order term Σ rᵢ ∇²rᵢ of the residuals is left out.",
        source="Schraudolph, 'Fast curvature matrix-vector products for second-order gradient "
        "descent', Neural Computation 14 (2002)",
    ),
    "resnet_h": dict(
        title="residual network, in the residual block's output (P7a)",
        conditions=("labels_01",),
        note="Checked as the gradient in an offset E added to h; at E = 0 it is ∂L/∂h.",
        source="Rumelhart, Hinton & Williams (1986)",
    ),
}


def _entry(d) -> Entry:
    meta = META.get(d.name, dict(title=f"{d.name} ({d.problem})"))
    return Entry(
        derivation=d,
        section=SECTION,
        title=meta["title"],
        conditions=meta.get("conditions", ()),
        note=meta.get("note", ""),
        source=meta.get("source", "derived here"),
        published=PUBLISHED.get(d.name, ()),
    )


def _extra() -> list[Entry]:
    """Second-order entries of the problems that the problems' own registry does not hold."""
    hessian = make(
        SECTION,
        "logistic_l2_hessian",
        "Hessian of L2-regularised logistic regression (P2)",
        lambda w, X, y: logistic_l2(w, X, y, lam=_LAM),
        lambda w, X, y: logistic_l2_hessian(w, X, y, lam=_LAM),
        _logistic_sample,
        r"\sum_i[\operatorname{softplus}(x_i^\top w) - y_i x_i^\top w] + \lambda\|w\|^2",
        r"X^\top\operatorname{diag}\big(\sigma(Xw)\odot(1 - \sigma(Xw))\big)X + 2\lambda I",
        "w",
        conditions=("labels_01",),
        kind="hessian",
        note="Positive definite for λ > 0: the loss is strictly convex; Newton's method.",
        source="Bishop, Pattern Recognition and Machine Learning (2006), §4.3.3",
    )
    return [
        dataclasses.replace(
            hessian, derivation=dataclasses.replace(hessian.derivation, problem="P2")
        )
    ]


@functools.cache
def entries() -> tuple[Entry, ...]:
    """The problems' derivations (whatever :func:`mcalc.derivations` holds) and the extras."""
    registered = problem_derivations()
    out = [_entry(d) for d in registered.values()]
    out += [e for e in _extra() if e.name not in registered]
    return tuple(out)
