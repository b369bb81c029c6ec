"""Intrinsic-reward networks: the MINE statistics network and the DIAYN skill discriminator.

MINE (Belghazi et al. 2018) estimates the mutual information between the agent state
x (grip_pos) and the surrounding state y (object_pos) along a trajectory with the
Donsker-Varadhan bound:

    I(x; y) >= mean_t T(x_t, y_t) - log mean_t exp(T(x_t, y_perm(t)))

where perm shuffles the time axis. The statistics network is
T(x, y) = tanh(W_out relu(W_x x + W_y y)).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from music.envs import ObservationSplit, compact_index, take
from music.mpi_adam import MpiAdam
from music.mpi_util import tree_sum
from music.networks import MLP, Dense
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


class Discriminator(tf.Module):
    """``ir/state_mi`` (MINE) and ``ir/skill_ds`` (skill discriminator), with their training.

    Each network has its own optimizer (``mi_adam``, ``sk_adam``: Adam on gradients summed
    over ranks) and its estimate and training step as graphs traced once.

    Args:
        split: which observation slices are agent (x) and surrounding (y).
        dimz: number of skills (width of the one-hot z).
        hidden: the agent's hidden width; both networks here use hidden // 2.
        layers: depth of the skill discriminator MLP.
        rng: numpy generator for the initial weights.
        mi_lr, sk_lr: learning rates of MINE and the skill discriminator.
        comm: MPI communicator of the optimizers.
    """

    def __init__(self, split: ObservationSplit, dimz: int, hidden: int, layers: int, rng: np.random.Generator,
                 mi_lr: float = 1e-3, sk_lr: float = 1e-3, comm=None):
        super().__init__(name="ir")
        self.split = split
        half = hidden // 2
        self.mi_x = Dense(split.dim_agent, half, "ir/state_mi/x", rng)
        self.mi_y = Dense(split.dim_surrounding, half, "ir/state_mi/y", rng)
        self.mi_out = Dense(half, 1, "ir/state_mi/out", rng)
        self.skill_net = MLP(split.dim_surrounding, [half] * layers + [dimz], "ir/skill_ds", rng)
        self.mi_lr, self.sk_lr = mi_lr, sk_lr
        self._mi_vars = list(self.mi_variables.values())
        self._sk_vars = list(self.sk_variables.values())
        self.mi_adam = MpiAdam(self._mi_vars, scale_grad_by_procs=False, comm=comm)
        self.sk_adam = MpiAdam(self._sk_vars, scale_grad_by_procs=False, comm=comm)
        dimo = split.dimo
        # MINE's graphs take only the agent and surrounding entries of the observations,
        # packed as [x, y] (``mine_input``): a quarter of FetchPush's 25 floats to convert.
        self._xy_columns = compact_index(split.agent_indices + split.surrounding_indices)
        xy_tau = tf.TensorSpec([None, None, split.dim_agent + split.dim_surrounding], tf.float32)
        perm = tf.TensorSpec([None], tf.int32)
        o, z = tf.TensorSpec([None, dimo], tf.float32), tf.TensorSpec([None, dimz], tf.float32)
        self._neg_mi = graph(self.neg_mi, [xy_tau, perm])
        self._mi_grad = graph(self._mi_grad_graph, [xy_tau, perm])
        self._sk_reward = graph(lambda o, z: -self.skill_loss(o, z), [o, z])
        self._sk_grad = graph(self._sk_grad_graph, [o, z])
        self._mi_signature = [xy_tau, perm]
        self._group_mi_grads: dict[int, object] = {}  # worker count -> graph, built at first use

    # ------------------------------------------------------------------ training (numpy in, numpy out)
    def mine_input(self, o_tau: np.ndarray) -> np.ndarray:
        """The agent and surrounding entries [x, y] of observations (..., dimo): MINE's input
        (..., dim_agent + dim_surrounding), a new float32 array."""
        return np.ascontiguousarray(take(np.asarray(o_tau), self._xy_columns), dtype=np.float32)

    def mi_estimate(self, xy_tau: np.ndarray, perm: np.ndarray) -> np.ndarray:
        """Negative MINE estimate per sequence of ``mine_input`` (B, tau, dx + dy); shape (B, 1)."""
        return finite(self._neg_mi(xy_tau, perm).numpy())

    def mine_gradient(self, xy_tau: np.ndarray, perm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The negative estimates (B, 1), MINE's flat gradient (maximizing their mean) and the
        flat parameters it was taken at (for ``apply_mine``, which then need not read them)."""
        neg_mi, grad, params = self._mi_grad(xy_tau, perm)
        return finite(neg_mi.numpy()), grad.numpy(), params.numpy()

    def group_mine_gradient(self, xy_tau: np.ndarray, perms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """K workers' MINE gradients in one call: xy_tau (K, B, tau, dx + dy), perms (K, tau).

        Returns the negative estimates (K, B, 1), the workers' gradients summed in MPI's
        order (``tree_sum``: bit for bit ``tree_sum`` of K ``mine_gradient`` calls) and the
        parameters (the workers share them).
        """
        k = len(xy_tau)
        if k not in self._group_mi_grads:
            signature = [tf.TensorSpec([k, *spec.shape], spec.dtype) for spec in self._mi_signature]
            self._group_mi_grads[k] = graph(self._group_mi_grad_graph, signature)
        neg_mi, grads, params = self._group_mi_grads[k](xy_tau, perms)
        return finite(neg_mi.numpy()), tree_sum(list(grads.numpy())), params.numpy()

    def _group_mi_grad_graph(self, xy_tau, perms):
        # stacked, summed in numpy: see DDPG._group_train_step_graph for why not in the graph
        per_worker = [self._mi_grad_graph(xy_tau[i], perms[i]) for i in range(xy_tau.shape[0])]
        return (tf.stack([neg_mi for neg_mi, _, _ in per_worker]), tf.stack([grad for _, grad, _ in per_worker]),
                per_worker[0][2])

    def apply_mine(self, gradients: list[np.ndarray], params: np.ndarray | None = None) -> None:
        """One MINE Adam step on the summed gradients of this process's workers; ``params``: MINE's
        current flat parameters if the caller has them (from ``mine_gradient``), else they are read."""
        self.mi_adam.update(tree_sum(gradients), self.mi_lr, current=params)

    def mine_step(self, xy_tau: np.ndarray, perm: np.ndarray) -> np.ndarray:
        """One MINE step (maximize the mean estimate); returns the negative estimates (B, 1) before it."""
        neg_mi, grad, params = self.mine_gradient(xy_tau, perm)
        self.apply_mine([grad], params)
        return neg_mi

    def skill_reward(self, o: np.ndarray, z: np.ndarray) -> np.ndarray:
        """-cross_entropy(discriminator(surrounding state of o), z); shape (B,)."""
        return self._sk_reward(o, z).numpy()

    def skill_gradient(self, o: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The cross-entropies (B,), the skill discriminator's flat gradient and the flat
        parameters it was taken at (for ``apply_skill``)."""
        sk_loss, grad, params = self._sk_grad(o, z)
        return sk_loss.numpy(), grad.numpy(), params.numpy()

    def apply_skill(self, gradients: list[np.ndarray], params: np.ndarray | None = None) -> None:
        """One skill-discriminator Adam step on the summed gradients of this process's workers
        (``params`` as in ``apply_mine``)."""
        self.sk_adam.update(tree_sum(gradients), self.sk_lr, current=params)

    def skill_step(self, o: np.ndarray, z: np.ndarray) -> np.ndarray:
        """One skill-discriminator step; returns the cross-entropies (B,) before it."""
        sk_loss, grad, params = self.skill_gradient(o, z)
        self.apply_skill([grad], params)
        return sk_loss

    # Both gradient graphs also return the network's current flat parameters: the Adam step
    # needs them, and reading them here saves a graph call per step (as DDPG's training graph).
    def _mi_grad_graph(self, xy_tau, perm):
        with tf.GradientTape() as tape:
            neg_mi = self.neg_mi(xy_tau, perm)
            loss = tf.reduce_mean(neg_mi)
        return neg_mi, flatten(tape.gradient(loss, self._mi_vars)), flatten([v.read_value() for v in self._mi_vars])

    def _sk_grad_graph(self, o, z):
        with tf.GradientTape() as tape:
            sk_loss = self.skill_loss(o, z)
            loss = tf.reduce_mean(sk_loss)
        return sk_loss, flatten(tape.gradient(loss, self._sk_vars)), flatten([v.read_value() for v in self._sk_vars])

    @property
    def mi_variables(self) -> dict[str, tf.Variable]:
        return {**self.mi_x.named_variables, **self.mi_y.named_variables, **self.mi_out.named_variables}

    @property
    def sk_variables(self) -> dict[str, tf.Variable]:
        return self.skill_net.named_variables

    def statistics(self, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        """T(x, y) for (B, tau, dim) inputs; shape (B, tau, 1)."""
        return tf.tanh(self.mi_out(tf.nn.relu(self.mi_x(x) + self.mi_y(y))))

    def neg_mi(self, xy_tau: tf.Tensor, perm: tf.Tensor) -> tf.Tensor:
        """Negative MINE estimate per sequence, shape (B, 1) (the original's ``mi_tf``).

        Args:
            xy_tau: the agent and surrounding entries [x, y] of observations (B, tau, dx + dy),
                as ``mine_input`` makes them.
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

    def skill_logits(self, o: tf.Tensor) -> tf.Tensor:
        """Skill logits from the surrounding state of o (B, dimo); shape (B, dimz)."""
        return self.skill_net(take(o, self.split.surrounding))

    def skill_loss(self, o: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
        """Softmax cross-entropy of the skill discriminator against one-hot z; shape (B,)."""
        return tf.nn.softmax_cross_entropy_with_logits(labels=z, logits=self.skill_logits(o))
