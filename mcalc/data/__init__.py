"""Data for training: seeded synthetic generators, scikit-learn's bundled sets, CSV and NPZ files.

:func:`load_data` turns a config's ``data`` section into a checked :class:`Dataset`:
labels in the task's set (relabelled only when the config asks), no NaN/Inf, a
seeded train/test split, standardisation fitted on the training split, an optional
intercept column.
"""

from ._prepare import LABEL_SETS as LABEL_SETS
from ._prepare import Dataset as Dataset
from ._prepare import load_data as load_data
from ._sources import labels_from_scores as labels_from_scores
