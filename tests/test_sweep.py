"""Sweep runner: jobs and pretraining order, skip/restart, stale results, bad input; plots."""

import json
import sys

import numpy as np
import pytest

import music.sweep as sweep
from music.sweep import Scale, SweepError, job_status, make_jobs, run_dir, run_sweep

SCALE = Scale("test", ranks=1, n_epochs=2, n_cycles=1, seeds=(0, 1), tasks=("FetchPush-v1",))

FAKE_TRAIN = r"""
import csv, json, sys, pathlib
args = sys.argv[1:]
logdir = pathlib.Path(args[args.index("--logdir") + 1]); logdir.mkdir(parents=True)
note = args[args.index("--note") + 1]; seed = int(args[args.index("--seed") + 1])
if "FAIL" in note: sys.exit(3)
(logdir / "params.json").write_text(json.dumps({"env_name": "FetchPush-v1", "note": note, "seed": seed, "num_cpu": 1,
                                                "n_cycles": 3, "n_batches": 7}))
with open(logdir / "progress.csv", "w", newline="") as f:
    w = csv.writer(f); w.writerow(["epoch", "train/episode", "test/success_rate", "loaded"])
    for e in range(2): w.writerow([e, 20 * (e + 1), 0.1 * e + 0.05 * seed, " ".join(args)])
"""


@pytest.fixture
def fake_train(monkeypatch):
    monkeypatch.setattr(sweep, "train_command", lambda job, scale, results: [
        sys.executable, "-c", FAKE_TRAIN, "--note", job.variant, "--seed", str(job.seed),
        *(["--load", str(sweep.pretrained_policy(results, job, scale))] if job.pretrain else [])])


def test_jobs_put_pretraining_first_and_reject_unknown_names():
    jobs = make_jobs("task_reward", ["FetchPush-v1"], ["SAC", "SAC+MUSIC-r", "SAC+MUSIC-f"], [0, 1])
    names = [j.name() for j in jobs]
    assert names.index("FetchPush-v1/SAC+MUSIC/seed0") < names.index("FetchPush-v1/SAC+MUSIC-r/seed0")
    assert len(jobs) == 8  # 3 variants + the pretraining SAC+MUSIC, 2 seeds
    r0 = next(j for j in jobs if j.name() == "FetchPush-v1/SAC+MUSIC-r/seed0")
    assert r0.pretrain.name() == "FetchPush-v1/SAC+MUSIC/seed0"
    t = make_jobs("transfer", ["FetchSlide-v1"], ["DDPG+MUSIC-t"], [2])
    assert [j.name() for j in t] == ["FetchPickAndPlace-v1/DDPG+MUSIC/seed2", "FetchSlide-v1/DDPG+MUSIC-t/seed2"]
    with pytest.raises(SweepError, match="no params file for note 'SAC\\+MAGIC'"):
        make_jobs("x", ["FetchPush-v1"], ["SAC+MAGIC"], [0])
    with pytest.raises(SweepError, match="unknown task 'FetchPull-v1'"):
        make_jobs("x", ["FetchPull-v1"], ["SAC"], [0])


def test_pretrained_policy_uses_the_params_epoch_capped_at_the_last(tmp_path):
    jobs = {j.name(): j for j in make_jobs("f", ["FetchSlide-v1"], ["SAC+MUSIC-f", "SAC+MUSIC-r"], [0])}
    paper = Scale("p", 16, 50, 50, (0,), ())
    f, r = jobs["FetchSlide-v1/SAC+MUSIC-f/seed0"], jobs["FetchSlide-v1/SAC+MUSIC-r/seed0"]
    assert sweep.pretrained_policy(tmp_path, f, paper).name == "policy_12.pkl"  # the authors' Slide -f epoch
    assert sweep.pretrained_policy(tmp_path, r, paper).name == "policy_49.pkl"
    assert sweep.pretrained_policy(tmp_path, r, SCALE).name == "policy_1.pkl"
    assert sweep.pretrained_policy(tmp_path, r, SCALE).parent == run_dir(tmp_path, r.pretrain)


