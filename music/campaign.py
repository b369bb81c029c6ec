"""A sweep that outlives a working session: fixed code, background runner, export of results.

A campaign is a list of stages, each a list of (task, variant, seeds), run at one scale
by ``music.sweep``. Everything lives in a folder outside the clone (``$MUSIC_RUNS/<name>``,
default ``~/music-runs/<name>``):

    code/            a git worktree of the campaign's fixed commit: the runner and every
                     training run from here, so editing the clone never changes a run halfway
    runs/            the run folders (checkpoints, policies; large, never committed)
    export/          what is small and final of each finished run (see ``export_run``)
    campaign.json    the commit and the stages allowed to run
    campaign.log     the runner's log; runner.pid its process

``start`` launches the runner in the background (it survives the shell that started it),
``stop`` sends it SIGTERM: the running training writes a checkpoint at its next cycle end
and the next ``start`` resumes it. A campaign whose runs outlast a session (``carry_halfway``)
then packs each half-way run's checkpoint into the clone (``music.checkpoint_pack``:
the replay buffers kept as their actions, tens of MB) and commits it with the exports, so a
machine without the runs folder resumes the run from the pack (``restore_halfway``, done by
``start`` with the clone's code, so that a runner older than the packs resumes them too) instead
of training it again; ``pack`` packs for a runner that stopped without it, or beside one
that trains (the campaign queue does so every hour: a session cut off without a stop loses
an hour of the run, not all of it).
``status`` says what is done, half-way and to do. A finished run is exported at once,
copied into the clone's ``experiments/results/<name>/`` and, with ``--commit-exports``,
committed there (only those files). On a machine whose runs folder is gone, finished runs
come back from those committed exports (``restore_committed``), half-way runs of such a
campaign from their packs; only the others run again.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from music.config import PRETRAINING
from music.files import folder_bytes
from music.sweep import (
    SCALES,
    Job,
    Scale,
    SweepError,
    SweepStopped,
    make_jobs,
    resumable,
    run_dir,
    run_sweep,
)

SMALL_FILES = ("progress.csv", "params.json", "log.txt", "sweep.json")
HALFWAY = "halfway"  # beside a run's export in the clone: the pack of its checkpoint while it is half-way
# Variants whose final weights other variants load (MUSIC alone, DIAYN, ...): exported as npz.
PRETRAINING_VARIANTS = sorted({variant for variant, _ in PRETRAINING.values()})


@dataclass(frozen=True)
class Campaign:
    """What a campaign runs: its name (folder), scale and ordered stages of (task, variant, seeds)."""

    name: str
    scale: Scale
    stages: dict[int, list[tuple[str, str, tuple[int, ...]]]]
    # epochs whose weights a pretraining run exports besides its final ones (to measure a
    # behaviour during training, not only at its end)
    export_epochs: tuple[int, ...] = ()
    # commit the checkpoint of a run stopped half-way as a pack (music.checkpoint_pack), so that
    # a machine without the runs folder resumes it rather than training it again: for runs
    # longer than a working session
    carry_halfway: bool = False

    def __post_init__(self):
        late = [e for e in self.export_epochs if not 0 <= e < self.scale.n_epochs]
        if late:  # a run has no policy of such an epoch: nothing would be exported, silently
            raise ValueError(f"campaign {self.name}: export_epochs {late} are not epochs of its "
                             f"{self.scale.n_epochs}-epoch runs")

    def jobs(self, stages: list[int]) -> list[Job]:
        """The jobs of ``stages`` in order (pretraining runs first where a job needs one)."""
        jobs: dict[tuple, Job] = {}
        for stage in sorted(stages):
            if stage not in self.stages:
                raise SweepError(f"campaign {self.name} has stages {sorted(self.stages)}, not {stage}")
            for task, variant, seeds in self.stages[stage]:
                for job in make_jobs(self.name, [task], [variant], list(seeds)):
                    jobs.setdefault(job.key, job)
        return list(jobs.values())


@dataclass(frozen=True)
class Layout:
    """The folders and files of a campaign (see the module docstring)."""

    root: Path

    @property
    def code(self) -> Path:
        return self.root / "code"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def export(self) -> Path:
        return self.root / "export"

    @property
    def state(self) -> Path:
        return self.root / "campaign.json"

    @property
    def log(self) -> Path:
        return self.root / "campaign.log"

    @property
    def pid(self) -> Path:
        return self.root / "runner.pid"

    def read_state(self) -> dict:
        """campaign.json ({} before the first start)."""
        return json.loads(self.state.read_text()) if self.state.exists() else {}


def default_root(name: str) -> Path:
    return Path(os.environ.get("MUSIC_RUNS", Path.home() / "music-runs")) / name


def _git(repo: Path, *args: str, check: bool = True) -> str:
    out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if check and out.returncode != 0:
        raise SweepError(f"git {' '.join(args)} in {repo} failed: {out.stderr.strip()}")
    return out.stdout.strip()


def ensure_worktree(repo: Path, code: Path, commit: str) -> None:
    """A working checkout of ``commit`` at ``code`` (re-created if missing, broken or elsewhere)."""
    if code.exists():
        head = subprocess.run(["git", "-C", str(code), "rev-parse", "HEAD"], capture_output=True, text=True)
        if head.returncode == 0 and head.stdout.strip() == commit:
            return
        # A checkout of another clone (the work tree is laid anew between sessions) or of
        # another commit: it holds only code, so make it again from this clone.
        shutil.rmtree(code)
    _git(repo, "worktree", "prune")
    _git(repo, "worktree", "add", "--detach", str(code), commit)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` is running. A child that has exited and not been waited for (a
    zombie: the queue starts the runner and then waits in ``stop``) still answers ``kill(pid, 0)``;
    it counts as ended, and is reaped if it is this process's child."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    if state != "Z":
        return True
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # another process's zombie: its parent reaps it
        pass
    return False


def command_line(pid: int) -> str | None:
    """Process ``pid``'s command line, its arguments joined by NUL; None where /proc cannot say.
    Empty while the process is still inside its exec (and for a zombie or a kernel thread)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return None


