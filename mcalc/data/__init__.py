"""Data for training: seeded synthetic generators, scikit-learn's bundled sets, CSV and NPZ files.

:func:`load_data` turns a config's ``data`` section into a checked :class:`Dataset`:
labels in the task's set (relabelled only when the config asks), no NaN/Inf, a
seeded train/test split, standardisation fitted on the training split, an optional
intercept column.
"""

from ._prepare import LABELS as LABELS
from ._prepare import Dataset as Dataset
from ._prepare import load_data as load_data