def test_sweep_runs_skips_restarts_and_reports_progress(tmp_path, fake_train):
    jobs = make_jobs("task_reward", ["FetchPush-v1"], ["SAC", "SAC+MUSIC-r"], [0, 1])
    lines = []
    counts = run_sweep(jobs, SCALE, tmp_path, parallel=2, log=lines.append)
    assert counts == {"total": 6, "skipped": 0, "run": 6}
    for job in jobs:
        folder = run_dir(tmp_path, job)
        record = json.loads((folder / "sweep.json").read_text())
        assert record["variant"] == job.variant and len(record["params_sha256"]) == 64
        # paths relative to the repository, not this machine's
        assert record["params_file"] == f"music/params/FetchPush-v1/{job.variant}.json"
        assert (folder / "console.out").exists() and not folder.with_name(folder.name + ".partial").exists()
    r_job = next(j for j in jobs if j.variant == "SAC+MUSIC-r")
    loaded = (run_dir(tmp_path, r_job) / "progress.csv").read_text()
    assert "--load" in loaded and "SAC+MUSIC/seed" in loaded  # -r pointed at its pretraining run
    assert any(line.startswith("[6/6] finished") and "to go" in line for line in lines)
    # an interrupted run (left as .partial) is started again; finished ones are skipped
    victim = run_dir(tmp_path, jobs[-1])
    victim.rename(victim.with_name(victim.name + ".partial"))
    assert job_status(tmp_path, jobs[-1], SCALE) == "partial"
    lines.clear()
    counts = run_sweep(jobs, SCALE, tmp_path, log=lines.append)
    assert counts == {"total": 6, "skipped": 5, "run": 1}
    assert any("restarting interrupted run" in line for line in lines)
    assert job_status(tmp_path, jobs[-1], SCALE) == "done"


def test_results_of_another_params_version_are_refused_before_running(tmp_path, fake_train):
    jobs = make_jobs("t", ["FetchPush-v1"], ["SAC"], [0])
    run_sweep(jobs, SCALE, tmp_path, log=lambda _: None)
    marker = run_dir(tmp_path, jobs[0]) / "sweep.json"
    record = json.loads(marker.read_text())
    marker.write_text(json.dumps({**record, "params_sha256": "0" * 64}))
    more = make_jobs("t", ["FetchPush-v1"], ["SAC"], [0, 1])
    with pytest.raises(SweepError, match="different version of .*SAC.json"):
        run_sweep(more, SCALE, tmp_path, log=lambda _: None)
    assert not run_dir(tmp_path, more[1]).exists()  # nothing ran


