"""MPI helpers: rank and size, moments and averages over all ranks.

Every function takes an optional communicator and defaults to ``MPI.COMM_WORLD``. A
process started without ``mpiexec`` is a world of size 1, so all of this works
without an MPI launcher.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from mpi4py import MPI

# mpiexec forwards each rank's stdout and stderr through pipes that it reads when it gets to
# them; an MPI_Abort right after a rank's last words races that reading, and MPICH's Hydra
# sometimes ends the job first, so the job dies without saying why. Measured here with peers
# that record SIGTERM as training does (benchmarks/abort_output.py): with no wait 2 of 150 aborts
# lost the traceback (6 of 150 set-up failures of music.train), with one second 0 of 150.
ABORT_GRACE_SECONDS = 1.0


def rank(comm: MPI.Comm | None = None) -> int:
    return (comm or MPI.COMM_WORLD).Get_rank()


def size(comm: MPI.Comm | None = None) -> int:
    return (comm or MPI.COMM_WORLD).Get_size()


def abort_all_ranks(code: int, comm: MPI.Comm | None = None) -> None:
    """End every rank with exit status ``code`` (MPI_Abort), once what this rank has written to
    stdout and stderr has had ABORT_GRACE_SECONDS to reach the launcher; does not return."""
    comm = comm or MPI.COMM_WORLD
    sys.stdout.flush()
    sys.stderr.flush()
    time.sleep(ABORT_GRACE_SECONDS)
    comm.Abort(code)


def mpi_mean(x, axis: int = 0, comm: MPI.Comm | None = None, keepdims: bool = False):
    """Mean of ``x`` along ``axis`` over the samples of every rank.

    Ranks may hold different numbers of samples; each sample weighs the same.
    Returns (mean, total number of samples along ``axis``).
    """
    comm = comm or MPI.COMM_WORLD
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        raise ValueError("mpi_mean needs an array with at least one dimension")
    local_sum = x.sum(axis=axis, keepdims=keepdims)
    n = local_sum.size
    send = np.zeros(n + 1, np.float64)
    send[:n] = local_sum.ravel()
    send[n] = x.shape[axis]
    recv = np.zeros_like(send)
    comm.Allreduce(send, recv, op=MPI.SUM)
    return recv[:n].reshape(local_sum.shape) / recv[n], recv[n]


def mpi_moments(x, axis: int = 0, comm: MPI.Comm | None = None, keepdims: bool = False):
    """Mean, standard deviation and sample count of ``x`` pooled over all ranks."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        raise ValueError("mpi_moments needs an array with at least one dimension")
    mean, count = mpi_mean(x, axis=axis, comm=comm, keepdims=True)
    mean_sq_diff, _ = mpi_mean(np.square(x - mean), axis=axis, comm=comm, keepdims=True)
    std = np.sqrt(mean_sq_diff)
    if not keepdims:
        mean = np.squeeze(mean, axis=axis)
        std = np.squeeze(std, axis=axis)
    return mean, std, count


def mpi_average(value, comm: MPI.Comm | None = None) -> float:
    """Average of a scalar or list of scalars pooled over ranks (an empty list counts as [0])."""
    if isinstance(value, (list, tuple)):
        value = list(value) or [0.0]
    else:
        value = [value]
    return float(mpi_moments(np.asarray(value, dtype=np.float64), comm=comm)[0])


def allreduce_average(x: np.ndarray, comm: MPI.Comm | None = None, workers_per_rank: int = 1) -> np.ndarray:
    """Element-wise mean over ranks (Allreduce SUM divided by the rank count); with virtual
    workers, ``x`` is the sum of a rank's ``workers_per_rank`` workers and the mean is over all."""
    comm = comm or MPI.COMM_WORLD
    x = np.ascontiguousarray(x)
    out = np.zeros_like(x)
    comm.Allreduce(x, out, op=MPI.SUM)
    return out / (comm.Get_size() * workers_per_rank)


def tree_sum(arrays: list[np.ndarray]) -> np.ndarray:
    """Sum in pairs, ((a + b) + (c + d)), the order in which MPI's recursive doubling sums
    ranks; one array is returned as it is."""
    while len(arrays) > 1:
        pairs = [arrays[i] + arrays[i + 1] for i in range(0, len(arrays) - 1, 2)]
        arrays = pairs + ([arrays[-1]] if len(arrays) % 2 else [])
    return arrays[0]
