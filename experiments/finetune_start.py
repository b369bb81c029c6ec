"""What an -f run starts from: the MUSIC policy it loads, measured as -f starts it.

    .venv/bin/python experiments/finetune_start.py [--results experiments/results/medium]
        [--task FetchPush-v1] [--episodes 100]

SAC+MUSIC-f fine-tunes the final MUSIC policy of its seed with task reward. As in the
authors' code, it loads that policy's actor and critic (``main``, ``target``) but not its
observation normalizers (``o_stats``, ``g_stats``), and it samples goals from the env
where MUSIC used the Zero goal. This script measures, for every seed whose MUSIC weights
were exported (``<results>/<task>/SAC+MUSIC/seed<k>/policy_<epoch>_weight.npz``), the
loaded policy before any update, in three conditions, with
``experiments/measure_untrained.py`` (``--episodes`` episodes in train and in test mode,
the env seeded with the seed, MI scored by the MUSIC run's MINE):

- ``as trained``: the MUSIC variant (Zero goals in train mode), everything loaded;
- ``with -f's goals``: the -f variant (Env goals), everything loaded;
- ``as -f starts``: the -f variant, ``main`` and ``target`` loaded, fresh normalizers.

Writes ``<results>_eval/<task>/SAC+MUSIC-f/start.json`` (read by
``experiments/report_task_reward.py``) and prints the train-mode displacements.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# (name, variant built, scopes taken from the MUSIC weights)
CONDITIONS = (("as trained", "SAC+MUSIC", ["o_stats", "g_stats", "main", "target"]),
              ("with -f's goals", "SAC+MUSIC-f", ["o_stats", "g_stats", "main", "target"]),
              ("as -f starts", "SAC+MUSIC-f", ["main", "target"]))
KEYS = ("success_rate", "object_displacement", "object_displacement_std", "object_fell", "mi_reward_mean")


def measure(task: str, variant: str, seed: int, weights: Path, load: list[str], episodes: int) -> dict:
    """{mode: figures} of the MUSIC weights loaded into ``variant`` as ``load`` says."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "motion.csv"
        cmd = [sys.executable, "experiments/measure_untrained.py", "--env_name", task, "--note", variant,
               "--seed", str(seed), "--episodes", str(episodes), "--policy", str(weights), "--load", *load,
               "--mine", str(weights), "--out", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-1500:]}\n{proc.stderr[-1500:]}")
        with open(out, newline="") as f:
            return {row["mode"]: {key: float(row[key]) for key in KEYS} for row in csv.DictReader(f)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=REPO / "experiments" / "results" / "medium")
    p.add_argument("--task", default="FetchPush-v1")
    p.add_argument("--episodes", type=int, default=100)
    args = p.parse_args(argv)
    found = {}
    for folder in sorted((args.results / args.task / "SAC+MUSIC").glob("seed*")):
        files = sorted(folder.glob("policy_*_weight.npz"), key=lambda f: int(f.name.split("_")[1]))
        if folder.name.removeprefix("seed").isdigit() and files:
            found[int(folder.name.removeprefix("seed"))] = files[-1]
    if not found:
        print(f"finetune_start: error: no exported MUSIC weights under {args.results / args.task / 'SAC+MUSIC'} "
              "(seed<k>/policy_<epoch>_weight.npz); run the campaign's stage 1 first", file=sys.stderr)
        return 2
    seeds = {}
    for seed, weights in sorted(found.items()):
        seeds[seed] = {"weights": str(weights.relative_to(REPO) if weights.is_relative_to(REPO) else weights)}
        for name, variant, load in CONDITIONS:
            seeds[seed][name] = {"variant": variant, "loaded": load,
                                 **measure(args.task, variant, seed, weights, load, args.episodes)}
            print(f"{args.task} seed {seed}, {name}: train-mode displacement "
                  f"{seeds[seed][name]['train']['object_displacement']:.4f} m", flush=True)
    dest = args.results.with_name(args.results.name + "_eval") / args.task / "SAC+MUSIC-f" / "start.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps({"task": args.task, "episodes": args.episodes,
                                "conditions": {name: {"variant": v, "loaded": load} for name, v, load in CONDITIONS},
                                "seeds": seeds}, indent=1) + "\n")
    print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
