"""Submit an experiment sweep to Slurm, one job per (task, variant, seed) run.

    python launch/submit_sweep.py --family task_reward --variants SAC SAC+MUSIC-r --scale paper \
        --results /shared/music-results [--partition P] [--dry-run]

Pretraining runs are submitted first; the runs that load them wait for them
(``--dependency=afterok``). Each job trains into ``<results>/<family>/<task>/<variant>/seed<k>/`` with the same
command as the local sweep runner (``music.sweep``) and, when it succeeds, gets the same
``sweep.json`` record, so results of both are interchangeable. Runs already finished
are skipped; stale results are refused before anything is submitted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from music.sweep import (  # noqa: E402
    SCALES,
    Scale,
    SweepError,
    job_status,
    layout_ranks,
    make_jobs,
    run_dir,
    sweep_record,
    train_command,
)


def sbatch_command(job, scale: Scale, results: Path, dependency: str | None, partition: str | None,
                   time_limit: str) -> list[str]:
    # srun starts the ranks under Slurm: build the command without a local mpiexec prefix
    train = train_command(job, dataclasses.replace(scale, ranks=1), results)
    folder = run_dir(results, job)
    record = folder.with_name(folder.name + ".sweep.json")
    inner = " ".join(shlex.quote(x) for x in train[3:])  # after python -m music.train
    cmd = ["sbatch", "--parsable", f"--job-name=music-{job.variant}-s{job.seed}", f"--ntasks={scale.ranks}",
           f"--time={time_limit}", f"--output={folder.parent / (folder.name + '.out')}",
           f"--export=ALL,MUSIC_LOGDIR={folder},MUSIC_REPO={REPO},MUSIC_SWEEP_RECORD={record}"]
    if partition:
        cmd.append(f"--partition={partition}")
    if dependency:
        cmd.append(f"--dependency=afterok:{dependency}")
    return cmd + [str(REPO / "launch" / "slurm.sbatch"), *shlex.split(inner)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--family", required=True, help="results subfolder, e.g. task_reward")
    p.add_argument("--variants", nargs="+", required=True)
    p.add_argument("--scale", choices=sorted(SCALES), default="paper")
    p.add_argument("--tasks", nargs="+")
    p.add_argument("--seeds", nargs="+", type=int)
    p.add_argument("--results", type=Path, required=True, help="results folder on shared storage")
    p.add_argument("--partition")
    p.add_argument("--time", default="24:00:00")
    p.add_argument("--workers_per_rank", type=int, default=1,
                   help="virtual workers per Slurm task: the scale's workers run on workers / K tasks")
    p.add_argument("--dry-run", action="store_true", help="print the sbatch commands")
    args = p.parse_args(argv)
    base = SCALES[args.scale]
    try:
        ranks = layout_ranks(base, None, args.workers_per_rank)
    except SweepError as err:
        print(f"submit_sweep: error: {err}", file=sys.stderr)
        return 2
    scale = Scale(base.name, ranks, base.n_epochs, base.n_cycles, tuple(args.seeds or base.seeds),
                  tuple(args.tasks or base.tasks), params=base.params, workers_per_rank=args.workers_per_rank)
    try:
        jobs = make_jobs(args.family, scale.tasks, args.variants, scale.seeds)
        status = {job.key: job_status(args.results, job, scale) for job in jobs}
    except SweepError as err:
        print(f"submit_sweep: error: {err}", file=sys.stderr)
        return 2
    if not args.dry_run and shutil.which("sbatch") is None:
        print("submit_sweep: error: sbatch not found: run on a Slurm login node, or use --dry-run", file=sys.stderr)
        return 2
    job_ids: dict[tuple, str] = {}
    for job in jobs:
        if status[job.key] == "done":
            print(f"skip {job.name()} (done)")
            continue
        dependency = job_ids.get(job.pretrain.key) if job.pretrain is not None else None
        cmd = sbatch_command(job, scale, args.results, dependency, args.partition, args.time)
        if args.dry_run:
            print(" ".join(shlex.quote(c) for c in cmd))
            job_ids[job.key] = f"<{job.name()}>"
            continue
        folder = run_dir(args.results, job)
        folder.parent.mkdir(parents=True, exist_ok=True)
        if folder.exists():  # an interrupted earlier attempt: start again from scratch
            shutil.rmtree(folder)
        folder.with_name(folder.name + ".sweep.json").write_text(json.dumps(sweep_record(job, scale, cmd), indent=1))
        job_ids[job.key] = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()
        print(f"submitted {job.name()} as job {job_ids[job.key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
