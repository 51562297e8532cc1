"""The cookbook's registry: its entries, their samplers' conditions, second-order entries against
jax.hessian / forward-over-reverse and finite differences, published forms, lookups and the
selection of `mcalc verify`.

Every gradient entry is verified in float32 and float64 by the full `mcalc verify` run of
test_cookbook_page.py (one run for the acceptance and the page's errors).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

import mcalc
from mcalc.cli import main
from mcalc.cookbook import CONDITIONS, entries, get, search
from mcalc.cookbook._page import parse_measurements
from mcalc.cookbook._registry import SECTIONS
from mcalc.verify._select import match_names
from mcalc.verify._verify import builtin_derivations

ENTRIES = entries()
SECOND_ORDER = [e for e in ENTRIES.values() if e.kind != "gradient"]


def _draw(e, t=0, dtype=np.float64, sample=None):
    args = (sample or e.sample)(jax.random.fold_in(jax.random.key(0), t), dtype)
    return jax.tree_util.tree_map(
        lambda a: jnp.asarray(a) if isinstance(a, np.ndarray) else a, args
    )


# -- the registry ------------------------------------------------------------------------


def test_size_sections_and_second_order_coverage():
    assert len(ENTRIES) >= 150
    assert [s.key for s in mcalc.cookbook.sections()] == [s.key for s in SECTIONS]
    for s in SECTIONS:
        members = [e for e in ENTRIES.values() if e.section == s.key]
        assert members, s.key
        # the bar: at least one Hessian or HVP per section
        assert any(e.kind in ("hessian", "hvp") for e in members), s.key
    for name in ("attention_Q", "attention_K", "attention_V", "layernorm_x", "ridge",
                 "huber_regression", "lasso_smooth", "rayleigh_quotient", "matrix_factorization_U",
                 "softmax_cross_entropy", "logsumexp", "logistic_pm1", "gauss_covariance",
                 "gauss_precision", "gauss_mean", "nuclear_norm", "spectral_norm", "pnorm_3",
                 "frobenius_norm", "eig_max", "logdet_spd", "det_X", "inv_bilinear",
                 "trace_kron_AX"):  # fmt: skip
        assert name in ENTRIES, name


def test_names_are_unique_and_do_not_collide():
    names = list(ENTRIES)
    assert len({n.lower() for n in names}) == len(names)  # page anchors are lower case
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", n) for n in names)
    # The problems section holds the problems' own records, not copies.
    for name, d in mcalc.derivations().items():
        assert ENTRIES[name].derivation is d and ENTRIES[name].section == "problems"


def test_metadata_of_every_entry():
    for e in ENTRIES.values():
        assert e.title and e.source and e.formula and e.grad_formula and e.note, e.name
        assert "\n" not in e.note, e.name  # a one-line note
        assert set(e.conditions) <= set(CONDITIONS), e.name
        assert e.kind in ("gradient", "hessian", "hvp")
        for c in re.findall(r"Matrix Cookbook \(2012\), eq\. (\([^)]*\))", e.source):
            assert re.fullmatch(r"\(\d+\)", c), (e.name, e.source)
        assert "spec/" not in e.source + e.note


def test_an_unknown_condition_or_kind_is_refused():
    e = ENTRIES["det_X"]
    with pytest.raises(ValueError, match="unknown conditions"):
        dataclasses.replace(e, conditions=("nice",))
    with pytest.raises(ValueError, match="kind must be one of"):
        dataclasses.replace(e, derivation=dataclasses.replace(e.derivation, kind="jacobian"))


# -- samplers meet their conditions --------------------------------------------------------


def _matrices(args):
    return [np.asarray(a) for a in jax.tree_util.tree_leaves(args) if np.ndim(a) == 2]


def _square(args):
    """Square matrices among the arguments; a stack of them (the Σ_k of a mixture) enters as its
    block-diagonal matrix, which is symmetric or positive definite when every block is."""
    out = [A for A in _matrices(args) if A.shape[0] == A.shape[1]]
    for a in jax.tree_util.tree_leaves(args):
        if np.ndim(a) == 3 and a.shape[1] == a.shape[2]:
            out.append(scipy.linalg.block_diag(*np.asarray(a)))
    return out


def _vectors(args):
    return [np.asarray(a) for a in jax.tree_util.tree_leaves(args) if np.ndim(a) >= 1]


def _sym(A):
    return np.array_equal(A, A.T)


PREDICATES = {
    "square": lambda args, x: x.ndim == 2 and x.shape[0] == x.shape[1],
    "invertible": lambda args, x: any(np.linalg.cond(A) < 30 for A in _square(args)),
    "symmetric": lambda args, x: any(_sym(A) for A in _square(args)),
    "spd": lambda args, x: any(_sym(A) and np.linalg.eigvalsh(A)[0] > 0.4 for A in _square(args)),
    "simple_eigenvalues": lambda args, x: any(
        _sym(A) and np.min(np.diff(np.linalg.eigvalsh(A)), initial=1.0) > 0.4 for A in _square(args)
    ),
    "simple_singular_values": lambda args, x: (
        np.min(-np.diff(np.linalg.svd(x, compute_uv=False)), initial=1.0) > 0.25
        and np.linalg.svd(x, compute_uv=False)[-1] > 0.4
    ),
    "diagonal": lambda args, x: np.array_equal(x, np.diag(np.diag(x))) and np.all(np.diag(x) != 0),
    "lower_triangular": lambda args, x: np.array_equal(x, np.tril(x)) and np.all(np.diag(x) != 0),
    "orthogonal": lambda args, x: np.allclose(x.T @ x, np.eye(x.shape[1]), atol=1e-12),
    "invertible_combination": lambda args, x: True,  # checked per entry below
    "full_column_rank": lambda args, x: (
        x.shape[0] >= x.shape[1] and np.linalg.matrix_rank(x) == x.shape[1]
    ),
    "full_row_rank": lambda args, x: (
        x.shape[1] >= x.shape[0] and np.linalg.matrix_rank(x) == x.shape[0]
    ),
    "nonzero": lambda args, x: np.linalg.norm(x) > 0.1,
    "nonzero_entries": lambda args, x: np.min(np.abs(x)) >= 0.29,
    "unique_max": lambda args, x: _gap(x) >= 0.29,
    "simplex": lambda args, x: any(
        np.all(v >= 0) and np.allclose(v.sum(axis=-1), 1) for v in _vectors(args)
    ),
    "labels_pm1": lambda args, x: any(np.all(np.isin(v, (-1, 1))) for v in _vectors(args)),
    "labels_01": lambda args, x: any(np.all(np.isin(v, (0, 1))) for v in _vectors(args)),
    "away_from_kinks": lambda args, x: True,  # checked per entry below
    "positive_definite_part": lambda args, x: any(
        np.linalg.eigvalsh(A + A.T)[0] > 0.5 for A in _square(args)
    ),
}


def _gap(x):
    x = np.asarray(x)
    if x.ndim == 2:  # matrix max-norms: absolute column (or row) sums, whichever is tested
        sums = [np.sort(np.abs(x).sum(axis=a))[::-1] for a in (0, 1)]
        return max(s[0] - s[1] if len(s) > 1 else 1.0 for s in sums)
    s = np.sort(np.abs(x))[::-1]
    return s[0] - s[1] if len(s) > 1 else 1.0


def test_every_predicate_names_a_condition():
    assert set(PREDICATES) == set(CONDITIONS)


@pytest.mark.parametrize("section", [s.key for s in SECTIONS])
def test_samplers_draw_valid_inputs(section):
    for e in entries(section).values():
        shapes = set()
        # The problems' own samplers draw with jax.random (compiles per shape) and have their
        # own tests: one draw each here.
        for t in range(1 if section == "problems" else 3):
            args = _draw(e, t)
            x = np.asarray(args[e.argnum]) if not isinstance(args[e.argnum], dict) else None
            for c in e.conditions:
                assert x is not None and PREDICATES[c](args, x), (e.name, c, t)
            shapes.add(str(jax.tree_util.tree_map(np.shape, args)))
            assert all(np.all(np.isfinite(a)) for a in jax.tree_util.tree_leaves(args))
        if e.section != "problems":  # several random sizes
            assert len(shapes) >= 2, e.name
    for e in (ENTRIES["huber_regression"], ENTRIES["huber_residual"]):
        for t in range(3):
            args = _draw(e, t)
            r = args[0] if e.name == "huber_residual" else args[2] - args[1] @ args[0]
            assert np.min(np.abs(np.abs(r) - 1.0)) >= 0.09, e.name  # δ = 1
    for t in range(3):
        w, X, y = _draw(ENTRIES["squared_hinge"], t)
        assert np.min(np.abs(y * (X @ w) - 1)) >= 0.04
        X, A, B = _draw(ENTRIES["det_AXB"], t)
        assert np.linalg.cond(A @ X @ B) < 30
        X, A = _draw(ENTRIES["trace_inv_X_plus_A"], t)
        assert np.linalg.cond(X + A) < 30
        U, A, V, _ = _draw(ENTRIES["inv_lowrank_update"], t)
        assert np.linalg.cond(A + U @ V.T) < 30


def test_samplers_cast_to_the_dtype_asked_for():
    for name in ("det_X", "logistic_bias", "gmm_means", "logdet_spd"):
        args = ENTRIES[name].sample(jax.random.key(1), np.float32)
        leaves = [a for a in jax.tree_util.tree_leaves(args) if hasattr(a, "dtype")]
        assert leaves and all(a.dtype == np.float32 for a in leaves), name
    (S,) = ENTRIES["logdet_spd"].sample(jax.random.key(1), np.float32)
    assert np.array_equal(S, S.T)  # exactly symmetric in float32 too


def test_closed_forms_keep_the_callers_dtype():
    # Traced only (no compile): a float32 input gives a float32 derivative, even with x64 on --
    # no NumPy float64 constant slips into a closed form.
    for e in ENTRIES.values():
        args = _draw(e, dtype=np.float32)
        extra = (jax.tree.map(jnp.zeros_like, args[e.argnum]),) if e.kind == "hvp" else ()
        out = jax.eval_shape(e.grad, *args, *extra)
        assert {leaf.dtype for leaf in jax.tree_util.tree_leaves(out)} == {np.dtype("float32")}, (
            e.name
        )
        assert jax.eval_shape(e.f, *args).dtype == jnp.float32, e.name


# -- second-order entries: against jax.hessian / forward-over-reverse and finite differences ----


def _second_order_check(e):
    """One compiled program: the closed form, autodiff (jax.hessian or forward-over-reverse) and
    central differences of jax.grad along every coordinate (Hessian) or along v (HVP)."""
    i, h = e.argnum, 1e-5

    def at(args, x):
        return (*args[:i], x, *args[i + 1 :])

    def run(args, v):
        x = args[i]
        grad = jax.grad(e.f, argnums=i)
        if e.kind == "hessian":
            got = e.grad(*args)
            ref = jax.hessian(e.f, argnums=i)(*args)
            steps = jnp.eye(x.size, dtype=x.dtype).reshape((x.size, *x.shape)) * h
            diff = jax.vmap(lambda d: grad(*at(args, x + d)) - grad(*at(args, x - d)))(steps)
            fd = jnp.moveaxis(
                diff.reshape(x.shape + x.shape),
                tuple(range(x.ndim)),
                tuple(range(x.ndim, 2 * x.ndim)),
            ) / (2 * h)
        else:  # the argument may be a pytree (the residual network's parameters)
            got = e.grad(*args, v)
            ref = jax.jvp(lambda z: grad(*at(args, z)), (x,), (v,))[1]
            plus = grad(*at(args, jax.tree.map(lambda a, b: a + h * b, x, v)))
            minus = grad(*at(args, jax.tree.map(lambda a, b: a - h * b, x, v)))
            fd = jax.tree.map(lambda a, b: (a - b) / (2 * h), plus, minus)
        return got, ref, fd

    return jax.jit(run)


@pytest.mark.parametrize("e", SECOND_ORDER, ids=lambda e: e.name)
def test_second_order_entries_match_autodiff_and_finite_differences(e):
    args = _draw(e)
    rng = np.random.default_rng(0)
    v = jax.tree.map(lambda a: jnp.asarray(rng.standard_normal(np.shape(a))), args[e.argnum])
    out = _second_order_check(e)(args, v)
    for t in out:  # each shaped like the argument (HVP) or arg.shape + arg.shape (Hessian)
        assert jax.tree.structure(t) == jax.tree.structure(out[1]), e.name
    got, ref, fd = (np.concatenate([np.ravel(a) for a in jax.tree.leaves(t)]) for t in out)
    scale = np.max(np.abs(ref))
    x = np.asarray(args[e.argnum]) if e.kind == "hessian" else None
    if e.kind == "hessian":
        assert np.shape(out[0]) == np.shape(out[1]) == x.shape + x.shape
    assert np.max(np.abs(got - ref)) <= 1e-10 * scale, e.name
    assert np.max(np.abs(got - fd)) <= 1e-6 * scale, e.name
    if e.kind == "hessian":  # symmetric under swapping its two index groups
        n = x.ndim
        perm = tuple(range(n, 2 * n)) + tuple(range(n))
        H = np.asarray(out[0])
        np.testing.assert_allclose(H, np.transpose(H, perm), atol=1e-12 * scale)


def test_a_wrong_hessian_fails_the_measurement():
    e = ENTRIES["ridge_hessian"]
    wrong = dataclasses.replace(e.derivation, grad=lambda w, X, y: 2 * X.T @ X)  # no 2λI
    result = mcalc.verify(derivations=[wrong], dtypes=["float64"], trials=2)
    assert not result.ok
    assert "multiple of the identity" in result.rows[0].diagnosis, result.rows[0].diagnosis


def test_second_order_entries_through_mcalc_verify():
    names = [e.name for e in SECOND_ORDER]
    result = mcalc.verify(names=names, trials=2)
    assert result.ok and len(result.rows) == 2 * len(names)
    assert {r.kind for r in result.rows} == {"hessian", "hvp"}


# -- functions usable in user code -------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "logdet_spd",
        "nuclear_norm",
        "eig_max",
        "gauss_covariance",
        "attention_Q",
        "layernorm_x",
        "resnet_W1",
        "trace_XtBX_hessian",
        "eig_max_hvp",
    ],  # fmt: skip
)
def test_get_gives_functions_that_jit_and_vmap(name):
    e = get(name)
    args = _draw(e)
    extra = ()
    if e.kind == "hvp":
        extra = (jnp.ones_like(args[e.argnum]),)
    direct = e.grad(*args, *extra)
    np.testing.assert_allclose(jax.jit(e.grad)(*args, *extra), direct, rtol=1e-10, atol=1e-12)
    assert np.isfinite(float(jax.jit(e.f)(*args)))
    batch = jax.tree_util.tree_map(lambda a: jnp.stack([a, a]) if hasattr(a, "shape") else a, args)
    extra_batch = tuple(jnp.stack([v, v]) for v in extra)
    mapped = jax.vmap(e.grad)(*batch, *extra_batch)
    np.testing.assert_allclose(mapped[1], direct, rtol=1e-10, atol=1e-12)


def test_get_an_unknown_name_lists_close_matches():
    with pytest.raises(
        ValueError, match=r"no entry is named 'logdet_sdp'\. Did you mean 'logdet_spd'"
    ):
        get("logdet_sdp")
    with pytest.raises(ValueError, match=r"Did you mean .*'det_X'"):
        get("DET_x")
    with pytest.raises(ValueError, match=r"no entry is named 'zzz'\. `mcalc cookbook` lists every"):
        get("zzz")
    with pytest.raises(TypeError, match="name must be a string; got int"):
        get(3)
    with pytest.raises(ValueError, match="unknown section 'trace'.* Did you mean 'traces'"):
        entries("trace")


def test_search():
    assert [e.name for e in search("Kronecker", "trace")] == [
        "trace_kron_AX",
        "trace_kron_XX",
        "trace_kron_form",
    ]
    assert {e.name for e in search("ATTENTION")} >= {"attention_Q", "attention_K", "attention_V"}
    assert [e.name for e in search("Matrix Cookbook (2012), eq. (101)")] == ["trace_AXB"]
    assert search("no such words anywhere") == []
    with pytest.raises(ValueError, match="give one or more non-empty words"):
        search()
    with pytest.raises(ValueError, match="give one or more non-empty words"):
        search("det", " ")


# -- published forms that differ -------------------------------------------------------------


PUBLISHED = [(e, i) for e in ENTRIES.values() for i in range(len(e.published))]
PAGE_MEASUREMENTS = parse_measurements(
    (Path(__file__).resolve().parents[1] / "docs" / "cookbook.md").read_text(encoding="utf-8")
)


def test_the_seed_answers_are_recorded():
    flagged = {e.name for e, _ in PUBLISHED if "worked answers" in e.published[0].source}
    assert flagged == {"gaussian_nll", "quadratic_form", "resnet_h", "resnet_W1"}  # P4, P6, P7


@pytest.mark.parametrize("e, i", PUBLISHED, ids=lambda p: getattr(p, "name", str(p)))
def test_published_forms_are_flagged_with_their_diagnosis(e, i):
    report = mcalc.cookbook.check_published(e)[i]
    assert not report.ok
    assert e.published[i].expect in report.diagnosis
    # ... and docs/cookbook.md shows that diagnosis (numbers aside: they vary in the last digits)
    shown = PAGE_MEASUREMENTS[e.name]["diagnoses"][i]
    number = r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
    assert re.sub(number, "#", shown) == re.sub(number, "#", report.diagnosis)


def test_published_forms_hold_under_their_own_convention():
    # (126) as published is right once B and C are symmetric ...
    from mcalc.cookbook._inverses import _X_C_B_symmetric

    e = ENTRIES["trace_XtCX_inv_XtBX"]
    report = mcalc.check_grad(e.f, e.published[0].grad, sampler=_X_C_B_symmetric, dtype="float64")
    assert report.ok
    # ... and the numerator layout is the transpose of jax.grad's.
    for name in ("det_X", "trace_AXB", "bilinear_aXb"):
        e = ENTRIES[name]
        p = e.published[0]
        report = mcalc.check_grad(
            e.f, lambda *a, p=p: p.grad(*a).T, sampler=e.sample, argnum=e.argnum, dtype="float64"
        )
        assert report.ok, name


# -- `mcalc verify` over the cookbook: selection and second-order entries ---------------------


def test_names_match_exactly_by_glob_or_by_substring():
    names = list(builtin_derivations())
    assert match_names("frobenius", names) == ["frobenius"]  # exact names stay exact
    assert set(match_names("frobenius*", names)) >= {"frobenius", "frobenius_norm_sq"}
    assert set(match_names("det", names)) >= {"det_X", "logdet_spd", "det_inv"}
    assert match_names("DET_X", names) == ["det_X"]  # case is ignored
    assert match_names("*_hvp", names) == [n for n in names if n.endswith("_hvp")]


def test_verify_covers_the_cookbook_and_filters():
    result = mcalc.verify(names=["trace_kron*", "linear_xa"], dtypes=["float64"], trials=2)
    assert result.ok
    assert [r.name for r in result.rows] == ["trace_kron_AX", "trace_kron_XX", "trace_kron_form",
                                             "linear_xa"]  # fmt: skip
    assert {r.problem for r in result.rows} == {"traces", "forms"}


def test_verify_only_nothing_is_an_error_with_close_matches(capsys):
    with pytest.raises(
        ValueError, match=r"no derivation matches 'logdet_sdp' .*close matches: logdet_spd"
    ):
        mcalc.verify(names=["logdet_sdp"])
    with pytest.raises(ValueError, match=r"no derivation matches 'zzz'.*`mcalc cookbook` lists"):
        mcalc.verify(names=["det", "zzz"])
    assert main(["verify", "--only", "zzz"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mcalc verify: error: mcalc.verify: no derivation matches 'zzz'")


@pytest.mark.parametrize(
    "module",
    [
        "mcalc.cookbook",
        "mcalc.cookbook._registry",
        "mcalc.cookbook._measure",
        "mcalc.verify._select",
    ],
)
def test_docstring_examples(module):
    import doctest
    import importlib

    # The examples show JAX's default float32 results, so run them without x64.
    with jax.enable_x64(False):
        result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
