"""PyTorch functions through mcalc.check_grad / check_hessian / check_hvp: ``torch.autograd`` in
float64 is the reference, finite differences the second opinion. Skipped without PyTorch.

The hand derivations are Rosenbrock's (SciPy's ``rosen_der`` transcribed to torch) and closed forms.
"""

from __future__ import annotations

import numpy as np
import pytest

import mcalc

torch = pytest.importorskip("torch")


def rosen(x):
    return torch.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosen_der(x):
    der = torch.zeros_like(x)
    xm, xm_m1, xm_p1 = x[1:-1], x[:-2], x[2:]
    der[1:-1] = 200 * (xm - xm_m1**2) - 400 * (xm_p1 - xm**2) * xm - 2 * (1 - xm)
    der[0] = -400 * x[0] * (x[1] - x[0] ** 2) - 2 * (1 - x[0])
    der[-1] = 200 * (x[-1] - x[-2] ** 2)
    return der


def rosen_hess(x):
    n = x.shape[0]
    H = torch.diag(-400 * x[:-1], 1) + torch.diag(-400 * x[:-1], -1)
    diag = torch.zeros(n, dtype=x.dtype)
    diag[0] = 1200 * x[0] ** 2 - 400 * x[1] + 2
    diag[-1] = 200.0
    diag[1:-1] = 202 + 1200 * x[1:-1] ** 2 - 400 * x[2:]
    return H + torch.diag(diag)


X = torch.tensor(np.random.default_rng(0).standard_normal(6))


def test_torch_gradient_against_autograd():
    report = mcalc.check_grad(rosen, rosen_der, X)
    assert report.ok and report.reference == "torch.autograd"
    assert report.max_rel_error < 1e-12 and report.dtype == "float64"
    assert str(report).startswith("check_grad ok: rosen_der vs torch.autograd(rosen) in x")
    wrong = mcalc.check_grad(rosen, lambda x: -rosen_der(x), X)
    assert "off by a sign: claimed = -1 × torch.autograd" in wrong.diagnosis


def test_torch_float32_and_the_claimed_type_is_the_callers():
    x = X.float()
    report = mcalc.check_grad(rosen, lambda x: rosen_der(x).numpy(), x)  # NumPy out is fine
    assert report.ok and report.dtype == "float32" and report.max_rel_error < 1e-5


def test_torch_hessian_and_hvp():
    assert mcalc.check_hessian(rosen, rosen_hess, X).ok
    report = mcalc.check_hessian(rosen, lambda x: rosen_hess(x) - 2 * torch.eye(6), X)
    assert "misses a multiple of the identity: claimed - torch.autograd = -2 × I" in (
        report.diagnosis
    )
    assert mcalc.check_hvp(rosen, lambda x, v: rosen_hess(x) @ v, X).ok
    factor = mcalc.check_hvp(rosen, lambda x, v: 3 * rosen_hess(x) @ v, X)
    assert "off by a constant factor of 3" in factor.diagnosis


def test_torch_code_autograd_cannot_follow_is_checked_against_finite_differences():
    def f(x):  # through NumPy: the result does not require grad
        return torch.tensor(float(np.sum(np.sin(x.detach().numpy()))))

    report = mcalc.check_grad(f, lambda x: torch.cos(x), X)
    assert report.ok and report.reference == "finite differences"
    assert any("torch.autograd cannot differentiate f" in n for n in report.notes)
