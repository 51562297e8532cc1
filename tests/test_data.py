"""Data: synthetic generators, bundled scikit-learn sets, CSV/NPZ files, the split, and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

import mcalc
from mcalc.config import load_config
from mcalc.data import load_data


def _cfg(task="p2", **over):
    return load_config(task, over)


def _synthetic(task, **over):
    base = {"data.source": "synthetic", "data.n_samples": 120, "data.n_features": 4}
    if task == "p3":
        base["data.relabel"] = "none"
    return _cfg(task, **{**base, **over})


# ----------------------------------------------------------------------------- synthetic


@pytest.mark.parametrize(
    "task, labels", [("p2", {0.0, 1.0}), ("p3", {-1.0, 1.0}), ("p7", {0.0, 1.0})]
)
def test_synthetic_classification_labels_and_shapes(task, labels):
    ds = load_data(_synthetic(task))
    assert ds.X_train.shape == (96, 4) and ds.X_test.shape == (24, 4)
    assert set(np.unique(ds.y_train)) | set(np.unique(ds.y_test)) == labels
    both = np.concatenate([ds.y_train, ds.y_test])
    assert 0.2 < np.mean(both == max(labels)) < 0.8  # both classes well represented


def test_synthetic_regression_follows_a_linear_model():
    ds = load_data(_synthetic("p4", **{"data.noise": 0.1, "data.n_samples": 400}))
    res = mcalc.least_squares(ds.X_train, ds.y_train)
    assert float(res.sigma2) < 0.1  # residual variance ~ noise² = 0.01 (features standardised)


def test_synthetic_is_seeded():
    a, b = load_data(_synthetic("p7")), load_data(_synthetic("p7"))
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    c = load_data(_synthetic("p7", **{"data.seed": 1}))
    assert not np.array_equal(a.X_train, c.X_train)


def test_noise_zero_gives_linearly_separable_p2_data():
    # Independent check: a perceptron reaches 100% training accuracy only on separable data.
    from sklearn.linear_model import Perceptron

    ds = load_data(_synthetic("p2", **{"data.noise": 0.0, "data.test_fraction": 0.0}))
    clf = Perceptron(fit_intercept=False, max_iter=10_000, tol=None, random_state=0)
    assert clf.fit(ds.X_train, ds.y_train).score(ds.X_train, ds.y_train) == 1.0
    noisy = load_data(_synthetic("p2", **{"data.noise": 2.0, "data.test_fraction": 0.0}))
    assert clf.fit(noisy.X_train, noisy.y_train).score(noisy.X_train, noisy.y_train) < 1.0


# ----------------------------------------------------------------------------- real data


def test_breast_cancer_and_diabetes_are_bundled():
    bc = load_data(_cfg("p2"))
    assert (bc.n_train, bc.n_test, bc.dim) == (455, 114, 30)
    assert set(np.unique(bc.y_train)) == {0.0, 1.0}
    assert bc.feature_names[0] == "mean radius"
    db = load_data(_cfg("p4"))
    assert (db.n_train + db.n_test, db.n_features, db.dim) == (442, 10, 11)  # + intercept
    assert db.feature_names[-1] == "intercept"


def test_p3_maps_breast_cancer_labels_only_when_asked():
    ds = load_data(_cfg("p3"))  # the default config sets data.relabel=to_pm1
    assert set(np.unique(ds.y_train)) == {-1.0, 1.0}
    with pytest.raises(
        ValueError,
        match=r"task p3 needs labels in \{-1, 1\}; the labels of breast_cancer .* are \{0, 1\}\. Set data.relabel=to_pm1",
    ):
        load_data(_cfg("p3", **{"data.relabel": "none"}))


def test_split_is_seeded_disjoint_and_complete():
    a = load_data(_cfg("p2", **{"data.standardize": False}))
    b = load_data(_cfg("p2", **{"data.standardize": False}))
    np.testing.assert_array_equal(a.X_test, b.X_test)
    rows = {tuple(r) for r in np.vstack([a.X_train, a.X_test])}
    assert len(rows) == 569  # every sample once (breast cancer has no duplicate rows)
    c = load_data(_cfg("p2", **{"data.standardize": False, "data.seed": 5}))
    assert not np.array_equal(a.X_test, c.X_test)


def test_standardisation_uses_the_training_split_only():
    ds = load_data(_cfg("p2"))
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(ds.X_train.std(axis=0), 1, rtol=1e-12)
    raw = load_data(_cfg("p2", **{"data.standardize": False}))
    np.testing.assert_allclose(
        ds.X_test, (raw.X_test - raw.X_train.mean(0)) / raw.X_train.std(0), rtol=1e-12
    )
    assert np.abs(ds.X_test.mean(axis=0)).max() > 1e-3  # test statistics are not refitted


def test_intercept_column_is_last_ones_and_not_standardised():
    ds = load_data(_cfg("p2", **{"data.intercept": True}))
    assert ds.dim == 31 and ds.intercept
    np.testing.assert_array_equal(ds.X_train[:, -1], 1.0)
    np.testing.assert_array_equal(ds.X_test[:, -1], 1.0)


def test_dtype_follows_the_config():
    ds = load_data(_cfg("p7"))
    assert ds.X_train.dtype == np.float32 and ds.y_test.dtype == np.float32
    assert load_data(_cfg("p2")).X_train.dtype == np.float64


def test_no_test_split():
    ds = load_data(_cfg("p2", **{"data.test_fraction": 0.0}))
    assert ds.n_test == 0 and ds.X_test.shape == (0, 30)


# ----------------------------------------------------------------------------- files


def test_csv_with_header_target_by_name_and_index(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,label,b\n1,0,2\n3,1,4\n5,0,6\n7,1,8\n9,1,0\n")
    cfg = _cfg(
        "p2",
        **{
            "data.source": "csv",
            "data.path": str(path),
            "data.target": "label",
            "data.standardize": False,
            "data.test_fraction": 0.0,
        },
    )
    ds = load_data(cfg)
    assert ds.feature_names == ("a", "b")
    np.testing.assert_array_equal(ds.X_train[:, 0], [1, 3, 5, 7, 9])
    np.testing.assert_array_equal(ds.y_train, [0, 1, 0, 1, 1])
    by_index = load_data(load_config(cfg, ["data.target=1"]))
    np.testing.assert_array_equal(by_index.y_train, ds.y_train)


def test_csv_without_header_uses_the_last_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("1.5,2,10\n3,4,20\n5,6,30\n")
    ds = load_data(
        _cfg(
            "p4",
            **{
                "data.source": "csv",
                "data.path": str(path),
                "data.intercept": False,
                "data.standardize": False,
                "data.test_fraction": 0.0,
            },
        )
    )
    np.testing.assert_array_equal(ds.y_train, [10, 20, 30])
    np.testing.assert_array_equal(ds.X_train[0], [1.5, 2])


def test_npz_with_custom_label_key(tmp_path):
    path = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    np.savez(path, X=rng.normal(size=(20, 3)), target=rng.integers(0, 2, 20))
    ds = load_data(
        _cfg("p7", **{"data.source": "npz", "data.path": str(path), "data.target": "target"})
    )
    assert ds.dim == 3 and ds.n_train + ds.n_test == 20


# ----------------------------------------------------------------------------- bad inputs


def _csv(tmp_path, text, **over):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    return _cfg(over.pop("task", "p2"), **{"data.source": "csv", "data.path": str(path), **over})


def _npz(tmp_path, task="p2", **arrays):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return _cfg(task, **{"data.source": "npz", "data.path": str(path)})


def test_nan_in_csv_is_an_error_naming_where(tmp_path):
    cfg = _csv(tmp_path, "a,b,y\n1,2,0\n3,,1\n5,6,0\n")
    with pytest.raises(
        ValueError,
        match=r"X \(the features of CSV bad.csv .*\) must be finite; found 1 NaN/Inf value\(s\), the first at index \(1, 1\)",
    ):
        load_data(cfg)


def test_inf_in_npz_labels_is_an_error(tmp_path):
    cfg = _npz(tmp_path, "p4", X=np.ones((4, 2)), y=np.array([1.0, np.inf, 2.0, 3.0]))
    with pytest.raises(
        ValueError, match=r"y \(the labels of NPZ bad.npz\) must be finite; found 1 NaN/Inf"
    ):
        load_data(cfg)


def test_labels_outside_the_tasks_set_are_an_error(tmp_path):
    cfg = _npz(tmp_path, "p2", X=np.ones((4, 2)), y=np.array([0, 1, 2, 1]))
    with pytest.raises(
        ValueError,
        match=r"task p2 needs labels in \{0, 1\}; the labels of NPZ bad.npz are \{0, 1, 2\}",
    ):
        load_data(cfg)


def test_pm1_labels_for_p2_suggest_relabel(tmp_path):
    cfg = _npz(tmp_path, "p2", X=np.ones((4, 2)), y=np.array([-1, 1, 1, -1]))
    with pytest.raises(ValueError, match=r"Set data.relabel=to_01 to map \{-1, 1\} to \{0, 1\}"):
        load_data(cfg)


def test_relabel_of_labels_it_does_not_map_is_an_error(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, X=np.ones((4, 2)), y=np.array([0, 1, 2, 1]))
    cfg = _cfg("p3", **{"data.source": "npz", "data.path": str(path)})  # p3 default: relabel=to_pm1
    with pytest.raises(
        ValueError,
        match=r"data.relabel=to_pm1 maps labels \{0, 1\} to \{-1, 1\}, but the labels of NPZ bad.npz are \{0, 1, 2\}",
    ):
        load_data(cfg)


def test_feature_count_must_match_the_model():
    with pytest.raises(
        ValueError,
        match=r"model.n_features=3, but breast_cancer .* has 30 features\. Set model.n_features=30",
    ):
        load_data(_cfg("p2", **{"model.n_features": 3}))
    assert load_data(_cfg("p2", **{"model.n_features": 30})).n_features == 30


@pytest.mark.parametrize(
    "text, over, match",
    [
        ("a,b,y\n1,x,0\n", {}, r"line 2, column 'b': 'x' is not a number"),
        ("1,2,0\n3,4\n", {}, r"line 2: expected 3 cells, got 2"),
        (
            "a,b,y\n1,2,0\n",
            {"data.target": "z"},
            r"data.target 'z' is not a column of .*its columns are a, b, y",
        ),
        ("1,2,0\n", {"data.target": "7"}, r"data.target '7' is out of range for 3 columns"),
        ("a,b,y\n", {}, r"has a header but no data rows"),
        ("", {}, r"CSV file .* is empty"),
        ("1\n2\n", {}, r"needs at least two columns .* separated by commas, semicolons or tabs"),
    ],
)
def test_malformed_csv_is_an_error(tmp_path, text, over, match):
    with pytest.raises(ValueError, match=match):
        load_data(_csv(tmp_path, text, **over))


def test_missing_files_and_keys(tmp_path):
    with pytest.raises(
        ValueError, match=r"data.path '.*nothere.csv' does not exist \(data.source=csv\)"
    ):
        load_data(_cfg("p2", **{"data.source": "csv", "data.path": str(tmp_path / "nothere.csv")}))
    with pytest.raises(ValueError, match=r"NPZ file .* has no array 'y'; it holds X, labels"):
        load_data(_npz(tmp_path, X=np.ones((3, 2)), labels=np.zeros(3)))
    with pytest.raises(
        ValueError, match=r"NPZ array 'X' of .* must be 2-D \[N, D\]; got shape \(3,\)"
    ):
        load_data(_npz(tmp_path, X=np.ones(3), y=np.zeros(3)))
    with pytest.raises(ValueError, match=r"NPZ array 'y' of .* must be 1-D with N = 3 entries"):
        load_data(_npz(tmp_path, X=np.ones((3, 2)), y=np.zeros(4)))
    with pytest.raises(ValueError, match=r"cannot read NPZ file"):
        load_data(_npz(tmp_path, X=np.array([{"a": 1}], dtype=object), y=np.zeros(1)))


@pytest.mark.parametrize("sep", [";", "\t", ","])
def test_csv_delimiter_is_detected(tmp_path, sep):
    text = (
        sep.join(["a", "b", "y"])
        + "\n"
        + "\n".join(sep.join(r) for r in [["1.5", "2", "0"], ["3", "4", "1"], ["5", "6", "1"]])
    )
    cfg = _csv(tmp_path, text + "\n", **{"data.standardize": False, "data.test_fraction": 0.0})
    ds = load_data(cfg)
    assert ds.feature_names == ("a", "b") and ds.target == "y"
    np.testing.assert_array_equal(ds.X_train[0], [1.5, 2])
    np.testing.assert_array_equal(ds.y_train, [0, 1, 1])


def test_a_file_that_is_not_an_npz_archive(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((3, 2)))
    (tmp_path / "a.npy").rename(tmp_path / "single.npz")
    with pytest.raises(
        ValueError, match=r"is not an NPZ file \(a single .npy array\); save one with numpy.savez"
    ):
        load_data(_cfg("p2", **{"data.source": "npz", "data.path": str(tmp_path / "single.npz")}))
    (tmp_path / "text.npz").write_text("x,y\n1,2\n")
    with pytest.raises(ValueError, match=r"is not an NPZ file \(not a zip archive\)"):
        load_data(_cfg("p2", **{"data.source": "npz", "data.path": str(tmp_path / "text.npz")}))
    with pytest.raises(ValueError, match=r"data.path .* is a folder, not an NPZ file"):
        load_data(_cfg("p2", **{"data.source": "npz", "data.path": str(tmp_path)}))


def test_split_without_training_samples_is_an_error():
    cfg = _synthetic("p2", **{"data.n_samples": 2, "data.test_fraction": 0.9})
    with pytest.raises(
        ValueError, match=r"data.test_fraction=0.9 leaves no training sample of the 2 samples"
    ):
        load_data(cfg)


def test_public_names():
    assert mcalc.load_data is load_data
    assert mcalc.Dataset is mcalc.data.Dataset