def test_a_failing_run_stops_the_sweep_with_its_log(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep, "train_command", lambda job, scale, results: [
        sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"])
    with pytest.raises(RuntimeError, match=r"FetchPush-v1/SAC/seed0 failed \(exit 3\).*\n.*boom"):
        run_sweep(make_jobs("t", ["FetchPush-v1"], ["SAC"], [0]), SCALE, tmp_path, log=lambda _: None)


def test_a_runs_checkpoint_pack_is_not_counted_as_another_run(tmp_path, fake_train):
    # a pack (music.checkpoint_pack) beside a finished run's export carries the run's progress.csv
    # and params.json in its files/: the 16-worker curve of RESULTS.md said "2 runs" for one
    import shutil

    from music.plot import find_run_folders

    run_sweep(make_jobs("t", ["FetchPush-v1"], ["SAC"], [0]), SCALE, tmp_path, log=lambda _: None)
    [run] = find_run_folders([str(tmp_path)])
    for pack in (run / "final_pack", run / "halfway"):
        shutil.copytree(run, pack / "files", ignore=shutil.ignore_patterns("*_pack", "halfway"))
        (pack / "pack.json").write_text("{}")
    assert find_run_folders([str(tmp_path)]) == [run]


def test_plot_mean_and_std_over_seeds(tmp_path, fake_train):
    from music.plot import aggregate, find_run_folders, load_run, main

    run_sweep(make_jobs("t", ["FetchPush-v1"], ["SAC"], [0, 1]), SCALE, tmp_path, log=lambda _: None)
    runs = [load_run(f) for f in find_run_folders([str(tmp_path)])]
    assert sorted((r.variant, r.seed) for r in runs) == [("SAC", 0), ("SAC", 1)]
    xs, mean, std, n = aggregate(runs, "test/success_rate", "episodes")
    np.testing.assert_allclose(xs, [20, 40])
    np.testing.assert_allclose(mean, [0.025, 0.125])  # seeds give 0.1 e + 0.05 seed
    np.testing.assert_allclose(std, [0.025, 0.025])
    assert n == 2
    xs, mean, _, _ = aggregate(runs, "test/success_rate", "steps")  # optimizer steps: (epoch + 1) x 3 cycles x 7
    np.testing.assert_allclose(xs, [21, 42])
    np.testing.assert_allclose(mean, [0.025, 0.125])
    assert main([str(tmp_path), "--x", "steps", "--out", str(tmp_path / "steps")]) == 0
    assert main([str(tmp_path), "--out", str(tmp_path / "fig")]) == 0
    assert (tmp_path / "fig.png").stat().st_size > 5000 and (tmp_path / "fig.pdf").exists()
    assert main([str(tmp_path), "--metric", "nope", "--out", str(tmp_path / "x")]) == 2
    params = json.loads((runs[0].folder / "params.json").read_text())
    del params["n_batches"]  # a run folder that cannot say how many optimizer steps it made
    (runs[0].folder / "params.json").write_text(json.dumps(params))
    with pytest.raises(ValueError, match="params.json lacks n_cycles or n_batches: cannot count optimizer steps"):
        aggregate([load_run(runs[0].folder)], "test/success_rate", "steps")
    assert main([str(tmp_path), "--x", "steps", "--out", str(tmp_path / "y")]) == 2


def test_plot_is_byte_reproducible_with_a_default_output_and_a_chance_line(tmp_path, fake_train):
    from music.plot import main, metric_label

    run_sweep(make_jobs("t", ["FetchPush-v1"], ["SAC"], [0]), SCALE, tmp_path, log=lambda _: None)
    assert main([str(tmp_path), "--chance", "FetchPush-v1=0.064"]) == 0
    first = {p.name: p.read_bytes() for p in tmp_path.glob("test_success_rate.*")}
    assert sorted(first) == ["test_success_rate.pdf", "test_success_rate.png"]  # beside the runs, not in cwd
    assert main([str(tmp_path), "--chance", "FetchPush-v1=0.064"]) == 0
    assert {p.name: p.read_bytes() for p in tmp_path.glob("test_success_rate.*")} == first
    assert b"CreationDate" not in first["test_success_rate.pdf"]
    assert main([str(tmp_path), "--chance", "FetchPush-v1"]) == 2
    assert metric_label("train/object_displacement") == "train/object_displacement (m)"


def test_plot_draws_the_untrained_policys_level_on_its_tasks_panel(tmp_path, fake_train, capsys):
    from music.plot import main, reference_levels

    assert reference_levels("FetchPush-v1", {"FetchPush-v1": 0.057}, {"FetchPush-v1": 0.0077}) == [
        (0.057, "chance (untrained): 0.057", ":"), (0.0077, "untrained policy: 0.0077", "-.")]
    assert reference_levels("FetchPickAndPlace-v1", {"FetchPush-v1": 0.057}, {"FetchPush-v1": 0.0077}) == []
    run_sweep(make_jobs("t", ["FetchPush-v1"], ["SAC"], [0]), SCALE, tmp_path, log=lambda _: None)
    assert main([str(tmp_path), "--out", str(tmp_path / "plain")]) == 0
    assert main([str(tmp_path), "--untrained", "FetchPush-v1=0.3", "--out", str(tmp_path / "level")]) == 0
    assert (tmp_path / "plain.png").read_bytes() != (tmp_path / "level.png").read_bytes()
    assert main([str(tmp_path), "--untrained", "FetchPush-v1=x", "--out", str(tmp_path / "bad")]) == 2
    assert "--untrained 'FetchPush-v1=x': expected TASK=VALUE" in capsys.readouterr().err


def test_a_half_way_run_of_another_scale_starts_again(tmp_path):
    partial = tmp_path / "seed0.partial"
    (partial / "checkpoints").mkdir(parents=True)
    (partial / "checkpoints" / "manifest.json").write_text(json.dumps({"epoch": 1, "cycle": 0}))
    (partial / "params.json").write_text(json.dumps({"n_epochs": 2, "n_cycles": 1, "num_cpu": 1}))
    assert sweep.resumable(partial, SCALE)["epoch"] == 1  # SCALE: 2 epochs of 1 cycle, 1 rank
    other = Scale("other", ranks=1, n_epochs=10, n_cycles=1, seeds=(0,), tasks=("FetchPush-v1",))
    assert sweep.resumable(partial, other) is None


def test_a_half_way_run_resumes_on_another_layout_of_as_many_workers(tmp_path):
    partial = tmp_path / "seed0.partial"
    (partial / "checkpoints").mkdir(parents=True)
    (partial / "checkpoints" / "manifest.json").write_text(json.dumps({"epoch": 3, "cycle": 0}))
    (partial / "params.json").write_text(json.dumps({"n_epochs": 50, "n_cycles": 50, "num_cpu": 2,
                                                     "workers_per_rank": 8, "total_workers": 16}))
    paper = sweep.SCALES["paper"]  # 16 ranks of 1 worker
    assert sweep.resumable(partial, paper)["epoch"] == 3
    assert sweep.resumable(partial, Scale("p", 4, 50, 50, (0,), (), workers_per_rank=4))["epoch"] == 3
    assert sweep.resumable(partial, Scale("p", 2, 50, 50, (0,), (), workers_per_rank=4)) is None  # 8 workers


def test_the_paper_scale_on_two_processes_of_eight_workers(capsys):
    code = sweep.main("task_reward", ["SAC"], "d", ["--scale", "paper", "--workers_per_rank", "8", "--tasks",
                                                    "FetchPush-v1", "--seeds", "0", "--dry-run", "--results", "/x"])
    out = capsys.readouterr().out
    assert code == 0
    assert "scale paper: 2 MPI ranks x 8 virtual workers = 16 workers" in out
    command = out.split("would run FetchPush-v1/SAC/seed0: ")[1].split()
    assert command[command.index("-n") + 1] == "2"
    assert command[command.index("--workers_per_rank") + 1] == "8"
    # the same math as the paper's 16 ranks: a finished record of 16 x 1 counts as done, and back
    job = make_jobs("f", ["FetchPush-v1"], ["SAC"], [0])[0]
    layout = Scale("paper", 2, 50, 50, (0,), (), workers_per_rank=8)
    record = sweep.sweep_record(job, layout, ["python"])
    assert (record["ranks"], record["workers_per_rank"], record["workers"]) == (2, 8, 16)


@pytest.mark.parametrize("args, message", [
    (["--workers_per_rank", "3"], "scale paper has 16 workers, which 3 workers per rank do not divide"),
    (["--workers_per_rank", "0"], "--workers_per_rank must be >= 1 (got 0)"),
])
def test_worker_layouts_that_cannot_make_the_scale_are_one_line_errors(capsys, args, message):
    code = sweep.main("task_reward", ["SAC"], "d", ["--scale", "paper", *args, "--dry-run", "--results", "/x"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
