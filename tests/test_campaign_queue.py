"""experiments/campaign_queue.py: the order of the campaigns' steps, decided from what the clone holds."""

import json

from music.campaign import MEDIUM, PAPER

from conftest import experiment_script

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
