"""Benchmark (f): K virtual workers in one process against K MPI ranks, epoch time and memory.

    .venv/bin/python benchmarks/workers.py [--workers 1 2 4 8 16] [--variant SAC+MUSIC] [--n_cycles 3] [--out DIR]

For each K, up to four layouts train the same math (K workers: each its own episodes, buffer
and batches, gradients summed): ``mpiexec -n K`` (K processes, one TF thread each),
one process with ``--workers_per_rank K`` and one TF thread, and one process with
``--workers_per_rank K`` and min(K, cores) inter-op threads (``MUSIC_TF_INTER_THREADS``:
the workers' graphs run side by side, results unchanged) and, when K is a multiple of the
cores and larger, one rank per core with K / cores workers each. Each trains 2 epochs of
``--n_cycles`` cycles on FetchPush-v1 with 1 test rollout (the first epoch traces the
graphs); the figure is the second epoch's ``time/epoch``. Memory is the peak of the summed
resident memory of the run's processes, sampled every 0.2 s. Writes ``workers.json``.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def mpiexec() -> str:
    local = Path(sys.executable).parent / "mpiexec"
    return str(local) if local.exists() else "mpiexec"


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MB (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        stack += children.get(current, [])
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def timed_run(cmd: list[str], env: dict) -> float:
    """Run ``cmd``; return the peak summed RSS (MB) of its process tree."""
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = [0.0]

    def watch() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss_mb(proc.pid))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, _ = proc.communicate()
    watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out[-3000:]}")
    return peak[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", nargs="+", type=int, default=[1, 2, 4, 8])
    p.add_argument("--variant", default="SAC+MUSIC")
    p.add_argument("--n_cycles", type=int, default=3)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = p.parse_args()
    cores = os.cpu_count() or 1
    base_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "MUSIC_TF_THREADS": "1"}
    rows = []
    for k in args.workers:
        layouts = [("mpi ranks", [mpiexec(), "-n", str(k)], [], {"MUSIC_TF_INTER_THREADS": "1"}),
                   ("1 process, 1 thread", [], ["--workers_per_rank", str(k)], {"MUSIC_TF_INTER_THREADS": "1"})]
        if k > 1 and cores > 1:
            layouts.append((f"1 process, {min(k, cores)} inter-op threads", [], ["--workers_per_rank", str(k)],
                            {"MUSIC_TF_INTER_THREADS": str(min(k, cores))}))
        if k > cores > 1 and k % cores == 0:
            # What the README suggests for more workers than cores: one rank per core, the rest virtual.
            layouts.append((f"{cores} mpi ranks x {k // cores} workers", [mpiexec(), "-n", str(cores)],
                            ["--workers_per_rank", str(k // cores)], {"MUSIC_TF_INTER_THREADS": "1"}))
        for layout, launcher, extra, env in layouts:
            if k == 1 and layout != "mpi ranks":
                continue  # K = 1 is the same single process either way
            logdir = Path(tempfile.mkdtemp(prefix=f"workers{k}-")) / "run"
            cmd = [*launcher, sys.executable, "-m", "music.train", "--env_name", "FetchPush-v1", "--note",
                   args.variant, "--n_epochs", "2", "--n_cycles", str(args.n_cycles), "--param", "n_test_rollouts=1",
                   "--policy_save_interval", "0", "--checkpoint_interval", "0", "--logdir", str(logdir), *extra]
            peak_mb = timed_run(cmd, {**base_env, **env})
            epoch = [float(r["time/epoch"]) for r in csv.DictReader(open(logdir / "progress.csv"))][-1]
            processes = int(launcher[2]) if launcher else 1
            rows.append({"workers": k, "layout": layout, "processes": processes, "epoch_s": epoch,
                         "peak_rss_mb": peak_mb, "oversubscribed": processes > cores})
            print(rows[-1], flush=True)
    result = {"variant": args.variant, "n_cycles": args.n_cycles, "cores": cores, "runs": rows}
    from provenance import write_result

    print(f"wrote {write_result(args.out, 'workers', result)}")


if __name__ == "__main__":
    main()
