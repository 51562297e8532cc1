"""Central finite differences in float64, Richardson-extrapolated, with their own error estimates.

Two uses. Beside autodiff (JAX, PyTorch) they are an independent second opinion,
compared along the rows ``D`` of a direction matrix: every unit vector for
arguments of up to ``FD_FULL_MAX`` entries, random directions beyond. Where ``f``
is plain NumPy/SciPy they are the reference itself: the gradient entry by entry,
the Hessian from mixed second differences, a Hessian-vector product from mixed
differences along ``v``.

A difference quotient ``D(h)`` of a smooth ``f`` has an error series in even
powers of ``h``; ``(4 D(h) - D(2h)) / 3`` cancels the ``h²`` term (truncation
``O(h⁴)``), and ``|D(h) - D(2h)|`` bounds what is left. Where ``D(h)`` and
``D(2h)`` disagree by more than 1 %, ``f`` is not smooth on the scale of the
step (a kink, a nearby singularity) and the estimate is not used.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = [
    "FD_FULL_MAX",
    "FD_DIRECTIONS",
    "leaf_scales",
    "steps",
    "richardson",
    "host_gradient",
    "host_second",
]

FD_FULL_MAX = 256  # entries up to which every entry gets its own central difference
FD_DIRECTIONS = 8  # random directional derivatives for larger arguments
_SMOOTH = 0.01  # D(h) and D(2h) within 1 %: f is smooth on the scale of the step


def _pow2(h: np.ndarray) -> np.ndarray:
    return 2.0 ** np.round(np.log2(h))


def _rms(a: np.ndarray) -> float:
    flat = np.asarray(a, np.float64).ravel()
    return float(np.sqrt(np.dot(flat, flat) / flat.size)) if flat.size else 0.0


def leaf_scales(leaves: list[np.ndarray]) -> list[float]:
    """The RMS of each leaf; an all-zero leaf gets the geometric mean of the others (else 1)."""
    rms = [_rms(a) for a in leaves]
    nonzero = [s for s in rms if s > 0]
    fallback = float(np.exp(np.mean(np.log(nonzero)))) if nonzero else 1.0
    return [s or fallback for s in rms]


def entry_scales(leaves: list[np.ndarray], floor: float = 1.0) -> np.ndarray:
    """Per entry: its magnitude, at least ``floor`` times its leaf's RMS (flat)."""
    scales = leaf_scales(leaves)
    return np.concatenate(
        [np.maximum(np.abs(a).ravel(), floor * s) for a, s in zip(leaves, scales, strict=True)]
    )


def steps(
    leaves: list[np.ndarray],
    eps_f: float,
    rng: np.random.Generator,
    *,
    full_max: int | None = None,
    directions: int = FD_DIRECTIONS,
):
    """Central-difference directions and steps: ``(P, units, D)``.

    ``D`` (rows) are the directions: every unit vector for arguments of up to
    ``full_max`` (default ``FD_FULL_MAX``) entries, else ``directions`` random
    directions. Each direction gets two steps, the rows of ``P = [units_long * D;
    units_short * D]``: ``eps_f^(1/5)`` times the entry's scale, optimal for the
    Richardson-extrapolated difference (truncation ``O(h^4)``, rounding
    ``O(eps_f / h)``), and a short one, ``eps_f^(1/3)`` times it, which stays clear
    of a nearby singularity (an ill-conditioned matrix). An entry's scale is its
    magnitude, at least its leaf's RMS (1 % of it for the short step); steps are
    powers of two.
    """
    full_max = FD_FULL_MAX if full_max is None else full_max
    scales = leaf_scales(leaves)
    n = sum(a.size for a in leaves)
    long, short = eps_f**0.2, eps_f ** (1 / 3)
    if n <= full_max:
        units = np.concatenate(
            [_pow2(long * entry_scales(leaves)), _pow2(short * entry_scales(leaves, 0.01))]
        )
        D = np.eye(n)
    else:
        D = np.concatenate(
            [
                sc * rng.standard_normal((directions, a.size))
                for a, sc in zip(leaves, scales, strict=True)
            ],
            axis=1,
        )
        units = np.repeat([long, short], directions)
    return np.concatenate([D, D]) * units[:, None], units, D


