"""End to end: train under mpiexec -n 2, outputs, identical ranks, save_weight/load_weight, play, bad input."""

import csv
import json
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, mpiexec

pytestmark = pytest.mark.slow

SMALL = ["--n_epochs", "1", "--n_cycles", "2", "--param", "n_batches=2", "--param", "n_test_rollouts=2",
         "--param", "hidden=32", "--param", "batch_size=32"]


def run(args, mpi=0, timeout=600):
    cmd = ([mpiexec(), "-n", str(mpi)] if mpi else []) + [sys.executable, "-m", "music.train", *args]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("run") / "push"
    proc = run(["--env_name", "FetchPush-v1", "--note", "SAC+MUSIC", "--logdir", str(logdir), *SMALL], mpi=2)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return logdir, proc


def test_two_rank_run_writes_every_output(two_rank_run):
    logdir, proc = two_rank_run
    files = {p.name for p in logdir.iterdir()}
    assert {"params.json", "progress.csv", "log.txt", "policy_latest.pkl", "policy_best.pkl", "policy_0.pkl",
            "tb"} <= files
    assert any((logdir / "tb").iterdir())
    rows = list(csv.DictReader(open(logdir / "progress.csv")))
    assert len(rows) == 1
    for column in ["epoch", "test/success_rate", "test/mean_Q", "train/success_rate", "train/episode",
                   "stats_o/mean", "stats_o/std", "stats_g/mean", "stats_g/std", "mi_reward/mean", "mi_reward/std",
                   "mi_reward/max", "mi_reward/min", "mi_train/-neg_l", "sk_reward/mean", "et_reward/mean",
                   "gl_reward/mean", "best_success_rate", "train/object_displacement", "test/object_displacement"]:
        assert column in rows[0], column
    assert float(rows[0]["train/episode"]) == 4  # 2 cycles x 2 episodes per rank (averaged over ranks)
    assert float(rows[0]["train/episodes_all_workers"]) == 8  # summed over the 2 ranks
    assert np.isfinite(float(rows[0]["mi_train/-neg_l"])) and float(rows[0]["mi_reward/min"]) >= -1
    params = json.loads((logdir / "params.json").read_text())
    assert params["num_cpu"] == 2 and params["note"] == "SAC+MUSIC" and params["T"] == 50
    assert "| test/success_rate" in proc.stdout and "FetchPush-v1 -> FetchPush-v4" in proc.stdout


@pytest.mark.bitexact
def test_both_ranks_end_with_identical_weights(two_rank_run):
    logdir, _ = two_rank_run
    line = [x for x in (logdir / "log.txt").read_text().splitlines() if x.startswith("final weights identical")][0]
    digests = re.search(r"sha256 per rank: (.*)\)", line).group(1).split()
    assert len(digests) == 2 and digests[0] == digests[1]
    assert "on all 2 ranks: True" in line


