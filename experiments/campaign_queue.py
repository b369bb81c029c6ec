"""The campaigns in the order the issues set, one after the other, so that the cores never wait for a session.

    .venv/bin/python experiments/campaign_queue.py start     # in the background; log: ~/music-runs/queue.log
    .venv/bin/python experiments/campaign_queue.py status
    .venv/bin/python experiments/campaign_queue.py stop      # the running campaign checkpoints; start resumes

The steps, each taken when the ones before it are done (decided from what is committed in the
clone, so a stop anywhere resumes at the right step, on this machine or a new one):

1. the paper campaign's stage 1: FetchPickAndPlace SAC+MUSIC, seed 0, 16 workers;
2. its gate, grasping by epoch and the MI reward of scripted behaviours: ``experiments/paper_gate.py``,
   ``experiments/grasp_rate.py --untrained --scripted`` and ``experiments/mi_by_behaviour.py`` on
   the kept policies, then ``experiments/mine_with_carries.py`` and ``experiments/mi_by_speed.py``
   on the final policy's MINE, their JSON files committed (a stop ends it at
   once and commits the rows measured so far; the next start measures the rest);
3. if the gate passed, the paper campaign's stage 2 (seeds 1 and 2);
4. the medium campaign's stages 4-6 (the paper's other figures), on the clone's commit of the
   day they start.

Each campaign runs with its own runner (``music.campaign``: its worktree at a fixed commit,
checkpoints, exports committed as runs finish); this process starts it, waits for it, packs
and commits its half-way runs every hour meanwhile (``PACK_INTERVAL``) and stops it. A step
that ends without its runs done (a run failed) stops the queue: read the campaign's log.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from music import campaign  # noqa: E402
from music.campaign import MEDIUM, PAPER, Campaign, Layout, commit_paths, default_root, runner_pid, start, stop  # noqa: E402
from music.training import StopRequest  # noqa: E402

PAPER_EVAL = Path("experiments") / "results" / "paper_eval"
# Seconds between packs of a running campaign's half-way runs (music.campaign.carry_halfway):
# what a session cut off without a stop loses of a run whose run folder is then gone. Each
# pack adds its new weights, policies and buffer block to the repository (the paper run's
# pack of epoch 3: +10 MB of .git).
PACK_INTERVAL = 3600.0
FINAL_EPOCH = PAPER.scale.n_epochs - 1
# the gate's measurements of every kept epoch (experiments/grasp_rate.py, experiments/mi_by_behaviour.py)
MEASURED_BY_EPOCH = ("grasp.json", "mi_by_behaviour.json")
# and of the final policy's MINE alone (experiments/mine_with_carries.py, experiments/mi_by_speed.py:
# a few minutes each, so one stopped part-way runs again whole)
MEASURED_ON_FINAL_EPOCH = ("mine_with_carries.json", "mi_by_speed.json")


@dataclass(frozen=True)
class Step:
    """What to do next: run a campaign's stages, or measure the paper run (the gate)."""

    name: str
    campaign: Campaign | None = None
    stages: tuple[int, ...] = ()
    # start the stages on the clone's commit the first time (they need code newer than the campaign's);
    # else every run of the campaign keeps the commit it started with
    new_code: bool = False


def runs_done(campaign: Campaign, stages: tuple[int, ...], repo: Path) -> bool:
    """Whether every run of the stages (and the pretraining runs they load) is exported in the clone."""
    results = repo / "experiments" / "results" / campaign.name
    return all((results / job.task / job.variant / f"seed{job.seed}" / "sweep.json").exists()
               for job in campaign.jobs(list(stages)))


def gate_of(repo: Path) -> dict | None:
    """The committed gate of the finished paper run (None until it has measured the final policy)."""
    path = repo / PAPER_EVAL / "gate.json"
    gate = json.loads(path.read_text()) if path.exists() else None
    if gate is None or not any(row.get("epoch") == FINAL_EPOCH for row in gate["rows"]):
        return None
    return gate


def on_final_epoch(path: Path) -> bool:
    """Whether ``path`` (a MEASURED_ON_FINAL_EPOCH file) measured the final epoch's MINE."""
    return path.exists() and json.loads(path.read_text()).get("epoch") == FINAL_EPOCH


