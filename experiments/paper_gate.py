"""The gate of the paper-scale campaign: does MUSIC alone lift the block in its 16-worker run?

    .venv/bin/python experiments/paper_gate.py [--run DIR] [--epochs 10 20 30 40 49] [--episodes 100]

Measures the kept policies of the campaign's first run (FetchPickAndPlace-v1 SAC+MUSIC seed 0:
``policy_<epoch>.npz`` in its run folder, else the ``policy_<epoch>_weight.npz`` of its committed
export) and the untrained policy of that seed, each over ``--episodes`` exploring episodes
(train mode: the training's exploration and Zero goals; each policy's episodes scored by its
own MINE, the untrained one's by the final policy's MINE), with
``experiments/measure_untrained.py``. Compares each policy's fraction of episodes that lift
the block 5 cm with the medium campaign's (its three final FetchPickAndPlace policies,
``experiments/results/medium_eval``, pooled). The gate passes if some policy lifts in more
episodes than medium's beyond the 95 % Wilson intervals (its lower bound above medium's upper
bound): then seeds 1 and 2 run (stage 2 of experiments/campaign_paper.py); else the cause is
looked for first. Every policy is also measured in play mode (greedy actions, Zero goals: the
original's play.py, which recorded the authors' demos; exploring episodes take a uniform random
action at 30 % of the steps, which can open the fingers on a held block): those rows inform and
do not decide. Writes ``<out>/gate.json`` (default ``experiments/results/paper_eval``) and prints
one line per policy and mode and the verdict.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "experiments"))

TASK, VARIANT, SEED = "FetchPickAndPlace-v1", "SAC+MUSIC", 0


def lifted_count(figures: dict, episodes: int) -> int:
    return round(figures["object_lifted"] * episodes)


def medium_baseline(medium_eval: Path) -> dict:
    """The medium campaign's final PickAndPlace MUSIC policies, pooled: episodes, lifted, its Wilson interval."""
    from music.evaluate import wilson_interval

    episodes = lifted = 0
    for path in sorted((medium_eval / TASK / VARIANT).glob("seed*/motion.json")):
        record = json.loads(path.read_text())
        episodes += record["episodes"]
        lifted += lifted_count(record["trained"]["train"], record["episodes"])
    if not episodes:
        raise SystemExit(f"no medium-campaign measurements in {medium_eval / TASK / VARIANT}")
    return {"episodes": episodes, "lifted": lifted, "fraction": lifted / episodes,
            "ci95": list(wilson_interval(lifted, episodes))}


def kept_policy(run: Path | None, export: Path, epoch: int) -> Path:
    candidates = ([run / f"policy_{epoch}.npz"] if run else []) + [export / f"policy_{epoch}_weight.npz"]
    for path in candidates:
        if path.exists():
            return path
    raise SystemExit(f"no policy of epoch {epoch}: none of {', '.join(map(str, candidates))} exists")


def verdict(rows: list[dict], medium: dict) -> tuple[bool, str]:
    """(passed, the sentence saying why) from the trained policies' rows."""
    above = [row for row in rows if row["policy"] != "untrained" and row["ci95"][0] > medium["ci95"][1]]
    if above:
        best = max(above, key=lambda row: row["fraction"])
        return True, (f"passed: the policy of epoch {best['epoch']} lifts the block 5 cm in {best['lifted']} of "
                      f"{best['episodes']} exploring episodes (95 % CI {best['ci95'][0]:.3f}-{best['ci95'][1]:.3f}), "
                      f"above medium's {medium['lifted']} of {medium['episodes']} ({medium['ci95'][0]:.3f}-"
                      f"{medium['ci95'][1]:.3f}); run seeds 1 and 2")
    best = max((row for row in rows if row["policy"] != "untrained"), key=lambda row: row["fraction"])
    return False, (f"not passed: no policy lifts beyond medium's interval ({medium['lifted']} of {medium['episodes']}, "
                   f"95 % CI {medium['ci95'][0]:.3f}-{medium['ci95'][1]:.3f}); the most, epoch {best['epoch']}: "
                   f"{best['lifted']} of {best['episodes']} ({best['ci95'][0]:.3f}-{best['ci95'][1]:.3f}); find the "
                   "cause before more seeds")


def main(argv: list[str] | None = None) -> int:
    from evaluate_campaign import measure_with_script

    from music.campaign import default_root
    from music.evaluate import wilson_interval

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, default=None,
                   help="the run folder (default: the paper campaign's, if it is there)")
    p.add_argument("--export", type=Path, default=REPO / "experiments" / "results" / "paper" / TASK / VARIANT /
                   f"seed{SEED}", help="the run's committed export (weights of the kept epochs)")
    p.add_argument("--epochs", nargs="+", type=int, default=[10, 20, 30, 40, 49])
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--medium", type=Path, default=REPO / "experiments" / "results" / "medium_eval")
    p.add_argument("--out", type=Path, default=REPO / "experiments" / "results" / "paper_eval")
    args = p.parse_args(argv)
    run = args.run or default_root("paper") / "runs" / "paper" / TASK / VARIANT / f"seed{SEED}"
    run = run if run.is_dir() else None
    medium = medium_baseline(args.medium)
    policies = {epoch: kept_policy(run, args.export, epoch) for epoch in args.epochs}
    final = policies[max(policies)]
    rows = {"train": [], "play": []}
    for epoch, policy in [(None, None), *sorted(policies.items())]:
        options = ["--policy", str(policy), "--mine", str(policy)] if policy else ["--mine", str(final)]
        measured = measure_with_script(TASK, VARIANT, SEED, args.episodes, *options, "--modes", *rows)
        for mode, figures in measured.items():
            lifted = lifted_count(figures, args.episodes)
            row = {"policy": f"epoch {epoch}" if policy else "untrained", "epoch": epoch, "episodes": args.episodes,
                   "lifted": lifted, "fraction": lifted / args.episodes,
                   "ci95": list(wilson_interval(lifted, args.episodes)), **figures}
            rows[mode].append(row)
            print(f"{row['policy']}, {mode} mode: lifted 5 cm in {lifted} of {args.episodes} (95 % CI "
                  f"{row['ci95'][0]:.3f}-{row['ci95'][1]:.3f}), displacement {figures['object_displacement']:.4f} m, "
                  f"off the table {figures['object_fell']:.2f}, MI reward {figures['mi_reward_mean']:.4f}", flush=True)
    passed, sentence = verdict(rows["train"], medium)
    print(sentence)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gate.json").write_text(json.dumps(
        {"task": TASK, "variant": VARIANT, "seed": SEED, "mode": "train", "medium": medium, "rows": rows["train"],
         "play_rows": rows["play"], "passed": passed, "verdict": sentence}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
