"""The campaign runner on tiny real runs: stop with a checkpoint, resume, skip when done, export, commit."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from music.campaign import Campaign, commit_paths, copy_exports, ensure_worktree, export_run
from music.sweep import Scale, make_jobs

from conftest import REPO

TINY_SCRIPT = """
import sys
sys.path.insert(0, {repo!r})
from music.campaign import Campaign, main
from music.sweep import Scale
scale = Scale("tiny", ranks=1, n_epochs=3, n_cycles=4, seeds=(0,), tasks=("FetchPush-v1",),
              params=("n_test_rollouts=1", "buffer_size=20000"))
sys.exit(main(Campaign("tiny", scale, {{1: [("FetchPush-v1", "SAC+MUSIC", (0,))]}}), sys.argv[1:]))
"""


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def init_repo(path):
    path.mkdir()
    git(path, "init", "-q")
    git(path, "config", "user.email", "t@example.com")
    git(path, "config", "user.name", "test")
    (path / "README").write_text("x\n")
    shutil.copyfile(REPO / ".gitignore", path / ".gitignore")  # what a commit of the clone leaves out
    git(path, "add", "README", ".gitignore")
    git(path, "commit", "-qm", "first")
    return path


def stop_at_epoch_1(cmd, partial, env):
    runner = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO)
    deadline = time.time() + 300
    while time.time() < deadline:
        manifest = partial / "checkpoints" / "manifest.json"
        if manifest.exists() and json.loads(manifest.read_text())["epoch"] >= 1:
            break
        assert runner.poll() is None, runner.stdout.read()
        time.sleep(0.2)
    runner.send_signal(signal.SIGTERM)
    out, _ = runner.communicate(timeout=300)
    assert runner.returncode == 143, out
    return out


@pytest.mark.slow
def test_runner_stops_with_a_checkpoint_resumes_exports_commits_and_skips(tmp_path):
    script = tmp_path / "tiny.py"
    script.write_text(TINY_SCRIPT.format(repo=str(REPO)))
    repo = init_repo(tmp_path / "clone")
    (repo / "notes.txt").write_text("work in progress\n")  # an edit of the session: must stay uncommitted
    root = tmp_path / "runs"
    cmd = [sys.executable, str(script), "run", "--root", str(root), "--repo", str(repo), "--commit-exports"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    partial = root / "runs" / "tiny" / "FetchPush-v1" / "SAC+MUSIC" / "seed0.partial"

    # 1. stop the runner once the run has a checkpoint of epoch 1
    out = stop_at_epoch_1(cmd, partial, env)
    assert "the next start resumes it from epoch" in out
    stopped_at = json.loads((partial / "checkpoints" / "manifest.json").read_text())
    assert stopped_at["epoch"] >= 1 and (partial / "sweep_segments.json").exists()

    # 2. the next run resumes from that checkpoint, finishes, exports and commits only the export
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (f"resuming FetchPush-v1/SAC+MUSIC/seed0 from its checkpoint of epoch {stopped_at['epoch']}, "
            f"cycle {stopped_at['cycle']}") in done.stdout
    folder = root / "runs" / "tiny" / "FetchPush-v1" / "SAC+MUSIC" / "seed0"
    record = json.loads((folder / "sweep.json").read_text())
    assert record["sessions"] == 2 and record["seconds"] > 0 and len(record["commit"]) == 40
    from music.sweep import machine

    assert record["machines"] == [machine()] and "cores" in machine()  # both sessions ran here
    progress = (folder / "progress.csv").read_text().splitlines()
    assert [row.split(",")[progress[0].split(",").index("epoch")] for row in progress[1:]] == ["0", "1", "2"]
    export = repo / "experiments" / "results" / "tiny" / "FetchPush-v1" / "SAC+MUSIC" / "seed0"
    assert sorted(p.name for p in export.iterdir()) == [
        "log.txt", "params.json", "policy_2_weight.npz", "progress.csv", "sweep.json"]
    assert str(root) not in (export / "params.json").read_text() + (export / "log.txt").read_text()
    with np.load(export / "policy_2_weight.npz") as weights:
        assert "ir/state_mi/x/kernel" in weights.files and "main/pi/_0/kernel" in weights.files
    assert "Campaign tiny: FetchPush-v1/SAC+MUSIC/seed0 finished" in git(repo, "log", "-1", "--format=%s")
    assert git(repo, "status", "--porcelain").strip() == "?? notes.txt"

    # 3. a finished run is skipped
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert again.returncode == 0 and "1 runs, 1 already done, 0 to run" in again.stdout


def test_export_copies_small_files_with_relative_paths_and_the_final_weights(tmp_path):
    job = make_jobs("c", ["FetchPush-v1"], ["SAC"], [0])[0]
    folder = tmp_path / "runs" / "seed0"
    folder.mkdir(parents=True)
    (folder / "params.json").write_text(json.dumps({"logdir": str(folder.with_name("seed0.partial"))}))
    (folder / "progress.csv").write_text("epoch\n0\n")
    (folder / "checkpoint").mkdir()
    dest = export_run(job, folder, tmp_path / "export")
    assert json.loads((dest / "params.json").read_text()) == {"logdir": "."}
    assert sorted(p.name for p in dest.iterdir()) == ["params.json", "progress.csv"]  # SAC: no weights
    # copy_exports copies only finished (sweep.json) runs, once
    (dest / "sweep.json").write_text("{}")
    clone = tmp_path / "clone"
    assert copy_exports(tmp_path / "export", clone) == [clone / "FetchPush-v1" / "SAC" / "seed0"]
    assert copy_exports(tmp_path / "export", clone) == []


def test_commit_paths_commits_only_those_paths(tmp_path):
    repo = init_repo(tmp_path / "r")
    (repo / "README").write_text("edited\n")
    git(repo, "add", "README")  # staged work of the session
    (repo / "data").mkdir()
    (repo / "data" / "a.csv").write_text("1\n")
    assert commit_paths(repo, [repo / "data"], "data")
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["data/a.csv"]
    assert git(repo, "diff", "--cached", "--name-only").split() == ["README"]


def test_commit_paths_commits_every_file_of_a_path_even_those_gitignore_names(tmp_path):
    # a pack's policies are *.npz and *.pkl under experiments/results/, which .gitignore leaves out
    repo = init_repo(tmp_path / "r")
    (repo / ".gitignore").write_text("*.npz\n")
    folder = repo / "experiments" / "results" / "x" / "halfway" / "files"
    folder.mkdir(parents=True)
    (folder / "policy_10.npz").write_bytes(b"weights")
    (folder / "log.txt").write_text("log\n")
    assert commit_paths(repo, [folder.parent], "pack")
    assert sorted(git(repo, "show", "--name-only", "--format=", "HEAD").split()) == [
        "experiments/results/x/halfway/files/log.txt", "experiments/results/x/halfway/files/policy_10.npz"]


def test_worktree_is_made_at_the_commit_and_remade_when_broken(tmp_path):
    repo = init_repo(tmp_path / "r")
    first = git(repo, "rev-parse", "HEAD").strip()
    (repo / "README").write_text("second\n")
    git(repo, "commit", "-qam", "second")
    code = tmp_path / "code"
    ensure_worktree(repo, code, first)
    assert (code / "README").read_text() == "x\n"
    (code / ".git").write_text("gitdir: /nonexistent\n")  # a checkout whose clone is gone
    ensure_worktree(repo, code, first)
    assert git(code, "rev-parse", "HEAD").strip() == first


def test_campaign_stages_order_jobs_and_refuse_unknown_stages():
    scale = Scale("t", 1, 1, 1, (0,), ("FetchPush-v1",))
    campaign = Campaign("t", scale, {1: [("FetchPush-v1", "SAC+MUSIC", (0, 1))],
                                     2: [("FetchPush-v1", "SAC+MUSIC-r", (0,))]})
    assert [j.name() for j in campaign.jobs([2, 1])] == [
        "FetchPush-v1/SAC+MUSIC/seed0", "FetchPush-v1/SAC+MUSIC/seed1", "FetchPush-v1/SAC+MUSIC-r/seed0"]
    assert [j.name() for j in campaign.jobs([2])] == ["FetchPush-v1/SAC+MUSIC/seed0", "FetchPush-v1/SAC+MUSIC-r/seed0"]
    with pytest.raises(ValueError, match="has stages \\[1, 2\\], not 4"):
        campaign.jobs([4])


def test_a_new_machine_restores_finished_runs_from_the_repository_and_reruns_incomplete_ones(tmp_path):
    from music.campaign import restore_committed
    from music.save_weight import saved_weights
    from music.sweep import job_status, pretrained_policy

    jobs = make_jobs("c", ["FetchPush-v1"], ["SAC+MUSIC-r"], [0, 1])  # pretraining seed0, seed1 first
    scale = Scale("c", 2, 50, 50, (0, 1), ("FetchPush-v1",))
    repo_results = tmp_path / "clone" / "experiments" / "results" / "c"
    for seed in (0, 1):
        export = repo_results / "FetchPush-v1" / "SAC+MUSIC" / f"seed{seed}"
        export.mkdir(parents=True)
        for name in ("progress.csv", "params.json", "log.txt"):
            (export / name).write_text("x\n")
        record = sweep_record_of(jobs, seed, scale)
        (export / "sweep.json").write_text(json.dumps(record))
    np.savez(repo_results / "FetchPush-v1" / "SAC+MUSIC" / "seed0" / "policy_49_weight.npz", a=np.zeros(2))
    runs, lines = tmp_path / "runs", []
    restored = restore_committed(jobs, runs, repo_results, tmp_path / "export", log=lines.append)
    assert [job.name() for job in restored] == ["FetchPush-v1/SAC+MUSIC/seed0"]
    assert "FetchPush-v1/SAC+MUSIC/seed1: the repository's export lacks policy_<epoch>_weight.npz; it runs again" \
        in lines
    pretrain, final = jobs[0], next(j for j in jobs if j.key == ("FetchPush-v1", "SAC+MUSIC-r", 0))
    assert job_status(runs, pretrain, scale) == "done"
    assert saved_weights(pretrained_policy(runs, final, scale)).name == "policy_49_weight.npz"
    assert (tmp_path / "export" / "FetchPush-v1" / "SAC+MUSIC" / "seed0" / "sweep.json").exists()
    assert restore_committed(jobs, runs, repo_results, tmp_path / "export", log=lines.append) == []  # once


def sweep_record_of(jobs, seed, scale):
    from music.sweep import sweep_record

    return sweep_record(next(j for j in jobs if j.key == ("FetchPush-v1", "SAC+MUSIC", seed)), scale, ["python"])


def test_the_repository_keeps_pretraining_weights_of_exports_and_ignores_other_npz():
    def ignored(path):
        return subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", path]).returncode == 0

    run = "experiments/results/medium/FetchPush-v1/SAC+MUSIC/seed0"
    assert not ignored(f"{run}/policy_49_weight.npz")
    assert ignored(f"{run}/policy_49.npz") and ignored(f"{run}/policy_49.pkl")
    # the policies a finished run's final pack carries, so that it can be trained on from the clone
    final_pack = "experiments/results/paper/FetchPickAndPlace-v1/SAC+MUSIC/seed0/final_pack/files"
    assert not ignored(f"{final_pack}/policy_best.npz") and not ignored(f"{final_pack}/policy_best.pkl")


VIRTUAL_SCRIPT = """
import sys
sys.path.insert(0, {repo!r})
from music.campaign import Campaign, main
from music.sweep import Scale
scale = Scale("tinyvw", ranks=1, workers_per_rank=2, n_epochs=3, n_cycles=2, seeds=(0,), tasks=("FetchPush-v1",),
              params=("n_test_rollouts=1", "buffer_size=5000", "n_batches=4"))
