"""What every command line of the project shares: exit statuses, bool options, one-line errors.

The entry points (``music.train``, ``music.play``, ``music.evaluate``, ``music.plot``,
``music.save_weight``) parse their options and call the library; a problem the user
must fix is printed as one line ``<prog>: error: <what and how to fix it>`` with exit
status ``EXIT_BAD_INPUT``, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK = 0
EXIT_BAD_INPUT = 2  # the command line or a file must be fixed; nothing was written
EXIT_TRAINING_FAILED = 3  # the environment or MINE produced NaN; see crash_rank<r>.txt


def str2bool(text: str) -> bool:
    """``True``/``False`` (also 1/0, yes/no, y/n, any case) for boolean options, as the original's click."""
    lowered = str(text).lower()
    if lowered in ("1", "true", "yes", "y"):
        return True
    if lowered in ("0", "false", "no", "n"):
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")


def fail(prog: str, message: object, status: int = EXIT_BAD_INPUT) -> int:
    """Print ``<prog>: error: <message>`` on stderr and return ``status`` for the caller to exit with."""
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    return status


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Help that shows an option's default, unless there is none (None) or its help says it already."""

    def _get_help_string(self, action):
        if action.default is None or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def mpi_missing() -> str | None:
    """Why mpi4py cannot run here (no MPI library: the mpich extra not installed), or None.
    It imports mpi4py.MPI, which initializes MPI: call it only where MPI is to run."""
    try:
        from mpi4py import MPI  # noqa: F401
    except (ImportError, RuntimeError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        return (f"mpi4py finds no MPI library ({first}): install the mpich extra (pip install 'music-tf2[mpich]', "
                "or make venv) or load your cluster's MPI")
    return None


def parser(prog: str, description: str, **kwargs) -> argparse.ArgumentParser:
    """An argument parser that shows every default and refuses abbreviated options."""
    return argparse.ArgumentParser(prog=prog, description=description, formatter_class=DefaultsFormatter,
                                   allow_abbrev=False, **kwargs)
