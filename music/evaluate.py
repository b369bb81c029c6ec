"""Evaluate a policy without rendering: ``python -m music.evaluate POLICY --episodes 100``.

Runs ``--episodes`` episodes (``test`` mode: greedy actions and the env's goals, as the
training logs' test rollouts; ``train`` mode: the exploration and goals of training; ``play``
mode: greedy actions and the goals of training, as the original's play.py, which recorded
the authors' demos) and
prints, and optionally writes as JSON or CSV: the success rate with a 95 % Wilson
interval, the object's displacement and lift (m), the fractions of episodes that lift it
at least 5 cm and that end with it off the table, the displacement of the episodes that end
with it on the table, and the MI reward of the episodes' two-step windows as the critic
sees it, ``clip(mi_r_scale * MI, 0, 1) - 1``, scored by the policy's own MINE (or the one
of ``--mine``).
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

from music.cli import fail, mpi_missing, parser

MI_R_SCALE = 5000.0  # the paper's MI reward scale, used to express MI as the critic's reward
# The Fetch table is 0.4 m high: an object that ends this much below its start is on the floor.
FALL_DROP = 0.2
# The Fetch blocks are 5 cm cubes: tipped onto an edge, a block's centre rises 2.5 cm x (sqrt 2 - 1)
# = 1.0 cm, pushed it does not rise; so an episode whose object rises this much has picked it up.
LIFT_THRESHOLD = 0.05
MODES = ("test", "train", "play")


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95 % for z = 1.96)."""
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def ends_off_the_table(object_height: np.ndarray) -> bool:
    """Whether an episode's object heights (T+1,) end more than FALL_DROP below the start."""
    return bool(object_height[0] - object_height[-1] > FALL_DROP)


def fraction_lifted(lifts) -> float:
    """The fraction of episodes whose object's highest point is at least LIFT_THRESHOLD above its start."""
    lifts = np.asarray(lifts, dtype=np.float64)
    return float(np.mean(lifts >= LIFT_THRESHOLD)) if lifts.size else math.nan


def window_mi_rewards(policy, observations: np.ndarray, perm=None) -> np.ndarray:
    """The MI reward of each of an episode's two-step windows as the critic sees it,
    clip(MI_R_SCALE * MI, 0, 1) - 1, under the policy's MINE; observations (T+1, dimo) -> (T,).
    ``perm``: the time permutation of the marginal samples, shared by the windows (default: one
    drawn from the policy's stream, as training draws it for a batch)."""
    pairs = np.stack([observations[:-1], observations[1:]], axis=1)  # (T, 2, dimo)
    mi = -policy.run_mi(pairs, perm).reshape(-1)
    return np.clip(MI_R_SCALE * mi, 0.0, 1.0) - 1.0


def episode_mi_reward(policy, observations: np.ndarray) -> float:
    """The mean of ``window_mi_rewards``: an episode's MI reward."""
    return float(np.mean(window_mi_rewards(policy, observations)))


def evaluate(policy_file: Path, episodes: int, seed: int = 0, mode: str = "test", mine: Path | None = None) -> dict:
    """Load the policy (and ``mine``'s MINE) and run the episodes; returns the summary."""
    from music.save_weight import load_policy

    policy = load_policy(policy_file)
    if mine is not None:
        policy.load_weight(load_policy(mine).save_weight(), ["state_mi"], verbose=False)
    return {"policy": str(policy_file), **evaluate_policy(policy, episodes, seed, mode),
            "mine": str(mine or policy_file) if policy.mine is not None else None}


