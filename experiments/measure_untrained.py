"""Measure an untrained (or, with --policy, a trained) policy the way training logs measure one.

    python experiments/measure_untrained.py --env_name FetchPush-v1 --note SAC+MUSIC --out untrained.csv

Builds the agent of a variant exactly as ``music.train`` does (fresh weights, given
seed), then runs ``--episodes`` episodes in test mode (greedy, env goals) and in train
mode (exploration noise, the variant's goal generation), and writes the same
statistics the logs report: success rate, object displacement and lift, and the mean MI
reward of the episodes' 2-step windows (clip(5000 * MI, 0, 1) - 1, as the critic sees
it). The MI is measured by the MINE of ``--mine`` (a trained policy file), so that an
untrained policy's behaviour is scored by the same estimator as the trained one's.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env_name", default="FetchPush-v1")
    p.add_argument("--note", default="SAC+MUSIC")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--mine", default=None, help="policy file whose trained MINE scores the episodes")
    p.add_argument("--policy", default=None, help="measure this trained policy instead of fresh weights")
    p.add_argument("--out", required=True)
    args = p.parse_args()

    from music.config import configure_ddpg, configure_dims, default_params, load_params_file, params_file
    from music.envs import episode_length, make_env
    from music.rollout import RolloutWorker

    params = default_params()
    params.update(load_params_file(params_file(args.env_name, args.note)))
    params.update(env_name=args.env_name, note=args.note, load_weight=None)
    env = make_env(args.env_name)
    params["T"] = episode_length(env)
    dims = configure_dims(env)
    policy = configure_ddpg(dims, params, env, seed=args.seed)
    dims["z"] = params["num_skills"]
    from music.policy_files import load_policy

    if args.policy:
        policy.load_weight(load_policy(args.policy).save_weight(), ["o_stats", "g_stats", "main", "target"])
    if args.mine:
        policy.load_weight(load_policy(args.mine).save_weight(), ["state_mi"])
    rows = []
    for mode in ("test", "train"):
        worker = RolloutWorker(lambda: make_env(args.env_name), policy, dims, T=params["T"],
                               rollout_batch_size=1, exploit=mode == "test", compute_Q=False,
                               noise_eps=params["noise_eps"], random_eps=params["random_eps"],
                               env_name=args.env_name, history_len=args.episodes)
        worker.seed(args.seed)
        goal = np.zeros((1, dims["g"])) if mode == "train" and params["goal_generation"] == "Zero" else None
        mi = []
        for _ in range(args.episodes):
            ep = worker.generate_rollouts(generated_goal=goal, z_s_onehot=np.eye(dims["z"])[[0]])
            if policy.ir is not None and args.mine:
                pairs = np.stack([ep["o"][0, :-1], ep["o"][0, 1:]], axis=1)
                mi.append(np.mean(np.clip(5000 * -policy.run_mi(pairs), 0, 1) - 1))
        logs = dict(worker.logs(mode))
        row = {"policy": args.policy or "untrained", "mode": mode, "episodes": args.episodes,
               **{k.split("/")[1]: v for k, v in logs.items()}}
        row["mi_reward_mean"] = float(np.mean(mi)) if mi else float("nan")
        rows.append(row)
        print(row, flush=True)
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