def measured_to_final_epoch(repo: Path) -> bool:
    """Whether grasping by epoch and the MI reward of scripted behaviours are measured up to the final
    epoch, and the final MINE with carries in its data and window by window."""
    paths = [repo / PAPER_EVAL / name for name in MEASURED_BY_EPOCH]
    return (all(path.exists() and any(row.get("epoch") == FINAL_EPOCH
                                      for row in json.loads(path.read_text())["rows"]) for path in paths)
            and all(on_final_epoch(repo / PAPER_EVAL / name) for name in MEASURED_ON_FINAL_EPOCH))


def next_step(repo: Path) -> Step | None:
    """The first step of the module docstring that is not done; None when all are."""
    if not runs_done(PAPER, (1,), repo):
        return Step("paper stage 1", PAPER, (1,))
    gate = gate_of(repo)
    if gate is None or not measured_to_final_epoch(repo):
        return Step("the paper gate")
    if gate["passed"] and not runs_done(PAPER, (2,), repo):
        return Step("paper stage 2", PAPER, (2,))
    if not runs_done(MEDIUM, (4, 5, 6), repo):
        return Step("medium stages 4-6", MEDIUM, (4, 5, 6), new_code=True)
    return None


def log_line(text: str) -> None:
    campaign.log_line(f"queue: {text}")


def run_campaign(step: Step, repo: Path, stopping: StopRequest, layout: Layout | None = None,
                 pack_interval: float = PACK_INTERVAL, poll: float = 5.0) -> bool:
    """Start the step's campaign runner (or join the one already running) and wait for it to end,
    packing and committing its half-way runs every ``pack_interval`` seconds meanwhile."""
    layout = layout or Layout(default_root(step.campaign.name))
    state = layout.read_state()
    first_start = not set(step.stages) <= set(state.get("stages", ()))
    commit = "HEAD" if step.new_code and first_start else None
    start(step.campaign, layout, repo, list(step.stages), commit, commit_exports=True)
    next_pack = time.time() + pack_interval
    while runner_pid(layout):
        if stopping.signum:
            log_line(f"stopping the {step.campaign.name} runner")
            if stop(layout) == 0:  # and pack its half-way runs, if the runner's code did not
                campaign.carry_halfway(step.campaign, layout, repo, commit=True, log=log_line)
            return False
        if time.time() >= next_pack:
            try:
                campaign.carry_halfway(step.campaign, layout, repo, commit=True, live=True, log=log_line)
            except Exception as err:  # noqa: BLE001 - a failed pack must not end the queue that stops the runner
                log_line(f"packing the half-way runs failed ({type(err).__name__}: {err}); trying again in "
                         f"{pack_interval:.0f} s")
            next_pack = time.time() + pack_interval
        time.sleep(poll)
    return True


def changed(repo: Path, paths: list[Path]) -> list[Path]:
    """The existing ``paths`` that differ from what the clone has committed (or are not committed)."""
    def differs(path: Path) -> bool:
        status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--", str(path)],
                                capture_output=True, text=True)
        return bool(status.stdout.strip())

    return [path for path in paths if path.exists() and differs(path)]


