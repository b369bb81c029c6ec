"""The campaign's finished runs measured again over many episodes: MUSIC against untrained, final success.

    .venv/bin/python experiments/evaluate_campaign.py [--campaign medium] [--episodes 100] [--again]
        [--variants SAC+MUSIC ...] [--out DIR]

For every finished run of a pretraining variant (SAC+MUSIC, ...) in the campaign's runs
folder (``$MUSIC_RUNS/<campaign>/runs``, default ``~/music-runs``), measures its final
policy (``policy_latest``) with ``music.evaluate`` and the untrained policy of the same
seed with ``experiments/measure_untrained.py``, both over ``--episodes`` episodes in train
mode (exploration, Zero goals) and test mode (greedy, env goals), both scored by the final
policy's MINE. Every other finished run (SAC, -r, -p, -f) has its final policy measured in
test mode only: its final success over ``--episodes`` episodes rather than the 40 of its
last epoch (10 test rollouts of 2 episodes on each of 2 ranks). Writes
``experiments/results/<campaign>_eval/<task>/<variant>/seed<k>/motion.json`` (success rate,
object displacement, lift, the fractions of episodes that lift the object 5 cm and that end
with it off the table, the displacement of those that end on it, MI reward; no machine
paths). A run already evaluated is skipped unless ``--again`` (to measure it again, e.g.
after a new quantity was added here). The policies stay outside the clone, so run this on
the machine that holds the runs, before they are gone.
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
sys.path.insert(0, str(REPO))
KEYS = ("success_rate", "object_displacement", "object_displacement_std", "object_lift", "object_lifted",
        "object_fell", "object_displacement_on_table", "mi_reward_mean")


def call(cmd: list[str]) -> None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-1500:]}\n{proc.stderr[-1500:]}")


def measure_with_script(task: str, note: str, seed: int, episodes: int, *options: str) -> dict:
    """{mode: figures} of ``experiments/measure_untrained.py`` for the ``note`` agent of ``seed`` (fresh weights, or
    what ``options`` such as ``--policy FILE --load ...`` load), over ``episodes`` episodes per mode."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "motion.csv"
        call([sys.executable, "experiments/measure_untrained.py", "--env_name", task, "--note", note, "--seed",
              str(seed), "--episodes", str(episodes), *options, "--out", str(out)])
        with open(out, newline="") as f:
            return {row["mode"]: {key: float(row[key]) for key in KEYS} for row in csv.DictReader(f)}


def measure(run: Path, task: str, seed: int, episodes: int, pretraining: bool) -> dict:
    """{'trained': {mode: figures}, 'untrained': {mode: figures}} of one finished run; a run with
    task reward only in test mode, against nothing (its chance level is the MUSIC run's untrained one)."""
    policy = run / "policy_latest.npz"
    py = sys.executable
    out: dict = {"trained": {}, "untrained": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("train", "test") if pretraining else ("test",):
            path = Path(tmp) / f"{mode}.json"
            call([py, "-m", "music.evaluate", str(policy), "--episodes", str(episodes), "--seed", str(seed),
                  "--mode", mode, "--json", str(path)])
            summary = json.loads(path.read_text())
            summary["object_displacement"] = summary.pop("object_displacement_mean")
            summary["object_lift"] = summary.pop("object_lift_mean")
            out["trained"][mode] = {key: summary[key] for key in KEYS}
    if pretraining:
        note = json.loads((run / "params.json").read_text())["note"]
        out["untrained"] = measure_with_script(task, note, seed, episodes, "--mine", str(policy))
    return out


def main(argv: list[str] | None = None) -> int:
    from music.campaign import default_root
    from music.config import PRETRAINING

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--campaign", default="medium")
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--again", action="store_true", help="measure runs that already have a motion.json again")
    p.add_argument("--out", type=Path, default=None, help="default: experiments/results/<campaign>_eval")
    p.add_argument("--variants", nargs="+", default=None, help="only runs of these variants (default: all)")
    args = p.parse_args(argv)
    runs = default_root(args.campaign) / "runs" / args.campaign
    pretraining = sorted({variant for variant, _ in PRETRAINING.values()})
    results = args.out or REPO / "experiments" / "results" / f"{args.campaign}_eval"
    for record in sorted(runs.glob("*/*/seed*/sweep.json")):
        run = record.parent
        if not run.name.removeprefix("seed").isdigit():  # seed<k>.partial: not finished
            continue
        task, variant, seed = run.parent.parent.name, run.parent.name, int(run.name.removeprefix("seed"))
        dest = results / task / variant / run.name / "motion.json"
        if (dest.exists() and not args.again) or (args.variants and variant not in args.variants):
            continue
        figures = measure(run, task, seed, args.episodes, variant in pretraining)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(json.dumps({"task": task, "variant": variant, "seed": seed, "episodes": args.episodes,
                                    "policy": "policy_latest (final)",
                                    "mine": "the final policy's" if variant in pretraining else "its own, if any",
                                    **figures}, indent=1) + "\n")
        t, u = figures["trained"], figures["untrained"]
        if variant not in pretraining:
            print(f"{task}/{variant}/seed{seed}: test success {t['test']['success_rate']:.3f} over {args.episodes} "
                  "episodes", flush=True)
            continue
        print(f"{task}/{variant}/seed{seed}: displacement train mode {t['train']['object_displacement']:.4f} m "
              f"(untrained {u['train']['object_displacement']:.4f}), test mode {t['test']['object_displacement']:.4f} "
              f"m (untrained {u['test']['object_displacement']:.4f}); off the table, train mode "
              f"{t['train']['object_fell']:.2f} (untrained {u['train']['object_fell']:.2f})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
