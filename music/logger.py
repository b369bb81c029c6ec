"""Run logger: log.txt, progress.csv, the per-epoch table on stdout, TensorBoard scalars.

Only the writing rank (rank 0) opens files; on other ranks every method prints
nothing and writes nothing, so callers need no ``if rank == 0`` around logging.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path


class Logger:
    """Per-epoch key/value logs of one run in ``logdir``.

    Args:
        logdir: the run's folder (created by the caller).
        active: write anything at all (True on rank 0 only).
        tensorboard: also write tf.summary scalars to ``logdir/tb``.
    """

    def __init__(self, logdir: Path | str, active: bool = True, tensorboard: bool = True):
        self.logdir = Path(logdir)
        self.active = active
        self._row: dict[str, float] = {}
        self._csv_keys: list[str] | None = None
        progress = self.logdir / "progress.csv"
        if active and progress.exists() and progress.stat().st_size > 0:  # a resumed run continues the file
            with open(progress, newline="") as f:
                self._csv_keys = next(csv.reader(f))
        self._text = open(self.logdir / "log.txt", "a") if active else None
        self._tb = None
        if active and tensorboard:
            import tensorflow as tf

            self._tb = tf.summary.create_file_writer(str(self.logdir / "tb"))

    def info(self, message: str) -> None:
        if self.active:
            print(message, flush=True)
            self._text.write(message + "\n")
            self._text.flush()

    warn = info

    def record_tabular(self, key: str, value) -> None:
        self._row[key] = value

    def dump_tabular(self, step: int | None = None) -> dict[str, float]:
        """Write the recorded row (table to stdout and log.txt, a line to progress.csv, TensorBoard)."""
        row, self._row = self._row, {}
        if not self.active:
            return row
        lines = self._table(row)
        print(lines, flush=True)
        self._text.write(lines + "\n")
        self._text.flush()
        path = self.logdir / "progress.csv"
        if self._csv_keys is None:
            self._csv_keys = list(row)
            if not path.exists() or path.stat().st_size == 0:
                with open(path, "w", newline="") as f:
                    csv.writer(f).writerow(self._csv_keys)
        missing = [k for k in row if k not in self._csv_keys]
        if missing:
            raise KeyError(f"progress.csv has fixed columns; new keys {missing} appeared after the first epoch")
        with open(path, "a", newline="") as f:
            csv.writer(f).writerow([row.get(k, "") for k in self._csv_keys])
            f.flush()
            os.fsync(f.fileno())
        if self._tb is not None:
            import tensorflow as tf

            with self._tb.as_default():
                for key, value in row.items():
                    if isinstance(value, (int, float)) and key != "epoch":
                        tf.summary.scalar(key, value, step=step if step is not None else int(row.get("epoch", 0)))
            self._tb.flush()
        return row

    @staticmethod
    def _table(row: dict) -> str:
        def fmt(v):
            if isinstance(v, float):
                return f"{v:<11.3g}" if math.isfinite(v) and v != 0 else str(v)
            return str(v)

        width_k = max((len(k) for k in row), default=0)
        width_v = max((len(fmt(v)) for v in row.values()), default=0)
        bar = "-" * (width_k + width_v + 7)
        body = [f"| {k:<{width_k}} | {fmt(v):<{width_v}} |" for k, v in row.items()]
        return "\n".join([bar, *body, bar])

    def close(self) -> None:
        if self._text:
            self._text.close()
        if self._tb is not None:
            self._tb.close()
