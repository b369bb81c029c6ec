"""Run many (task, variant, seed) training runs: in order or N at a time, resumable.

Each run goes to ``<results>/<family>/<task>/<variant>/seed<k>/``. A run trains into
``seed<k>.partial/`` and is renamed when it has finished, with ``sweep.json`` beside
its outputs recording the command, the code's git commit, the wall time and a sha256 of
its params file. So a finished run is skipped; an interrupted one (a ``.partial``
folder) resumes from its last checkpoint (``music.train --resume``), or starts again if
it has none; and results made with a different version of a params file are refused
before anything runs. Variants that need a pretrained policy (-r, -p, -f, -t,
MUSIC+DIAYN, -f DIAYN) wait for their pretraining run of the same seed and load its
policy. SIGTERM or SIGINT to the sweep stops the running trainings cleanly (each writes
a checkpoint) and says what the next start will do. ``on_finish`` hooks (e.g. the
campaign's export of small results into the repository) run after each finished run.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from music.checkpoint import checkpoint_dir
from music.config import PARAMS_DIR, PRETRAINING, ParamsError, load_params_file, params_file
from music.files import atomic_write_text, file_sha256, repo_relative

RESULTS_DIR = Path(__file__).resolve().parent.parent / "experiments" / "results"


class SweepError(ValueError):
    """The sweep cannot start: bad task or variant, or stale results."""


@dataclass(frozen=True)
class Scale:
    """How big a sweep is: the paper's set-up or one that fits a small machine."""

    name: str
    ranks: int
    n_epochs: int
    n_cycles: int
    seeds: tuple[int, ...]
    tasks: tuple[str, ...]
    params: tuple[str, ...] = ()  # extra --param KEY=VALUE of every run (e.g. to make test runs tiny)
    workers_per_rank: int = 1  # virtual workers per MPI process (music.workers): ranks x this = workers

    @property
    def workers(self) -> int:
        """The workers whose gradients are summed: what the numbers of a run depend on."""
        return self.ranks * self.workers_per_rank

    def describe(self) -> str:
        layout = (f"{self.ranks} MPI ranks" if self.workers_per_rank == 1 else
                  f"{self.ranks} MPI ranks x {self.workers_per_rank} virtual workers = {self.workers} workers")
        return (f"scale {self.name}: {layout}, {self.n_epochs} epochs of {self.n_cycles} cycles, "
                f"seeds {list(self.seeds)}, tasks {', '.join(self.tasks)}")


ALL_TASKS = ("FetchPush-v1", "FetchPickAndPlace-v1", "FetchSlide-v1")
SCALES = {
    "paper": Scale("paper", ranks=16, n_epochs=50, n_cycles=50, seeds=(0, 1, 2, 3, 4), tasks=ALL_TASKS),
    # Sized for a 2-core machine: the 30 runs of task_reward.py took 64 min (experiments/RESULTS.md).
    "small": Scale("small", ranks=2, n_epochs=10, n_cycles=8, seeds=(0, 1, 2),
                   tasks=("FetchPush-v1", "FetchPickAndPlace-v1")),
    # Every paper default on 2 ranks: the paper's 100,000 optimizer steps per run with 1/8 of
    # its episodes (10,000). Runs for hours: see experiments/campaign_medium.py (music/campaign.py).
    "medium": Scale("medium", ranks=2, n_epochs=50, n_cycles=50, seeds=(0, 1, 2),
                    tasks=("FetchPush-v1", "FetchPickAndPlace-v1")),
}


def default_results(scale_name: str) -> Path:
    """Where runs of a scale go by default: the repository for small (committed), else a runs folder.

    Long runs live outside the clone (``$MUSIC_RUNS``, default ``~/music-runs``) so that a new
    checkout does not lose them.
    """
    if scale_name.startswith("small"):
        return RESULTS_DIR
    return Path(os.environ.get("MUSIC_RUNS", Path.home() / "music-runs")) / scale_name