def richardson(fs: np.ndarray, units: np.ndarray, eps_f: float, denom: np.ndarray):
    """Derivative estimates from evaluations at ``x ± P_k``, ``x ± 2 P_k``.

    Args:
      fs: ``[4 M, q]`` (or ``[4 M]``): the evaluations at ``x + P``, ``x - P``,
        ``x + 2P``, ``x - 2P``, each block in the order of the ``M = 2 m`` rows of
        ``P`` (the long steps, then the short ones).
      units: ``[M]`` the step of each row.
      eps_f: the relative rounding of one evaluation.
      denom: ``[m, q]`` the scale an estimate is judged on (for the 1e-9 agreement
        between the long and the short step).

    Returns:
      ``(fd, fd_err, usable)``, each ``[m, q]``: the estimate (the long step's where
      ``f`` is smooth on its scale and it agrees with the short one, else the short
      step's), a bound on its error, and whether either step was smooth.
    """
    fs = fs.reshape(fs.shape[0], -1)
    M = units.shape[0]
    m = M // 2
    u = units[:, None]
    fp, fm, f2p, f2m = fs[:M], fs[M : 2 * M], fs[2 * M : 3 * M], fs[3 * M :]
    d1 = (fp - fm) / 2
    d2 = (f2p - f2m) / 4
    est = (4 * d1 - d2) / 3 / u  # truncation error O(h^4)
    # |D(h) - D(2h)| bounds the truncation error; the rest is rounding in f.
    rounding = 4 * eps_f * (np.abs(fp) + np.abs(fm) + np.abs(f2p) + np.abs(f2m))
    err = (np.abs(d1 - d2) + rounding) / u
    smooth = np.abs(d1 - d2) <= _SMOOTH * np.maximum(np.abs(d1), np.abs(d2)) + rounding
    # The long step is the accurate one where f is smooth on its scale; it must also agree
    # with the short one, which sees f on a scale about 100 times finer.
    agree = np.abs(est[:m] - est[m:]) <= err[:m] + err[m:] + 1e-9 * denom
    use_long = smooth[:m] & (agree | ~smooth[m:])
    fd = np.where(use_long, est[:m], est[m:])
    fd_err = np.where(use_long, err[:m], err[m:])
    return fd, fd_err, use_long | smooth[m:]


def bound(fd_err: np.ndarray, denom: np.ndarray, eps_f: float) -> np.ndarray:
    """How far a right derivative may be from a finite-difference estimate."""
    return fd_err + max(1e-7, 1e3 * eps_f**0.8) * denom


# ---------------------------------------------------------------------------
# Finite differences as the reference (f is NumPy/SciPy code)


def _along_axes(
    x: np.ndarray, shifts: list[tuple[tuple[np.ndarray, np.ndarray], ...]]
) -> np.ndarray:
    """Points ``x`` moved along coordinate axes: for each entry of ``shifts`` in turn, a block
    of ``m`` points, point ``i`` moved by ``s[i]`` along axis ``r[i]`` for each ``(r, s)`` of
    the entry (two for a mixed second difference). ``[len(shifts) * m, n]``, made in one
    allocation (no ``eye(n)``, no products with it) and stored point-last: the transpose of
    a C-ordered ``[n, K]``, the layout in which a NumPy ``f`` that takes a batch along a
    trailing axis is called, so no copy is made for it."""
    m = len(shifts[0][0][0])
    pts = np.repeat(x[:, None], len(shifts) * m, axis=1)
    at = np.arange(m)
    for block, moves in enumerate(shifts):
        for r, s in moves:  # one axis at a time: r[i] == r'[i] adds both moves
            pts[r, block * m + at] += s
    return pts.T


def _levels(
    fmany: Callable,
    x: np.ndarray,
    A: np.ndarray | tuple[np.ndarray, np.ndarray],
    B: np.ndarray | tuple[np.ndarray, np.ndarray] | None,
):
    """``f`` at ``x ± A_r`` (first order) or ``x ± A_r ± B_r`` (second), steps ×1 and ×2.

    ``A`` (and ``B``) are step matrices ``[m, n]``, or ``(axes, steps)``: row ``r`` is
    ``steps[r]`` along coordinate axis ``axes[r]``, built without an ``[m, n]`` matrix."""
    if isinstance(A, tuple):
        (ra, ua) = A
        if B is None:
            shifts = [((ra, c * ua),) for c in (1, -1, 2, -2)]
        else:
            (rb, ub) = B
            shifts = [
                ((ra, c * a * ua), (rb, c * b * ub))
                for c in (1, 2)
                for a, b in ((1, 1), (1, -1), (-1, 1), (-1, -1))
            ]
        return fmany(_along_axes(x, shifts)).reshape(len(shifts), -1)
    if B is None:
        pts = [x + A, x - A, x + 2 * A, x - 2 * A]
    else:
        pts = [
            x + s * (a * A + b * B) for s in (1, 2) for a, b in ((1, 1), (1, -1), (-1, 1), (-1, -1))
        ]
    return fmany(np.concatenate(pts)).reshape(len(pts), -1)


