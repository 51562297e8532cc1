"""Checkpoints of the training state with orbax-checkpoint (atomic: written aside, then renamed).

Orbax writes each step into a temporary folder and renames it when complete, so a
kill mid-save leaves the previous checkpoints intact; only complete steps are
listed. Saving is synchronous (the state's buffers are donated to the next
chunk, so they must be on disk before training goes on). Restoring needs the
state's abstract structure, which :meth:`mcalc.train.Program.abstract_state` gives;
nothing is unpickled.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

__all__ = ["Checkpoints"]


class Checkpoints:
    """The checkpoints of one run folder (``<run>/checkpoints/<step>/``).

    Args:
      directory: the ``checkpoints`` folder.
      keep: how many of the most recent checkpoints to keep.
    """

    def __init__(self, directory: str | os.PathLike, *, keep: int = 2) -> None:
        import orbax.checkpoint as ocp

        # orbax reports every save at INFO level through absl; a run's log is the progress bar.
        logging.getLogger("absl").setLevel(max(logging.getLogger("absl").level, logging.WARNING))
        self._ocp = ocp
        self.directory = Path(directory).absolute()
        self._mgr = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=keep,
                enable_async_checkpointing=False,
                create=True,
                # a save cut short by a kill leaves a temporary folder: remove it on reopening
                cleanup_tmp_directories=True,
            ),
            # what reads a checkpoint's metadata (shapes) before restoring it
            item_handlers=ocp.StandardCheckpointHandler(),
        )

    def save(self, step: int, state: Any) -> Path:
        """Save ``state`` as checkpoint ``step`` and wait until it is on disk.

        A complete checkpoint of ``step`` is kept as it is (training is deterministic:
        a resumed run reaching that step again holds the same state).
        """
        if int(step) in self._mgr.all_steps():
            return self.directory / str(int(step))
        self._mgr.save(int(step), args=self._ocp.args.StandardSave(state), force=True)
        self._mgr.wait_until_finished()
        return self.directory / str(int(step))

    def latest_step(self) -> int | None:
        """The last complete checkpoint's step, or ``None``."""
        self._mgr.reload()
        return self._mgr.latest_step()

    def leading_size(self, step: int, key: str = "state") -> int:
        """The leading (lane) size of the arrays under ``key`` in checkpoint ``step`` (read from
        its metadata, without loading it)."""
        import jax

        tree = self._mgr.item_metadata(int(step)).tree
        return int(jax.tree.leaves(tree[key], is_leaf=lambda x: hasattr(x, "shape"))[0].shape[0])

    def restore(self, step: int, abstract_state: Any) -> Any:
        """Checkpoint ``step`` in the structure of ``abstract_state`` (shapes and dtypes)."""
        return self._mgr.restore(int(step), args=self._ocp.args.StandardRestore(abstract_state))

    def close(self) -> None:
        self._mgr.close()