def run_gate(repo: Path, stopping: StopRequest, poll: float = 1.0) -> str:
    """paper_gate.py (unless its gate of the final epoch is in), grasp_rate.py and
    mi_by_behaviour.py on the finished paper run, then mine_with_carries.py and mi_by_speed.py
    on its final MINE (unless measured on it); commit what they wrote. "done", "failed", or
    "stopped": a stop ends the script running (grasp_rate.py writes its file after every policy,
    and measures only the policies not measured yet when the gate runs again) and commits what
    it measured so far, so a session that stops during the gate (it takes up to an hour) neither
    waits for it nor loses it."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(repo)}
    scripts = [] if gate_of(repo) else [["experiments/paper_gate.py"]]
    scripts += [["experiments/grasp_rate.py", "--untrained", "--scripted"], ["experiments/mi_by_behaviour.py"]]
    scripts += [[f"experiments/{Path(name).stem}.py", "--epoch", str(FINAL_EPOCH)] for name in MEASURED_ON_FINAL_EPOCH
                if not on_final_epoch(repo / PAPER_EVAL / name)]
    paths = [repo / PAPER_EVAL / name for name in ("gate.json", *MEASURED_BY_EPOCH, *MEASURED_ON_FINAL_EPOCH)]
    for script in scripts:
        log_line(f"running {' '.join(script)}")
        with tempfile.TemporaryFile(mode="w+") as errors:
            child = subprocess.Popen([sys.executable, *script], cwd=repo, env=env, stdout=None, stderr=errors,
                                     stdin=subprocess.DEVNULL, text=True)
            while child.poll() is None and not stopping.signum:
                time.sleep(poll)
            if stopping.signum:  # also when the child has ended: Ctrl-C reaches it too
                log_line(f"stopping {script[0]}")
                child.terminate()
                try:
                    child.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
                measured = changed(repo, paths)
                if measured and not commit_paths(repo, measured, "Paper campaign: the gate of seed 0, stopped "
                                                                 "part-way; what it measured so far"):
                    log_line("could not commit the gate's measurements so far: commit them by hand")
                return "stopped"
            if child.returncode != 0:
                errors.seek(0)
                log_line(f"{script[0]} failed (exit {child.returncode}):\n{errors.read()[-3000:]}")
                return "failed"
    gate = json.loads(paths[0].read_text())
    measured = changed(repo, paths)
    committed = not measured or commit_paths(
        repo, measured, f"Paper campaign: the gate of seed 0 ({gate['verdict'].split(':')[0]}), grasping and MI "
                        "reward by epoch, measured")
    log_line(f"gate: {gate['verdict']}" + ("" if committed else "; could not commit it: commit it by hand"))
    if not committed or gate_of(repo) is None or not measured_to_final_epoch(repo):
        log_line(f"the gate's files lack epoch {FINAL_EPOCH} (does the run keep policy_{FINAL_EPOCH}?) or "
                 f"are not committed: see {PAPER_EVAL}")
        return "failed"  # else the queue would measure again and again
    return "done"


def run(repo: Path) -> int:
    """The queue itself (foreground): take the steps until all are done, one fails or a signal comes."""
    stopping = StopRequest()  # SIGTERM/SIGINT: stop the running campaign (it checkpoints) and leave
    stopping.install()
    log_line(f"started (pid {os.getpid()}), clone {repo}")
    while not stopping.signum:
        step = next_step(repo)
        if step is None:
            log_line("every step is done")
            return 0
        log_line(f"next: {step.name}")
        if step.campaign is None:
            gate = run_gate(repo, stopping)
            if gate == "failed":
                return 1
            if gate == "stopped":
                break
            continue
        if not run_campaign(step, repo, stopping):
            log_line("stopped; `start` resumes")
            return 143
        if not runs_done(step.campaign, step.stages, repo):
            log_line(f"the {step.campaign.name} runner ended before {step.name} was done; see its campaign.log")
            return 1
    log_line("stopped; `start` resumes")
    return 143


def queue_files() -> tuple[Path, Path]:
    root = default_root("queue").parent  # beside the campaigns' folders
    return root / "queue.pid", root / "queue.log"


def alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=["start", "stop", "status", "run"])
    args = p.parse_args(argv)
    pid_file, log = queue_files()
    pid = alive(pid_file)
    if args.command == "status":
        step = next_step(REPO)
        print(f"queue: {f'running (pid {pid})' if pid else 'not running'}; next step: "
              f"{step.name if step else 'none, every step is done'}; log: {log}")
        return 0
    if args.command == "start":
        if pid:
            print(f"queue: already running (pid {pid}); log: {log}")
            return 0
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as out:
            proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "run"], cwd=REPO, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        pid_file.write_text(str(proc.pid))
        print(f"queue: started (pid {proc.pid}); next step: {next_step(REPO).name if next_step(REPO) else 'none'}; "
              f"log: {log}")
        return 0
    if args.command == "stop":
        if not pid:
            print("queue: not running")
            return 0
        os.kill(pid, signal.SIGTERM)
        while alive(pid_file):
            time.sleep(1)
        pid_file.unlink(missing_ok=True)
        print("\n".join(log.read_text().splitlines()[-3:]))
        return 0
    return run(REPO)


if __name__ == "__main__":
    sys.exit(main())
