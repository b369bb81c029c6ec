"""Finding and calling an MPI launcher: ``--num_cpu N`` re-runs a command under ``mpiexec -n N``.

Kept apart from ``music.mpi_util`` because importing mpi4py initializes MPI, which the
process that only launches ``mpiexec`` must not do.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

# Variables an MPI launcher sets in the processes it starts (MPICH/hydra, Open MPI, PMIx, ours).
LAUNCHER_MARKERS = ("IN_MPI", "PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")


class MpiLauncherError(RuntimeError):
    """No MPI launcher could be found."""


def inside_mpi_launcher() -> bool:
    return any(marker in os.environ for marker in LAUNCHER_MARKERS)


def find_mpiexec() -> str | None:
    """The ``mpiexec`` beside this Python (the mpich wheel), else the first on PATH."""
    beside_python = Path(sys.executable).parent / "mpiexec"
    return str(beside_python) if beside_python.exists() else shutil.which("mpiexec") or shutil.which("mpirun")


def mpiexec_command(mpiexec: str, n: int, binding: str) -> list[str]:
    """``mpiexec -n N`` with binding flags in the dialect of the MPI found (MPICH or Open MPI)."""
    try:
        version = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        version = ""
    cmd = [mpiexec, "-n", str(n)]
    if "HYDRA" in version:  # MPICH
        cmd += ["-bind-to", binding]
    elif "Open MPI" in version or "OpenRTE" in version:
        cmd += ["--bind-to", binding]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd += ["--allow-run-as-root"]
        if n > (os.cpu_count() or 1):
            cmd += ["--oversubscribe"]
    return cmd


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the launcher dies, however it dies (Linux's
    PR_SET_PDEATHSIG; elsewhere nothing). mpiexec passes SIGTERM to the ranks, which checkpoint."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def mpi_fork(n: int, binding: str, command: list[str]) -> int | None:
    """Run ``command`` under mpiexec with n ranks and return its exit status; None when no fork is
    needed (n <= 1, or already started by a launcher).

    mpiexec runs in a session of its own, so that this process is the one way signals reach
    the ranks: a Ctrl-C or a scheduler's SIGTERM sent here is passed on once to mpiexec,
    which passes it to every rank (they checkpoint and exit 130 / 143, the status returned
    here). Passed on twice, a Ctrl-C would make mpiexec abort the ranks before their
    checkpoint. If this process is killed outright, mpiexec gets SIGTERM (``_die_with_parent``).
    """
    if n <= 1 or inside_mpi_launcher():
        return None
    mpiexec = find_mpiexec()
    if mpiexec is None:
        raise MpiLauncherError("--num_cpu > 1 needs mpiexec: install the mpich extra (pip install -e '.[mpich]') "
                               "or a system MPI, or launch with mpirun -np N yourself")
    env = {**os.environ, "IN_MPI": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = mpiexec_command(mpiexec, n, binding) + list(command)
    print("Launching:", " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, env=env, start_new_session=True,
                            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
    forward = {sig: signal.signal(sig, lambda signum, frame: proc.send_signal(signum))
               for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                return proc.wait()
            except InterruptedError:
                continue
    finally:
        for sig, handler in forward.items():
            signal.signal(sig, handler)


def resume_command(logdir, processes: int) -> str:
    """The command that continues the run in ``logdir``, launched as this one was: by
    ``--num_cpu N`` (our launcher set IN_MPI), by an MPI launcher, or as one process."""
    relative = os.path.relpath(sys.executable)
    python = sys.executable if relative.startswith("..") else relative  # .venv/bin/python from the clone
    if processes > 1 and os.environ.get("IN_MPI") == "1":
        return f"{python} -m music.train --num_cpu {processes} --resume {logdir}"
    if processes > 1:
        return f"mpiexec -n {processes} {python} -m music.train --resume {logdir}"
    return f"{python} -m music.train --resume {logdir}"
