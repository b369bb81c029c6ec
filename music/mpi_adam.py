"""Adam on gradients summed over MPI ranks, as baselines' ``MpiAdam``.

Gradients arrive flat (one float32 vector per network), are Allreduce-summed over
ranks, optionally divided by the number of ranks, and the Adam step is taken in
numpy; the result is written back into the TF variables. Every rank applies the
same step, so parameters stay identical if they started identical (``sync``).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from mpi4py import MPI

from music.tf_util import FlatParams


class ParametersDivergedError(RuntimeError):
    """Raised when ranks no longer hold identical parameters."""


class MpiAdam:
    """Adam optimizer over ``variables`` with MPI gradient reduction.

    Args:
        variables: the variables this optimizer updates, in a fixed order.
        beta1, beta2, epsilon: Adam constants.
        scale_grad_by_procs: divide the summed gradient by the number of ranks. The
            original's default is True; MUSIC's DDPG passes False (gradients are summed).
        comm: MPI communicator (default ``COMM_WORLD``).
        check_every: compare parameters across ranks every this many updates (0: never).
    """

    def __init__(
        self,
        variables: list[tf.Variable],
        *,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        scale_grad_by_procs: bool = True,
        comm: MPI.Comm | None = None,
        check_every: int = 100,
    ):
        self.params = FlatParams(variables)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.scale_grad_by_procs = scale_grad_by_procs
        self.comm = comm or MPI.COMM_WORLD
        self.check_every = check_every
        self.m = np.zeros(self.params.size, np.float32)
        self.v = np.zeros(self.params.size, np.float32)
        self.t = 0
        # Scratch space of step(), so that an update allocates nothing. Not for the time of
        # the arithmetic alone: a fresh vector of this size (0.5-1 MB) comes from glibc's
        # mmap and is paged in again at every step (measured: about 1300 page faults per
        # SAC+MUSIC train() of 7-10 ms, docs/performance.md).
        self._work32 = np.empty(self.params.size, np.float32)
        self._work64 = np.empty(self.params.size, np.float64)
        self._global_grad = np.empty(self.params.size, np.float32)
        self._new_params = np.empty(self.params.size, np.float32)

    @property
    def size(self) -> int:
        return self.params.size

    def state_dict(self) -> dict:
        """Adam's moments and step count (the parameters themselves are the variables')."""
        return {"m": self.m.copy(), "v": self.v.copy(), "t": self.t}

    def load_state_dict(self, state: dict) -> None:
        for key in ("m", "v"):
            if np.shape(state[key]) != (self.size,):
                raise ValueError(f"Adam state {key!r} has shape {np.shape(state[key])}, this optimizer {self.size}")
        self.m = np.asarray(state["m"], np.float32).copy()
        self.v = np.asarray(state["v"], np.float32).copy()
        self.t = int(state["t"])

    def update(self, local_grad: np.ndarray, stepsize: float, current: np.ndarray | None = None) -> None:
        """One Adam step with the rank-summed ``local_grad`` (shape (size,)), written to the variables."""
        self.params.set(self.step(local_grad, stepsize, current, out=self._new_params))

    def step(self, local_grad: np.ndarray, stepsize: float, current: np.ndarray | None = None,
             out: np.ndarray | None = None) -> np.ndarray:
        """One Adam step with the rank-summed ``local_grad`` (shape (size,)); returns the new parameters.

        The caller writes them (``update`` does), so that a caller with several optimizers
        can write all its networks in one TF call. ``current`` may pass the parameters'
        current flat values when the caller already read them (the training graph returns
        them with the gradients), saving a read. ``out``, a float32 vector of shape (size,)
        (e.g. this network's part of a caller's buffer of all networks), receives the new
        parameters and is returned; without it they come in a new array. The new values are
        computed in numpy, as in the original: letting TF add the step instead would flush
        denormal steps to zero and change the bits.
        """
        local_grad = np.asarray(local_grad, dtype=np.float32)
        if local_grad.shape != (self.size,):
            raise ValueError(f"gradient has shape {local_grad.shape}, expected ({self.size},)")
        if self.check_every and self.t % self.check_every == 0:
            self.check_synced()
        if self.comm.Get_size() == 1:
            global_grad = local_grad  # the sum over one rank; read only below, so not copied
        else:
            global_grad = self._global_grad
            self.comm.Allreduce(local_grad, global_grad, op=MPI.SUM)
            if self.scale_grad_by_procs:
                global_grad /= self.comm.Get_size()

        self.t += 1
        step_size = stepsize * np.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t)
        # The original's expressions, computed in place in the same precisions and order:
        # m = b1 m + (1 - b1) g and v = b2 v + (1 - b2) g^2 in float32; the step
        # -step_size * m / (sqrt(v) + eps) and theta + step in float64 (step_size is a
        # float64 scalar), rounded to float32 once at the end. Bit-identical to the plain
        # expressions (tested), without their six temporary vectors per update.
        m, v, work, step = self.m, self.v, self._work32, self._work64
        np.multiply(m, self.beta1, out=m)
        np.multiply(global_grad, 1 - self.beta1, out=work)
        np.add(m, work, out=m)
        np.multiply(global_grad, global_grad, out=work)
        np.multiply(work, 1 - self.beta2, out=work)
        np.multiply(v, self.beta2, out=v)
        np.add(v, work, out=v)
        np.sqrt(v, out=work)
        np.add(work, self.epsilon, out=work)
        np.multiply(m, -step_size, out=step)
        np.divide(step, work, out=step)
        theta = self.params.get() if current is None else np.asarray(current, dtype=np.float32)
        np.add(theta, step, out=step)
        if out is None:
            return step.astype(np.float32)
        if out.shape != (self.size,) or out.dtype != np.float32:
            raise ValueError(f"out has shape {out.shape} and dtype {out.dtype}, expected ({self.size},) float32")
        np.copyto(out, step, casting="same_kind")  # the same rounding to float32 as astype
        return out

    def sync(self) -> None:
        """Overwrite every rank's parameters with rank 0's."""
        theta = self.params.get()
        self.comm.Bcast(theta, root=0)
        self.params.set(theta)

    def check_synced(self) -> None:
        """Raise ``ParametersDivergedError`` if this rank's parameters differ from rank 0's."""
        if self.comm.Get_size() == 1:
            return
        local = self.params.get()
        root = local.copy()
        self.comm.Bcast(root, root=0)
        if not np.array_equal(root, local):
            diff = np.max(np.abs(root - local))
            raise ParametersDivergedError(
                f"rank {self.comm.Get_rank()}: parameters differ from rank 0 by up to {diff:g} "
                f"after update {self.t}; all ranks must start from sync() and apply the same steps"
            )
