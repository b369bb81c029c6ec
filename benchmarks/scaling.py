"""Benchmark (e): epoch time and episodes per second at mpirun -np 1, 2, 4, 8 on this machine.

    .venv/bin/python benchmarks/scaling.py [--ranks 1 2 4 8] [--variant DDPG] [--n_cycles 10] [--out DIR]

Each rank count trains 2 epochs (the first traces the graphs) of ``--n_cycles`` cycles
of the variant on FetchPush-v1 with 2 test rollouts; the second epoch's ``time/epoch``
from progress.csv is the figure. Episodes per second = n_cycles x 2 x ranks / epoch time.
Ranks beyond the machine's cores are marked oversubscribed. Also times a bare
Allreduce of one gradient vector (the Q network's 140k float32) at 2 ranks.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ALLREDUCE = r"""
import time, numpy as np
from mpi4py import MPI
comm = MPI.COMM_WORLD
x = np.ones(140545, np.float32); y = np.empty_like(x)
for _ in range(20): comm.Allreduce(x, y)
times = []
for _ in range(500):
    comm.Barrier(); t = time.perf_counter(); comm.Allreduce(x, y); times.append(time.perf_counter() - t)
if comm.Get_rank() == 0: print(float(np.median(times) * 1000))
"""


def mpiexec() -> str:
    local = Path(sys.executable).parent / "mpiexec"
    return str(local) if local.exists() else "mpiexec"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ranks", nargs="+", type=int, default=[1, 2, 4, 8])
    p.add_argument("--variant", default="DDPG")
    p.add_argument("--n_cycles", type=int, default=10)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = p.parse_args()
    cores = os.cpu_count() or 1
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    rows = []
    for n in args.ranks:
        logdir = Path(tempfile.mkdtemp(prefix=f"scaling{n}-")) / "run"
        cmd = [mpiexec(), "-n", str(n), sys.executable, "-m", "music.train", "--env_name", "FetchPush-v1", "--note",
               args.variant, "--n_epochs", "2", "--n_cycles", str(args.n_cycles), "--param", "n_test_rollouts=2",
               "--policy_save_interval", "0", "--logdir", str(logdir)]
        subprocess.run(cmd, check=True, capture_output=True, cwd=REPO, env=env)
        epoch = [float(r["time/epoch"]) for r in csv.DictReader(open(logdir / "progress.csv"))][-1]
        episodes = args.n_cycles * 2 * n
        rows.append({"ranks": n, "oversubscribed": n > cores, "epoch_s": epoch, "episodes_per_epoch": episodes,
                     "episodes_per_s": episodes / epoch})
        print(rows[-1], flush=True)
    out = subprocess.run([mpiexec(), "-n", "2", sys.executable, "-c", ALLREDUCE], capture_output=True, text=True,
                         check=True, env=env)
    allreduce_ms = float(out.stdout.strip().splitlines()[-1])
    result = {"variant": args.variant, "n_cycles": args.n_cycles, "cores": cores, "runs": rows,
              "allreduce_140k_float32_2ranks_ms": allreduce_ms}
    print(f"Allreduce of 140,545 float32 at 2 ranks: {allreduce_ms:.3f} ms", flush=True)
    from provenance import write_result

    print(f"wrote {write_result(args.out, 'scaling', result)}")


if __name__ == "__main__":
    main()
