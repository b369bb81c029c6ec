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

from music.envs import ObservationSplit
from music.networks import MLP, Dense


class Discriminator(tf.Module):
    """``ir/state_mi`` (MINE) and ``ir/skill_ds`` (skill discriminator) networks.

    Args:
        split: which observation slices are agent (x) and surrounding (y).
        dimz: number of skills (width of the one-hot z).
        hidden: the agent's hidden width; both networks here use hidden // 2.
        layers: depth of the skill discriminator MLP.
        rng: numpy generator for the initial weights.
    """

    def __init__(self, split: ObservationSplit, dimz: int, hidden: int, layers: int, rng: np.random.Generator):
        super().__init__(name="ir")
        self.split = split
        half = hidden // 2
        self.mi_x = Dense(split.dim_agent, half, "ir/state_mi/x", rng)
        self.mi_y = Dense(split.dim_surrounding, half, "ir/state_mi/y", rng)
        self.mi_out = Dense(half, 1, "ir/state_mi/out", rng)
        self.skill_net = MLP(split.dim_surrounding, [half] * layers + [dimz], "ir/skill_ds", rng)

    @property
    def mi_variables(self) -> dict[str, tf.Variable]:
        return {**self.mi_x.named_variables, **self.mi_y.named_variables, **self.mi_out.named_variables}

    @property
    def sk_variables(self) -> dict[str, tf.Variable]:
        return self.skill_net.named_variables

    def statistics(self, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        """T(x, y) for (B, tau, dim) inputs; shape (B, tau, 1)."""
        return tf.tanh(self.mi_out(tf.nn.relu(self.mi_x(x) + self.mi_y(y))))

    def neg_mi(self, o_tau: tf.Tensor, perm: tf.Tensor) -> tf.Tensor:
        """Negative MINE estimate per sequence, shape (B, 1) (the original's ``mi_tf``).

        Args:
            o_tau: observations (B, tau, dimo).
            perm: permutation of range(tau), shape (tau,), shared by the whole batch;
                y shuffled in time by it gives samples of the product of marginals.
        """
        x = o_tau[..., self.split.agent]
        y = o_tau[..., self.split.surrounding]
        y_shuffled = tf.gather(y, perm, axis=1)
        t_all = self.statistics(tf.concat([x, x], axis=1), tf.concat([y, y_shuffled], axis=1))
        tau = tf.shape(x)[1]
        t_joint = t_all[:, :tau, :]
        t_marginal = t_all[:, tau:, :]
        mi = tf.reduce_mean(t_joint, axis=1) - tf.math.log(tf.reduce_mean(tf.exp(t_marginal), axis=1))
        return tf.debugging.check_numerics(-mi, "MINE estimate is NaN or Inf")

    def skill_logits(self, o: tf.Tensor) -> tf.Tensor:
        """Skill logits from the surrounding state of o (B, dimo); shape (B, dimz)."""
        return self.skill_net(o[..., self.split.surrounding])

    def skill_loss(self, o: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
        """Softmax cross-entropy of the skill discriminator against one-hot z; shape (B,)."""
        return tf.nn.softmax_cross_entropy_with_logits(labels=z, logits=self.skill_logits(o))
