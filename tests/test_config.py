"""Configs: the typed schema, embedded defaults, configs/*.yaml, base: chains, overrides, errors."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
import yaml

import mcalc
from mcalc.config import (
    Config,
    ConfigError,
    config_diff,
    default_config,
    load_config,
    to_yaml,
)

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
# Files with a top-level `sweep:` section are sweeps (tests/test_sweep.py covers them).
ALL_CONFIGS = [
    p
    for p in sorted(CONFIGS.glob("*.yaml"))
    if "sweep" not in (yaml.safe_load(p.read_text()) or {})
]
TASKS = ("p2", "p3", "p4", "p7")


def _fields(obj, prefix=""):
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        yield f"{prefix}{f.name}", f, value
        if dataclasses.is_dataclass(value):
            yield from _fields(value, f"{prefix}{f.name}.")


def test_configs_folder_has_every_task_and_variants():
    names = {p.stem for p in ALL_CONFIGS}
    assert set(TASKS) <= names
    assert len(names) > len(TASKS)  # variants exist beside the four defaults


@pytest.mark.parametrize("task", TASKS)
def test_task_yaml_mirrors_embedded_default(task):
    # configs/<task>.yaml is what a user reads; the embedded default is what `mcalc run`
    # trains after `pip install .`: they must be the same config.
    assert load_config(CONFIGS / f"{task}.yaml") == default_config(task)
    assert load_config(task) == default_config(task)


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda p: p.name)
def test_every_config_resolves_and_round_trips(path, tmp_path):
    cfg = load_config(path)
    assert isinstance(cfg, Config)
    assert cfg.name == path.stem  # each experiment names its runs after its file
    again = tmp_path / "again.yaml"
    again.write_text(to_yaml(cfg))
    assert load_config(again) == cfg


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda p: p.name)
def test_every_config_value_is_commented(path):
    # The four defaults comment every line (sections too); variants every value they set.
    strict = path.stem in TASKS
    for line in path.read_text().splitlines():
        code = line.split("#", 1)[0].rstrip()
        if not code or (not strict and code.endswith(":")):
            continue
        assert "#" in line, f"{path.name}: line without a comment: {line!r}"


@pytest.mark.parametrize("task", TASKS)
def test_task_yaml_lists_every_field(task):
    data = yaml.safe_load((CONFIGS / f"{task}.yaml").read_text())
    for key, _, _ in _fields(default_config(task)):
        node = data
        for part in key.split("."):
            assert part in node, f"configs/{task}.yaml lacks {key}"
            node = node[part]


def test_every_schema_field_has_a_one_line_help():
    for key, f, _ in _fields(Config()):
        help_ = f.metadata.get("help", "")
        assert help_ and "\n" not in help_, key


def test_to_yaml_comments_each_field():
    text = to_yaml(default_config("p7"))
    n_fields = sum(1 for _ in _fields(default_config("p7")))
    assert (
        sum(1 for line in text.splitlines() if "  # " in line or line.startswith("#")) == n_fields
    )


def test_default_config_is_fresh_and_rejects_unknown_task():
    a, b = default_config("p2"), default_config("p2")
    a.optimizer.args["momentum"] = 0.5
    assert b.optimizer.args["momentum"] == 0.9
    with pytest.raises(
        ValueError,
        match="task' must be one of p2, p3, p4, p7 or your own as MODULE:NAME or path/to/file.py:NAME; got 'p1'",
    ):
        default_config("p1")


# ----------------------------------------------------------------------------- layering


def test_base_chain_overrides_instead_of_copying(tmp_path):
    (tmp_path / "a.yaml").write_text("task: p4\ntrain: {steps: 77}\nmodel: {sigma2: 2.0}\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\nmodel: {sigma2: 3.0}\n")
    cfg = load_config(tmp_path / "b.yaml")
    assert (cfg.task, cfg.train.steps, cfg.model.sigma2, cfg.name) == ("p4", 77, 3.0, "b")
    # everything else is the embedded p4 default
    assert cfg.data == default_config("p4").data


def test_base_may_name_an_embedded_default(tmp_path):
    (tmp_path / "mine.yaml").write_text("base: p7\nmodel: {hidden: 4}\n")
    cfg = load_config(tmp_path / "mine.yaml")
    assert cfg.task == "p7" and cfg.model.hidden == 4
    assert config_diff(cfg, default_config("p7")) == ["model.hidden", "name"]


def test_minimal_file_gets_its_tasks_defaults_and_its_own_name(tmp_path):
    (tmp_path / "my_exp.yaml").write_text("task: p4\n")
    cfg = load_config(tmp_path / "my_exp.yaml")
    assert config_diff(cfg, default_config("p4")) == ["name"] and cfg.name == "my_exp"
    (tmp_path / "named.yaml").write_text("base: my_exp.yaml\nname: mine\n")
    assert load_config(tmp_path / "named.yaml").name == "mine"


def test_variant_file_differs_from_its_base_only_where_it_says():
    cfg = load_config(CONFIGS / "p2_newton.yaml")
    assert config_diff(cfg, default_config("p2")) == ["name", "solver", "train.steps", "train.tol"]


def test_overrides_dotted_typed_and_null_removes_an_argument():
    cfg = load_config(
        "p2",
        [
            "train.steps=10",
            "model.lam=1e-3",
            "train.tol=null",
            "optimizer.args={nesterov: true}",
            "optimizer.args.momentum=null",
        ],
    )
    assert cfg.train.steps == 10 and cfg.model.lam == 1e-3 and cfg.train.tol is None
    assert cfg.optimizer.args == {"nesterov": True}


def test_overrides_as_mapping_double_underscore_and_sections():
    cfg = load_config("p2", {"train__steps": 11, "model": {"lam": 0.25}, "data.intercept": True})
    assert (cfg.train.steps, cfg.model.lam, cfg.data.intercept) == (11, 0.25, True)


def test_override_switching_task_picks_that_tasks_default():
    cfg = load_config("p2", ["task=p4", "name=x"])
    assert cfg.data.source == "diabetes"


def test_optional_section_switched_on_by_override():
    cfg = load_config(
        "p2",
        [
            "optimizer.learning_rate=null",
            "optimizer.schedule.name=cosine_decay_schedule",
            "optimizer.schedule.args={init_value: 0.1, decay_steps: 100}",
        ],
    )
    assert cfg.optimizer.schedule.name == "cosine_decay_schedule"
    assert cfg.optimizer.schedule.args == {"init_value": 0.1, "decay_steps": 100}


def test_load_config_accepts_config_objects_and_mappings():
    cfg = default_config("p3")
    assert load_config(cfg) == cfg
    assert load_config(dataclasses.asdict(cfg)) == cfg
    assert load_config(cfg, ["seed=3"]).seed == 3


def test_public_names():
    assert mcalc.load_config is load_config
    assert mcalc.default_config is default_config
    assert issubclass(mcalc.ConfigError, ValueError)


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "overrides, match",
    [
        (["train.stepz=3"], r"unknown config key 'train.stepz'\. Did you mean 'train.steps'\?"),
        (["colour=red"], r"unknown config key 'colour'.*keys of the top level are: task, name"),
        (["train.steps=abc"], r"config key 'train.steps' must be an int; got 'abc' \(str\)"),
        (["train.steps=3.5"], r"config key 'train.steps' must be an int; got 3.5 \(float\)"),
        (["model.lam=true"], r"config key 'model.lam' must be a number; got True \(bool\)"),
        (["data.standardize=1"], r"config key 'data.standardize' must be true or false; got 1"),
        (["train.steps=null"], r"config key 'train.steps' must be an int; got null"),
        (["train=5"], r"config key 'train' is a section with keys steps, batch_size"),
        (["model.lam=[1, 2]"], r"config key 'model.lam' must be a number; got a list"),
        (["optimizer.args=3"], r"config key 'optimizer.args' must be a mapping of argument names"),
        (
            ["task=p5"],
            r"config key 'task' must be one of p2, p3, p4, p7 or your own as MODULE:NAME .*; got 'p5'\. \(P1, P5 and P6 are derivations",
        ),
        (
            ["solver=newtn"],
            r"config key 'solver' must be one of .*got 'newtn'\. Did you mean 'newton'\?",
        ),
        (["data.source=iris"], r"config key 'data.source' must be one of synthetic, breast_cancer"),
        (["data.relabel=flip"], r"config key 'data.relabel' must be one of none, to_pm1, to_01"),
        (["data.dtype=float16"], r"config key 'data.dtype' must be one of float32, float64"),
        (["model.grad=numeric"], r"config key 'model.grad' must be one of closed_form, autodiff"),
        (
            ["optimizer.name=adamm"],
            r"config key 'optimizer.name': optax has no optimizer named 'adamm'\. Did you mean adam",
        ),
        (
            ["optimizer.args.momentun=0.5"],
            r"'optimizer.args.momentun' is not an argument of optax.sgd\. Did you mean 'optimizer.args.momentum'\?",
        ),
        (["optimizer.args.learning_rate=0.1"], r"set the step size with optimizer.learning_rate"),
        (
            ["optimizer.name=scale_by_adam", "optimizer.args.momentum=null"],
            r"optax.scale_by_adam takes no learning_rate",
        ),
        (
            ["optimizer.schedule.name=cosine_decay_schedule"],
            r"'optimizer.learning_rate' \(0.5\) and 'optimizer.schedule' both set",
        ),
        (
            ["optimizer.learning_rate=null"],
            r"'optimizer.learning_rate' is null and no optimizer.schedule is set",
        ),
        (
            ["optimizer.learning_rate=null", "optimizer.schedule.name=cosine_decay_schedule"],
            r"'optimizer.schedule.args.init_value' is required by optax.cosine_decay_schedule",
        ),
        (
            ["optimizer.learning_rate=null", "optimizer.schedule.name=cosine_dekay_schedule"],
            r"optax has no schedule named 'cosine_dekay_schedule'\. Did you mean cosine_decay_schedule",
        ),
        (
            ["optimizer.learning_rate=0"],
            r"config key 'optimizer.learning_rate' must be finite, > 0; got 0.0",
        ),
        (
            ["model.lam=-1"],
            r"config key 'model.lam' must be finite, a number ≥ 0; got -1.0 \(a hyperparameter of task p2\)",
        ),
        (["model.lam=.nan"], r"config key 'model.lam' must be finite"),
        (["task=p4", "model.sigma2=0"], r"config key 'model.sigma2' must be finite, a number > 0"),
        (
            ["task=p7", "model.hidden=0"],
            r"config key 'model.hidden' must be finite, an int ≥ 1; got 0",
        ),
        (["model.n_features=0"], r"config key 'model.n_features' must be an int ≥ 1 or null"),
        (
            ["data.test_fraction=1.0"],
            r"config key 'data.test_fraction' must be finite, ≥ 0 and < 1",
        ),
        (["data.noise=-0.1"], r"config key 'data.noise' must be finite, ≥ 0"),
        (["data.n_samples=1"], r"config key 'data.n_samples' must be an int ≥ 2"),
        (["data.path=x.csv"], r"config key 'data.path' is only read for data.source csv or npz"),
        (["data.source=csv"], r"config key 'data.path' must name the CSV file for data.source=csv"),
        (["data.target=y"], r"config key 'data.target' is only read for data.source csv or npz"),
        (["train.steps=0"], r"config key 'train.steps' must be an int ≥ 1; got 0"),
        (["train.batch_size=0"], r"config key 'train.batch_size' must be an int ≥ 1 or null"),
        (["train.log_every=0"], r"config key 'train.log_every' must be an int ≥ 1"),
        (
            ["train.checkpoint_every=75"],
            r"'train.checkpoint_every' must be 0 or a positive multiple of train.log_every \(50\); got 75",
        ),
        (["train.keep_checkpoints=0"], r"config key 'train.keep_checkpoints' must be an int ≥ 1"),
        (["train.tol=0"], r"config key 'train.tol' must be finite, > 0"),
        (
            ["train.gap_tol=1e-9"],
            r"'train.gap_tol' needs a known optimum \(mcalc.Task.optimum, e.g. P4's closed form\); task p2 has none",
        ),
        (
            ["solver=closed_form"],
            r"'solver' must be one of optax, newton, lbfgs for task p2; got 'closed_form'. \(closed_form is an exact solver of task p4\)",
        ),
        (["solver=newton", "train.batch_size=32"], r"exact solver newton uses the full batch"),
        (["solver=lbfgs", "data.intercept=true"], r"exact solver lbfgs penalises every weight"),
        (["name=a/b"], r"config key 'name' must be a non-empty name without slashes"),
        (["xx"], r"an override must look like key=value"),
        (["base=p3"], r"config key 'base' is only read at the top of a config file"),
        (["a..b=1"], r"'a..b' is not a dotted key"),
    ],
)
def test_bad_config_is_an_error_naming_the_key(overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_config("p2", overrides)


def test_newton_on_p3_and_relabel_on_p4_are_errors():
    with pytest.raises(
        ConfigError,
        match=r"'solver' must be one of optax for task p3; got 'newton'. \(newton is an exact solver of task p2\)",
    ):
        load_config("p3", ["solver=newton"])
    with pytest.raises(
        ConfigError,
        match=r"'data.relabel': to_pm1 maps labels \{0,1\} <-> \{-1,1\}; task p4 has real labels",
    ):
        load_config("p4", ["data.relabel=to_pm1"])


def test_errors_name_the_file_they_come_from(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: p2\ntrain:\n  stepz: 10\n")
    with pytest.raises(ConfigError, match=rf"{bad}: unknown config key 'train.stepz'"):
        load_config(bad)


@pytest.mark.parametrize(
    "text, match",
    [
        ("- 1\n- 2\n", r"must hold a mapping of config keys .*got a list"),
        ("task: [p2\n", r"is not valid YAML"),
        ("train: {steps: 3}\n", r"no task given: set 'task'"),
        (
            "task: p9\n",
            r"config key 'task' must be one of p2, p3, p4, p7 or your own as MODULE:NAME or path/to/file.py:NAME; got 'p9'",
        ),
        ("base: 3\ntask: p2\n", r"config key 'base' must be a file name"),
        ("base: nothere.yaml\n", r"nothere.yaml' does not exist"),
        ("base: self.yaml\n", r"the base: chain has a cycle"),
        ("task: !!python/object/apply:os.system ['echo hi']\n", r"is not valid YAML"),
    ],
)
def test_bad_files_are_errors(tmp_path, text, match):
    path = tmp_path / "self.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(path)


def test_missing_file_and_unknown_name():
    with pytest.raises(ConfigError, match=r"config file '.*nope.yaml' does not exist"):
        load_config("nope.yaml")
    with pytest.raises(
        ConfigError,
        match=r"'banana' is not a config file, and config key 'task' must be one of p2, p3, p4, p7",
    ):
        load_config("banana")
    with pytest.raises(
        ConfigError,
        match=r"config must be a path to a YAML file, a task name, a mcalc.Task, a Config",
    ):
        load_config(42)


def test_docs_config_reference_lists_every_field():
    """The docs' config reference is generated from the schema: every key, with its help."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docs" / "_ext"))
    try:
        import mcalc_docs
    finally:
        sys.path.pop(0)
    rows = {key: help_ for _, table in mcalc_docs.config_reference() for key, _, _, help_ in table}
    for key, f, value in _fields(Config()):
        if not dataclasses.is_dataclass(value):
            assert rows[key] == f.metadata["help"], key
    assert {"optimizer.schedule.name", "optimizer.schedule.args"} <= set(rows)
