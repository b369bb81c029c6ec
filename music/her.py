"""Hindsight Experience Replay sampling, a pure function of the stored episodes.

``make_sample_her_transitions`` builds the function that turns stored episodes into a
training batch (``Transitions``): it picks (episode, time) pairs, optionally re-weights
episodes by their MI priority, relabels goals with future achieved goals and recomputes
the task reward with the env's ``compute_reward``. It never calls the agent: for the MI
reward it returns the (o_t, o_t+1) pairs and the time permutation MINE is to use, drawn
at the point of the random stream where the original drew it; the agent then scores them
(``DDPG.sample_batch``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from music.schedules import PiecewiseSchedule

REPLAY_STRATEGIES = ("future", "final", "none")


class Transitions(NamedTuple):
    """B transitions sampled from stored episodes; arrays (B, dim) unless said."""

    o: np.ndarray  # observation at t
    o_2: np.ndarray  # observation at t + 1
    ag: np.ndarray  # achieved goal at t
    ag_2: np.ndarray  # achieved goal at t + 1
    g: np.ndarray  # goal, relabelled for the HER share
    u: np.ndarray  # action
    z: np.ndarray  # one-hot skill
    r: np.ndarray | None  # (B,) task reward for ag_2 and g (None without a reward function)
    info: dict[str, np.ndarray]  # the env's per-step info values (e.g. is_success)
    p: np.ndarray | None  # (B, 1) the episodes' MI priorities (prioritized buffers only)
    mi_pairs: np.ndarray | None  # (B, 2, dimo) (o_t, o_t+1) for the MI reward, if asked for
    mi_perm: np.ndarray | None  # (2,) the time permutation of MINE's marginal samples for them
    m_w: float  # MI reward weight at this epoch (mi_w_schedule)
    e_w: float  # entropy reward weight at this epoch (et_w_schedule)


def dense_rank_minus_one(priorities: np.ndarray) -> np.ndarray:
    """Dense rank of each value, starting at 0 (equal values share a rank, no gaps)."""
    _, inverse = np.unique(np.asarray(priorities).ravel(), return_inverse=True)
    return inverse.astype(np.float64)


def make_sample_her_transitions(
    replay_strategy: str,
    replay_k: float,
    reward_fun: Callable[..., np.ndarray] | None,
    mi_w_schedule,
    et_w_schedule,
    mi_prioritization: bool,
):
    """Return ``sample(episode_batch, batch_size, epoch, rng, intrinsic=False, with_mi=False) -> Transitions``.

    Args:
        replay_strategy: ``future`` (relabel with a later achieved goal of the same
            episode), ``final`` (with the last one) or ``none``.
        replay_k: ratio of relabelled to original goals; the relabel probability is
            1 - 1 / (1 + replay_k).
        reward_fun: ``reward_fun(ag_2=(B, dimg), g=(B, dimg), info=dict) -> (B,)``.
        mi_w_schedule, et_w_schedule: (epoch, weight) endpoints of the MI and entropy
            reward weights m_w and e_w.
        mi_prioritization: with ``intrinsic``, draw episodes with probability proportional
            to dense rank - 1 of their stored MI priority ``p``.
    """
    if replay_strategy not in REPLAY_STRATEGIES:
        raise ValueError(f"unknown replay_strategy {replay_strategy!r}; use one of {', '.join(REPLAY_STRATEGIES)}")
    if replay_k < 0:
        raise ValueError(f"replay_k must be >= 0, got {replay_k}")
    future_p = 1.0 - 1.0 / (1.0 + replay_k) if replay_strategy in ("future", "final") else 0.0
    mi_w_scheduler = PiecewiseSchedule(mi_w_schedule, name="mi_w_schedule")
    et_w_scheduler = PiecewiseSchedule(et_w_schedule, name="et_w_schedule")

    def sample_her_transitions(
        episode_batch: dict[str, np.ndarray],
        batch_size: int,
        epoch: int,
        rng: np.random.Generator,
        intrinsic: bool = False,
        with_mi: bool = False,
    ) -> Transitions:
        """Sample ``batch_size`` transitions from ``episode_batch`` ({key: (n_episodes, T or T+1, dim)}).

        ``intrinsic`` is the training batch (the original's ``ir``): prioritized episodes, and
        with ``with_mi`` the MI pairs and their permutation. The order of the random draws is
        the original's, so the same generator state gives the same batch.
        """
        T = episode_batch["u"].shape[1]
        n_episodes = episode_batch["u"].shape[0]

        episode_idxs = rng.integers(0, n_episodes, batch_size)
        t_samples = rng.integers(0, T, batch_size)

        mi_pairs = mi_perm = None
        if intrinsic:
            if mi_prioritization and episode_batch["p"].sum() != 0:
                rank = dense_rank_minus_one(episode_batch["p"])
                if rank.sum() != 0:
                    episode_idxs = rng.choice(n_episodes, size=batch_size, replace=True, p=rank / rank.sum())
            if with_mi:
                mi_pairs = np.stack(
                    [episode_batch["o"][episode_idxs, t_samples], episode_batch["o"][episode_idxs, t_samples + 1]],
                    axis=1,
                )
                mi_perm = rng.permutation(2)  # MINE's draw for this batch, here as in the original

        # fancy indexing copies, so relabelling step["g"] below leaves the buffer as it is
        step = {key: episode_batch[key][episode_idxs, t_samples] for key in episode_batch if key != "p"}
        p = episode_batch["p"][episode_idxs] if "p" in episode_batch else None

        her_indexes = np.where(rng.uniform(size=batch_size) < future_p)
        future_offset = (rng.uniform(size=batch_size) * (T - t_samples)).astype(int)
        future_t = (t_samples + 1 + future_offset)[her_indexes]
        if replay_strategy == "final":
            future_t[:] = T
        step["g"][her_indexes] = episode_batch["ag"][episode_idxs[her_indexes], future_t]

        info = {k[len("info_"):]: v for k, v in step.items() if k.startswith("info_")}
        r = None
        if reward_fun is not None:
            r = np.asarray(reward_fun(ag_2=step["ag_2"], g=step["g"], info=info)).reshape(batch_size)
        return Transitions(o=step["o"], o_2=step["o_2"], ag=step["ag"], ag_2=step["ag_2"], g=step["g"],
                           u=step["u"], z=step["z"], r=r, info=info, p=p, mi_pairs=mi_pairs, mi_perm=mi_perm,
                           m_w=mi_w_scheduler.value(epoch), e_w=et_w_scheduler.value(epoch))

    return sample_her_transitions