@dataclass(frozen=True)
class Job:
    family: str
    task: str
    variant: str
    seed: int
    pretrain: Job | None = field(default=None, compare=False)

    @property
    def key(self) -> tuple:
        return (self.task, self.variant, self.seed)

    def name(self) -> str:
        return f"{self.task}/{self.variant}/seed{self.seed}"


def run_dir(results: Path, job: Job) -> Path:
    return results / job.family / job.task / job.variant / f"seed{job.seed}"


def make_jobs(family: str, tasks, variants, seeds) -> list[Job]:
    """Jobs for every (task, variant, seed), with their pretraining runs added first.

    Raises SweepError for a task or variant without a params file.
    """
    jobs: dict[tuple, Job] = {}

    def add(task: str, variant: str, seed: int) -> Job:
        key = (task, variant, seed)
        if key in jobs:
            return jobs[key]
        try:
            params_file(task, variant)
        except ParamsError as err:
            raise SweepError(str(err)) from None
        pretrain = None
        if variant in PRETRAINING:
            pre_variant, pre_task = PRETRAINING[variant]
            pretrain = add(pre_task or task, pre_variant, seed)
        jobs[key] = Job(family, task, variant, seed, pretrain)
        return jobs[key]

    known_tasks = sorted(p.name for p in PARAMS_DIR.iterdir() if p.is_dir())
    for task in tasks:
        if task not in known_tasks:
            raise SweepError(f"unknown task {task!r}; known: {', '.join(known_tasks)}")
    for task in tasks:
        for variant in variants:
            for seed in seeds:
                add(task, variant, seed)
    return list(jobs.values())


def pretrained_policy(results: Path, job: Job, scale: Scale) -> Path:
    """The policy file of ``job.pretrain`` to load: the epoch the params file names, capped at the last."""
    value = load_params_file(params_file(job.task, job.variant))["load_weight"]
    name = Path(value[0] if isinstance(value, list) else value).name if value else "policy_latest.pkl"
    match = re.fullmatch(r"policy_(\d+)\.pkl", name)
    if match:
        name = f"policy_{min(int(match.group(1)), scale.n_epochs - 1)}.pkl"
    return run_dir(results, job.pretrain) / name


def train_command(job: Job, scale: Scale, results: Path, python: str = sys.executable,
                  resume: Path | None = None) -> list[str]:
    """The ``music.train`` command of a job (without ``--logdir``); with ``resume``, the command continuing it."""
    if resume is not None:
        cmd = [python, "-m", "music.train", "--resume", str(resume)]
    else:
        cmd = [python, "-m", "music.train", "--env_name", job.task, "--note", job.variant, "--seed", str(job.seed),
               "--n_epochs", str(scale.n_epochs), "--n_cycles", str(scale.n_cycles)]
    if scale.workers_per_rank > 1 or resume is not None:
        # on resume too: the run may continue on another layout of the same number of workers
        cmd += ["--workers_per_rank", str(scale.workers_per_rank)]
    if resume is None:
        for item in scale.params:
            cmd += ["--param", item]
    if job.pretrain is not None and resume is None:
        cmd += ["--param", f'load_weight="{pretrained_policy(results, job, scale)}"']
    if scale.ranks > 1:
        from music.mpi_launch import find_mpiexec

        mpiexec = find_mpiexec()
        if mpiexec is None:
            raise SweepError("scale needs MPI ranks but no mpiexec was found")
        cmd = [mpiexec, "-n", str(scale.ranks), *cmd]
    return cmd


