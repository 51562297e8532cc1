"""``mcalc run``: verify every derivation, train every task on its default data, write a report."""

from ._main import DEFAULT_TASKS as DEFAULT_TASKS
from ._main import RunReport as RunReport
from ._main import run as run
