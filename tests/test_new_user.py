"""What a new user following the README runs into: shared log folders, progress, options, one-line errors."""

import csv
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from music.logger import CycleProgress
from music.rollout import RESTING_TOLERANCE, object_motion

from conftest import REPO, mpiexec, run_mpi

TINY = ["--env_name", "FetchPush-v1", "--note", "SAC+MUSIC", "--n_cycles", "2", "--param", "n_batches=2",
        "--param", "n_test_rollouts=1", "--param", "hidden=32", "--param", "batch_size=32"]


def train(args, mpi=0, cwd=REPO, timeout=600):
    cmd = ([mpiexec(), "-n", str(mpi)] if mpi else []) + [sys.executable, "-m", "music.train", *args]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)


def test_ranks_with_different_clocks_share_rank_0s_log_folder():
    out = run_mpi("logdir_clock.py")
    assert out.count("one folder") == 2


@pytest.mark.slow
def test_two_ranks_without_logdir_write_one_run_and_print_once(tmp_path):
    proc = train([*TINY, "--n_epochs", "2", "--logging", "True"], mpi=2, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runs = list((tmp_path / "logs").iterdir())
    assert len(runs) == 1 and (runs[0] / "checkpoints" / "manifest.json").exists()
    assert proc.stdout.count("FetchPush-v1 -> FetchPush-v4") == 1
    assert "ignored under an MPI launcher" not in proc.stdout
    # TF's start-up lines are off, except oneDNN's notice on CPUs where TF turns oneDNN on: it
    # comes before TF reads any setting, and only TF_ENABLE_ONEDNN_OPTS=0 (other kernels,
    # other numbers) would remove it.
    startup = [line for line in proc.stderr.splitlines() if line.startswith(("I0000", "W0000", "E0000"))
               or "cpu_feature_guard" in line]
    assert all("oneDNN custom operations are on" in line for line in startup), startup
    rows = list(csv.DictReader(open(runs[0] / "progress.csv")))
    # the best success rate so far includes this epoch (row 0 is not -1)
    best = [float(r["best_success_rate"]) for r in rows]
    assert best[0] == float(rows[0]["test/success_rate"])
    assert best[1] == max(float(r["test/success_rate"]) for r in rows)
    log = (runs[0] / "log.txt").read_text()
    assert "run ETA" in log
    for line in log.splitlines():
        if line.startswith("New best success rate:"):
            assert len(line.split(":")[1].split(".")[1].split(" ")[0].rstrip(".")) <= 4, line


@pytest.mark.parametrize("args, message", [
    (["--seed", "-5"], "--seed must be >= 0, got -5"),
    (["--env_name", "FetchReach-v4"], "no params file for note 'SAC+MUSIC' and env FetchReach-v4"),
    (["--n_epoch", "1"], "unrecognized arguments: --n_epoch 1"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(args, message, tmp_path):
    proc = train([*args, "--logdir", str(tmp_path / "x")], mpi=2, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x").exists()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("run") / "push"
    proc = train([*TINY, "--n_epochs", "1", "--logdir", str(logdir)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return logdir


def snapshot(folder):
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.mark.slow
def test_resume_refuses_options_that_define_the_run(finished_run):
    before = snapshot(finished_run)
    proc = train(["--resume", str(finished_run), "--env_name", "FetchSlide-v1", "--n_cycles", "3",
                  "--param", "hidden=64", "--param", "n_batches=2"])
    assert proc.returncode == 2
    assert ("--env_name is FetchPush-v1 there, FetchSlide-v1 here; --n_cycles is 2 there, 3 here; "
            "--param hidden is 32 there, 64 here (only --n_epochs") in proc.stderr.splitlines()[-1]
    assert snapshot(finished_run) == before


@pytest.mark.slow
def test_resume_accepts_the_command_that_started_the_run_repeated(finished_run):
    # as `make train ARGS="--resume D"` (which adds --logging True) or the first command with --resume added
    before = snapshot(finished_run)
    proc = train([*TINY, "--n_epochs", "1", "--logdir", str(finished_run), "--logging", "True", "--binding", "none",
                  "--resume", str(finished_run)])
    assert proc.returncode == 0, proc.stderr
    assert "has finished its 1 epochs; nothing to do" in proc.stdout
    assert snapshot(finished_run) == before


@pytest.mark.slow
def test_resume_accepts_a_params_file_with_the_runs_values_and_names_the_keys_another_changes(finished_run, tmp_path):
    # the run used the note's file; the same file (or a copy) given again changes nothing
    before = snapshot(finished_run)
    note_file = REPO / "music" / "params" / "FetchPush-v1" / "SAC+MUSIC.json"
    proc = train([*TINY, "--n_epochs", "1", "--params_file", str(note_file), "--resume", str(finished_run)])
    assert proc.returncode == 0, proc.stderr
    assert "has finished its 1 epochs; nothing to do" in proc.stdout
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**json.loads(note_file.read_text()), "et_r_scale": 0.05, "hidden": 64}))
    # hidden is also given by TINY's --param: that one is --param's to check (and equal)
    proc = train([*TINY, "--params_file", str(other), "--resume", str(finished_run)])
    assert proc.returncode == 2
    assert f"--params_file {other}: et_r_scale is 0.02 there, 0.05 here (only --n_epochs" in proc.stderr
    assert "hidden" not in proc.stderr.splitlines()[-1]
    assert snapshot(finished_run) == before


@pytest.mark.slow
def test_resuming_a_finished_run_does_nothing_and_writes_nothing(finished_run):
    before = snapshot(finished_run)
    proc = train(["--resume", str(finished_run)])
    assert proc.returncode == 0, proc.stderr
    assert "has finished its 1 epochs; nothing to do" in proc.stdout
    assert snapshot(finished_run) == before


@pytest.mark.slow
def test_an_existing_run_folder_points_at_resume(finished_run):
    proc = train([*TINY, "--logdir", str(finished_run)])
    assert proc.returncode == 2 and f"to continue that run use --resume {finished_run}" in proc.stderr


@pytest.mark.slow
def test_a_damaged_pickle_is_detected(finished_run, tmp_path):
    from music.policy_files import PolicyFileError, load_policy

    for name in ("policy_0.pkl", "policy_0.npz", "params.json", "progress.csv"):
        (tmp_path / name).write_bytes((finished_run / name).read_bytes())
    load_policy(tmp_path / "policy_0.pkl")  # intact: loads
    data = bytearray((tmp_path / "policy_0.pkl").read_bytes())
    data[len(data) // 2: len(data) // 2 + 4] = b"\x00\x01\x02\x03"  # inside the weights: still unpickles
    (tmp_path / "policy_0.pkl").write_bytes(bytes(data))
    with pytest.raises(PolicyFileError, match="policy_0.pkl is damaged: its sha256 differs"):
        load_policy(tmp_path / "policy_0.pkl")


def test_help_shows_one_default_per_option_and_lists():
    from music.train import build_parser, list_notes, list_params

    text = build_parser().format_help()
    assert "number of training epochs (default: 50)" in " ".join(text.split())
    assert "(default: SAC+MUSIC)" in " ".join(text.split())
    assert "FetchReach-v4: DDPG+HER" in list_notes()
    assert "mi_end_mode = \"original\"" in list_params()


def test_fetch_reach_v1_finds_its_params():
    from music.config import params_file

    assert params_file("FetchReach-v1", "DDPG+HER").parent.name == "FetchReach-v4"


def test_progress_line_counts_cycles_and_estimates():
    stream = io.StringIO()
    progress = CycleProgress(n_epochs=4, n_cycles=10, enabled=True, stream=stream)
    progress.start_epoch(0)
    progress.cycle_done(epoch=1, cycles_done=3)
    progress.end_epoch()
    text = stream.getvalue()
    assert text.startswith("\repoch 2/4 [######              ] cycle 3/10") and "run ETA" in text
    assert text.endswith("\n")
    quiet = io.StringIO()
    CycleProgress(4, 10, enabled=CycleProgress.wanted("auto", quiet), stream=quiet).cycle_done(0, 1)
    assert quiet.getvalue() == ""  # not a terminal
    assert "3 to go" in progress.run_eta(epochs_done=1, epoch_seconds=60.0)


def on_a_terminal(cmd, timeout=300) -> str:
    """What ``cmd`` prints on a terminal (a pseudo-terminal), as a user running it would see."""
    import pty
    import select
    import time

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(REPO)
        os.execvpe(cmd[0], cmd, env)
    out, deadline = b"", time.time() + timeout
    while time.time() < deadline:
        if select.select([fd], [], [], 1.0)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    else:
        os.kill(pid, 9)  # past the deadline: the test fails below, it does not hang
    os.waitpid(pid, 0)
    os.close(fd)
    return out.decode(errors="replace")


@pytest.mark.slow
@pytest.mark.mpi
@pytest.mark.parametrize("launch", ["mpiexec", "num_cpu"])
def test_the_progress_line_shows_on_a_terminal_under_mpi_and_not_in_a_file(launch, tmp_path):
    args = [*TINY, "--n_epochs", "1"]
    python = [sys.executable, "-m", "music.train"]
    cmd = [mpiexec(), "-n", "2", *python, *args] if launch == "mpiexec" else [*python, "--num_cpu", "2", *args]
    shown = on_a_terminal([*cmd, "--logdir", str(tmp_path / "tty")])
    assert "epoch 1/1 [##########          ] cycle 1/2" in shown and "run ETA" in shown, shown
    to_file = train([*args, "--logdir", str(tmp_path / "file")], mpi=2)  # stdout a pipe to this test
    assert to_file.returncode == 0 and "cycle 1/2" not in to_file.stdout


def test_object_motion_counts_settling_as_none():
    rest = np.full((2, 51, 3), [1.3, 0.75, 0.425])
    rest[:, 1:, 2] -= 2e-8  # the block settles: no motion
    moved = rest.copy()
    moved[1, -1] += [0.03, 0.04, 0.0]
    moved[1, 10, 2] += 0.05
    displacement, lift = object_motion(moved)
    assert displacement[0] == 0 and lift[0] == 0
    assert displacement[1] == pytest.approx(0.05, abs=1e-7) and lift[1] == pytest.approx(0.05, abs=1e-7)
    assert RESTING_TOLERANCE < 1e-5


def test_each_scale_has_its_own_default_results(tmp_path, monkeypatch):
    from music import sweep

    monkeypatch.setenv("MUSIC_RUNS", str(tmp_path))
    assert sweep.default_results("small") == sweep.RESULTS_DIR
    assert sweep.default_results("paper") == tmp_path / "paper"
    code = sweep.main("task_reward", ["SAC"], "d", ["--scale", "paper", "--tasks", "FetchPush-v1", "--dry-run"])
    assert code == 0




@pytest.mark.slow
def test_checkpoints_of_the_old_folder_name_still_resume(finished_run, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(finished_run, old)
    (old / "checkpoints").rename(old / "checkpoint")  # as written before the rename (TensorBoard warned)
    proc = train(["--resume", str(old), "--n_epochs", "2"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Resuming from the checkpoint of epoch 1, cycle 0" in proc.stdout
    assert (old / "checkpoint" / "manifest.json").exists() and not (old / "checkpoints").exists()


def test_wilson_interval_equals_a_hand_computation():
    from music.evaluate import wilson_interval

    # 7 of 20: p = 0.35, z = 1.96: centre (0.35 + 0.09604) / 1.19208, half 1.96 sqrt(0.011375 + 0.0024010) / 1.19208
    low, high = wilson_interval(7, 20)
    centre, half = 0.44604 / 1.19208, 1.96 * (0.013776) ** 0.5 / 1.19208
    assert low == pytest.approx(centre - half, abs=1e-4) and high == pytest.approx(centre + half, abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0


def test_an_object_is_off_the_table_when_it_ends_below_the_table_top():
    from music.evaluate import ends_off_the_table

    # Fetch: the object rests at z = 0.425 on the 0.4 m table and at z = 0.025 on the floor.
    assert ends_off_the_table(np.array([0.425, 0.3, 0.025]))
    assert not ends_off_the_table(np.array([0.425, 0.43, 0.424]))  # pushed along the table
    assert not ends_off_the_table(np.array([0.425, 0.7, 0.6]))  # lifted
    assert not ends_off_the_table(np.array([0.425, 0.025, 0.425]))  # fell and came back: ends on the table


def test_an_episode_lifts_the_object_when_it_rises_5_cm():
    from music.evaluate import fraction_lifted

    # Per-episode lifts (m): a pushed block (0.004), a tipped one (0.010), picked ones (0.05, 0.3).
    assert fraction_lifted([0.004, 0.010, 0.0499, 0.05, 0.3]) == pytest.approx(2 / 5)
    assert fraction_lifted([0.0, 0.0]) == 0.0
    assert np.isnan(fraction_lifted([]))


@pytest.mark.slow
def test_evaluate_writes_json_and_csv_without_rendering(finished_run, tmp_path):
    cmd = [sys.executable, "-m", "music.evaluate", str(finished_run / "policy_latest.npz"), "--episodes", "4",
           "--json", str(tmp_path / "e.json"), "--csv", str(tmp_path / "e.csv")]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "e.json").read_text())
    assert summary["episodes"] == 4 and summary["goals"] == "Env" and summary["mode"] == "test"
    assert summary["success_ci95_low"] <= summary["success_rate"] <= summary["success_ci95_high"]
    assert -1.0 <= summary["mi_reward_mean"] <= 0.0 and summary["object_displacement_mean"] >= 0
    assert summary["object_fell"] in (0.0, 0.25, 0.5, 0.75, 1.0)
    assert summary["object_lifted"] in (0.0, 0.25, 0.5, 0.75, 1.0)
    if summary["object_fell"] == 0.0:  # every episode ended on the table: the two displacements are one
        assert summary["object_displacement_on_table"] == pytest.approx(summary["object_displacement_mean"])
    rows = list(csv.DictReader(open(tmp_path / "e.csv")))
    assert len(rows) == 1 and float(rows[0]["success_rate"]) == summary["success_rate"]
    assert "success" in proc.stdout and "95% CI" in proc.stdout
    assert not list(tmp_path.glob("*.mp4"))
    bad = subprocess.run([sys.executable, "-m", "music.evaluate", str(tmp_path / "none.npz")], capture_output=True,
                         text=True, cwd=REPO, timeout=300)
    assert bad.returncode == 2 and "does not exist" in bad.stderr and "Traceback" not in bad.stderr


def test_a_params_file_keeps_its_own_note_unless_note_is_given(tmp_path):
    from music.experiment import given_options, resolve_params
    from music.train import build_parser

    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"note": "my-variant", "r_scale": 1}))
    for argv, note in ((["--params_file", str(path)], "my-variant"),
                       (["--params_file", str(path), "--note", "SAC"], "SAC"),
                       (["--env_name", "FetchPush-v1", "--note", "SAC"], "SAC")):
        args = build_parser().parse_args(argv)
        params = resolve_params(args, given_options(argv))
        assert params["note"] == note, argv


@pytest.mark.parametrize("module, option", [("music.play", "--outdir"), ("music.plot", "--title"),
                                            ("music.save_weight", "policies")])
def test_help_says_each_default_once_and_every_option_has_help(module, option):
    proc = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "COLUMNS": "200"}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "(default: None)" not in proc.stdout and proc.stdout.count("(default: beside the policy)") <= 1
    line = next(text for text in proc.stdout.splitlines() if text.strip().startswith(option))
    assert len(line.split()) > 2 if option.startswith("--") else ".npz" in line, line