def host_gradient(
    fmany: Callable[[np.ndarray], np.ndarray],
    leaves: list[np.ndarray],
    eps_f: float,
    D: np.ndarray | None = None,
    claimed: np.ndarray | None = None,
    slack: np.ndarray | float = 0.0,
):
    """The gradient of ``f`` at ``x`` (the flat ``leaves``), or its projections on the rows of ``D``.

    First a plain central difference per row (2 evaluations of ``f``), at
    ``eps_f^(1/3)`` times each entry's scale (its error ``O(eps_f^(2/3))``, about
    ``4e-11`` in float64). A row where it matches the ``claimed`` projection
    within ``slack`` is settled: a wrong derivative does not match a difference
    quotient to that precision by chance. Every other row gets the Richardson
    treatment: the long steps (``eps_f^(1/5)``), and the short ones (``eps_f^(1/3)``,
    down to 1 % of the scale) where the long one is not smooth or disagrees, each
    with its error bound. A right gradient costs 2 evaluations per row.

    Returns:
      ``(fd, fd_err, usable, evaluations)``, the first three ``[m]``.
    """
    x = np.concatenate([a.ravel() for a in leaves])
    long, short = eps_f**0.2, eps_f ** (1 / 3)
    full = D is None
    if full:
        m = x.size
        u_long = _pow2(long * entry_scales(leaves))
        u_short = _pow2(short * entry_scales(leaves, 0.01))
        u_central = _pow2(short * entry_scales(leaves))
    else:  # random directions, already on the scale of each leaf
        m = D.shape[0]
        u_long = np.full(m, long)
        u_short = u_central = np.full(m, short)

    def levels(rows: np.ndarray, u: np.ndarray) -> np.ndarray:
        return _levels(fmany, x, (rows, u[rows]) if full else D[rows] * u[rows, None], None)

    # The claimed projections: the entries themselves along unit vectors (no BLAS product).
    proj = None if claimed is None else (claimed if full else D @ claimed)
    fd, fd_err = np.zeros(m), np.zeros(m)
    usable = np.ones(m, bool)
    need = np.ones(m, bool)
    evaluations = 0
    if claimed is not None:
        if full:
            axes = np.arange(m)
            pts = _along_axes(x, [((axes, u_central),), ((axes, -u_central),)])
        else:
            A = D * u_central[:, None]
            pts = np.concatenate([x + A, x - A])
        fp, fm = fmany(pts).reshape(2, -1)
        evaluations += 2 * m
        fd = (fp - fm) / 2 / u_central
        fd_err = 4 * eps_f * (np.abs(fp) + np.abs(fm)) / u_central
        need = np.abs(proj - fd) > slack + fd_err
    if need.any():
        rows = np.flatnonzero(need)
        f_long = levels(rows, u_long)
        evaluations += f_long.size
        est_l, err_l, smooth_l = _single(f_long, u_long[rows], eps_f)
        fd[rows], fd_err[rows], usable[rows] = est_l, err_l, smooth_l
        again = ~smooth_l
        if claimed is not None:
            again |= np.abs(proj[rows] - est_l) > np.broadcast_to(slack, (m,))[rows] + err_l
        if again.any():
            sub = rows[again]
            f_short = levels(sub, u_short)
            evaluations += f_short.size
            est_s, err_s, smooth_s = _single(f_short, u_short[sub], eps_f)
            el, er = est_l[again], err_l[again]
            agree = np.abs(el - est_s) <= er + err_s + 1e-9 * np.abs(el)
            use_long = smooth_l[again] & (agree | ~smooth_s)
            fd[sub] = np.where(use_long, el, est_s)
            fd_err[sub] = np.where(use_long, er, err_s)
            usable[sub] = use_long | smooth_s
    return fd, fd_err, usable, evaluations


def _single(fs: np.ndarray, units: np.ndarray, eps_f: float):
    fp, fm, f2p, f2m = fs
    d1 = (fp - fm) / 2
    d2 = (f2p - f2m) / 4
    rounding = 4 * eps_f * (np.abs(fp) + np.abs(fm) + np.abs(f2p) + np.abs(f2m))
    smooth = np.abs(d1 - d2) <= _SMOOTH * np.maximum(np.abs(d1), np.abs(d2)) + rounding
    return (4 * d1 - d2) / 3 / units, (np.abs(d1 - d2) + rounding) / units, smooth


def host_second(
    fmany: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    A: np.ndarray | tuple[np.ndarray, np.ndarray],
    B: np.ndarray | tuple[np.ndarray, np.ndarray],
    eps_f: float,
):
    """Mixed second differences: ``a_rᵀ ∇²f b_r`` for the rows of the step matrices ``A`` and ``B``
    (either may be ``(axes, steps)``: steps along coordinate axes).

    ``E(h) = [f(x+a+b) - f(x+a-b) - f(x-a+b) + f(x-a-b)] / 4`` is ``aᵀ∇²f b`` up to
    ``O(h⁴)`` terms (odd orders cancel), so ``(4 E(h) - E(2h)) / 3`` with doubled
    steps leaves ``O(h⁶)``; the rounding of the four values is ``O(eps_f |f|)``.
    Steps near ``eps_f^(1/6)`` times the scale balance the two.

    Returns:
      ``(est, err, smooth)``, each ``[m]``, as multiples of the product of the
      rows' norms: the caller divides by its steps.
    """
    fs = _levels(fmany, x, A, B)
    e1 = (fs[0] - fs[1] - fs[2] + fs[3]) / 4
    e2 = (fs[4] - fs[5] - fs[6] + fs[7]) / 16  # steps doubled: the quotient is 4 times larger
    rounding = eps_f * np.sum(np.abs(fs[:4]), axis=0)
    smooth = np.abs(e1 - e2) <= 10 * _SMOOTH * np.maximum(np.abs(e1), np.abs(e2)) + rounding
    return (4 * e1 - e2) / 3, np.abs(e1 - e2) + rounding, smooth