def evaluate_policy(policy, episodes: int, seed: int = 0, mode: str = "test", make_env=None) -> dict:
    """Run ``episodes`` episodes of ``policy`` (a ``DDPG``, e.g. fresh weights) in ``mode``.

    ``make_env`` (optional) builds the environment from the task's name, e.g. with a wrapper
    that records what the measurement needs (``experiments/grasp_rate.py``: contacts).

    Returns env_name, mode, episodes, seed, goals, the success rate and its Wilson interval,
    the mean MI reward (NaN without an object), and for object tasks the object's
    displacement and lift (mean, std; m), ``object_lifted``: the fraction of episodes that
    lift the object at least LIFT_THRESHOLD, ``object_fell``: the fraction that end with the
    object more than FALL_DROP below where it started (off the table), and
    ``object_displacement_on_table``: the mean displacement of the other episodes (a fall
    counts its drop as displacement; NaN if every episode ended off the table).
    """
    from music.envs import take
    from music.rollout import RolloutWorker

    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: expected one of {', '.join(MODES)}")

    if make_env is None:
        from music.envs import make_env
    env_name = policy.env_name
    worker = RolloutWorker(lambda: make_env(env_name, quiet=True), policy, dict(policy.input_dims), T=policy.T,
                           rollout_batch_size=1, exploit=mode in ("test", "play"), compute_Q=False,
                           noise_eps=policy.params.noise_eps, random_eps=policy.params.random_eps,
                           use_target_net=policy.params.test_with_polyak, env_name=env_name,
                           history_len=episodes)
    worker.seed(seed)
    policy.rng = np.random.default_rng(seed)
    zero_goals = mode in ("train", "play") and policy.params.goal_generation == "Zero"
    goal = np.zeros((1, policy.dimg)) if zero_goals else None
    mi_rewards, fell = [], []
    for i in range(episodes):
        skill = np.eye(policy.dimz)[[i % policy.dimz]]
        episode = worker.generate_rollouts(generated_goal=goal, z_s_onehot=skill)
        if policy.mine is not None:
            mi_rewards.append(episode_mi_reward(policy, episode["o"][0]))
        if worker.object_slice is not None and worker.initial_object.shape[1] == 3:  # a 3-D object position
            fell.append(ends_off_the_table(take(episode["o"][0], worker.object_slice)[:, 2]))
    successes = int(round(sum(worker.success_history)))
    low, high = wilson_interval(successes, episodes)
    summary = {
        "env_name": env_name, "mode": mode, "episodes": episodes, "seed": seed,
        "goals": "Zero" if zero_goals else "Env",
        "success_rate": successes / episodes, "success_ci95_low": low, "success_ci95_high": high,
        "mi_reward_mean": float(np.mean(mi_rewards)) if mi_rewards else math.nan,
    }
    for name, history in (("object_displacement", worker.displacement_history), ("object_lift", worker.lift_history)):
        values = np.asarray(history, dtype=np.float64)
        summary[f"{name}_mean"] = float(values.mean()) if values.size else math.nan
        summary[f"{name}_std"] = float(values.std()) if values.size else math.nan
    # rollout_batch_size 1: one displacement and lift per episode in the worker's histories, in order.
    summary["object_lifted"] = fraction_lifted(worker.lift_history) if fell else math.nan
    summary["object_fell"] = float(np.mean(fell)) if fell else math.nan
    on_table = [d for d, off in zip(worker.displacement_history, fell, strict=True) if not off] if fell else []
    summary["object_displacement_on_table"] = float(np.mean(on_table)) if on_table else math.nan
    return summary


def summary_line(summary: dict, mode: str, episodes: int) -> str:
    """The one line ``main`` prints; the object figures only where the task has an object (a
    task without a height of it, like MusicPointPush-v0, has no lift or table to fall off)."""
    parts = [f"{summary['env_name']}, {mode} mode, {episodes} episodes, goals {summary['goals']}: "
             f"success {summary['success_rate']:.3f} (95% CI {summary['success_ci95_low']:.3f}-"
             f"{summary['success_ci95_high']:.3f})"]
    if np.isfinite(summary["object_displacement_mean"]):
        parts.append(f"object displacement {summary['object_displacement_mean']:.4f} m")
    if np.isfinite(summary["object_lifted"]):
        parts.append(f"lift {summary['object_lift_mean']:.4f} m, lifted {summary['object_lifted']:.2f}, off the "
                     f"table {summary['object_fell']:.2f} (displacement of the others "
                     f"{summary['object_displacement_on_table']:.4f} m)")
    if np.isfinite(summary["mi_reward_mean"]):
        parts.append(f"MI reward {summary['mi_reward_mean']:.4f}")
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    p = parser("python -m music.evaluate", __doc__.split("\n\n")[0])
    p.add_argument("policy_file", help="policy_*.npz (no pickle) or policy_*.pkl")
    p.add_argument("--episodes", type=int, default=100, help="episodes to run")
    p.add_argument("--seed", type=int, default=0, help="seed of the env and the exploration")
    p.add_argument("--mode", choices=MODES, default="test",
                   help="test: greedy, env goals; train: training's exploration and goals; play: greedy, "
                        "training's goals (the original's play.py)")
    p.add_argument("--mine", default=None, help="score MI with this policy's MINE (default: the policy's own)")
    p.add_argument("--json", default=None, help="also write the summary to this JSON file")
    p.add_argument("--csv", default=None, help="also append the summary as a row of this CSV file")
    args = p.parse_args(argv)
    missing = mpi_missing()
    if missing:
        return fail("music.evaluate", missing)
    from music.policy_files import PolicyFileError

    if args.episodes < 1 or args.seed < 0:
        return fail("music.evaluate", "--episodes must be >= 1 and --seed >= 0")
    try:
        summary = evaluate(Path(args.policy_file), args.episodes, args.seed, args.mode,
                           Path(args.mine) if args.mine else None)
    except PolicyFileError as err:
        return fail("music.evaluate", err)
    print(summary_line(summary, args.mode, args.episodes))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1) + "\n")
    if args.csv:
        path = Path(args.csv)
        new = not path.exists() or path.stat().st_size == 0
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(summary))
            if new:
                writer.writeheader()
            writer.writerow(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