def test_save_weight_and_load_weight_round_trip(two_rank_run, tmp_path):
    logdir, _ = two_rank_run
    policy_file = logdir / "policy_0.pkl"
    proc = subprocess.run([sys.executable, "-m", "music.save_weight", str(policy_file)], capture_output=True,
                          text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    weights = pickle.load(open(logdir / "policy_0_weight.pkl", "rb"))
    with np.load(logdir / "policy_0_weight.npz", allow_pickle=False) as safe:
        safe_weights = {k: safe[k] for k in safe.files}
    policy = pickle.load(open(policy_file, "rb"))
    for name, value in policy.save_weight().items():
        np.testing.assert_array_equal(weights[name], value)
        np.testing.assert_array_equal(safe_weights[name], value)
    # A -r run loads and freezes that MINE: its weights at the end are still the saved ones.
    out = tmp_path / "r"
    proc = run(["--env_name", "FetchPush-v1", "--note", "SAC+MUSIC-r", "--logdir", str(out), *SMALL,
                "--param", f'load_weight="{policy_file}"'])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "6 variables of scopes ['state_mi'] loaded" in proc.stdout
    # the log names the file read: the weights extracted above, not the pickle given
    assert f"Pretrained weights from {logdir / 'policy_0_weight.npz'}\n" in proc.stdout
    assert f"equal to {logdir / 'policy_0_weight.npz'}: True" in proc.stdout
    tuned = pickle.load(open(out / "policy_latest.pkl", "rb")).save_weight()
    for name in weights:
        if "state_mi" in name:
            np.testing.assert_array_equal(tuned[name], weights[name])


def test_play_writes_videos_and_data(two_rank_run, tmp_path):
    import imageio.v3 as iio

    logdir, _ = two_rank_run
    proc = subprocess.run([sys.executable, "-m", "music.play", str(logdir / "policy_latest.pkl"),
                           "--n_test_rollouts", "2", "--outdir", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    videos = sorted(tmp_path.glob("*.mp4"))
    assert [v.name for v in videos] == [f"policy_latest_test_0{i}_exploit_True_compute_q_True_skill_0.mp4"
                                        for i in range(2)]
    frames = iio.imread(videos[0])
    assert frames.shape == (50, 500, 500, 3) and frames.std() > 1  # T frames of a real scene
    data = json.loads((tmp_path / videos[0].name.replace(".mp4", ".txt")).read_text())
    assert np.asarray(data).shape == (1, 51, 25)
    assert re.search(r"skill 0: test/success_rate \S+, test/mean_Q \S+, test/episode 2, test/object_displacement",
                     proc.stdout)
    assert "FetchPush-v1: goals Zero (the policy's training setting)" in proc.stdout
    assert re.search(r"all skills \(last 2 episodes, as the original\): test/success_rate", proc.stdout)
    assert "noise_eps 0.2, random_eps 0.3" in proc.stdout


@pytest.mark.parametrize("args, message", [
    (["--env_name", "FetchPull-v1"], "unknown env 'FetchPull-v1': not a registered gymnasium id"),
    (["--env_name", "FetchPush-v1", "--note", "SAC+MAGIC"], "no params file for note 'SAC+MAGIC'"),
    (["--env_name", "FetchPush-v1", "--note", "SAC+MUSIC-r", "--param", 'load_weight="nowhere/policy.pkl"'],
     "load_weight nowhere/policy.pkl does not exist"),
    (["--param", "hiddn=3"], "unknown key 'hiddn'"),
    (["--env_name", "MusicPointPush-v0", "--param", 'agent_obs="0:2"', "--param", 'surrounding_obs="7:9"'],
     "the surrounding part names entries [8] outside the observation of 8 floats"),
    (["--env_name", "MusicPointPush-v0", "--param", 'agent_obs="0:3"', "--param", 'surrounding_obs="2:4"'],
     "agent and surrounding overlap at entries [2]"),
    (["--env_name", "MusicPointPush-v0", "--param", 'agent_obs=""', "--param", 'surrounding_obs="2:4"'],
     "key 'agent_obs': must list observation entries"),
    (["--env_name", "HalfCheetah-v4", "--params_file", "music/params/MusicPointPush-v0/SAC+MUSIC.json"],
     "HalfCheetah-v4 is not goal-conditioned"),
    (["--env_name", "HandManipulateBlock-v1", "--params_file", "music/params/MusicPointPush-v0/SAC+MUSIC.json"],
     "HandManipulateBlock-v1 has no registered agent/surrounding split: declare"),
])
def test_bad_input_exits_2_on_every_rank_with_one_line(args, message, tmp_path):
    proc = run([*args, "--logdir", str(tmp_path / "x")], mpi=2, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("music.train: error:")]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "x").exists()


def test_existing_run_folder_is_never_overwritten(two_rank_run):
    logdir, _ = two_rank_run
    before = {p.name: p.stat().st_mtime_ns for p in logdir.iterdir()}
    proc = run(["--logdir", str(logdir)])
    assert proc.returncode == 2 and "already holds files" in proc.stderr
    assert {p.name: p.stat().st_mtime_ns for p in logdir.iterdir()} == before


def test_play_refuses_a_file_that_is_not_a_policy(tmp_path):
    bogus = tmp_path / "policy.pkl"
    bogus.write_bytes(pickle.dumps({"not": "a policy"}))
    proc = subprocess.run([sys.executable, "-m", "music.play", str(bogus)], capture_output=True, text=True,
                          cwd=REPO, timeout=300)
    assert proc.returncode == 2
    assert "holds a dict, not a music policy" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ddpg_her_learns_fetch_reach_with_either_replay_dtype(dtype, tmp_path):
    # The original HER result (>= 90% on FetchReach within a few epochs), with the
    # float32 replay storage (our default) and the original's float64.
    proc = run(["--env_name", "FetchReach-v4", "--note", "DDPG+HER", "--n_epochs", "3", "--n_cycles", "10",
                "--param", f'replay_dtype="{dtype}"', "--param", "n_test_rollouts=5", "--logdir", str(tmp_path / "r")])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = list(csv.DictReader(open(tmp_path / "r" / "progress.csv")))
    assert max(float(r["test/success_rate"]) for r in rows) >= 0.9, [r["test/success_rate"] for r in rows]
    assert json.loads((tmp_path / "r" / "params.json").read_text())["replay_dtype"] == dtype


@pytest.mark.parametrize("tool, args", [("music.train", ["--env_name", "FetchPush-v1", "--note", "SAC"]),
                                        ("music.evaluate", ["pretrained:FetchPush-v1/SAC+MUSIC/seed0"])])
def test_no_mpi_library_is_one_line_and_writes_nothing(tmp_path, tool, args):
    # as in an environment installed without the mpich extra: mpi4py finds no libmpi
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO),
           "MPI4PY_LIBMPI": "/nonexistent/libmpi.so"}
    logdir = tmp_path / "run"
    extra = ["--logdir", str(logdir)] if tool == "music.train" else []
    proc = subprocess.run([sys.executable, "-m", tool, *args, *extra], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env=env)
    lines = [x for x in proc.stderr.splitlines() if not x.startswith(("WARNING", "I0000"))]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert lines == [f"{tool}: error: mpi4py finds no MPI library (cannot load MPI library): install the mpich extra "
                     "(pip install 'music-tf2[mpich]', or make venv) or load your cluster's MPI"]
    assert not logdir.exists()


def test_a_run_without_logdir_writes_under_tmpdir():
    # the original's default folder, $TMPDIR/openai-<time>; the suite's TMPDIR is a folder of its own
    # (tests/conftest.py), so that the runs of the docs' commands do not pile up in /tmp
    from types import SimpleNamespace

    from music.experiment import default_logdir

    folder = default_logdir(SimpleNamespace(logging=False), num_cpu=1)
    assert folder.parent == Path(os.environ["TMPDIR"]) and folder.name.startswith("openai-")
    assert Path(os.environ["TMPDIR"]) != Path("/tmp") and Path(os.environ["TMPDIR"]).is_dir()
