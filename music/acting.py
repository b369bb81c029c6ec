"""Acting: a worker's actions for observations, with the original's exploration.

The greedy action is the actor's (SAC: the tanh of its mean) on the learner's main or
target network; exploration adds Gaussian noise of std ``noise_eps * max_u``, clips, and
with probability ``random_eps`` takes a uniform random action instead (docs/algorithm.md
§5). The graphs are the worker's own: SAC's sample (for ``Q_pi``) comes from its TF
generator, the noise from its numpy generator, so that workers act as ranks do.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from music.tf_util import graph


def preprocess_og(params, dimg: int, o: np.ndarray, ag: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Observations and goals as the networks take them: goals relative to the achieved goal
    with ``relative_goals``, both clipped to ``clip_obs``."""
    if params.relative_goals:
        g = (g.reshape(-1, dimg) - ag.reshape(-1, dimg)).reshape(g.shape)
    bound = params.clip_obs
    return np.clip(o, -bound, bound), np.clip(g, -bound, bound)


class Acting:
    """A worker's four acting graphs (main or target actor, with or without Q(o, pi(o))) and
    ``actions``, the exploration around them.

    Args:
        learner: the networks (``music.learner.Learner``).
        params: the run's parameters.
        tf_rng: the worker's TF generator (SAC's sample).
        env_name: named in errors.
    """

    def __init__(self, learner, params, tf_rng: tf.random.Generator, env_name: str):
        self.params, self.tf_rng, self.env_name = params, tf_rng, env_name
        self.dimo, self.dimz, self.dimg, self.dimu = learner.sizes
        self.max_u = learner.max_u
        # Acting takes [o, z, g] packed into one matrix: one input to convert instead of three.
        act_sig = [tf.TensorSpec([None, self.dimo + self.dimz + self.dimg], tf.float32)]
        # Acting with and without Q(o, pi(o)): training rollouts need no critic pass.
        self.act_main = graph(functools.partial(self._act_graph, learner.main, False), act_sig)
        self.act_target = graph(functools.partial(self._act_graph, learner.target, False), act_sig)
        self.act_main_q = graph(functools.partial(self._act_graph, learner.main, True), act_sig)
        self.act_target_q = graph(functools.partial(self._act_graph, learner.target, True), act_sig)

    def graphs(self) -> dict:
        """The acting graphs by name (tests and benchmarks count their tracings)."""
        return {"act_main": self.act_main, "act_target": self.act_target, "act_main_q": self.act_main_q,
                "act_target_q": self.act_target_q}

    def _act_graph(self, net, with_q: bool, ozg):
        o, z, g = tf.split(ozg, [self.dimo, self.dimz, self.dimg], axis=1)
        # Drawn with or without Q, so that the random stream (shared with training) is the same.
        noise = self.tf_rng.normal(tf.stack([tf.shape(o)[0], self.dimu])) if self.params.sac else None
        out = net.actor(o, z, g, noise)
        # SAC acts with its mean (exploration noise is added outside); Q_pi uses the sample.
        return (out.mu, net.critic(o, z, g, out.pi)) if with_q else out.mu

    def actions(self, o, z, ag, g, rng: np.random.Generator, noise_eps: float = 0.0, random_eps: float = 0.0,
                use_target_net: bool = False, compute_Q: bool = False):
        """Actions for observations o (B, dimo) or (dimo,), skills z, achieved and desired goals,
        exploring with ``rng`` (see the module doc). Returns u (B, dimu), or (dimu,) for a single
        observation; with compute_Q also Q_pi (B, 1)."""
        o, z, ag, g = (np.asarray(x, dtype=np.float32) for x in (o, z, ag, g))
        for name, array, dim in (("o", o, self.dimo), ("z", z, self.dimz), ("g", g, self.dimg), ("ag", ag, self.dimg)):
            if array.shape[-1] != dim:
                raise ValueError(f"{self.env_name}: {name} has shape {array.shape}, expected (..., {dim})")
        o, g = preprocess_og(self.params, self.dimg, o, ag, g)
        ozg = np.concatenate([o.reshape(-1, self.dimo), z.reshape(-1, self.dimz), g.reshape(-1, self.dimg)], axis=1)
        if compute_Q:
            act = self.act_target_q if use_target_net else self.act_main_q
            u, q = act(ozg)
        else:
            act = self.act_target if use_target_net else self.act_main
            u = act(ozg)
        # float32 throughout, as the original: each float64 term is added to the float32
        # actions in place, so the sum is rounded back to float32 (env.step and the replay
        # buffer get float32 actions).
        u = u.numpy().copy()
        u += noise_eps * self.max_u * rng.standard_normal(u.shape)
        u = np.clip(u, -self.max_u, self.max_u)
        explore = rng.binomial(1, random_eps, u.shape[0]).reshape(-1, 1)
        u += explore * (rng.uniform(-self.max_u, self.max_u, size=(u.shape[0], self.dimu)) - u)
        if u.shape[0] == 1:
            u = u[0]
        return (u.copy(), q.numpy()) if compute_Q else u.copy()
