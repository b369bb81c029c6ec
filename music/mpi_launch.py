"""Finding and calling an MPI launcher: ``--num_cpu N`` re-runs a command under ``mpiexec -n N``.

Kept apart from ``music.mpi_util`` because importing mpi4py initializes MPI, which the
process that only launches ``mpiexec`` must not do.
"""

from __future__ import annotations

import os
import shutil
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


def mpi_fork(n: int, binding: str, command: list[str]) -> int | None:
    """Run ``command`` under mpiexec with n ranks and return its exit status; None when no fork is
    needed (n <= 1, or already started by a launcher)."""
    if n <= 1 or inside_mpi_launcher():
        return None
    mpiexec = find_mpiexec()
    if mpiexec is None:
        raise MpiLauncherError("--num_cpu > 1 needs mpiexec: install the mpich extra (pip install -e '.[mpich]') "
                               "or a system MPI, or launch with mpirun -np N yourself")
    env = {**os.environ, "IN_MPI": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = mpiexec_command(mpiexec, n, binding) + list(command)
    print("Launching:", " ".join(cmd), flush=True)
    return subprocess.call(cmd, env=env)
