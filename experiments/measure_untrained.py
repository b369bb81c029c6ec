"""Measure an untrained (or, with --policy, a trained) policy the way training logs measure one.

    python experiments/measure_untrained.py --env_name FetchPush-v1 --note SAC+MUSIC --out untrained.csv

Builds the agent of a variant exactly as ``music.train`` does (fresh weights, given
seed) and measures it with ``music.evaluate.evaluate_policy``: ``--episodes`` episodes
in test mode (greedy, env goals) and in train mode (exploration noise, the variant's goal
generation). The CSV has one row per mode: success rate, object displacement, lift and
off-the-table fraction, and the mean MI reward of the episodes' 2-step windows
(clip(5000 * MI, 0, 1) - 1, as the critic sees it). The MI is measured by the MINE of
``--mine`` (a trained policy file), so that an untrained policy's behaviour is scored by
the same estimator as the trained one's; without it, by the fresh MINE.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# The columns of the CSVs this script has always written (experiments/report_task_reward.py
# reads them), then the newer ones.
COLUMNS = ("policy", "mode", "episodes", "success_rate", "episode", "object_displacement", "object_lift",
           "mi_reward_mean", "object_displacement_std", "object_lift_std", "object_fell", "mine", "seed",
           "object_lifted", "object_displacement_on_table", "loaded")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env_name", default="FetchPush-v1")
    p.add_argument("--note", default="SAC+MUSIC")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--mine", default=None, help="policy or weights file whose trained MINE scores the episodes")
    p.add_argument("--policy", default=None, help="measure this trained policy (a policy file, or a weights file "
                                                  "*_weight.npz/.pkl) instead of fresh weights")
    p.add_argument("--load", nargs="+", default=["o_stats", "g_stats", "main", "target"],
                   choices=["o_stats", "g_stats", "main", "target"],
                   help="what to take from --policy (default all four; 'main target' without the normalizers is "
                        "what an -f run starts from)")
    p.add_argument("--param", action="append", default=[], help="KEY=VALUE (JSON) override, as music.train's")
    p.add_argument("--modes", nargs="+", choices=["test", "train", "play"], default=["test", "train"],
                   help="test: greedy, env goals; train: exploration, the variant's goals; play: greedy, the "
                        "variant's goals (the original's play.py)")
    p.add_argument("--out", required=True)
    args = p.parse_args()

    from music.config import check_params, configure_dims, default_params, load_params_file, params_file, parse_override
    from music.ddpg import configure_ddpg
    from music.envs import episode_length, make_env
    from music.evaluate import evaluate_policy
    from music.save_weight import load_weights

    params = default_params()
    params.update(load_params_file(params_file(args.env_name, args.note)))
    params.update(check_params(dict(parse_override(text) for text in args.param), "--param"))
    params.update(env_name=args.env_name, note=args.note, load_weight=None)
    env = make_env(args.env_name)
    params["T"] = episode_length(env)
    policy = configure_ddpg(configure_dims(env), params, env, seed=args.seed)
    if args.policy:
        report = policy.load_weight(load_weights(args.policy), args.load)
        if report["shape_mismatch"] or report["missing"]:
            raise SystemExit(f"{args.policy} does not fit the variant's networks ({report}); give the run's "
                             "--param overrides (e.g. hidden) here too")
    if args.mine:
        policy.load_weight(load_weights(args.mine), ["state_mi"])
    rows = []
    for mode in args.modes:
        summary = evaluate_policy(policy, args.episodes, args.seed, mode)
        row = {"policy": args.policy or "untrained", "mode": mode, "episodes": args.episodes,
               "success_rate": summary["success_rate"], "episode": args.episodes,
               "object_displacement": summary["object_displacement_mean"],
               "object_lift": summary["object_lift_mean"], "mi_reward_mean": summary["mi_reward_mean"],
               "object_displacement_std": summary["object_displacement_std"],
               "object_lift_std": summary["object_lift_std"], "object_fell": summary["object_fell"],
               "object_lifted": summary["object_lifted"],
               "object_displacement_on_table": summary["object_displacement_on_table"],
               "mine": args.mine or "fresh", "seed": args.seed,
               "loaded": " ".join(args.load) if args.policy else "nothing"}
        rows.append(row)
        print(row, flush=True)
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
