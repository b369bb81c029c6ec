"""Actor and critic networks of the agent: DDPG (deterministic) and SAC (squashed Gaussian) heads.

Inputs to both are the normalized observation o, the one-hot skill z and the
normalized goal g, concatenated as [o, z, g]; the critic also takes the action
divided by max_u. Shapes: o (B, dimo), z (B, dimz), g (B, dimg), u (B, dimu).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from music.networks import MLP, Dense
from music.normalizer import Normalizer

EPS = 1e-8
LOG_STD_MIN = -5.0
LOG_STD_MAX = 2.0


def gaussian_log_likelihood(x: tf.Tensor, mu: tf.Tensor, log_std: tf.Tensor) -> tf.Tensor:
    """log N(x; mu, exp(log_std)) summed over the last axis; shape (B,)."""
    per_dim = -0.5 * (((x - mu) / (tf.exp(log_std) + EPS)) ** 2 + 2.0 * log_std + np.log(2.0 * np.pi))
    return tf.reduce_sum(per_dim, axis=1)


def clip_but_pass_gradient(x: tf.Tensor, low: float = -1.0, high: float = 1.0) -> tf.Tensor:
    """Clip the value of x to [low, high] in the forward pass; the gradient is that of x."""
    above = tf.cast(x > high, x.dtype)
    below = tf.cast(x < low, x.dtype)
    return x + tf.stop_gradient((high - x) * above + (low - x) * below)


def squash(mu: tf.Tensor, pi: tf.Tensor, logp_pi: tf.Tensor):
    """tanh-squash mean and sample; correct the log-probability of the sample for the tanh."""
    mu = tf.tanh(mu)
    pi = tf.tanh(pi)
    logp_pi = logp_pi - tf.reduce_sum(tf.math.log(clip_but_pass_gradient(1.0 - pi**2, 0.0, 1.0) + 1e-6), axis=1)
    return mu, pi, logp_pi


def action_bound(max_u, dimu: int) -> float | np.ndarray:
    """The action bound: a float, or a float32 array (dimu,) for a per-dimension bound.

    The original's config turns a list-valued ``max_u`` into an array, and every use
    (actor scaling, clipping, the action penalty, random actions) broadcasts it.
    """
    if np.ndim(max_u) == 0:
        bound = float(max_u)
        if not bound > 0:
            raise ValueError(f"max_u must be > 0, got {max_u!r}")
        return bound
    bound = np.asarray(max_u, dtype=np.float32)
    if bound.shape != (dimu,):
        raise ValueError(f"max_u has {bound.size} bounds but actions have {dimu} dimensions; give one number "
                         f"or a list of {dimu}")
    if not np.all(bound > 0):
        raise ValueError(f"every max_u bound must be > 0, got {list(map(float, bound))}")
    return bound


class ActorOutput(NamedTuple):
    mu: tf.Tensor  # (B, dimu) deterministic action in [-max_u, max_u] (DDPG: = pi)
    pi: tf.Tensor  # (B, dimu) action used by the critic's Q_pi (SAC: the sample)
    neg_logp_pi: tf.Tensor  # (B,) -log pi(a|s) of the sample (DDPG: zeros)


class ActorCritic(tf.Module):
    """Actor ``pi`` and critic ``Q`` under the scope ``name`` (``main`` or ``target``).

    Variables: ``<name>/pi/_0..`` (DDPG: [hidden]*layers + [dimu]; SAC trunk:
    [hidden]*(layers+1) then ``<name>/pi/mu`` and ``<name>/pi/log_std`` heads) and
    ``<name>/Q/_0..`` ([hidden]*layers + [1]).

    Args:
        dimo, dimz, dimg, dimu: sizes of observation, skill, goal and action.
        max_u: the largest action magnitude (a float, or an array (dimu,) from
            ``action_bound``); actor outputs are scaled by it.
        o_stats, g_stats: normalizers applied to o and g (shared by main and target).
        hidden, layers: width and depth of the MLPs.
        sac: SAC head (squashed Gaussian) instead of DDPG's tanh.
        rng: numpy generator for the initial weights.
    """

    def __init__(
        self,
        name: str,
        dimo: int,
        dimz: int,
        dimg: int,
        dimu: int,
        max_u: float | np.ndarray,
        o_stats: Normalizer,
        g_stats: Normalizer,
        hidden: int,
        layers: int,
        sac: bool,
        rng: np.random.Generator,
    ):
        super().__init__(name=name)
        self.dimu = dimu
        self.max_u = action_bound(max_u, dimu)
        self.sac = sac
        self.o_stats = o_stats
        self.g_stats = g_stats
        in_pi = dimo + dimz + dimg
        if sac:
            self.pi_trunk = MLP(in_pi, [hidden] * (layers + 1), f"{name}/pi", rng)
            self.pi_mu = Dense(hidden, dimu, f"{name}/pi/mu", rng)
            self.pi_log_std = Dense(hidden, dimu, f"{name}/pi/log_std", rng)
        else:
            self.pi_net = MLP(in_pi, [hidden] * layers + [dimu], f"{name}/pi", rng)
        self.q_net = MLP(in_pi + dimu, [hidden] * layers + [1], f"{name}/Q", rng)

    @property
    def pi_variables(self) -> dict[str, tf.Variable]:
        if self.sac:
            return {**self.pi_trunk.named_variables, **self.pi_mu.named_variables, **self.pi_log_std.named_variables}
        return self.pi_net.named_variables

    @property
    def q_variables(self) -> dict[str, tf.Variable]:
        return self.q_net.named_variables

    def _inputs(self, o: tf.Tensor, z: tf.Tensor, g: tf.Tensor) -> tf.Tensor:
        return tf.concat([self.o_stats.normalize(o), z, self.g_stats.normalize(g)], axis=1)

    def actor(self, o: tf.Tensor, z: tf.Tensor, g: tf.Tensor, noise: tf.Tensor | None = None) -> ActorOutput:
        """Actions for raw (unnormalized) o and g. SAC needs ``noise`` ~ N(0, 1), shape (B, dimu)."""
        x = self._inputs(o, z, g)
        if not self.sac:
            pi = self.max_u * tf.tanh(self.pi_net(x))
            return ActorOutput(mu=pi, pi=pi, neg_logp_pi=tf.zeros_like(pi[:, 0]))
        trunk = self.pi_trunk(x)
        mu = self.pi_mu(trunk)
        log_std = tf.tanh(self.pi_log_std(trunk))
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (log_std + 1.0)
        pi = mu + noise * tf.exp(log_std)
        logp_pi = gaussian_log_likelihood(pi, mu, log_std)
        mu, pi, logp_pi = squash(mu, pi, logp_pi)
        return ActorOutput(mu=mu * self.max_u, pi=pi * self.max_u, neg_logp_pi=-logp_pi)

    def critic(self, o: tf.Tensor, z: tf.Tensor, g: tf.Tensor, u: tf.Tensor) -> tf.Tensor:
        """Q(o, z, g, u / max_u), shape (B, 1)."""
        return self.q_net(tf.concat([self._inputs(o, z, g), u / self.max_u], axis=1))