sys.exit(main(Campaign("tinyvw", scale, {{1: [("FetchPush-v1", "SAC+MUSIC", (0,))]}}, export_epochs=(1,)),
              sys.argv[1:]))
"""


@pytest.mark.slow
def test_a_virtual_worker_campaign_logs_the_stage_eta_and_exports_the_kept_epochs_weights(tmp_path):
    # the paper campaign's shape on a tiny run: 1 process x 2 virtual workers, weights of epoch 1 exported
    # besides the final ones (epoch 2), and not those of epoch 0
    script = tmp_path / "tinyvw.py"
    script.write_text(VIRTUAL_SCRIPT.format(repo=str(REPO)))
    repo = init_repo(tmp_path / "clone")
    root = tmp_path / "runs"
    done = subprocess.run([sys.executable, str(script), "run", "--root", str(root), "--repo", str(repo)],
                          capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, cwd=REPO,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    etas = [line for line in done.stdout.splitlines() if "FetchPush-v1/SAC+MUSIC/seed0: epoch" in line]
    assert [line.split(": epoch ")[1].split(" done")[0] for line in etas] == ["1/3", "2/3", "3/3"], done.stdout
    assert "run ETA 0:00:00, stage ETA 0:00:00 (0 more runs" in etas[-1]
    folder = root / "runs" / "tinyvw" / "FetchPush-v1" / "SAC+MUSIC" / "seed0"
    assert json.loads((folder / "params.json").read_text())["total_workers"] == 2
    export = repo / "experiments" / "results" / "tinyvw" / "FetchPush-v1" / "SAC+MUSIC" / "seed0"
    kept = sorted(p.name for p in export.glob("*.npz"))
    assert kept == ["policy_1_weight.npz", "policy_2_weight.npz"]
    from music.save_weight import extract_weights

    for epoch in (1, 2):  # each export is that epoch's policy, and they differ (training went on)
        source = extract_weights(folder / f"policy_{epoch}.npz", write=False)
        with np.load(export / f"policy_{epoch}_weight.npz") as exported:
            assert all(np.array_equal(exported[k], source[k]) for k in source)
    with np.load(export / "policy_1_weight.npz") as first, np.load(export / "policy_2_weight.npz") as last:
        assert not np.array_equal(first["main/pi/_0/kernel"], last["main/pi/_0/kernel"])


HALFWAY_SCRIPT = """
import sys
sys.path.insert(0, {repo!r})
from music.campaign import Campaign, main
from music.sweep import Scale
scale = Scale("tinyhw", ranks=1, workers_per_rank=2, n_epochs=3, n_cycles=2, seeds=(0,), tasks=("FetchPush-v1",),
              params=("n_test_rollouts=1", "buffer_size=5000", "n_batches=4"))