def code_commit() -> str | None:
    """The git commit of the code this process runs (None outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def resumable(partial: Path, scale: Scale | None = None) -> dict | None:
    """The checkpoint manifest of an interrupted run, if it can resume (None: start it again).

    With ``scale``, a run started at another scale (epochs, cycles, workers) cannot: it would
    finish with other numbers than the scale says. Another layout of as many workers (ranks x
    virtual workers per rank) can.
    """
    try:
        manifest = json.loads((checkpoint_dir(partial) / "manifest.json").read_text())
        params = json.loads((partial / "params.json").read_text())
    except (OSError, ValueError):
        return None
    workers = params.get("total_workers", params.get("num_cpu"))
    if scale is not None and (params.get("n_epochs"), params.get("n_cycles"), workers) != (
            scale.n_epochs, scale.n_cycles, scale.workers):
        return None
    return manifest


def job_status(results: Path, job: Job, scale: Scale) -> str:
    """'done', 'partial' (interrupted), 'todo'; raises SweepError for stale results."""
    folder = run_dir(results, job)
    marker = folder / "sweep.json"
    if marker.exists():
        record = json.loads(marker.read_text())
        current = file_sha256(params_file(job.task, job.variant))
        if record.get("params_sha256") != current:
            raise SweepError(
                f"{folder} was made with a different version of {params_file(job.task, job.variant)} "
                f"(sha256 {record.get('params_sha256', '?')[:12]} there, {current[:12]} now); move those results "
                "away or pass --results to another folder"
            )
        if (record.get("n_epochs"), record.get("n_cycles"), record.get("workers", record.get("ranks"))) != (
                scale.n_epochs, scale.n_cycles, scale.workers):
            raise SweepError(f"{folder} was made at another scale ({record.get('scale')}); use another --results")
        return "done"
    if folder.with_name(folder.name + ".partial").exists() or folder.exists():
        return "partial"
    return "todo"


def sweep_record(job: Job, scale: Scale, cmd: list[str]) -> dict:
    """What ``sweep.json`` records about a finished run (the params file's sha256 included)."""
    return {"family": job.family, "task": job.task, "variant": job.variant, "seed": job.seed,
            "scale": scale.name, "ranks": scale.ranks, "workers_per_rank": scale.workers_per_rank,
            "workers": scale.workers, "n_epochs": scale.n_epochs, "n_cycles": scale.n_cycles,
            "params_file": repo_relative(params_file(job.task, job.variant)),
            "params_sha256": file_sha256(params_file(job.task, job.variant)),
            "command": [repo_relative(part) for part in cmd]}


@dataclass
class Running:
    """A started run: its process, command, console file, folder and the wall time of earlier sessions."""

    job: Job
    proc: subprocess.Popen
    cmd: list[str]
    console: object  # the open file the process writes to
    partial: Path
    started: float
    earlier_seconds: float = 0.0
    commits: list = field(default_factory=list)
    epochs_logged: int = -1  # the epochs of progress.csv when the last progress line was written
    progress_mtime: int = 0  # progress.csv's mtime then: the file is read again only once it changed


SEGMENTS = "sweep_segments.json"  # inside a .partial folder: wall time and commit of each session of the run


def _segments(partial: Path) -> list[dict]:
    try:
        return json.loads((partial / SEGMENTS).read_text())
    except (OSError, ValueError):
        return []


def _start(job: Job, scale: Scale, results: Path, log) -> Running:
    folder = run_dir(results, job)
    partial = folder.with_name(folder.name + ".partial")
    if folder.exists():
        log(f"removing {folder}: a run folder without sweep.json (unfinished, from an older runner)")
        shutil.rmtree(folder)
    manifest = resumable(partial, scale) if partial.exists() else None
    segments = _segments(partial) if manifest else []
    if manifest:
        cmd = train_command(job, scale, results, resume=partial)
        log(f"resuming {job.name()} from its checkpoint of epoch {manifest['epoch']}, cycle {manifest['cycle']}")
    else:
        if partial.exists():
            log(f"restarting interrupted run {job.name()} (no checkpoint of this scale; removing {partial})")
            shutil.rmtree(partial)
        partial.parent.mkdir(parents=True, exist_ok=True)
        cmd = train_command(job, scale, results) + ["--logdir", str(partial)]
    console = open(partial.parent / f"{partial.name}.out", "a")
    proc = subprocess.Popen(cmd, stdout=console, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    return Running(job, proc, cmd, console, partial, time.time(),
                   earlier_seconds=sum(seg["seconds"] for seg in segments),
                   commits=[seg.get("commit") for seg in segments])


def machine() -> str:
    """This machine's CPU, as runs record it: float32 results differ between CPU kinds (the
    same seed gives other weights on another CPU), so a run's numbers name their machine."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def _record_segment(run: Running) -> None:
    """Add this session's wall time (and code commit) to the run's segments file."""
    if not run.partial.exists():
        return
    segments = _segments(run.partial)
    segments.append({"seconds": round(time.time() - run.started, 1), "commit": code_commit(), "machine": machine(),
                     "ended": datetime.datetime.now().isoformat(timespec="seconds"), "exit": run.proc.returncode})
    atomic_write_text(run.partial / SEGMENTS, json.dumps(segments, indent=1))


def epoch_seconds(partial: Path) -> list[float]:
    """``time/epoch`` of every epoch a run has logged so far (its progress.csv, all sessions)."""
    try:
        with open(partial / "progress.csv", newline="") as f:
            return [float(row["time/epoch"]) for row in csv.DictReader(f) if row.get("time/epoch")]
    except (OSError, ValueError, KeyError):
        return []


def progress_line(run: Running, scale: Scale, runs_after: int) -> str | None:
    """'<run>: epoch e/n, s per epoch, run ETA, stage ETA' once a run has logged a new epoch,
    else None. The stage ETA counts ``runs_after`` more runs of this run's length."""
    try:
        mtime = (run.partial / "progress.csv").stat().st_mtime_ns
    except OSError:
        return None
    if mtime == run.progress_mtime:  # polled every second: no new epoch, nothing to read
        return None
    run.progress_mtime = mtime
    seconds = epoch_seconds(run.partial)
    if len(seconds) == run.epochs_logged or not seconds:
        return None
    run.epochs_logged = len(seconds)
    per_epoch = float(np.median(seconds[-10:]))  # the recent epochs: a run's epochs slow as its buffer grows
    run_left = per_epoch * max(scale.n_epochs - len(seconds), 0)
    stage_left = run_left + runs_after * per_epoch * scale.n_epochs
    end = datetime.datetime.now() + datetime.timedelta(seconds=stage_left)
    return (f"{run.job.name()}: epoch {len(seconds)}/{scale.n_epochs} done, {per_epoch:.0f} s per epoch; "
            f"run ETA {datetime.timedelta(seconds=int(run_left))}, stage ETA "
            f"{datetime.timedelta(seconds=int(stage_left))} ({runs_after} more runs, about {end:%Y-%m-%d %H:%M})")


def _finish(run: Running, scale: Scale, results: Path) -> float:
    job, partial = run.job, run.partial
    run.console.close()
    log_path = partial.parent / f"{partial.name}.out"
    seconds = time.time() - run.started
    if run.proc.returncode != 0:
        _record_segment(run)
        tail = log_path.read_text().splitlines()[-5:] if log_path.exists() else []
        raise RuntimeError(f"{job.name()} failed (exit {run.proc.returncode}); see {log_path}:\n" + "\n".join(tail))
    commit = code_commit()
    record = sweep_record(job, scale, [*train_command(job, scale, results), "--logdir", str(run_dir(results, job))])
    machines = sorted({seg["machine"] for seg in _segments(partial) if seg.get("machine")} | {machine()})
    record.update(seconds=round(run.earlier_seconds + seconds, 1), sessions=len(run.commits) + 1,
                  commit=commit, machines=machines, finished=datetime.datetime.now().isoformat(timespec="seconds"))
    if any(c != commit for c in run.commits):
        record["commits_of_earlier_sessions"] = run.commits
    atomic_write_text(partial / "sweep.json", json.dumps(record, indent=1))
    (partial / SEGMENTS).unlink(missing_ok=True)
    os.replace(log_path, partial / "console.out")
    os.replace(partial, run_dir(results, job))
    return run.earlier_seconds + seconds


def _stop_all(running: list[Running], signum: int, log, timeout: float = 600.0) -> None:
    """Forward the signal to every running training and wait for their checkpoints."""
    for run in running:
        log(f"stopping {run.job.name()} (signal {signal.Signals(signum).name}: it writes a checkpoint first)")
        try:
            os.killpg(run.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.time() + timeout
    for run in running:
        try:
            run.proc.wait(timeout=max(1.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            log(f"{run.job.name()} did not stop within {timeout:.0f} s; killing it (its last checkpoint stays)")
            os.killpg(run.proc.pid, signal.SIGKILL)
            run.proc.wait()
        run.console.close()
        _record_segment(run)
        manifest = resumable(run.partial)
        where = (f"epoch {manifest['epoch']}, cycle {manifest['cycle']}" if manifest else "the start (no checkpoint)")
        log(f"stopped {run.job.name()} (exit {run.proc.returncode}); the next start resumes it from {where}")


class SweepStopped(Exception):
    """The sweep was stopped by a signal; running trainings wrote checkpoints."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.exit_code = 128 + signum


def run_sweep(jobs: list[Job], scale: Scale, results: Path, parallel: int = 1, dry_run: bool = False,
              log=print, on_finish: Callable[[Job, Path], None] | None = None) -> dict[str, int]:
    """Run ``jobs`` (pretraining first), ``parallel`` at a time. Returns counts of done/skipped/run.

    ``on_finish(job, run_folder)`` is called after each run has finished. SIGTERM/SIGINT stop
    the running trainings at their next cycle end (checkpoint written), then raise ``SweepStopped``.
    """
    status = {job.key: job_status(results, job, scale) for job in jobs}  # may raise before anything runs
    todo = [job for job in jobs if status[job.key] != "done"]
    total, skipped = len(jobs), len(jobs) - len(todo)
    log(f"{scale.describe()}; {total} runs, {skipped} already done, {len(todo)} to run, {parallel} at a time")
    if dry_run:
        for job in todo:
            partial = run_dir(results, job).with_name(f"seed{job.seed}.partial")
            manifest = resumable(partial, scale) if partial.exists() else None
            cmd = train_command(job, scale, results, resume=partial if manifest else None)
            log(f"would {'resume' if manifest else 'run'} {job.name()}: {' '.join(cmd)}")
        return {"total": total, "skipped": skipped, "run": 0}
    done_keys = {job.key for job in jobs if status[job.key] == "done"}
    running: list[Running] = []
    durations: list[float] = []
    pending = list(todo)
    received: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: received.append(signum))
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while pending or running:
            if received:
                _stop_all(running, received[0], log)
                raise SweepStopped(received[0])
            ready = [j for j in pending if j.pretrain is None or j.pretrain.key in done_keys]
            while ready and len(running) < parallel:
                job = ready.pop(0)
                pending.remove(job)
                running.append(_start(job, scale, results, log))
                log(f"started {job.name()}")
            time.sleep(1.0)
            for run in list(running):
                if run.proc.poll() is None:
                    line = progress_line(run, scale, len(pending))
                    if line:
                        log(line)
                    continue
                running.remove(run)
                job = run.job
                if run.proc.returncode in (128 + signal.SIGINT, 128 + signal.SIGTERM):
                    # stopped from outside (checkpoint written): stop the others too, resume next time
                    signum = run.proc.returncode - 128
                    run.console.close()
                    _record_segment(run)
                    log(f"{job.name()} was stopped by {signal.Signals(signum).name} from outside; "
                        "the next start resumes it")
                    _stop_all(running, signum, log)
                    raise SweepStopped(signum)
                line = progress_line(run, scale, len(pending))  # the last epoch, if not logged yet
                if line:
                    log(line)
                seconds = _finish(run, scale, results)
                durations.append(seconds)
                done_keys.add(job.key)
                if on_finish is not None:
                    on_finish(job, run_dir(results, job))
                left = len(pending) + len(running)
                eta = (sum(durations) / len(durations)) * left / parallel
                log(f"[{len(done_keys)}/{total}] finished {job.name()} in {seconds:.0f} s; "
                    f"about {datetime.timedelta(seconds=int(eta))} to go")
            if pending and not running and not any(j.pretrain is None or j.pretrain.key in done_keys
                                                   for j in pending):
                raise RuntimeError("no runnable job left (a pretraining run is missing)")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return {"total": total, "skipped": skipped, "run": len(todo)}


def layout_ranks(base: Scale, ranks: int | None, workers_per_rank: int) -> int:
    """The MPI processes of a run: ``ranks`` if given, else the scale's workers / ``workers_per_rank``."""
    if workers_per_rank < 1:
        raise SweepError(f"--workers_per_rank must be >= 1 (got {workers_per_rank})")
    if ranks is not None:
        if ranks < 1:
            raise SweepError(f"--ranks must be >= 1 (got {ranks})")
        return ranks
    if base.workers % workers_per_rank:
        raise SweepError(f"scale {base.name} has {base.workers} workers, which {workers_per_rank} workers per rank "
                         f"do not divide; give --workers_per_rank a divisor of {base.workers} (or --ranks)")
    return base.workers // workers_per_rank


def main(family: str, variants: list[str], description: str, argv: list[str] | None = None,
         default_tasks: tuple[str, ...] | None = None) -> int:
    """Command line shared by the experiment family scripts in experiments/."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--scale", choices=sorted(SCALES), default="small")
    p.add_argument("--tasks", nargs="+", help="default: the scale's tasks")
    p.add_argument("--variants", nargs="+", default=variants)
    p.add_argument("--seeds", nargs="+", type=int, help="default: the scale's seeds")
    p.add_argument("--n_epochs", type=int, help="override the scale's epochs")
    p.add_argument("--n_cycles", type=int, help="override the scale's cycles per epoch")
    p.add_argument("--ranks", type=int,
                   help="MPI processes per run (default: the scale's workers / --workers_per_rank)")
    p.add_argument("--workers_per_rank", type=int, default=1,
                   help="virtual workers per process (e.g. --scale paper --workers_per_rank 8: the paper's 16 "
                        "workers on 2 processes)")
    p.add_argument("--parallel", type=int, default=1, help="runs at a time")
    p.add_argument("--results", type=Path, default=None,
                   help="where run folders go (default: experiments/results for small, else $MUSIC_RUNS/<scale>, "
                        "MUSIC_RUNS defaulting to ~/music-runs)")
    p.add_argument("--dry-run", action="store_true", help="list what would run")
    args = p.parse_args(argv)
    base = SCALES[args.scale]
    tasks = tuple(args.tasks or (default_tasks if default_tasks and args.scale == "small" else base.tasks))
    try:
        ranks = layout_ranks(base, args.ranks, args.workers_per_rank)
    except SweepError as err:
        print(f"sweep: error: {err}", file=sys.stderr)
        return 2
    n_epochs, n_cycles = args.n_epochs or base.n_epochs, args.n_cycles or base.n_cycles
    # Another layout of the scale's workers is the same scale; other workers, epochs or cycles are not.
    same = (n_epochs, n_cycles, ranks * args.workers_per_rank) == (base.n_epochs, base.n_cycles, base.workers)
    scale = Scale(base.name if same else base.name + "-custom", ranks=ranks, n_epochs=n_epochs, n_cycles=n_cycles,
                  seeds=tuple(args.seeds or base.seeds), tasks=tasks, params=base.params,
                  workers_per_rank=args.workers_per_rank)
    args.results = args.results or default_results(scale.name)
    try:
        jobs = make_jobs(family, scale.tasks, args.variants, scale.seeds)
        started = time.time()
        counts = run_sweep(jobs, scale, args.results, parallel=args.parallel, dry_run=args.dry_run,
                           log=lambda text: print(repo_relative(text), flush=True))
    except SweepError as err:
        print(f"sweep: error: {err}", file=sys.stderr)
        return 2
    except SweepStopped as stopped:
        print(f"sweep {family}: {stopped}; start the same command again to resume", flush=True)
        return stopped.exit_code
    print(f"sweep {family}: {counts['run']} runs in {time.time() - started:.0f} s "
          f"({counts['skipped']} skipped); results in {repo_relative(args.results / family)}")
    return 0
