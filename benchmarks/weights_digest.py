"""Weights digest of short fixed-seed runs: the check that a change keeps the numbers.

Runs ``music.train`` at 2 ranks for a few cycles on configurations that between them
reach every part of the agent: DDPG+HER (no intrinsic reward), SAC+MUSIC, DDPG+MUSIC,
DIAYN (the skill discriminator), SAC+MUSIC with MI-prioritized replay (-p), SAC+MUSIC on
2 processes x 2 virtual workers, and SAC+MUSIC stopped after its first epoch and resumed
(which must end with the uninterrupted run's digests). Per configuration it prints the
sha256 of the final weights (every rank must agree) and of ``progress.csv`` without its
time columns. Run it before and after a change: equal digests mean the change kept the
numbers bit for bit on this machine.

    .venv/bin/python benchmarks/weights_digest.py [--ranks 2] [--only NAME ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

CONFIGS = {
    "DDPG+HER": ["--note", "DDPG+HER"],
    "SAC+MUSIC": ["--note", "SAC+MUSIC"],
    "SAC+MUSIC+prioritized": ["--note", "SAC+MUSIC", "--param", "mi_prioritization=true"],
    "DDPG+MUSIC": ["--note", "DDPG+MUSIC"],
    "DIAYN": ["--note", "DIAYN"],
    "SAC+MUSIC workers_per_rank=2": ["--note", "SAC+MUSIC", "--workers_per_rank", "2"],
}
# A stop after epoch 0 and a resume to the end: its digests must be SAC+MUSIC's.
RESUMED = "SAC+MUSIC stopped+resumed"
SMALL = ["--env_name", "FetchPush-v1", "--n_epochs", "2", "--n_cycles", "2", "--seed", "3",
         "--param", "n_batches=5", "--param", "n_test_rollouts=1", "--param", "buffer_size=5000",
         "--checkpoint_interval", "0"]
TIME_COLUMNS = ("timestamp", "time/epoch")


def progress_digest(path: Path) -> str:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    kept = [{k: v for k, v in row.items() if k not in TIME_COLUMNS} for row in rows]
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]


def train(name: str, args: list[str], ranks: int) -> None:
    bindir = Path(sys.executable).parent
    cmd = [str(bindir / "mpiexec"), "-n", str(ranks), sys.executable, "-m", "music.train", *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{name}: music.train exited {done.returncode}:\n{done.stderr[-2000:]}")


def digests(name: str, logdir: Path) -> dict:
    # the last line: a resumed run's log holds one per start
    line = [ln for ln in (logdir / "log.txt").read_text().splitlines() if "sha256 per rank" in ln][-1]
    weights = re.search(r"sha256 per rank: (.*)\)", line).group(1).split()
    if len(set(weights)) != 1:
        raise SystemExit(f"{name}: ranks disagree: {weights}")
    return {"weights": weights[0], "progress": progress_digest(logdir / "progress.csv")}


def run(name: str, extra: list[str], ranks: int, workdir: Path) -> dict:
    logdir = workdir / name.replace(" ", "_")
    train(name, [*SMALL, *extra, "--logdir", str(logdir)], ranks)
    return digests(name, logdir)


def run_resumed(ranks: int, workdir: Path) -> dict:
    """SAC+MUSIC trained for epoch 0, stopped (checkpoint), then resumed to the end."""
    logdir = workdir / "resumed"
    first = [*SMALL, "--note", "SAC+MUSIC", "--logdir", str(logdir)]
    first[first.index("--n_epochs") + 1] = "1"
    first[first.index("--checkpoint_interval") + 1] = "1"
    train(RESUMED, first, ranks)
    train(RESUMED, ["--resume", str(logdir), "--n_epochs", SMALL[SMALL.index("--n_epochs") + 1]], ranks)
    return digests(RESUMED, logdir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--only", nargs="+", choices=[*CONFIGS, RESUMED], default=None,
                        help="run only these configurations")
    parser.add_argument("--json", default=None, help="also write the digests to this file")
    args = parser.parse_args()
    names = args.only or [*CONFIGS, RESUMED]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            results[name] = (run_resumed(args.ranks, Path(tmp)) if name == RESUMED
                             else run(name, CONFIGS[name], args.ranks, Path(tmp)))
            print(f"{name:30s} weights {results[name]['weights']}  progress.csv {results[name]['progress']}",
                  flush=True)
    if RESUMED in results and "SAC+MUSIC" in results and results[RESUMED] != results["SAC+MUSIC"]:
        raise SystemExit(f"the resumed run does not end where the uninterrupted one does: {results[RESUMED]} "
                         f"!= {results['SAC+MUSIC']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
