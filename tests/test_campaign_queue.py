"""experiments/campaign_queue.py: the order of the campaigns' steps, decided from what the clone holds, and the hourly
packs of a running campaign's half-way runs."""

import json
import os
import subprocess
import sys

import pytest

from music.campaign import MEDIUM, PAPER

from conftest import REPO, experiment_script

queue = experiment_script("campaign_queue")


def export(repo, campaign, stages):
    for job in campaign.jobs(list(stages)):
        folder = repo / "experiments" / "results" / campaign.name / job.task / job.variant / f"seed{job.seed}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "sweep.json").write_text("{}")


def measured(repo, name, epochs, **fields):
    path = repo / "experiments" / "results" / "paper_eval" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**fields, "rows": [{"epoch": e} for e in epochs]}))


def final_mine(repo, name, epoch):
    path = repo / "experiments" / "results" / "paper_eval" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"epoch": epoch, "rows": []}))


def test_the_paper_run_then_its_gate_then_the_medium_stages_when_the_gate_fails(tmp_path):
    assert queue.next_step(tmp_path).name == "paper stage 1"
    export(tmp_path, PAPER, (1,))
    assert queue.next_step(tmp_path).name == "the paper gate"
    # a gate measured on the partial run (no final epoch) does not count
    measured(tmp_path, "gate.json", [None, 10], passed=False)
    measured(tmp_path, "grasp.json", [None, 0, 12])
    assert queue.next_step(tmp_path).name == "the paper gate"
    measured(tmp_path, "gate.json", [None, 10, 20, 30, 40, 49], passed=False)
    assert queue.next_step(tmp_path).name == "the paper gate"  # grasping is not measured at epoch 49 yet
    measured(tmp_path, "grasp.json", [None, *range(50)])
    assert queue.next_step(tmp_path).name == "the paper gate"  # the MI reward of behaviours is not measured yet
    measured(tmp_path, "mi_by_behaviour.json", range(50))
    # the final MINE with carries in its data and window by window: one measured on an earlier MINE does not count
    final_mine(tmp_path, "mine_with_carries.json", 34)
    final_mine(tmp_path, "mi_by_speed.json", 49)
    assert queue.next_step(tmp_path).name == "the paper gate"
    final_mine(tmp_path, "mine_with_carries.json", 49)
    final_mine(tmp_path, "mi_by_speed.json", 38)
    assert queue.next_step(tmp_path).name == "the paper gate"
    final_mine(tmp_path, "mi_by_speed.json", 49)
    step = queue.next_step(tmp_path)
    assert (step.name, step.campaign, step.stages, step.new_code) == ("medium stages 4-6", MEDIUM, (4, 5, 6), True)
    export(tmp_path, MEDIUM, (4, 5))
    assert queue.next_step(tmp_path).name == "medium stages 4-6"  # stage 6 is not in
    export(tmp_path, MEDIUM, (6,))
    assert queue.next_step(tmp_path) is None


def test_a_passed_gate_runs_the_other_paper_seeds_first_on_the_campaigns_own_commit(tmp_path):
    export(tmp_path, PAPER, (1,))
    measured(tmp_path, "gate.json", [None, 10, 20, 30, 40, 49], passed=True)
    measured(tmp_path, "grasp.json", [None, *range(50)])
    measured(tmp_path, "mi_by_behaviour.json", range(50))
    final_mine(tmp_path, "mine_with_carries.json", 49)
    final_mine(tmp_path, "mi_by_speed.json", 49)
    step = queue.next_step(tmp_path)
    assert (step.name, step.stages, step.new_code) == ("paper stage 2", (2,), False)
    export(tmp_path, PAPER, (2,))
    assert queue.next_step(tmp_path).name == "medium stages 4-6"


