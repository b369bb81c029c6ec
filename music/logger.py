"""Run logger: log.txt, progress.csv, the per-epoch table on stdout, TensorBoard scalars.

Only the writing rank (rank 0) opens files; on other ranks every method prints
nothing and writes nothing, so callers need no ``if rank == 0`` around logging.
"""

from __future__ import annotations

import csv
import datetime
import math
import os
import sys
import time
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
        self._continued = False  # the columns come from an existing file (a resumed run)
        self._left_out: list[str] = []  # keys of this code that such a file has no column for
        progress = self.logdir / "progress.csv"
        if active and progress.exists() and progress.stat().st_size > 0:  # a resumed run continues the file
            with open(progress, newline="") as f:
                self._csv_keys = next(csv.reader(f))
            self._continued = True
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
        if missing and not self._continued:
            raise KeyError(f"progress.csv has fixed columns; new keys {missing} appeared after the first epoch")
        new = [k for k in missing if k not in self._left_out]
        if new:
            # A run started by an older version: its file keeps its columns (a new column
            # would misalign the rows already written); the values stay in log.txt and TensorBoard.
            self._left_out += new
            self.info(f"progress.csv was started without columns {new}; they are left out of it")
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


def _clock(seconds: float) -> str:
    return str(datetime.timedelta(seconds=int(max(0.0, seconds))))


def launcher_terminal(pid: int | None = None, hops: int = 3) -> bool:
    """Whether this process's output ends on a terminal through the pipes of its launchers
    (a rank -> hydra's proxy -> mpiexec -> the shell): going up the parent processes, the
    first standard output that is not a pipe decides (a terminal: yes; a file, /dev/null, a
    socket: no). Linux only (``/proc``); elsewhere False."""
    pid = os.getpid() if pid is None else pid
    for _ in range(hops + 1):
        try:
            target = os.readlink(f"/proc/{pid}/fd/1")
        except OSError:
            return False
        if not target.startswith("pipe:"):
            return target.startswith(("/dev/pts/", "/dev/tty"))
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            pid = int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state: the parent's pid
        except (OSError, ValueError, IndexError):
            return False
        if pid < 1:  # past the first process (in a container, mpirun itself may be pid 1)
            return False
    return False


class CycleProgress:
    """Progress within an epoch on the console: cycles done, seconds per cycle, ETA of the epoch and run.

    Redrawn in place after every cycle (``\r``) when ``enabled``; the training loop also logs
    the run's ETA after every epoch whatever this shows.
    """

    def __init__(self, n_epochs: int, n_cycles: int, enabled: bool, stream=None):
        self.n_epochs, self.n_cycles = n_epochs, n_cycles
        self.enabled = enabled
        self.stream = stream or sys.stdout
        self._epoch_start = time.perf_counter()
        self._first_cycle = 0
        self._drawn = False

    @staticmethod
    def wanted(mode: str, stream=None) -> bool:
        """``on``, ``off``, or ``auto``: on when the output is a terminal, also through an MPI
        launcher (``launcher_terminal``): a rank's stdout is the launcher's pipe, never a terminal."""
        if mode != "auto":
            return mode == "on"
        stream = stream or sys.stdout
        if hasattr(stream, "isatty") and stream.isatty():
            return True
        from music.mpi_launch import inside_mpi_launcher

        return stream is sys.stdout and inside_mpi_launcher() and launcher_terminal()

    def start_epoch(self, first_cycle: int) -> None:
        self._epoch_start = time.perf_counter()
        self._first_cycle = first_cycle

    def seconds_per_cycle(self, cycles_done: int) -> float:
        done = cycles_done - self._first_cycle
        return (time.perf_counter() - self._epoch_start) / done if done > 0 else float("nan")

    def line(self, epoch: int, cycles_done: int) -> str:
        per_cycle = self.seconds_per_cycle(cycles_done)
        epoch_left = per_cycle * (self.n_cycles - cycles_done)
        run_left = epoch_left + per_cycle * self.n_cycles * (self.n_epochs - epoch - 1)
        bar = "#" * (20 * cycles_done // self.n_cycles)
        return (f"epoch {epoch + 1}/{self.n_epochs} [{bar:<20}] cycle {cycles_done}/{self.n_cycles} "
                f"{per_cycle:.2f} s/cycle, epoch ETA {_clock(epoch_left)}, run ETA {_clock(run_left)}")

    def cycle_done(self, epoch: int, cycles_done: int) -> None:
        if self.enabled:
            self.stream.write("\r" + self.line(epoch, cycles_done))
            self.stream.flush()
            self._drawn = True

    def end_epoch(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

    def run_eta(self, epochs_done: int, epoch_seconds: float) -> str:
        """One line for the log after an epoch: its time and when the run should end."""
        left = epoch_seconds * (self.n_epochs - epochs_done)
        end = datetime.datetime.now() + datetime.timedelta(seconds=left)
        return (f"epoch {epochs_done - 1} took {epoch_seconds:.0f} s; {self.n_epochs - epochs_done} to go, "
                f"run ETA {_clock(left)} (about {end:%Y-%m-%d %H:%M})")
