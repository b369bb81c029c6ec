"""Hindsight Experience Replay sampling with MUSIC's intrinsic rewards.

``make_sample_her_transitions`` builds the function that turns stored episodes into a
training batch of transitions: it picks (episode, time) pairs, optionally re-weights
episodes by their MI priority, computes the MI reward on (o_t, o_{t+1}) and the skill
reward on o_t with the current networks, relabels goals with future achieved goals,
and recomputes the task reward with the env's ``compute_reward``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from music.schedules import PiecewiseSchedule

REPLAY_STRATEGIES = ("future", "final", "none")


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
    """Return ``sample(policy, ir, episode_batch, batch_size, mi_r_scale, sk_r_scale, epoch, rng)``.

    Args:
        replay_strategy: ``future`` (relabel with a later achieved goal of the same
            episode), ``final`` (with the last one) or ``none``.
        replay_k: ratio of relabelled to original goals; the relabel probability is
            1 - 1 / (1 + replay_k).
        reward_fun: ``reward_fun(ag_2=(B, dimg), g=(B, dimg), info=dict) -> (B,)``.
        mi_w_schedule, et_w_schedule: (epoch, weight) endpoints of the MI and entropy
            reward weights m_w and e_w.
        mi_prioritization: draw episodes with probability proportional to dense rank - 1
            of their stored MI priority ``p``.
    """
    if replay_strategy not in REPLAY_STRATEGIES:
        raise ValueError(f"unknown replay_strategy {replay_strategy!r}; use one of {', '.join(REPLAY_STRATEGIES)}")
    if replay_k < 0:
        raise ValueError(f"replay_k must be >= 0, got {replay_k}")
    future_p = 1.0 - 1.0 / (1.0 + replay_k) if replay_strategy in ("future", "final") else 0.0
    mi_w_scheduler = PiecewiseSchedule(mi_w_schedule, name="mi_w_schedule")
    et_w_scheduler = PiecewiseSchedule(et_w_schedule, name="et_w_schedule")

    def sample_her_transitions(
        policy,
        ir: bool,
        episode_batch: dict[str, np.ndarray],
        batch_size: int,
        mi_r_scale: float,
        sk_r_scale: float,
        epoch: int,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        """Sample ``batch_size`` transitions from ``episode_batch`` ({key: (n_episodes, T or T+1, dim)}).

        ``policy`` provides ``run_mi`` and ``run_sk`` when ``ir`` (intrinsic rewards) is on.
        Returns {key: (batch_size, dim)} plus r, m, s of shape (batch_size,) and the
        scalar weights m_w, s_w, r_w, e_w.
        """
        T = episode_batch["u"].shape[1]
        n_episodes = episode_batch["u"].shape[0]

        episode_idxs = rng.integers(0, n_episodes, batch_size)
        t_samples = rng.integers(0, T, batch_size)

        mi_reward = np.zeros(batch_size)
        sk_reward = np.zeros(batch_size)
        if ir:
            if mi_prioritization and episode_batch["p"].sum() != 0:
                rank = dense_rank_minus_one(episode_batch["p"])
                if rank.sum() != 0:
                    episode_idxs = rng.choice(n_episodes, size=batch_size, replace=True, p=rank / rank.sum())
            if mi_r_scale > 0:
                o_pair = np.stack(
                    [episode_batch["o"][episode_idxs, t_samples], episode_batch["o"][episode_idxs, t_samples + 1]],
                    axis=1,
                )
                mi_reward = -policy.run_mi(o_pair).reshape(-1)
            if sk_r_scale > 0:
                o_now = episode_batch["o"][episode_idxs, t_samples]
                z_now = episode_batch["z"][episode_idxs, t_samples]
                sk_reward = policy.run_sk(o_now, z_now).reshape(-1)

        transitions = {
            key: episode_batch[key][episode_idxs, t_samples].copy() for key in episode_batch if key != "p"
        }
        if "p" in episode_batch:
            transitions["p"] = episode_batch["p"][episode_idxs].copy()

        her_indexes = np.where(rng.uniform(size=batch_size) < future_p)
        future_offset = (rng.uniform(size=batch_size) * (T - t_samples)).astype(int)
        future_t = (t_samples + 1 + future_offset)[her_indexes]
        if replay_strategy == "final":
            future_t[:] = T
        transitions["g"][her_indexes] = episode_batch["ag"][episode_idxs[her_indexes], future_t]

        if reward_fun is not None:
            info = {k[len("info_"):]: v for k, v in transitions.items() if k.startswith("info_")}
            transitions["r"] = np.asarray(reward_fun(ag_2=transitions["ag_2"], g=transitions["g"], info=info))
            transitions["r"] = transitions["r"].reshape(batch_size)

        transitions["m"] = mi_reward
        transitions["s"] = sk_reward
        transitions["m_w"] = mi_w_scheduler.value(epoch)
        transitions["s_w"] = 1.0
        transitions["r_w"] = 1.0
        transitions["e_w"] = et_w_scheduler.value(epoch)
        return transitions

    return sample_her_transitions