if __name__ == "__main__":  # unpacking replays the episodes in worker processes, which import this file
    sys.exit(main(Campaign("tinyhw", scale, {{1: [("FetchPush-v1", "SAC+MUSIC", (0,))]}}, export_epochs=(1,),
                           carry_halfway=True), sys.argv[1:]))
"""


def wait_for_exit(root, timeout=60.0):
    from music.campaign import Layout, runner_pid

    deadline = time.time() + timeout
    while runner_pid(Layout(root)) and time.time() < deadline:
        time.sleep(0.5)
    assert not runner_pid(Layout(root)), f"the runner of {root} is still running"


@pytest.mark.slow
def test_a_half_way_run_resumes_on_a_machine_without_its_runs_folder_from_the_committed_pack(tmp_path):
    script = tmp_path / "tinyhw.py"
    script.write_text(HALFWAY_SCRIPT.format(repo=str(REPO)))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    repo, root = init_repo(tmp_path / "clone"), tmp_path / "runs"
    cmd = [sys.executable, str(script), "run", "--root", str(root), "--repo", str(repo), "--commit-exports"]
    partial = root / "runs" / "tinyhw" / "FetchPush-v1" / "SAC+MUSIC" / "seed0.partial"
    pack = repo / "experiments" / "results" / "tinyhw" / "FetchPush-v1" / "SAC+MUSIC" / "seed0" / "halfway"

    # 1. stopped half-way: the checkpoint is packed into the clone and committed
    out = stop_at_epoch_1(cmd, partial, env)
    stopped_at = json.loads((partial / "checkpoints" / "manifest.json").read_text())
    assert f"packed FetchPush-v1/SAC+MUSIC/seed0's checkpoint (epoch {stopped_at['epoch']}, cycle " in out
    assert git(repo, "log", "-1", "--format=%s").strip() == (
        f"Campaign tinyhw: FetchPush-v1/SAC+MUSIC/seed0 half-way at epoch {stopped_at['epoch']}, its checkpoint packed")
    tracked = git(repo, "ls-files").split()
    assert any(p.endswith("halfway/pack.json") for p in tracked) and git(repo, "status", "--porcelain") == ""
    # policies carried: the best and the exported epoch's, not the others
    carried = {"policy_best.npz", "policy_best.pkl"} | {p.name for p in partial.glob("policy_1.npz")}
    assert (partial / "policy_0.npz").exists() and (partial / "policy_latest.npz").exists()
    assert {p.name for p in (pack / "files").glob("policy_*")} == carried

    # a runner of older code stopped without packing: `pack` (and `stop`) do it for it, once
    shutil.rmtree(pack)
    git(repo, "commit", "-qam", "as if the runner had not packed it")
    # the pack names the campaign's commit (the runner's code), not that of the process packing it
    runner_commit = git(repo, "rev-parse", "HEAD").strip()
    (root / "campaign.json").write_text(json.dumps({"commit": runner_commit, "stages": [1]}))
    packing = [sys.executable, str(script), "pack", "--root", str(root), "--repo", str(repo), "--commit-exports"]
    made = subprocess.run(packing, capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert made.returncode == 0 and "committed" in made.stdout, made.stdout + made.stderr
    assert (pack / "pack.json").exists() and "its checkpoint packed" in git(repo, "log", "-1", "--format=%s")
    assert json.loads((pack / "pack.json").read_text())["commit"] == runner_commit
    again = subprocess.run(packing, capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert again.returncode == 0 and "no half-way run to pack (or packed already" in again.stdout

    # 2. a new machine: no runs folder, and a clone holds what was committed, nothing else. `start`
    # restores the run from the pack with the clone's code before it launches the runner (which may
    # be of code older than the packs), at the pack's commit
    shutil.rmtree(root)
    git(repo, "clean", "-ffdqx")
    starting = [sys.executable, str(script), "start", "--root", str(root), "--repo", str(repo)]
    started = subprocess.run(starting, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert started.returncode == 0, started.stdout + started.stderr
    assert (f"FetchPush-v1/SAC+MUSIC/seed0: half-way run restored from the repository's pack (epoch "
            f"{stopped_at['epoch']}, cycle {stopped_at['cycle']})") in started.stdout
    assert f"started from commit {runner_commit[:10]}" in started.stdout
    assert json.loads((partial / "checkpoints" / "manifest.json").read_text())["epoch"] == stopped_at["epoch"]
    # (that runner is the worktree of a clone without the package: it exits at once; resume in the foreground)
    wait_for_exit(root)
    # it resumes, finishes, and its pack leaves the tree
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (f"resuming FetchPush-v1/SAC+MUSIC/seed0 from its checkpoint of epoch {stopped_at['epoch']}, "
            f"cycle {stopped_at['cycle']}") in done.stdout
    assert not pack.exists() and not any("halfway" in p for p in git(repo, "ls-files").split())
    export = pack.parent
    assert json.loads((export / "sweep.json").read_text())["sessions"] == 2

    # 3. the same weights as the run never interrupted
    other = init_repo(tmp_path / "other")
    whole = subprocess.run([sys.executable, str(script), "run", "--root", str(tmp_path / "runs2"), "--repo",
                            str(other)], capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert whole.returncode == 0, whole.stdout + whole.stderr
    reference = other / "experiments" / "results" / "tinyhw" / "FetchPush-v1" / "SAC+MUSIC" / "seed0"
    for name in ("policy_1_weight.npz", "policy_2_weight.npz"):
        with np.load(export / name) as resumed, np.load(reference / name) as uninterrupted:
            assert resumed.files == uninterrupted.files
            assert all(np.array_equal(resumed[k], uninterrupted[k]) for k in resumed.files), name


def test_the_paper_campaign_is_16_workers_on_2_processes_with_seed_0_first():
    from music.campaign import PAPER

    assert (PAPER.scale.ranks, PAPER.scale.workers_per_rank, PAPER.scale.workers) == (2, 8, 16)
    assert (PAPER.scale.n_epochs, PAPER.scale.n_cycles) == (50, 50)
    assert [j.name() for j in PAPER.jobs([1])] == ["FetchPickAndPlace-v1/SAC+MUSIC/seed0"]
    assert [j.name() for j in PAPER.jobs([1, 2])][1:] == ["FetchPickAndPlace-v1/SAC+MUSIC/seed1",
                                                         "FetchPickAndPlace-v1/SAC+MUSIC/seed2"]
    assert PAPER.export_epochs == (10, 20, 30, 40)


def test_the_medium_campaign_s_later_stages_are_the_paper_s_other_figures():
    from music.campaign import MEDIUM
    from music.config import load_params_file, params_file, pretrained_scopes

    names = {stage: [j.name() for j in MEDIUM.jobs([stage])] for stage in (4, 5, 6)}
    # 4: -f with the MUSIC policy's normalizers, after its (finished) pretraining runs of stage 1
    assert names[4] == [f"FetchPush-v1/{v}/seed{s}" for s in (0, 1, 2)
                        for v in ("SAC+MUSIC", "SAC+MUSIC-f-with-normalizers")]
    ours = load_params_file(params_file("FetchPush-v1", "SAC+MUSIC-f-with-normalizers"))
    authors = load_params_file(params_file("FetchPush-v1", "SAC+MUSIC-f"))
    assert {k: v for k, v in ours.items() if k != "finetune_normalizers"} == authors  # -f but for the normalizers
    assert pretrained_scopes(ours["finetune_pi"], ours["finetune_normalizers"]) == \
        ["state_mi", "main", "o_stats", "g_stats", "target"]
    # 5: FetchSlide, MUSIC alone first (the pretraining of -r/-p/-f), 6: FetchPickAndPlace with task reward
    assert names[5][:3] == [f"FetchSlide-v1/SAC+MUSIC/seed{s}" for s in (0, 1, 2)] and len(names[5]) == 15
    assert sorted(n for n in names[6] if "/SAC+MUSIC/" not in n) == sorted(
        f"FetchPickAndPlace-v1/{v}/seed{s}" for s in (0, 1, 2) for v in ("SAC", "SAC+MUSIC-r", "SAC+MUSIC-p",
                                                                         "SAC+MUSIC-f"))
    new = {n for stage in (4, 5, 6) for n in names[stage]} - {j.name() for j in MEDIUM.jobs([1, 2, 3])}
    assert len(new) == 30
    assert MEDIUM.export_epochs == (12,)  # FetchSlide's -f loads policy_12 (the authors' params)
    assert "policy_12.pkl" in str(load_params_file(params_file("FetchSlide-v1", "SAC+MUSIC-f"))["load_weight"])


def test_a_campaign_refuses_export_epochs_its_runs_do_not_have():
    scale = Scale("t", 1, 1, 3, (0,), ("FetchPush-v1",))  # 1 rank, 1 epoch of 3 cycles
    with pytest.raises(ValueError, match=r"export_epochs \[1\] are not epochs of its 1-epoch runs"):
        Campaign("t", scale, {1: [("FetchPush-v1", "SAC+MUSIC", (0,))]}, export_epochs=(0, 1))


def test_stop_returns_when_the_runner_it_started_itself_has_exited(tmp_path):
    """The queue starts the runner as its own child and waits in stop(): the exited runner stays a
    zombie until waited for, which kill(pid, 0) cannot tell from a live one (stop hung 900 s)."""
    from music.campaign import Layout, process_alive, runner_pid, stop

    layout = Layout(tmp_path)
    # stands in for the runner: named like one, exits at SIGTERM after a moment
    script = tmp_path / "campaign_runner.py"
    script.write_text("import signal, sys, time\n"
                      "signal.signal(signal.SIGTERM, lambda *_: (time.sleep(0.3), sys.exit(143)))\n"
                      "time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, str(script)])
    layout.pid.write_text(str(child.pid))
    time.sleep(0.5)
    assert runner_pid(layout) == child.pid and process_alive(child.pid)
    started = time.time()
    assert stop(layout, timeout=20) == 0
    assert time.time() - started < 10 and not process_alive(child.pid) and not layout.pid.exists()
    with pytest.raises(ChildProcessError):  # stop() reaped it
        os.waitpid(child.pid, 0)


def test_a_runner_just_started_is_known_as_the_runner_while_the_kernel_finishes_its_exec(tmp_path, monkeypatch):
    """Popen returns while the child may still be inside its exec, its /proc cmdline empty (half
    of the reads under load on 2026-12-08): runner_pid then took the new runner for a recycled
    pid, and the queue, seeing it end at once, quit with the paper run training unwatched."""
    from music import campaign
    from music.campaign import Layout, launch_runner, runner_pid

    layout = Layout(tmp_path)
    layout.code.mkdir(parents=True)
    real, reads = campaign.command_line, []

    def mid_exec_for_a_while(pid):  # the first reads of the new child, as the kernel answers them mid-exec
        reads.append(pid)
        return "" if len(reads) <= 3 else real(pid)

    monkeypatch.setattr(campaign, "command_line", mid_exec_for_a_while)
    pid = launch_runner([sys.executable, "-c", "import time; time.sleep(60)", "campaign"], layout, dict(os.environ))
    try:
        assert runner_pid(layout) == pid
        assert len(reads) > 3  # it waited out the empty reads
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    other = subprocess.Popen(["sleep", "60"])  # and a live process that is not a runner is not taken for one
    try:
        time.sleep(0.2)
        layout.pid.write_text(str(other.pid))
        assert runner_pid(layout) is None
    finally:
        other.kill()
        other.wait()


def test_a_checkpoint_packed_already_is_not_packed_again(tmp_path):
    # the pack names the checkpoint by its rank files' digests; an older pack, without them, by epoch and cycle
    from music.campaign import _packed_already

    manifest = {"epoch": 16, "cycle": 11, "sha256": ["a", "b"]}
    (tmp_path / "pack.json").write_text(json.dumps({"epoch": 16, "cycle": 11, "checkpoint_sha256": ["a", "b"]}))
    assert _packed_already(tmp_path, manifest)
    assert not _packed_already(tmp_path, {**manifest, "sha256": ["a", "c"]})  # the run trained again
    (tmp_path / "pack.json").write_text(json.dumps({"epoch": 16, "cycle": 11}))  # made by b4b8211's runner
    assert _packed_already(tmp_path, manifest) and not _packed_already(tmp_path, {**manifest, "cycle": 12})
    assert not _packed_already(tmp_path / "none", manifest)
