"""MINE: the mutual-information reward of MUSIC, whole (network, inputs, reward, training).

MINE (Belghazi et al. 2018) estimates the mutual information between the agent state
x (grip_pos) and the surrounding state y (object_pos) along a trajectory with the
Donsker-Varadhan bound:

    I(x; y) >= mean_t T(x_t, y_t) - log mean_t exp(T(x_t, y_perm(t)))

where perm shuffles the time axis. The statistics network is
T(x, y) = tanh(W_out relu(W_x x + W_y y)), under the scope ``ir/state_mi``.

``Mine`` is one of the two intrinsic rewards (rows of ``music.rewards.REWARD_TERMS``; the
other is ``music.skill``): the reward of a sampled transition is the estimate on its pair
(o_t, o_t+1), with the time permutation the HER sampler drew for it, and MINE trains on
whole episodes of each worker's buffer with a permutation drawn from the worker's stream.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from music.envs import ObservationSplit, compact_index, take
from music.mpi_adam import MpiAdam
from music.mpi_util import tree_sum
from music.networks import Dense
from music.tf_util import flatten, graph


class MineNaNError(FloatingPointError):
    """The MINE estimate (or its input) is NaN or infinite."""


NAN_MESSAGE = ("MINE estimate is NaN or Inf (MINE output is not finite: its weights have diverged, e.g. after a too "
               "large mi_lr, or were loaded from a broken file)")


def finite(neg_mi: np.ndarray) -> np.ndarray:
    """``neg_mi`` if every estimate is finite; else ``MineNaNError``. Checked on the estimates
    the graph returns (a few hundred floats) rather than by a check op inside the graph: the
    same test, and the graph runs without it."""
    if not np.all(np.isfinite(neg_mi)):
        raise MineNaNError(NAN_MESSAGE)
    return neg_mi


class Mine(tf.Module):
    """The MINE statistics network with its optimizer and graphs (traced once each).

    Args:
        split: which observation entries are agent (x) and surrounding (y).
        hidden: the agent's hidden width; MINE uses hidden // 2.
        rng: numpy generator for the initial weights.
        lr: learning rate.
        comm: MPI communicator of the optimizer (Adam on gradients summed over ranks).
    """

    optimizer_name = "mi_adam"  # its optimizer's name in checkpoints

    def __init__(self, split: ObservationSplit, hidden: int, rng: np.random.Generator, lr: float = 1e-3, comm=None):
        super().__init__(name="state_mi")
        self.split = split
        half = hidden // 2
        self.mi_x = Dense(split.dim_agent, half, "ir/state_mi/x", rng)
        self.mi_y = Dense(split.dim_surrounding, half, "ir/state_mi/y", rng)
        self.mi_out = Dense(half, 1, "ir/state_mi/out", rng)
        self.lr = lr
        self.trainable = list(self.named_variables.values())
        self.adam = MpiAdam(self.trainable, scale_grad_by_procs=False, comm=comm)
        # MINE's graphs take only the agent and surrounding entries of the observations,
        # packed as [x, y] (``packed_input``): a quarter of FetchPush's 25 floats to convert.
        self._xy_columns = compact_index(split.agent_indices + split.surrounding_indices)
        xy_tau = tf.TensorSpec([None, None, split.dim_agent + split.dim_surrounding], tf.float32)
        self.signature = [xy_tau, tf.TensorSpec([None], tf.int32)]
        self.estimate_graph = graph(self.neg_mi, self.signature)
        self.gradient_graph = graph(self._gradient, self.signature)
        self._group_gradient_graphs: dict[int, object] = {}  # worker count -> graph, built at first use

    @property
    def named_variables(self) -> dict[str, tf.Variable]:
        return {**self.mi_x.named_variables, **self.mi_y.named_variables, **self.mi_out.named_variables}

    # ------------------------------------------------------------------ inputs
    def packed_input(self, o_tau: np.ndarray) -> np.ndarray:
        """The agent and surrounding entries [x, y] of observations (..., dimo): the graphs'
        input (..., dim_agent + dim_surrounding), a new float32 array."""
        return np.ascontiguousarray(take(np.asarray(o_tau), self._xy_columns), dtype=np.float32)

    def inputs(self, o_tau: np.ndarray, perm, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The graphs' inputs from observations (B, tau, dimo): ``packed_input`` and a time
        permutation (drawn from ``rng`` if ``perm`` is None), both checked."""
        o_tau = np.asarray(o_tau)
        if o_tau.ndim != 3 or o_tau.shape[-1] != self.split.dimo:
            raise ValueError(f"MINE input has shape {o_tau.shape}, expected (B, tau, {self.split.dimo})")
        xy = self.packed_input(o_tau)
        if not np.all(np.isfinite(xy)):
            bad = int(np.sum(~np.isfinite(xy)))
            raise MineNaNError(f"MINE input contains {bad} NaN or Inf values in the agent and surrounding entries "
                               f"of observations of shape {o_tau.shape}")
        tau = o_tau.shape[1]
        perm = rng.permutation(tau) if perm is None else np.asarray(perm)
        if sorted(perm.tolist()) != list(range(tau)):
            raise ValueError(f"perm must be a permutation of range({tau}), got {perm.tolist()}")
        return xy, perm.astype(np.int32)

    # ------------------------------------------------------------------ the intrinsic-reward interface
    def reward(self, transitions, rng: np.random.Generator) -> np.ndarray:
        """The MI reward's raw value (B,) of sampled transitions: the estimate on their pairs
        (o_t, o_t+1) with the permutation the sampler drew for them (``rng`` is not drawn from)."""
        return -self.estimate(*self.inputs(transitions.mi_pairs, transitions.mi_perm, rng)).reshape(-1)

    @staticmethod
    def wants_training(params, scale: float) -> bool:
        """While the MI reward is on (the loop turns it off at mi_end_epoch), unless no_train_mi."""
        return scale > 0 and not params.no_train_mi

    def training_inputs(self, buffer, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``batch_size`` whole episodes of a worker's buffer and a time permutation, drawn in that order."""
        return self.inputs(buffer.random_observations(batch_size, rng), None, rng)

    def gradients(self, inputs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[list[float], np.ndarray, np.ndarray]:
        """K workers' (``inputs``) MI estimates before the step (mean over each batch), their
        gradients summed in MPI's order (one graph call), and the flat parameters."""
        if len(inputs) == 1:
            neg_mi, grad, params = self.gradient(*inputs[0])
            return [-float(np.mean(neg_mi))], grad, params
        neg_mi, grad, params = self.group_gradient(np.stack([xy for xy, _ in inputs]),
                                                   np.stack([perm for _, perm in inputs]))
        return [-float(np.mean(values)) for values in neg_mi], grad, params

    def apply(self, gradients: list[np.ndarray], params: np.ndarray | None = None) -> None:
        """One Adam step on the summed gradients of this process's workers; ``params``: the
        current flat parameters if the caller has them (from ``gradient``), else they are read."""
        self.adam.update(tree_sum(gradients), self.lr, current=params)

    # ------------------------------------------------------------------ numpy in, numpy out
    def estimate(self, xy_tau: np.ndarray, perm: np.ndarray) -> np.ndarray:
        """Negative MINE estimate per sequence of ``packed_input`` (B, tau, dx + dy); shape (B, 1)."""
        return finite(self.estimate_graph(xy_tau, perm).numpy())

    def gradient(self, xy_tau: np.ndarray, perm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The negative estimates (B, 1), the flat gradient (maximizing their mean) and the
        flat parameters it was taken at (for ``apply``, which then need not read them)."""
        neg_mi, grad, params = self.gradient_graph(xy_tau, perm)
        return finite(neg_mi.numpy()), grad.numpy(), params.numpy()

    def group_gradient(self, xy_tau: np.ndarray, perms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """K workers' gradients in one call: xy_tau (K, B, tau, dx + dy), perms (K, tau).

        Returns the negative estimates (K, B, 1), the workers' gradients summed in MPI's
        order (``tree_sum``: bit for bit ``tree_sum`` of K ``gradient`` calls) and the
        parameters (the workers share them).
        """
        neg_mi, grads, params = self.group_gradient_graph(len(xy_tau))(xy_tau, perms)
        return finite(neg_mi.numpy()), tree_sum(list(grads.numpy())), params.numpy()

    def group_gradient_graph(self, k: int):
        """The gradient graph of k workers (built at its first use, traced once)."""
        if k not in self._group_gradient_graphs:
            signature = [tf.TensorSpec([k, *spec.shape], spec.dtype) for spec in self.signature]
            self._group_gradient_graphs[k] = graph(self._group_gradient, signature)
        return self._group_gradient_graphs[k]

    def graphs(self) -> dict:
        """Its graphs by name (benchmarks and tests count their tracings)."""
        return {"estimate": self.estimate_graph, "gradient": self.gradient_graph,
                **{f"gradient of {k} workers": g for k, g in self._group_gradient_graphs.items()}}

    # ------------------------------------------------------------------ graphs
    # The gradient graphs also return the current flat parameters: the Adam step needs them,
    # and reading them here saves a graph call per step (as the learner's training graph).
    def _gradient(self, xy_tau, perm):
        with tf.GradientTape() as tape:
            neg_mi = self.neg_mi(xy_tau, perm)
            loss = tf.reduce_mean(neg_mi)
        return neg_mi, flatten(tape.gradient(loss, self.trainable)), flatten([v.read_value() for v in self.trainable])

    def _group_gradient(self, xy_tau, perms):
        # stacked, summed in numpy: see Learner._group_train_step_graph for why not in the graph
        per_worker = [self._gradient(xy_tau[i], perms[i]) for i in range(xy_tau.shape[0])]
        return (tf.stack([neg_mi for neg_mi, _, _ in per_worker]), tf.stack([grad for _, grad, _ in per_worker]),
                per_worker[0][2])

    def statistics(self, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        """T(x, y) for (B, tau, dim) inputs; shape (B, tau, 1)."""
        return tf.tanh(self.mi_out(tf.nn.relu(self.mi_x(x) + self.mi_y(y))))

    def neg_mi(self, xy_tau: tf.Tensor, perm: tf.Tensor) -> tf.Tensor:
        """Negative MINE estimate per sequence, shape (B, 1) (the original's ``mi_tf``).

        Args:
            xy_tau: the agent and surrounding entries [x, y] of observations (B, tau, dx + dy),
                as ``packed_input`` makes them.
            perm: permutation of range(tau), shape (tau,), shared by the whole batch;
                y shuffled in time by it gives samples of the product of marginals.

        As the original, T runs once on 2 tau time steps per sequence: the pairs (x_t, y_t)
        and then (x_t, y_perm(t)), i.e. ``statistics([x, x], [y, y_perm])``. The agent half of
        the first layer is the same for both halves, but it is computed over all 2 tau rows
        as the original does: a matmul over tau rows does not give the same float32 sums as
        one over 2 tau rows on every CPU and shape (docs/deviations.md, "Bit-exactness"),
        and the same ops on the same shapes are what makes the numbers the original's.
        """
        x = xy_tau[..., : self.split.dim_agent]
        y = xy_tau[..., self.split.dim_agent:]
        y_shuffled = tf.gather(y, perm, axis=1)
        t_all = self.statistics(tf.concat([x, x], axis=1), tf.concat([y, y_shuffled], axis=1))
        tau = tf.shape(x)[1]
        t_joint = t_all[:, :tau, :]
        t_marginal = t_all[:, tau:, :]
        mi = tf.reduce_mean(t_joint, axis=1) - tf.math.log(tf.reduce_mean(tf.exp(t_marginal), axis=1))
        return -mi  # NaN or Inf: MineNaNError, from the numpy wrappers (``finite``)


def build(split: ObservationSplit, dimz: int, params, rng: np.random.Generator, comm=None) -> Mine:
    """The MI reward's network for a run (the factory of its row in ``music.rewards.REWARD_TERMS``)."""
    return Mine(split, params.hidden, rng, params.mi_lr, comm)