def test_the_medium_stages_count_the_pretraining_runs_they_load(tmp_path):
    # stage 6's task-reward runs load stage 3's MUSIC runs: those must be in too
    jobs = {(job.task, job.variant) for job in MEDIUM.jobs([6])}
    assert ("FetchPickAndPlace-v1", "SAC+MUSIC") in jobs
    for job in MEDIUM.jobs([4, 5, 6]):
        if job.variant != "SAC+MUSIC":
            folder = tmp_path / "experiments/results/medium" / job.task / job.variant / f"seed{job.seed}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "sweep.json").write_text("{}")
    assert not queue.runs_done(MEDIUM, (4, 5, 6), tmp_path)


LIVE_SCRIPT = """
import sys
sys.path.insert(0, {repo!r})
from music.campaign import Campaign, main
from music.sweep import Scale
scale = Scale("tinylive", ranks=1, workers_per_rank=2, n_epochs=3, n_cycles=2, seeds=(0,), tasks=("FetchPush-v1",),
              params=("n_test_rollouts=1", "buffer_size=5000", "n_batches=4"))
CAMPAIGN = Campaign("tinylive", scale, {{1: [("FetchPush-v1", "SAC+MUSIC", (0,))]}}, carry_halfway=True)
if __name__ == "__main__":
    sys.exit(main(CAMPAIGN, sys.argv[1:]))
"""


@pytest.mark.slow
def test_the_queue_commits_packs_of_the_run_while_it_trains_and_each_rebuilds(tmp_path, monkeypatch):
    # a session cut off without a stop (no pack at the stop) must not lose the whole run: the queue
    # packs the running run's checkpoints and commits them; each committed pack rebuilds its checkpoint
    from test_campaign import git, init_repo

    from music.campaign import Layout
    from music.checkpoint_pack import verify
    from music.training import StopRequest

    script = tmp_path / "tinylive_campaign.py"  # a runner's command line names a campaign (runner_pid)
    script.write_text(LIVE_SCRIPT.format(repo=str(REPO)))
    monkeypatch.syspath_prepend(str(tmp_path))
    import tinylive_campaign

    repo, layout = init_repo(tmp_path / "clone"), Layout(tmp_path / "runs")

    def start_tiny(campaign, layout, repo, stages, commit, commit_exports):  # the runner of the tiny campaign
        layout.root.mkdir(parents=True, exist_ok=True)
        with open(layout.log, "a") as log:
            proc = subprocess.Popen([sys.executable, str(script), "run", "--root", str(layout.root), "--repo",
                                     str(repo), "--commit-exports"], stdout=log, stderr=subprocess.STDOUT,
                                    env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, cwd=REPO)
        layout.pid.write_text(str(proc.pid))

    monkeypatch.setattr(queue, "start", start_tiny)
    step = queue.Step("tiny", tinylive_campaign.CAMPAIGN, (1,))
    assert queue.run_campaign(step, repo, StopRequest(), layout=layout, pack_interval=0.0, poll=0.1)
    assert "stages [1] finished" in layout.log.read_text(), layout.log.read_text()

    packed = [line.split(" ", 1) for line in git(repo, "log", "--format=%H %s").splitlines()
              if "its checkpoint packed" in line]
    # the checkpoint of epoch 1 (of 3); not that of epoch 2: the run is in its last epoch, it may finish
    # while it packs and its export replace the folder of the pack
    assert [subject.split(" half-way at ")[1] for _, subject in packed] == ["epoch 1, its checkpoint packed"], (
        git(repo, "log", "--format=%s") + layout.log.read_text())
    pack_path = "experiments/results/tinylive/FetchPush-v1/SAC+MUSIC/seed0/halfway"
    for sha, subject in packed:
        shown = tmp_path / f"pack_{sha[:8]}"
        git(repo, "worktree", "add", "-q", "--detach", str(shown), sha)
        record = json.loads((shown / pack_path / "pack.json").read_text())
        assert f"half-way at epoch {record['epoch']}, its checkpoint packed" in subject
        # raises if a rebuilt array differs from the packed checkpoint's
        verify(shown / pack_path, ranks=list(range(record["ranks"])))
    # the finished run's export replaced its pack
    assert not any("halfway" in p for p in git(repo, "ls-files").split())
    assert "tinylive/FetchPush-v1/SAC+MUSIC/seed0/sweep.json" in git(repo, "ls-files")