def await_exec(pid: int, timeout: float = 30.0) -> bool:
    """Wait until process ``pid`` has a command line; False if it still had none after ``timeout``.
    ``subprocess.Popen`` returns once the child's exec has closed its error pipe, which the kernel
    does before it has written the new program's arguments: under load, half of the reads of a
    fresh child's /proc cmdline came back empty here, and ``runner_pid`` took the runner that
    had just been started for a recycled pid, so the queue saw it end at once and quit."""
    deadline = time.monotonic() + timeout
    while command_line(pid) == "" and process_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def runner_pid(layout: Layout) -> int | None:
    """The pid of a live runner of this campaign, else None."""
    try:
        pid = int(layout.pid.read_text())
    except (OSError, ValueError):
        return None
    if not process_alive(pid):
        return None
    cmdline = command_line(pid)  # a recycled pid is not our runner
    return pid if cmdline is None or "campaign" in cmdline else None


def _relative(text: str, run_folder: Path) -> str:
    """Paths of the machine that made a run, written relative to the run folder."""
    for path in (run_folder.with_name(run_folder.name + ".partial"), run_folder):
        text = text.replace(str(path), ".")
    return text


def export_run(job: Job, folder: Path, export_root: Path, epochs: tuple[int, ...] = ()) -> Path:
    """Copy what is small and final of a finished run to ``export_root/<task>/<variant>/seed<k>/``.

    progress.csv, params.json, log.txt, sweep.json (command, wall time, commit), with this
    machine's paths made relative; for pretraining variants also the final policy's weights
    as a pickle-free ``policy_<epoch>_weight.npz`` (MINE, actor, critic, targets,
    normalizers: what -r/-p/-f load), and those of the policies of ``epochs`` (each must
    have been kept).
    """
    from music.save_weight import extract_weights, write_weights

    dest = export_root / job.task / job.variant / f"seed{job.seed}"
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in SMALL_FILES:
        source = folder / name
        if source.exists():
            (tmp / name).write_text(_relative(source.read_text(), folder))
    if job.variant in PRETRAINING_VARIANTS:
        saved = sorted(int(p.stem.split("_")[1]) for p in folder.glob("policy_*.npz")
                       if p.stem.split("_")[1].isdigit())
        last = folder / f"policy_{saved[-1]}.npz" if saved else folder / "policy_latest.npz"
        weights = extract_weights(last, write=False)
        latest = extract_weights(folder / "policy_latest.npz", write=False)
        if set(weights) != set(latest) or not all(np.array_equal(weights[k], latest[k]) for k in weights):
            raise SweepError(f"{last} differs from {folder / 'policy_latest.npz'}: not the final policy")
        write_weights(weights, tmp / f"{last.stem}_weight.npz")
        for epoch in epochs:
            kept = folder / f"policy_{epoch}.npz"
            if kept != last:
                if not kept.exists():
                    raise SweepError(f"{kept} is missing: the campaign exports the weights of epoch {epoch}")
                write_weights(extract_weights(kept, write=False), tmp / f"{kept.stem}_weight.npz")
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    return dest


