"""Weights digest of short fixed-seed runs: the check that a change keeps the numbers.

Runs ``music.train`` at 2 ranks for a few cycles on three configurations (DDPG+HER,
SAC+MUSIC, SAC+MUSIC with MI-prioritized replay) and prints, per configuration, the
sha256 of the final weights (every rank must agree) and of ``progress.csv`` without its
time columns. Run it before and after a change: equal digests mean the change kept the
numbers bit for bit on this machine.

    .venv/bin/python benchmarks/weights_digest.py [--ranks 2] [--json out.json]
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
}
SMALL = ["--env_name", "FetchPush-v1", "--n_epochs", "2", "--n_cycles", "2", "--seed", "3",
         "--param", "n_batches=5", "--param", "n_test_rollouts=1", "--param", "buffer_size=5000",
         "--checkpoint_interval", "0"]
TIME_COLUMNS = ("timestamp", "time/epoch")


def progress_digest(path: Path) -> str:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    kept = [{k: v for k, v in row.items() if k not in TIME_COLUMNS} for row in rows]
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]


def run(name: str, extra: list[str], ranks: int, workdir: Path) -> dict:
    logdir = workdir / name
    bindir = Path(sys.executable).parent
    cmd = [str(bindir / "mpiexec"), "-n", str(ranks), sys.executable, "-m", "music.train",
           *SMALL, *extra, "--logdir", str(logdir)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{name}: music.train exited {done.returncode}:\n{done.stderr[-2000:]}")
    line = next(ln for ln in (logdir / "log.txt").read_text().splitlines() if "sha256 per rank" in ln)
    weights = re.search(r"sha256 per rank: (.*)\)", line).group(1).split()
    if len(set(weights)) != 1:
        raise SystemExit(f"{name}: ranks disagree: {weights}")
    return {"weights": weights[0], "progress": progress_digest(logdir / "progress.csv")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--json", default=None, help="also write the digests to this file")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in CONFIGS.items():
            results[name] = run(name, extra, args.ranks, Path(tmp))
            print(f"{name:24s} weights {results[name]['weights']}  progress.csv {results[name]['progress']}",
                  flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
