"""Configs: a typed schema (dataclasses, via OmegaConf), embedded defaults, YAML in and out.

- :class:`Config` and its sections are the schema; every field has a one-line help.
- :func:`default_config` gives a task's embedded default (what ``mcalc run`` trains).
- :func:`load_config` resolves a YAML file (with ``base:`` chains), a task name or a
  :class:`Config`, plus ``key=value`` overrides, and validates the result.
- :func:`to_yaml` writes a config back as commented YAML.
"""

from ._defaults import default_config as default_config
from ._load import ConfigError as ConfigError
from ._load import config_diff as config_diff
from ._load import load_config as load_config
from ._load import parse_overrides as parse_overrides
from ._load import validate_config as validate_config
from ._schema import Config as Config
from ._schema import DataConfig as DataConfig
from ._schema import ModelConfig as ModelConfig
from ._schema import OptimizerConfig as OptimizerConfig
from ._schema import ScheduleConfig as ScheduleConfig
from ._schema import TrainConfig as TrainConfig
from ._schema import schema_for as schema_for
from ._yaml import to_yaml as to_yaml
