"""MUSIC alone on MusicPointPush-v0 (music/toy_env.py): does it move the object more than an untrained policy?

    .venv/bin/python experiments/toy_push.py [--seeds 0 1 2] [--n_epochs 30] [--n_cycles 10] [--out DIR]

For each seed: train SAC+MUSIC (intrinsic reward only) on one core, then measure the final
policy and the untrained policy of the same seed (fresh weights) over ``--episodes``
episodes in train mode (exploration noise, Zero goals: how the agent behaves while it
learns) and test mode (greedy), both scored by the final policy's MINE
(experiments/measure_untrained.py). Writes, under ``--out`` (default
experiments/results/toy_push/SAC+MUSIC/seed<k>/): the run's progress.csv, params.json and
log.txt, motion_trained.csv, motion_untrained.csv; and ``summary.json`` + ``summary.md``
(mean ± std over seeds of the object displacement, trained against untrained, and the
wall time of each run). A finished seed (its motion files present) is not run again.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
ENV = "MusicPointPush-v0"


def run(cmd: list[str], log: Path) -> None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    with open(log, "a") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {proc.returncode}); see {log}")


def without_machine_paths(folder: Path) -> None:
    """Paths of this clone written into the small files become relative to the repository."""
    for path in [*folder.glob("SAC+MUSIC/seed*/*.csv"), *folder.glob("SAC+MUSIC/seed*/*.json"),
                 *folder.glob("SAC+MUSIC/seed*/log.txt"), *folder.glob("*.console.txt")]:
        text = path.read_text()
        if str(REPO) in text:
            path.write_text(text.replace(str(REPO) + "/", ""))


def read_motion(path: Path) -> dict[str, dict]:
    with open(path, newline="") as f:
        return {row["mode"]: row for row in csv.DictReader(f)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--n_epochs", type=int, default=30)
    p.add_argument("--n_cycles", type=int, default=10)
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--param", action="append", default=[], help="extra --param KEY=VALUE of the training runs")
    p.add_argument("--out", type=Path, default=REPO / "experiments" / "results" / "toy_push")
    args = p.parse_args()
    py = sys.executable
    rows = []
    for seed in args.seeds:
        folder = args.out / "SAC+MUSIC" / f"seed{seed}"
        trained, untrained = folder / "motion_trained.csv", folder / "motion_untrained.csv"
        console = args.out / f"seed{seed}.console.txt"
        if not (trained.exists() and untrained.exists()):
            if folder.exists():
                raise SystemExit(f"{folder} holds an unfinished run: move it away and start again")
            folder.parent.mkdir(parents=True, exist_ok=True)
            start = time.time()
            extra = [x for item in args.param for x in ("--param", item)]
            run([py, "-m", "music.train", "--env_name", ENV, "--note", "SAC+MUSIC", "--seed", str(seed), "--n_epochs",
                 str(args.n_epochs), "--n_cycles", str(args.n_cycles), "--logdir", str(folder), "--progress", "off",
                 "--policy_save_interval", "0", *extra], console)
            seconds = time.time() - start
            policy = folder / "policy_latest.npz"
            measure = [py, "experiments/measure_untrained.py", "--env_name", ENV, "--note", "SAC+MUSIC", "--seed",
                       str(seed), "--episodes", str(args.episodes), "--mine", str(policy), *extra]
            run([*measure, "--policy", str(policy), "--out", str(trained)], console)
            run([*measure, "--out", str(untrained)], console)
            (folder / "wall_time.json").write_text(json.dumps({"train_seconds": round(seconds, 1),
                                                               "cores": 1}, indent=1))
        wall = json.loads((folder / "wall_time.json").read_text())["train_seconds"]
        t, u = read_motion(trained), read_motion(untrained)
        rows.append({"seed": seed, "train_seconds": wall,
                     **{f"{who}_{mode}_displacement": float(m[mode]["object_displacement"])
                        for who, m in (("trained", t), ("untrained", u)) for mode in ("train", "test")},
                     **{f"{who}_train_mi_reward": float(m["train"]["mi_reward_mean"])
                        for who, m in (("trained", t), ("untrained", u))}})
    without_machine_paths(args.out)
    summary = {"env": ENV, "note": "SAC+MUSIC", "n_epochs": args.n_epochs, "n_cycles": args.n_cycles,
               "episodes": args.episodes, "params": args.param, "seeds": rows}
    lines = [f"# MUSIC alone on {ENV}", "",
             f"SAC+MUSIC (intrinsic reward only), {args.n_epochs} epochs of {args.n_cycles} cycles on one core "
             f"(1 MPI rank){', ' + ', '.join(args.param) if args.param else ''}; each policy measured over "
             f"{args.episodes} episodes (`experiments/toy_push.py`). Object displacement: distance between the "
             "object's first and last position in an episode (table units; the table is 1 x 1).", "",
             "| seed | train s | displacement, train mode: trained | untrained | test mode: trained | untrained | "
             "MI reward (train): trained | untrained |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['seed']} | {r['train_seconds']:.0f} | {r['trained_train_displacement']:.4f} | "
                     f"{r['untrained_train_displacement']:.4f} | {r['trained_test_displacement']:.4f} | "
                     f"{r['untrained_test_displacement']:.4f} | {r['trained_train_mi_reward']:.4f} | "
                     f"{r['untrained_train_mi_reward']:.4f} |")

    def mean_std(key: str, digits: int = 4) -> str:
        values = np.array([r[key] for r in rows])
        return f"{values.mean():.{digits}f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.{digits}f}"

    lines += ["", f"Mean ± std over {len(rows)} seeds, train mode: trained {mean_std('trained_train_displacement')}, "
              f"untrained {mean_std('untrained_train_displacement')}; test mode: trained "
              f"{mean_std('trained_test_displacement')}, untrained {mean_std('untrained_test_displacement')}. "
              f"Training took {mean_std('train_seconds', 0)} s per seed."]
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    (args.out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
