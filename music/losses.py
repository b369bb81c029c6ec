"""The critic target and the actor-critic losses, as pure functions of networks and a batch
(docs/algorithm.md §3). The training graph (``music.learner``) differentiates them.

Shapes: B transitions; ``batch`` holds o, o_2 (B, dimo), z (B, dimz), g, g_2 (B, dimg),
u (B, dimu) and one (B,) column per reward term of ``music.rewards.REWARD_TERMS``.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from music.actor_critic import ActorCritic
from music.config import Params
from music.rewards import REWARD_TERMS, TF, term

ENTROPY_REWARD_MODES = ("original", "per_transition")


def critic_target(params: Params, batch: dict, weights: dict, neg_logp_pi: tf.Tensor, target_q_pi: tf.Tensor,
                  gamma: float, return_bounds: tuple[float, float], terms=REWARD_TERMS) -> tf.Tensor:
    """The sum of the reward terms (rows of ``terms``) plus gamma * target Q, clipped to ``return_bounds``.

    (B, 1); for SAC in the original entropy mode (B, B): there the (B,) entropy term
    broadcasts against the (B, 1) rest, as in the original's graph (docs/deviations.md).
    A term's scale is the weight vector's entry of that name if it has one (the MI scale,
    which the loop turns off), else the ``Params`` field.
    """
    total = None
    for row in terms:
        scale = weights[row.scale] if row.scale_is_input else getattr(params, row.scale)
        if row.batch_key is None:  # the actor's entropy: computed here, shaped by the mode
            value = term(row, neg_logp_pi, scale, weights[row.weight], TF)
            if not params.sac:
                value = tf.zeros([1])
            elif params.entropy_reward_mode == "per_transition":
                value = value[:, None]
        else:
            value = term(row, batch[row.batch_key][:, None], scale, weights[row.weight], TF)
        total = value if total is None else total + value
    return tf.clip_by_value(total + gamma * target_q_pi, *return_bounds)


def actor_critic_losses(main: ActorCritic, target: ActorCritic, params: Params, batch: dict, weights: dict,
                        noise: tf.Tensor, noise_2: tf.Tensor, gamma: float, return_bounds: tuple[float, float],
                        terms=REWARD_TERMS) -> dict[str, tf.Tensor]:
    """The critic's squared TD error and the actor's loss (-Q plus the action penalty).

    ``noise``, ``noise_2``: SAC's N(0, 1) draws (B, dimu) for the actor at o and the target
    actor at o_2 (DDPG: ignored). Returns the losses and the tensors tests look at.
    """
    main_out = main.actor(batch["o"], batch["z"], batch["g"], noise)
    target_out = target.actor(batch["o_2"], batch["z"], batch["g_2"], noise_2)
    target_q_pi = target.critic(batch["o_2"], batch["z"], batch["g_2"], target_out.pi)
    y = critic_target(params, batch, weights, main_out.neg_logp_pi, target_q_pi, gamma, return_bounds, terms)
    q = main.critic(batch["o"], batch["z"], batch["g"], batch["u"])
    q_loss = tf.reduce_mean(tf.square(tf.stop_gradient(y) - q))
    q_pi = main.critic(batch["o"], batch["z"], batch["g"], main_out.pi)
    pi_loss = -tf.reduce_mean(q_pi) + params.action_l2 * tf.reduce_mean(tf.square(main_out.pi / main.max_u))
    return {"target": y, "Q": q, "Q_pi": q_pi, "pi": main_out.pi, "neg_logp_pi": main_out.neg_logp_pi,
            "Q_loss": q_loss, "pi_loss": pi_loss}


def return_bounds(clip_return: float, clip_pos_returns: bool) -> tuple[float, float]:
    """The target's clip: [-clip_return, clip_return], or unbounded above without ``clip_pos_returns``."""
    return -clip_return, clip_return if clip_pos_returns else np.inf
