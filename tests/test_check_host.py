"""NumPy and SciPy code through mcalc.check_grad / check_hessian / check_hvp: finite differences
alone are the reference, with the same diagnoses as against jax.grad.

The reference derivatives are SciPy's own (``scipy.optimize.rosen_der``, ``rosen_hess``,
``rosen_hess_prod``) and closed forms (the Matrix Cookbook); every corruption below is one a hand
derivation makes: a sign, a factor, a transpose, a dropped penalty term.
"""

from __future__ import annotations

import numpy as np
import pytest

import mcalc

so = pytest.importorskip("scipy.optimize")

RNG = np.random.default_rng(0)
X6 = RNG.standard_normal(6)
LAM = 0.3


def rosen_l2(x):
    """Rosenbrock plus a penalty λ‖x‖²: its gradient and Hessian have a 2λ term to forget."""
    return so.rosen(x) + LAM * np.dot(x, x)


def rosen_mat(X):
    """Rosenbrock of a 2x3 matrix argument (row-major), so that a transpose can go wrong."""
    return so.rosen(np.asarray(X).reshape(-1))


def rosen_mat_der(X):
    return so.rosen_der(np.asarray(X).reshape(-1)).reshape(np.shape(X))


def rosen_mat_hess(X):
    n = np.size(X)
    return so.rosen_hess(np.asarray(X).reshape(-1)).reshape(np.shape(X) * 2 if n else ())


# --- the gradient ---------------------------------------------------------------------------------


def test_rosen_gradient_passes_and_says_its_reference():
    report = mcalc.check_grad(so.rosen, so.rosen_der, X6)
    assert report.ok and report.reference == "finite differences"
    assert report.fd_method == "reference" and report.max_rel_error < 1e-7
    text = str(report)
    assert text.startswith("check_grad ok: rosen_der vs finite differences of rosen in x, float64")
    assert "the reference is float64 Richardson-extrapolated central differences alone" in text
    assert "TracerArrayConversionError" in text  # why JAX could not be used


@pytest.mark.parametrize(
    ("claimed", "expected"),
    [
        (lambda x: -so.rosen_der(x), "off by a sign: claimed = -1 × finite differences"),
        (lambda x: 2 * so.rosen_der(x), "off by a constant factor of 2"),
    ],
    ids=["sign", "factor"],
)
def test_rosen_gradient_corrupted(claimed, expected):
    report = mcalc.check_grad(so.rosen, claimed, X6)
    assert not report.ok and expected in report.diagnosis


def test_a_dropped_penalty_term_is_named_with_its_coefficient():
    report = mcalc.check_grad(rosen_l2, so.rosen_der, X6)
    assert not report.ok
    assert "misses a term proportional to x: claimed - finite differences = -0.6 × x" in (
        report.diagnosis
    )
    assert "λ = 0.3" in report.diagnosis
    assert mcalc.check_grad(rosen_l2, lambda x: so.rosen_der(x) + 2 * LAM * x, X6).ok


def test_a_transposed_gradient_of_a_matrix_argument():
    X = RNG.standard_normal((3, 3)) / 2
    assert mcalc.check_grad(rosen_mat, rosen_mat_der, X).ok
    report = mcalc.check_grad(rosen_mat, lambda X: rosen_mat_der(X).T, X)
    assert "off by a transpose: claimed = (finite differences)ᵀ" in report.diagnosis


def test_symmetric_only_shortcut_in_numpy():
    A = RNG.standard_normal((4, 4))

    def f(w, A):
        return float(w @ A @ np.asarray(w))

    w = RNG.standard_normal(4)
    assert mcalc.check_grad(f, lambda w, A: (A + A.T) @ w, w, A).ok
    report = mcalc.check_grad(f, lambda w, A: 2 * A @ w, w, A)
    assert "right only for symmetric inputs" in report.diagnosis