def copy_exports(export_root: Path, repo_results: Path) -> list[Path]:
    """Copy exported runs not yet (or differently) in the clone; returns the run folders copied."""
    copied = []
    for sweep_json in sorted(export_root.glob("*/*/seed*/sweep.json")):
        source = sweep_json.parent
        dest = repo_results / source.relative_to(export_root)
        if (dest / "sweep.json").exists() and (dest / "sweep.json").read_bytes() == sweep_json.read_bytes():
            continue
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(source, dest)
        copied.append(dest)
    return copied


def restore_committed(jobs: list[Job], runs: Path, repo_results: Path, export_root: Path, log=print) -> list[Job]:
    """Make finished run folders again from the repository's exports, for runs the runs folder
    lacks (a new machine): they are skipped, and later stages load their committed weights
    (``policy_<e>_weight.npz`` beside the policy path the params name). An export without
    every small file, or a pretraining run's without its weights, is not a finished run: it
    runs again. Returns the jobs restored."""
    restored = []
    for job in jobs:
        folder = run_dir(runs, job)
        if (folder / "sweep.json").exists() or folder.with_name(folder.name + ".partial").exists():
            continue
        source = repo_results / job.task / job.variant / f"seed{job.seed}"
        if not source.is_dir() or (not (source / "sweep.json").exists() and (source / HALFWAY).is_dir()):
            continue  # not there, or half-way (restore_halfway)
        missing = [name for name in SMALL_FILES if not (source / name).exists()]
        if job.variant in PRETRAINING_VARIANTS and not list(source.glob("policy_*_weight.npz")):
            missing.append("policy_<epoch>_weight.npz")
        if missing:
            log(f"{job.name()}: the repository's export lacks {', '.join(missing)}; it runs again")
            continue
        for dest in (folder, export_root / job.task / job.variant / f"seed{job.seed}"):
            tmp = dest.with_name(dest.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(source, tmp)
            shutil.rmtree(dest, ignore_errors=True)
            os.replace(tmp, dest)
        log(f"{job.name()}: finished run restored from the repository's export")
        restored.append(job)
    return restored


def halfway_pack(repo_results: Path, job: Job) -> Path:
    return repo_results / job.task / job.variant / f"seed{job.seed}" / HALFWAY


def restore_halfway(jobs: list[Job], runs: Path, repo_results: Path, log=print) -> list[Job]:
    """Make the run folder of each half-way run the runs folder lacks (a new machine) again from
    the pack the repository holds (``music.checkpoint_pack.unpack``: its replay buffers rebuilt
    and checked), so that it resumes where it stopped. Returns the jobs restored."""
    from music.checkpoint_pack import PackError, unpack

    restored = []
    for job in jobs:
        folder = run_dir(runs, job)
        partial = folder.with_name(folder.name + ".partial")
        source = halfway_pack(repo_results, job)
        if (folder / "sweep.json").exists() or partial.exists() or not (source / "pack.json").exists():
            continue
        tmp = partial.with_name(partial.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        started = time.time()
        try:
            record = unpack(source, tmp, processes=os.cpu_count() or 1,
                            log=functools.partial(_prefixed, log, job.name()))
        except PackError as err:
            shutil.rmtree(tmp, ignore_errors=True)
            log(f"{job.name()}: the repository's pack cannot be used ({err}); the run starts again")
            continue
        os.replace(tmp, partial)
        log(f"{job.name()}: half-way run restored from the repository's pack (epoch {record['epoch']}, cycle "
            f"{record['cycle']}) in {time.time() - started:.0f} s")
        restored.append(job)
    return restored


def _prefixed(log, prefix: str, text: str) -> None:
    log(f"{prefix}: {text}")


def pack_halfway(jobs: list[Job], layout: Layout, repo_results: Path, export_epochs: tuple[int, ...],
                 code_commit: str | None, live: bool = False, n_epochs: int | None = None, log=print) -> list[Path]:
    """Pack the checkpoint of every half-way run into the clone (``halfway/`` beside where its
    export will go), recording ``code_commit`` as the code that trained it; returns the packs
    written. Carried policies: policy_best and the epochs the campaign exports; a run restored
    from the pack has no policy of the other epochs before its checkpoint.

    ``live``: the runner is training meanwhile. That is safe for the checkpoint (its rank files
    stay until the one after the next is written, an epoch later; ``music.checkpoint``) and for
    what the loop wrote since (a progress.csv row: the resume cuts it). A run in its last epoch
    (of ``n_epochs``) is not packed then: it may finish, and its export replace the folder the
    pack is written into, while it packs."""
    from music.checkpoint import CheckpointError
    from music.checkpoint_pack import pack

    carried_policies = {"policy_best.npz", "policy_best.pkl", *(f"policy_{epoch}.npz" for epoch in export_epochs)}
    written = []
    for job in jobs:
        folder = run_dir(layout.runs, job)
        partial = folder.with_name(folder.name + ".partial")
        manifest = resumable(partial) if partial.exists() else None
        dest = halfway_pack(repo_results, job)
        if manifest is None or _packed_already(dest, manifest):
            continue  # nothing half-way, or packed already
        if live and manifest["epoch"] >= n_epochs - 1:
            continue
        try:
            record = pack(partial, dest, commit=code_commit, policies=carried_policies.__contains__)
        except CheckpointError as err:  # one that cannot be packed (PackError), or is damaged
            log(f"{job.name()}: its checkpoint cannot be packed ({err}); a machine without {layout.runs} "
                "trains it again")
            continue
        log(f"packed {job.name()}'s checkpoint (epoch {record['epoch']}, cycle {record['cycle']}) into {dest} "
            f"({folder_bytes(dest) / 1e6:.1f} MB)")
        written.append(dest)
    return written


def _packed_already(pack_folder: Path, manifest: dict) -> bool:
    """Whether ``pack_folder`` holds the pack of the checkpoint ``manifest`` names: the same rank
    files' sha256, or, for a pack written before packs recorded them, the same epoch and cycle."""
    try:
        record = json.loads((pack_folder / "pack.json").read_text())
    except (OSError, ValueError):
        return False
    if "checkpoint_sha256" in record:
        return record["checkpoint_sha256"] == manifest["sha256"]
    return (record.get("epoch"), record.get("cycle")) == (manifest["epoch"], manifest["cycle"])


def carry_halfway(campaign: Campaign, layout: Layout, repo: Path, commit: bool, live: bool = False,
                  log=print) -> list[Path]:
    """Pack the checkpoints of the campaign's half-way runs into the clone (those not packed yet at
    their latest checkpoint) and, with ``commit``, commit each. The runner does it when it stops;
    ``stop`` does it again for a runner of code older than this, and the campaign queue
    (``experiments/campaign_queue.py``) every hour while the runner trains (``live``), so that a
    session cut off without a stop loses an hour, not the run. Returns the packs written."""
    if not campaign.carry_halfway:
        return []
    repo_results = repo / "experiments" / "results" / campaign.name
    jobs = campaign.jobs(list(campaign.stages))
    # the runner's commit, which is not this process's code when `stop`/`pack` run from the clone
    code_commit = layout.read_state().get("commit") or running_commit()
    written = pack_halfway(jobs, layout, repo_results, campaign.export_epochs, code_commit, live=live,
                           n_epochs=campaign.scale.n_epochs, log=log)
    for dest in written if commit else []:
        epoch = json.loads((dest / "pack.json").read_text())["epoch"]
        ok = commit_paths(repo, [dest], f"Campaign {campaign.name}: {dest.parent.relative_to(repo_results)} "
                                        f"half-way at epoch {epoch}, its checkpoint packed")
        log(f"committed {dest}" if ok else f"could not commit {dest}: commit it by hand")
    return written


def running_commit() -> str | None:
    """The commit of the code this process runs (the campaign's worktree), None outside a git checkout."""
    import music

    return _git(Path(music.__file__).resolve().parent.parent, "rev-parse", "HEAD", check=False) or None


def halfway_commit(campaign: Campaign, repo: Path) -> str | None:
    """The code commit of the runs half-way in the repository's packs (None if there are none);
    a new machine must resume them on it."""
    from music.checkpoint_pack import read_pack

    commits = {read_pack(path.parent)["commit"]
               for path in (repo / "experiments" / "results" / campaign.name).glob(f"*/*/seed*/{HALFWAY}/pack.json")}
    commits.discard(None)
    if len(commits) > 1:
        raise SweepError(f"campaign {campaign.name}: the repository's half-way packs were made by different commits "
                         f"({', '.join(sorted(c[:10] for c in commits))}); resume each with --commit")
    return commits.pop() if commits else None


def commit_paths(repo: Path, paths: list[Path], message: str, attempts: int = 5) -> bool:
    """Commit exactly ``paths`` in ``repo``, every file in them (other staged or edited files stay
    as they are)."""
    rel = [str(p.resolve().relative_to(repo.resolve())) for p in paths]
    for attempt in range(attempts):
        # --force: a file .gitignore matches (a pack's *.npz) would be left out without a word
        added = subprocess.run(["git", "-C", str(repo), "add", "--force", "--", *rel], capture_output=True, text=True)
        done = added.returncode == 0 and subprocess.run(
            ["git", "-C", str(repo), "commit", "--quiet", "-m", message, "--only", "--", *rel],
            capture_output=True, text=True).returncode == 0
        if done:
            return True
        time.sleep(2.0 * (attempt + 1))  # e.g. index.lock held by a git command of the session
    return False


def log_line(text: str) -> None:
    print(f"{datetime.datetime.now():%Y-%m-%d %H:%M:%S} {text}", flush=True)


# ---------------------------------------------------------------------------- commands
def run(campaign: Campaign, layout: Layout, stages: list[int], repo: Path | None, commit_exports: bool) -> int:
    """The runner (foreground): run the stages' jobs, export each finished run."""
    import music

    log_line(f"runner {os.getpid()}: campaign {campaign.name}, stages {stages}, code {Path(music.__file__).parent}")
    repo_results = repo / "experiments" / "results" / campaign.name if repo else None

    def on_finish(job: Job, folder: Path) -> None:
        export_run(job, folder, layout.export, campaign.export_epochs)
        if repo_results is None:
            return
        copied = copy_exports(layout.export, repo_results)
        log_line(f"exported {job.name()} to {repo_results}")
        if commit_exports and copied:
            seconds = json.loads((folder / "sweep.json").read_text()).get("seconds", 0)
            ok = commit_paths(repo, copied, f"Campaign {campaign.name}: {job.name()} finished "
                                            f"({seconds / 3600:.2f} h), results exported")
            log_line(f"committed {job.name()}" if ok else f"could not commit {job.name()}: commit it by hand")

    jobs = campaign.jobs(stages)
    if repo_results is not None:
        restore_committed(jobs, layout.runs, repo_results, layout.export, log=log_line)
        if campaign.carry_halfway:
            restore_halfway(jobs, layout.runs, repo_results, log=log_line)
    try:
        run_sweep(jobs, campaign.scale, layout.runs, log=log_line, on_finish=on_finish)
    except SweepStopped as stopped:
        log_line(f"runner stopped ({stopped}); `start` resumes the campaign")
        if repo is not None:
            carry_halfway(campaign, layout, repo, commit_exports, log=log_line)
        return stopped.exit_code
    log_line(f"stages {stages} finished")
    return 0


def start(campaign: Campaign, layout: Layout, repo: Path, stages: list[int] | None, commit: str | None,
          commit_exports: bool) -> int:
    """Start (or resume) the runner in the background from the campaign's fixed commit."""
    layout.root.mkdir(parents=True, exist_ok=True)
    pid = runner_pid(layout)
    if pid:
        print(f"campaign {campaign.name}: runner {pid} is already running (log: {layout.log})")
        return 0
    state = layout.read_state()
    wanted = _git(repo, "rev-parse", commit or state.get("commit") or halfway_commit(campaign, repo) or "HEAD")
    if state.get("commit") and wanted != state["commit"]:
        halfway = [p for p in layout.runs.glob("**/seed*.partial") if resumable(p)]
        if halfway:
            raise SweepError(f"campaign {campaign.name} runs commit {state['commit'][:10]} and "
                             f"{len(halfway)} run(s) are half-way (e.g. {halfway[0]}); they must finish on the "
                             "code they started with")
    state.update(commit=wanted, stages=sorted(stages or state.get("stages") or [min(campaign.stages)]),
                 commit_exports=commit_exports)
    state.setdefault("created", datetime.datetime.now().isoformat(timespec="seconds"))
    ensure_worktree(repo, layout.code, wanted)
    layout.state.write_text(json.dumps(state, indent=1))
    repo_results = repo / "experiments" / "results" / campaign.name
    copy_exports(layout.export, repo_results)
    if campaign.carry_halfway:
        # here, with the clone's code, and not only in the runner: a runner of a commit older than
        # the packs (the one that trained the run) could not unpack them
        restore_halfway(campaign.jobs(state["stages"]), layout.runs, repo_results, log=log_line)
    cmd = [sys.executable, "-m", "music.campaign", "run", "--name", campaign.name, "--root", str(layout.root),
           "--repo", str(repo.resolve()), "--stages", *map(str, state["stages"])]
    if commit_exports:
        cmd.append("--commit-exports")
    env = {**os.environ, "PYTHONPATH": str(layout.code), "TF_CPP_MIN_LOG_LEVEL": "2"}
    pid = launch_runner(cmd, layout, env)
    print(f"campaign {campaign.name}: runner {pid} started from commit {wanted[:10]} "
          f"(stages {state['stages']}); log: {layout.log}")
    return 0


def launch_runner(cmd: list[str], layout: Layout, env: dict[str, str]) -> int:
    """Start ``cmd`` in the background (its own session, output to the campaign's log) and
    record it as the runner; returns its pid once ``runner_pid`` knows it for the runner."""
    with open(layout.log, "a") as log:
        proc = subprocess.Popen(cmd, cwd=layout.code, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    if not await_exec(proc.pid):
        print(f"campaign: runner {proc.pid} shows no command line yet; `status` may not know it for the runner",
              file=sys.stderr)
    layout.pid.write_text(str(proc.pid))
    return proc.pid


def stop(layout: Layout, timeout: float = 900.0) -> int:
    """SIGTERM the runner; wait until its trainings have written checkpoints and it has exited."""
    pid = runner_pid(layout)
    if not pid:
        print("no runner is running")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not process_alive(pid):
            break
        time.sleep(1.0)
    else:
        print(f"runner {pid} still running after {timeout:.0f} s", file=sys.stderr)
        return 1
    layout.pid.unlink(missing_ok=True)
    tail = layout.log.read_text().splitlines()[-4:] if layout.log.exists() else []
    print("\n".join(tail))
    return 0


def status(campaign: Campaign, layout: Layout) -> list[dict]:
    """One row per job of every stage: done (hours), half-way (checkpoint) or to do."""
    state = layout.read_state()
    rows = []
    stage_of = {(task, variant, seed): stage for stage, entries in campaign.stages.items()
                for task, variant, seeds in entries for seed in seeds}
    for job in campaign.jobs(list(campaign.stages)):
        folder = run_dir(layout.runs, job)
        partial = folder.with_name(folder.name + ".partial")
        if (folder / "sweep.json").exists():
            seconds = json.loads((folder / "sweep.json").read_text()).get("seconds", 0)
            what = f"done in {seconds / 3600:.2f} h"
        elif partial.exists():
            manifest = resumable(partial)
            what = (f"half-way: checkpoint of epoch {manifest['epoch']}, cycle {manifest['cycle']}"
                    if manifest else "started, no checkpoint yet")
        else:
            what = "to do"
        stage = stage_of.get(job.key, "pre")  # "pre": a pretraining run another stage needs
        rows.append({"stage": stage, "run": job.name(), "status": what})
    pid = runner_pid(layout)
    runner = f"running (pid {pid})" if pid else "not running"
    print(f"campaign {campaign.name} at {layout.root}: commit {str(state.get('commit'))[:10]}, stages allowed "
          f"{state.get('stages')}, runner {runner}")
    for row in rows:
        print(f"  stage {row['stage']}  {row['run']:45s} {row['status']}")
    return rows


def main(campaign: Campaign, argv: list[str] | None = None) -> int:
    """Command line: start | stop | status | run (the runner itself)."""
    p = argparse.ArgumentParser(prog=f"campaign {campaign.name}", description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=["start", "stop", "status", "pack", "run"])
    p.add_argument("--root", type=Path, default=None, help=f"campaign folder (default {default_root(campaign.name)})")
    p.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent,
                   help="the clone whose commit runs and which receives the exports")
    p.add_argument("--stages", nargs="+", type=int, default=None,
                   help=f"stages allowed to run (of {sorted(campaign.stages)}; default: as last time, else the first)")
    p.add_argument("--commit", default=None, help="commit to run (default: the campaign's, else the clone's HEAD)")
    p.add_argument("--commit-exports", action="store_true", help="commit each finished run's export in --repo")
    p.add_argument("--name", default=campaign.name, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    layout = Layout(args.root or default_root(campaign.name))
    state = layout.read_state()
    commit_packs = args.commit_exports or bool(state.get("commit_exports"))  # as the runner commits its exports
    try:
        if args.command == "start":
            return start(campaign, layout, args.repo, args.stages, args.commit, args.commit_exports)
        if args.command == "stop":
            code = stop(layout)
            copied = copy_exports(layout.export, args.repo / "experiments" / "results" / campaign.name)
            for path in copied:
                print(f"exported (commit it): {path}")
            if code == 0:
                carry_halfway(campaign, layout, args.repo, commit_packs)
            return code
        if args.command == "pack":
            if not carry_halfway(campaign, layout, args.repo, commit_packs, live=bool(runner_pid(layout))):
                print(f"campaign {campaign.name}: no half-way run to pack (or packed already, or the campaign "
                      "does not carry them)")
            return 0
        if args.command == "status":
            status(campaign, layout)
            return 0
        return run(campaign, layout, args.stages or [min(campaign.stages)], args.repo, args.commit_exports)
    except SweepError as err:
        print(f"campaign: error: {err}", file=sys.stderr)
        return 2


# The medium-scale reproduction (every paper default on 2 ranks; see experiments/campaign_medium.py).
# Stages 1-3 ran in issue 13; 4-6 are the paper's other figures (issue: the paper's other
# figures at medium scale): -f with the MUSIC policy's normalizers, FetchSlide, and
# FetchPickAndPlace with task reward (its MUSIC runs are stage 3's).
SEEDS = (0, 1, 2)
TASK_REWARD_VARIANTS = ("SAC", "SAC+MUSIC-r", "SAC+MUSIC-p", "SAC+MUSIC-f")
MEDIUM = Campaign(
    name="medium",
    scale=SCALES["medium"],
    stages={
        1: [("FetchPush-v1", "SAC+MUSIC", SEEDS)],
        2: [("FetchPush-v1", variant, (seed,)) for seed in SEEDS for variant in TASK_REWARD_VARIANTS],
        3: [("FetchPickAndPlace-v1", "SAC+MUSIC", SEEDS)],
        4: [("FetchPush-v1", "SAC+MUSIC-f-with-normalizers", SEEDS)],
        5: [("FetchSlide-v1", "SAC+MUSIC", SEEDS)]
           + [("FetchSlide-v1", variant, (seed,)) for seed in SEEDS for variant in TASK_REWARD_VARIANTS],
        6: [("FetchPickAndPlace-v1", variant, (seed,)) for seed in SEEDS for variant in TASK_REWARD_VARIANTS],
    },
    # FetchSlide's -f loads its MUSIC run's policy of epoch 12 (the authors' params): exported
    # with the final weights, so that a new machine can run -f from the committed exports
    export_epochs=(12,),
)
# The paper's 16 workers (issue: the headline at the paper's scale; see experiments/campaign_paper.py):
# 2 processes x 8 virtual workers do the math of 16 ranks. Stage 1 is MUSIC alone on
# FetchPickAndPlace, seed 0, with the weights of epochs 10-40 exported besides the final ones
# so that lifting can be measured during training; stage 2 (seeds 1, 2) runs only if that
# run lifts the block (experiments/paper_gate.py).
PAPER = Campaign(
    name="paper",
    scale=Scale("paper", ranks=2, workers_per_rank=8, n_epochs=50, n_cycles=50, seeds=SEEDS,
                tasks=("FetchPickAndPlace-v1",)),
    stages={
        1: [("FetchPickAndPlace-v1", "SAC+MUSIC", (0,))],
        2: [("FetchPickAndPlace-v1", "SAC+MUSIC", (1, 2))],
    },
    export_epochs=(10, 20, 30, 40),
    carry_halfway=True,  # a run takes 6 h, longer than a working session
)
CAMPAIGNS = {"medium": MEDIUM, "paper": PAPER}

if __name__ == "__main__":
    name = sys.argv[sys.argv.index("--name") + 1] if "--name" in sys.argv else "medium"
    if name not in CAMPAIGNS:
        sys.exit(f"campaign: error: no campaign {name!r}; known: {', '.join(CAMPAIGNS)}")
    sys.exit(main(CAMPAIGNS[name]))