def test_the_queue_packs_every_pack_interval_and_goes_on_when_a_pack_fails(tmp_path, monkeypatch, capsys):
    from music.campaign import Layout
    from music.training import StopRequest

    clock = [0.0]
    monkeypatch.setattr(queue.time, "time", lambda: clock[0])
    monkeypatch.setattr(queue.time, "sleep", lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    monkeypatch.setattr(queue, "start", lambda *args, **kwargs: 0)
    monkeypatch.setattr(queue, "runner_pid", lambda layout: 123 if clock[0] < 10_000 else None)  # trains 10,000 s
    calls = []

    def carry_halfway(campaign, layout, repo, commit, live=False, log=print):
        calls.append((clock[0], live))
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return []

    monkeypatch.setattr(queue.campaign, "carry_halfway", carry_halfway)
    step = queue.Step("paper stage 1", PAPER, (1,))
    assert queue.run_campaign(step, tmp_path, StopRequest(), layout=Layout(tmp_path / "runs"), pack_interval=3600.0)
    assert calls == [(3600.0, True), (7200.0, True)]
    out = capsys.readouterr().out
    assert "packing the half-way runs failed (RuntimeError: disk full); trying again in 3600 s" in out


FAKE_GATE = """
import json, pathlib, sys
out = pathlib.Path("experiments/results/paper_eval")
out.mkdir(parents=True, exist_ok=True)
with open("gate_runs", "a") as runs:
    runs.write("gate\\n")
rows = [{"epoch": e, "policy": f"epoch {e}"} for e in (None, 10, 20, 30, 40, 49)]
(out / "gate.json").write_text(json.dumps({"rows": rows, "passed": False, "verdict": "not passed: fake"}))
"""

FAKE_MI = """
import json, pathlib
pathlib.Path("experiments/results/paper_eval/mi_by_behaviour.json").write_text(json.dumps(
    {"rows": [{"epoch": e} for e in range(50)]}))
"""

FAKE_FINAL_MINE = """
import json, pathlib, sys
name = pathlib.Path(sys.argv[0]).stem
assert sys.argv[1:] == ["--epoch", "49"], sys.argv  # the final policy's MINE, not whichever is newest
with open("final_mine_runs", "a") as runs:
    runs.write(name + "\\n")
pathlib.Path(f"experiments/results/paper_eval/{name}.json").write_text(json.dumps({"epoch": 49, "rows": []}))
"""

FAKE_GRASP = """
import json, pathlib, sys, time
out = pathlib.Path("experiments/results/paper_eval/grasp.json")
done = json.loads(out.read_text())["rows"] if out.exists() else []
last = 10 if pathlib.Path("short").exists() else 50  # short: the run kept no policy of the final epoch
for epoch in range(len(done), last):
    done.append({"epoch": epoch})
    out.write_text(json.dumps({"rows": done}))
    if pathlib.Path("hang").exists():  # one epoch, then as long as a real measurement
        time.sleep(600)
    if pathlib.Path("interrupt").exists():  # one epoch, then ended by the Ctrl-C that reached the queue too
        while not pathlib.Path("signalled").exists():
            time.sleep(0.01)
        sys.exit(130)
"""


def fake_gate_repo(tmp_path, mode):
    from test_campaign import init_repo

    repo = init_repo(tmp_path / "clone")
    export(repo, PAPER, (1,))  # the paper run is in
    (repo / "experiments" / "paper_gate.py").write_text(FAKE_GATE)
    (repo / "experiments" / "grasp_rate.py").write_text(FAKE_GRASP)
    (repo / "experiments" / "mi_by_behaviour.py").write_text(FAKE_MI)
    for name in ("mine_with_carries", "mi_by_speed"):
        (repo / "experiments" / f"{name}.py").write_text(FAKE_FINAL_MINE)
    if mode:
        (repo / mode).write_text("")
    return repo


def stop_when(path, stopping, signum, then=None):
    """A thread that records ``signum`` in ``stopping`` once ``path`` exists (and then creates ``then``)."""
    import threading
    import time

    def wait_and_signal():
        while not path.exists():
            time.sleep(0.01)
        stopping.signum = signum
        if then is not None:
            then.write_text("")

    thread = threading.Thread(target=wait_and_signal, daemon=True)
    thread.start()
    return thread


def test_a_stop_during_the_gate_ends_it_at_once_commits_what_it_measured_and_start_goes_on_from_there(tmp_path):
    # the gate takes up to an hour; a session's stop must neither wait for it nor lose what it measured
    import time

    from test_campaign import git

    from music.training import StopRequest

    repo = fake_gate_repo(tmp_path, "hang")
    grasp = repo / "experiments" / "results" / "paper_eval" / "grasp.json"
    stopping = StopRequest()
    stopper = stop_when(grasp, stopping, 15)
    began = time.monotonic()
    assert queue.run_gate(repo, stopping, poll=0.05) == "stopped"
    stopper.join()
    assert time.monotonic() - began < 60  # the fake grasp_rate.py would sleep 600 s
    assert git(repo, "log", "-1", "--format=%s").startswith("Paper campaign: the gate of seed 0, stopped part-way")
    committed = json.loads(git(repo, "show", "HEAD:experiments/results/paper_eval/grasp.json"))
    assert committed["rows"] == [{"epoch": 0}]
    assert queue.next_step(repo).name == "the paper gate"  # not done: epoch 49 is not measured

    (repo / "hang").unlink()
    assert queue.run_gate(repo, StopRequest(), poll=0.05) == "done"
    assert (repo / "gate_runs").read_text() == "gate\n"  # its gate of the final epoch was in: not run again
    for name in ("grasp.json", "mi_by_behaviour.json"):
        assert len(json.loads(git(repo, "show", f"HEAD:experiments/results/paper_eval/{name}"))["rows"]) == 50
    for name in ("mine_with_carries.json", "mi_by_speed.json"):  # then the final MINE's, committed with them
        assert json.loads(git(repo, "show", f"HEAD:experiments/results/paper_eval/{name}"))["epoch"] == 49
    assert (repo / "final_mine_runs").read_text() == "mine_with_carries\nmi_by_speed\n"
    # measured on the final MINE: a gate run again does not measure them again
    assert queue.run_gate(repo, StopRequest(), poll=0.05) == "done"
    assert (repo / "final_mine_runs").read_text() == "mine_with_carries\nmi_by_speed\n"
    assert queue.next_step(repo).name == "medium stages 4-6"  # the fake gate did not pass
    assert git(repo, "status", "--porcelain", "experiments/results/paper_eval").strip() == ""


def test_a_ctrl_c_that_ends_the_gates_script_too_is_a_stop_that_commits_not_a_failure(tmp_path):
    from test_campaign import git

    from music.training import StopRequest

    repo = fake_gate_repo(tmp_path, "interrupt")
    stopping = StopRequest()
    # the script ends (exit 130) only after the queue has recorded the signal: the queue sees an ended child
    stopper = stop_when(repo / "experiments" / "results" / "paper_eval" / "grasp.json", stopping, 2,
                        then=repo / "signalled")
    assert queue.run_gate(repo, stopping, poll=0.5) == "stopped"
    stopper.join()
    committed = json.loads(git(repo, "show", "HEAD:experiments/results/paper_eval/grasp.json"))
    assert committed["rows"] == [{"epoch": 0}]


def test_a_gate_whose_scripts_end_without_the_final_epoch_fails_once_instead_of_measuring_forever(tmp_path, capsys):
    from music.training import StopRequest

    repo = fake_gate_repo(tmp_path, "short")
    assert queue.run_gate(repo, StopRequest(), poll=0.05) == "failed"
    assert "the gate's files lack epoch 49 (does the run keep policy_49?)" in capsys.readouterr().out
