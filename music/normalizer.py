"""Running normalization of observations and goals, shared over MPI ranks."""

from __future__ import annotations

import threading

import numpy as np
import tensorflow as tf
from mpi4py import MPI

from music.mpi_util import allreduce_average, tree_sum
from music.tf_util import graph


class Normalizer(tf.Module):
    """Keeps sums of v and v**2 and a count; normalizes to ``(v - mean) / std``, clipped.

    New data is accumulated locally in numpy (``update``). ``recompute_stats`` averages
    the local accumulators over ranks (Allreduce; every rank gets the same numbers),
    adds them to the TF variables and recomputes mean and std
    (std = sqrt(max(eps**2, E[v**2] - E[v]**2))).

    Variables (all float32, named ``<name>/<var>``): sum (size,), sumsq (size,),
    count (1,) starting at 1, mean (size,) starting at 0, std (size,) starting at 1.

    Args:
        size: length of the vectors to normalize.
        eps: lower bound on the standard deviation.
        default_clip_range: normalized values are clipped to [-clip, clip].
        name: scope of the variables (``o_stats`` or ``g_stats`` in the agent).
        comm: MPI communicator to average over.
        workers_per_rank: virtual workers adding to the local sums (``music.workers``); the
            average is over ranks x workers, as if each worker were a rank.
    """

    def __init__(
        self,
        size: int,
        eps: float = 1e-2,
        default_clip_range: float = np.inf,
        name: str = "stats",
        comm: MPI.Comm | None = None,
        workers_per_rank: int = 1,
    ):
        super().__init__(name=name)
        self.size = size
        self.eps = eps
        self.default_clip_range = default_clip_range
        self.comm = comm or MPI.COMM_WORLD
        self.workers_per_rank = workers_per_rank

        # One row of local sums per virtual worker: each is rounded to float32 on its own, as a
        # rank's are before MPI adds them.
        self._local = {key: np.zeros((workers_per_rank, width), np.float32)
                       for key, width in (("local_sum", size), ("local_sumsq", size), ("local_count", 1))}

        self.sum = tf.Variable(tf.zeros([size]), trainable=False, name=f"{name}/sum")
        self.sumsq = tf.Variable(tf.zeros([size]), trainable=False, name=f"{name}/sumsq")
        self.count = tf.Variable(tf.ones([1]), trainable=False, name=f"{name}/count")
        self.mean = tf.Variable(tf.zeros([size]), trainable=False, name=f"{name}/mean")
        self.std = tf.Variable(tf.ones([size]), trainable=False, name=f"{name}/std")
        self.lock = threading.Lock()

        self._apply = graph(
            self._apply_graph,
            [
                tf.TensorSpec([size], tf.float32),
                tf.TensorSpec([size], tf.float32),
                tf.TensorSpec([1], tf.float32),
            ],
        )

    @property
    def local_sum(self) -> np.ndarray:
        return self._local["local_sum"][0]

    @property
    def local_count(self) -> np.ndarray:
        return self._local["local_count"][0]

    def state_dict(self, worker: int = 0) -> dict[str, np.ndarray]:
        """A worker's local sums not yet averaged over ranks (the averaged statistics are variables)."""
        with self.lock:
            return {key: rows[worker].copy() for key, rows in self._local.items()}

    def load_state_dict(self, state: dict[str, np.ndarray], worker: int = 0) -> None:
        with self.lock:
            for key, rows in self._local.items():
                rows[worker] = state[key]

    @property
    def named_variables(self) -> dict[str, tf.Variable]:
        return {f"{self.name}/{k}": getattr(self, k) for k in ("sum", "sumsq", "count", "mean", "std")}

    def update(self, v: np.ndarray, worker: int = 0) -> None:
        """Accumulate the rows of ``v`` (any shape ending in ``size``) into ``worker``'s local sums."""
        v = np.asarray(v).reshape(-1, self.size)
        with self.lock:
            self._local["local_sum"][worker] += v.sum(axis=0)
            self._local["local_sumsq"][worker] += np.square(v).sum(axis=0)
            self._local["local_count"][worker, 0] += v.shape[0]

    def normalize(self, v: tf.Tensor, clip_range: float | None = None) -> tf.Tensor:
        """``clip((v - mean) / std)`` along the last axis; usable inside tf.function."""
        clip = self.default_clip_range if clip_range is None else clip_range
        return tf.clip_by_value((v - self.mean) / self.std, -clip, clip)

    def denormalize(self, v: tf.Tensor) -> tf.Tensor:
        return self.mean + v * self.std

    def _apply_graph(self, batch_sum, batch_sumsq, batch_count):
        self.count.assign_add(batch_count)
        self.sum.assign_add(batch_sum)
        self.sumsq.assign_add(batch_sumsq)
        mean = self.sum / self.count
        self.mean.assign(mean)
        self.std.assign(tf.sqrt(tf.maximum(tf.square(self.eps), self.sumsq / self.count - tf.square(mean))))

    def recompute_stats(self) -> None:
        """Fold the rank-averaged local accumulators into the variables; reset them."""
        with self.lock:
            # the workers' sums added as MPI adds ranks' (one worker: its row as it is)
            local_sum, local_sumsq, local_count = (tree_sum(list(self._local[key])).copy()
                                                   for key in ("local_sum", "local_sumsq", "local_count"))
            for rows in self._local.values():
                rows[...] = 0
        # The original averages (not sums) the accumulators over ranks: the count grows
        # by the mean per-rank count, which weighs every rank equally.
        self._apply(
            allreduce_average(local_sum, self.comm, self.workers_per_rank).astype(np.float32),
            allreduce_average(local_sumsq, self.comm, self.workers_per_rank).astype(np.float32),
            allreduce_average(local_count, self.comm, self.workers_per_rank).astype(np.float32),
        )