def test_float32_arguments_are_judged_at_float32_tolerance():
    x = X6.astype(np.float32)
    report = mcalc.check_grad(so.rosen, so.rosen_der, x)
    assert report.ok and report.dtype == "float32"
    assert 1e-9 < report.max_rel_error < 1e-5


# --- batching: a NumPy f is called on whole batches of points when it takes them ----------------


class Counted:
    """``f`` with a count of its calls and of the points it evaluated."""

    def __init__(self, f):
        self.f, self.calls, self.points = f, 0, 0

    def __call__(self, x):
        self.calls += 1
        out = self.f(x)
        self.points += int(np.size(out))
        return out


def test_a_batchable_f_of_256_entries_is_called_in_batches():
    x = RNG.standard_normal(256)
    f = Counted(so.rosen)  # takes a batch along a trailing axis, as SciPy documents
    report = mcalc.check_grad(f, so.rosen_der, x)
    assert report.ok and "in batches along a trailing axis" in report.notes[0]
    # Every entry differenced at the first point (2 per entry), 8 directions at the others.
    assert f.points >= 2 * 256 + 4 * 16
    assert f.calls < 40  # a loop would make one call per point: over 600


def test_a_leading_batch_axis_is_found_too():
    def f(x):  # reduces over the last axis only: takes a leading batch axis
        return np.sum(np.sin(np.asarray(x)) ** 2, axis=-1)

    counted = Counted(f)
    report = mcalc.check_grad(counted, lambda x: np.sin(2 * x), RNG.standard_normal(50))
    assert report.ok and "along a leading axis" in report.notes[0] and counted.calls < 40


def test_an_f_that_takes_no_batch_is_looped_and_still_right():
    def f(x):  # np.dot of a 2-D batch is a matrix: no batch layout matches single calls
        x = np.asarray(x)
        return float(np.dot(x.ravel(), x.ravel()) + np.sum(np.cos(x)))

    report = mcalc.check_grad(f, lambda x: 2 * x - np.sin(x), RNG.standard_normal(5))
    assert report.ok and "one call per point" in report.notes[0]


# --- second order ---------------------------------------------------------------------------------


def test_rosen_hessian_passes_and_corruptions_are_diagnosed():
    assert mcalc.check_hessian(so.rosen, so.rosen_hess, X6).ok
    sign = mcalc.check_hessian(so.rosen, lambda x: -so.rosen_hess(x), X6)
    assert "off by a sign" in sign.diagnosis
    factor = mcalc.check_hessian(so.rosen, lambda x: 0.5 * so.rosen_hess(x), X6)
    assert "off by a constant factor of 0.5" in factor.diagnosis
    dropped = mcalc.check_hessian(rosen_l2, so.rosen_hess, X6)
    assert "misses a multiple of the identity: claimed - finite differences = -0.6 × I" in (
        dropped.diagnosis
    )
    assert "λ‖x‖² with λ = 0.3" in dropped.diagnosis


def test_rosen_hessian_of_a_matrix_argument_transposed():
    X = RNG.standard_normal((2, 2)) / 2
    assert mcalc.check_hessian(rosen_mat, rosen_mat_hess, X).ok
    report = mcalc.check_hessian(rosen_mat, lambda X: rosen_mat_hess(X).transpose(1, 0, 2, 3), X)
    assert "off by a transpose of one index pair" in report.diagnosis


def test_rosen_hessian_vector_product():
    assert mcalc.check_hvp(so.rosen, so.rosen_hess_prod, X6).ok
    report = mcalc.check_hvp(so.rosen, lambda x, v: so.rosen_hess_prod(x, v) + 1.5 * v, X6)
    assert "has an extra multiple of the identity: claimed - finite differences = 1.5 × v" in (
        report.diagnosis
    )


def test_errors_of_numpy_functions_say_which_one_raised():
    def broken(x):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom") as info:
        mcalc.check_grad(so.rosen, broken, X6)
    assert any("raised by grad_f at the given arguments" in n for n in info.value.__notes__)
