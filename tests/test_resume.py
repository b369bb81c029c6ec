"""Never lose a run: resume, preemption, fail-fast, determinism, damaged checkpoints, safe policy files."""

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, mpiexec

pytestmark = pytest.mark.slow

SMALL = ["--env_name", "FetchPush-v1", "--note", "SAC+MUSIC", "--n_cycles", "3", "--param", "n_batches=2",
         "--param", "n_test_rollouts=1", "--param", "hidden=32", "--param", "batch_size=32"]
IGNORED = ("timestamp", "time/epoch")


def train(args, mpi=0, env=None, timeout=600, fault=None):
    """music.train, or with ``fault`` (rank:R,epoch:E,cycle:C,kind:K) tests/fault_train.py."""
    entry = ["-m", "music.train"] if fault is None else [str(REPO / "tests" / "fault_train.py"), "--fault", fault]
    cmd = ([mpiexec(), "-n", str(mpi)] if mpi else []) + [sys.executable, *entry, *args]
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO), **(env or {})}
    start = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=full_env)
    proc.seconds = time.time() - start
    return proc


def digest(logdir):
    line = [x for x in (logdir / "log.txt").read_text().splitlines() if x.startswith("final weights identical")][-1]
    return re.search(r"sha256 per rank: (.*)\)", line).group(1).split()


def rows(logdir):
    return [{k: v for k, v in r.items() if k not in IGNORED} for r in csv.DictReader(open(logdir / "progress.csv"))]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("full") / "run"
    proc = train([*SMALL, "--n_epochs", "3", "--keep_policies", "1", "--logdir", str(logdir)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return logdir


@pytest.mark.bitexact
def test_same_seed_same_numbers(full_run, tmp_path):
    again = tmp_path / "again"
    proc = train([*SMALL, "--n_epochs", "3", "--logdir", str(again)])
    assert proc.returncode == 0, proc.stderr
    assert rows(again) == rows(full_run)
    assert digest(again) == digest(full_run)


@pytest.mark.bitexact
def test_resume_continues_bit_exactly_without_duplicate_rows(full_run, tmp_path):
    part = tmp_path / "part"
    assert train([*SMALL, "--n_epochs", "1", "--logdir", str(part)]).returncode == 0
    manifest = json.loads((part / "checkpoints" / "manifest.json").read_text())
    assert (manifest["epoch"], manifest["cycle"], manifest["ranks"]) == (1, 0, 1)
    proc = train(["--resume", str(part), "--n_epochs", "3"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Resuming from the checkpoint of epoch 1, cycle 0" in proc.stdout
    assert [r["epoch"] for r in rows(part)] == ["0", "1", "2"]
    assert rows(part) == rows(full_run)
    assert digest(part) == digest(full_run)


# The campaign's code before the redesign of issue 15 (typed Params, components' state_dict,
# checkpoint folder ``checkpoint/``): its checkpoints must continue under today's code.
LEGACY_COMMIT = "7f4ef79b039185b66a7d27c12d2c67ce014d6b02"


def test_a_checkpoint_written_before_the_redesign_is_restored_completely_and_continues(full_run, tmp_path):
    # The old code writes the first epoch of full_run's command here, at test time (a
    # checkpoint shipped from another machine would hold that machine's float32 roundings).
    # Today's code computes the bias gradients in the original's order since issue 17, so
    # the old code's epoch 0 has other last bits than today's and the continuation cannot
    # equal full_run. What must hold: every array and setting of the old checkpoint comes
    # back (today's code, stopped before it trains, writes the same checkpoint again), and
    # the run continues. Bit-exact continuation on one code is test_resume_continues_bit_exactly.
    old_code = tmp_path / "code"
    made = subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(old_code), LEGACY_COMMIT],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"commit {LEGACY_COMMIT[:7]} is not in this clone's history: {made.stderr.strip()}")
    try:
        old = tmp_path / "old"
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(old_code)}
        written = subprocess.run([sys.executable, "-m", "music.train", *SMALL, "--n_epochs", "1", "--logdir", str(old)],
                                 capture_output=True, text=True, timeout=600, cwd=old_code, env=env)
        assert written.returncode == 0, written.stdout + written.stderr
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(old_code)], capture_output=True)
    assert (old / "checkpoint" / "manifest.json").exists()  # the folder name of then
    written_by_old = arrays_of(old / "checkpoint")
    saved = train(["--resume", str(old), "--n_epochs", "3"], fault="rank:0,epoch:1,cycle:0,kind:checkpoint")
    assert saved.returncode == 0, saved.stdout + saved.stderr
    written_again = arrays_of(old / "checkpoint")  # today's code keeps an old run's folder name
    assert written_again.keys() == written_by_old.keys()
    for name, value in written_by_old.items():
        np.testing.assert_array_equal(written_again[name], value, err_msg=name)

    proc = train(["--resume", str(old), "--n_epochs", "3"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Resuming from the checkpoint of epoch 1, cycle 0" in proc.stdout
    # Epoch 0's row was logged by the old code, before issue 14 changed how object motion and
    # the first best_success_rate are logged; today's code goes on in the old file's columns
    # (today's train/episodes_all_workers is left out of it, and said so).
    columns = list(rows(old)[0])
    assert set(rows(full_run)[0]) - set(columns) == {"train/episodes_all_workers"}
    assert [r["epoch"] for r in rows(old)] == ["0", "1", "2"]
    assert all(list(r) == columns for r in rows(old))
    assert "progress.csv was started without columns ['train/episodes_all_workers']" in proc.stdout
    assert len(set(digest(old))) == 1  # the ranks agree


def arrays_of(folder):
    """Every array of a one-rank checkpoint (the meta JSON as a parsed dict), by name."""
    manifest = json.loads((folder / "manifest.json").read_text())
    with np.load(folder / manifest["files"][0], allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(arrays.pop("__meta__").tobytes().decode())
    # the rollout worker's episode history is per epoch: cleared when an epoch starts
    meta["rollout_worker"].pop("history")
    arrays.update({f"meta/{key}": np.asarray(json.dumps(value, sort_keys=True)) for key, value in meta.items()})
    return arrays


def test_keep_policies_prunes_old_periodic_files(full_run):
    names = {p.name for p in full_run.glob("policy_*")}
    assert {"policy_2.pkl", "policy_2.npz", "policy_best.pkl", "policy_latest.npz"} <= names
    assert not {"policy_0.pkl", "policy_1.pkl", "policy_0.npz"} & names


@pytest.mark.bitexact
def test_sigterm_on_one_rank_checkpoints_every_rank_and_resume_matches(tmp_path):
    args = [*SMALL, "--n_epochs", "2"]
    whole = train([*args, "--logdir", str(tmp_path / "whole")], mpi=2)
    assert whole.returncode == 0, whole.stderr
    stopped = train([*args, "--logdir", str(tmp_path / "cut")], mpi=2,
                    fault="rank:1,epoch:0,cycle:1,kind:term")
    assert stopped.returncode == 143, stopped.stdout + stopped.stderr
    assert "Signal SIGTERM: checkpoint written at epoch 0, cycle 2; resume with: mpiexec -n 2 " in stopped.stdout
    assert f"-m music.train --resume {tmp_path / 'cut'}" in stopped.stdout
    manifest = json.loads((tmp_path / "cut" / "checkpoints" / "manifest.json").read_text())
    assert (manifest["epoch"], manifest["cycle"], manifest["ranks"]) == (0, 2, 2)
    wrong = train(["--num_cpu", "1", "--resume", str(tmp_path / "cut")])  # 1 rank for a 2-rank checkpoint
    assert wrong.returncode == 2 and "written by 2 ranks, this run has 1" in wrong.stderr
    resumed = train(["--resume", str(tmp_path / "cut")])  # bare: re-launched on the run's 2 ranks
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Launching: " in resumed.stdout and " -n 2 " in resumed.stdout
    assert digest(tmp_path / "cut") == digest(tmp_path / "whole")
    assert rows(tmp_path / "cut") == rows(tmp_path / "whole")


def processes_of(logdir) -> list[int]:
    """The live processes whose command line names ``logdir`` (launcher, mpiexec, ranks)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(logdir) in (entry / "cmdline").read_bytes().decode(errors="replace"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def gone_within(logdir, seconds: float) -> bool:
    deadline = time.time() + seconds
    while processes_of(logdir):
        if time.time() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.mark.alone  # asserts how soon the job ends
@pytest.mark.bitexact
@pytest.mark.mpi
def test_a_rank_killed_between_the_rank_files_and_the_manifest_resumes_from_the_last_complete_checkpoint(tmp_path):
    # kill -9 of rank 0 when every rank has written its file of the epoch-2 checkpoint and the
    # manifest naming them is next: the epoch-1 checkpoint must stay whole and resume exactly
    args = [*SMALL, "--n_epochs", "3"]
    whole = train([*args, "--logdir", str(tmp_path / "whole")], mpi=2)
    assert whole.returncode == 0, whole.stderr
    cut = tmp_path / "cut"
    killed = train([*args, "--logdir", str(cut)], mpi=2, fault="rank:0,epoch:2,cycle:0,kind:kill_before_manifest",
                   timeout=120)
    assert killed.returncode != 0 and killed.seconds < 60, killed.stdout + killed.stderr
    assert gone_within(cut, 60)
    assert {p.name for p in (cut / "checkpoints").glob("rank*-e2c0.npz")} == {"rank0-e2c0.npz", "rank1-e2c0.npz"}
    manifest = json.loads((cut / "checkpoints" / "manifest.json").read_text())
    assert (manifest["epoch"], manifest["cycle"]) == (1, 0)
    resumed = train(["--resume", str(cut)], mpi=2)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Resuming from the checkpoint of epoch 1, cycle 0" in resumed.stdout
    assert digest(cut) == digest(tmp_path / "whole") and rows(cut) == rows(tmp_path / "whole")


LAUNCHED = [*SMALL, "--n_epochs", "5", "--num_cpu", "2"]


@pytest.fixture(scope="module")
def launched_run(tmp_path_factory):
    """The uninterrupted run of the launcher tests below (one for the three ways to interrupt it)."""
    logdir = tmp_path_factory.mktemp("launched") / "whole"
    proc = train([*LAUNCHED, "--logdir", str(logdir)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return logdir


@pytest.mark.bitexact
@pytest.mark.mpi
@pytest.mark.parametrize("how, status", [("ctrl-c", 130), ("sigterm", 143), ("sigkill", -9)])
def test_a_num_cpu_launcher_interrupted_leaves_no_process_and_a_checkpoint_that_resumes_exactly(launched_run, tmp_path,
                                                                                              how, status):
    # --num_cpu 2 starts mpiexec itself. Ctrl-C (SIGINT to the terminal's process group), a
    # scheduler's SIGTERM to the launcher alone, or kill -9 of the launcher: the ranks write a
    # checkpoint and every process is gone within 60 s; the run resumes bit for bit.
    import signal

    cut = tmp_path / "cut"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    launcher = subprocess.Popen([sys.executable, "-m", "music.train", *LAUNCHED, "--logdir", str(cut)], cwd=REPO,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    manifest = cut / "checkpoints" / "manifest.json"
    deadline = time.time() + 300
    while not (manifest.exists() and json.loads(manifest.read_text())["epoch"] >= 1):
        assert launcher.poll() is None and time.time() < deadline, launcher.stdout.read()
        time.sleep(0.05)
    if how == "ctrl-c":
        os.killpg(launcher.pid, signal.SIGINT)
    else:
        launcher.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGKILL)
    out, _ = launcher.communicate(timeout=120)
    assert launcher.returncode == status, out
    assert gone_within(cut, 60), processes_of(cut)
    assert "Traceback" not in out
    stopped = json.loads(manifest.read_text())
    hint = f"-m music.train --num_cpu 2 --resume {cut}"  # the form that started it, as the log says
    assert stopped["epoch"] < 5 and hint in (cut / "log.txt").read_text()
    resumed = train(["--num_cpu", "2", "--resume", str(cut)])
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"Resuming from the checkpoint of epoch {stopped['epoch']}, cycle {stopped['cycle']}" in resumed.stdout
    assert digest(cut) == digest(launched_run) and rows(cut) == rows(launched_run)


@pytest.mark.mpi
def test_ctrl_c_in_the_set_up_of_a_new_run_leaves_no_folder_and_the_same_command_starts_afresh(tmp_path):
    logdir = tmp_path / "new"
    args = [*SMALL, "--n_epochs", "1", "--logdir", str(logdir)]
    proc = train(args, mpi=2, fault="rank:1,kind:setup_signal", timeout=300)
    assert proc.returncode == 130, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("music.train:")]
    assert lines == [f"music.train: SIGINT during the set-up, before the first cycle: nothing was trained and {logdir} "
                     "is gone again; the same command starts afresh"]
    assert not logdir.exists()
    again = train(args, mpi=2, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr


def test_ctrl_c_in_the_set_up_of_a_resume_leaves_the_checkpoint_as_it_was(full_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    before = {p.name: p.read_bytes() for p in (run / "checkpoints").iterdir()}
    proc = train(["--resume", str(run), "--n_epochs", "4"], fault="rank:0,kind:setup_signal")
    assert proc.returncode == 130, proc.stdout + proc.stderr
    manifest = json.loads((run / "checkpoints" / "manifest.json").read_text())
    assert (f"music.train: SIGINT during the set-up, before training went on: the checkpoint of epoch "
            f"{manifest['epoch']}, cycle {manifest['cycle']} is as it was; resume with:") in proc.stderr
    assert {p.name: p.read_bytes() for p in (run / "checkpoints").iterdir()} == before
    assert train(["--resume", str(run), "--n_epochs", "4"]).returncode == 0


def test_a_folder_left_by_a_run_killed_in_its_set_up_gets_the_fix_not_a_dead_end(tmp_path):
    # a second Ctrl-C ends the set-up at once: params.json, log.txt and tb/ stay behind
    left = tmp_path / "left"
    (left / "tb").mkdir(parents=True)
    (left / "params.json").write_text(json.dumps({"env_name": "FetchPush-v1"}))
    (left / "log.txt").write_text("Logging to ...\n")
    fresh = train([*SMALL, "--n_epochs", "1", "--logdir", str(left)])
    assert fresh.returncode == 2 and (f"--logdir {left} holds only the start of a run that saved nothing"
                                      in fresh.stderr) and f"rm -r {left}" in fresh.stderr
    resumed = train(["--resume", str(left)])
    assert resumed.returncode == 2 and f"--resume {left}: that run saved nothing to continue from" in resumed.stderr
    assert sorted(p.name for p in left.iterdir()) == ["log.txt", "params.json", "tb"]  # nothing removed


def test_second_signal_exits_at_once():
    script = ("import os, signal\nfrom music.training import StopRequest\ns = StopRequest(); s.install()\n"
              "os.kill(os.getpid(), signal.SIGINT); print('first', s.signum, flush=True)\n"
              "os.kill(os.getpid(), signal.SIGINT); print('not reached', flush=True)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 130 and proc.stdout == "first 2\n"


@pytest.mark.alone  # asserts how soon the job ends
def test_an_exception_on_one_rank_ends_the_job_fast_with_its_traceback(tmp_path):
    logdir = tmp_path / "crash"
    proc = train([*SMALL, "--n_epochs", "2", "--logdir", str(logdir)], mpi=2,
                 fault="rank:1,epoch:0,cycle:1,kind:raise", timeout=120)
    ended = time.time()
    assert proc.returncode != 0
    assert ended - (logdir / "crash_rank1.txt").stat().st_mtime < 30  # from the failure to the end of the job
    crash = (logdir / "crash_rank1.txt").read_text()
    assert "Traceback" in crash and "fault injected on rank 1, epoch 0, cycle 1" in crash
    assert "rank 1 failed:" in (logdir / "log.txt").read_text()


@pytest.mark.alone  # asserts how soon the job ends
@pytest.mark.mpi
def test_an_exception_in_the_set_up_of_one_rank_ends_the_job_fast(tmp_path):
    # before the log folder exists, while the other rank waits for the ranks' verdict on the inputs
    proc = train([*SMALL, "--n_epochs", "1", "--logdir", str(tmp_path / "early")], mpi=2,
                 fault="rank:1,kind:setup_raise", timeout=120)
    assert proc.returncode != 0 and proc.seconds < 60, proc.stdout + proc.stderr
    assert "fault injected in the set-up of rank 1" in proc.stderr
    assert gone_within(tmp_path / "early", 60)


def run_with_read_only(folder: Path, cmd: list[str]) -> subprocess.CompletedProcess:
    """Run ``cmd`` with ``folder`` unwritable to it: a read-only bind mount for root (which writes
    through modes), mode 555 for anyone else; skips the test where no such mount can be made."""
    if os.geteuid() == 0:
        import shlex

        quoted = shlex.quote(str(folder))
        cmd = ["unshare", "-m", "sh", "-c", f"mount --bind {quoted} {quoted} && mount -o remount,ro,bind {quoted} "
               f"&& exec {shlex.join(cmd)}"]
    else:
        folder.chmod(0o555)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    finally:
        folder.chmod(0o755)
    if os.geteuid() == 0 and "mount" in proc.stderr and "music.train" not in proc.stderr:
        pytest.skip(f"no read-only bind mount here: {proc.stderr.strip()}")
    return proc


@pytest.mark.alone  # asserts how soon the job ends
@pytest.mark.mpi
def test_an_unwritable_log_folder_is_bad_input_on_every_rank_and_nothing_is_written(tmp_path):
    # as a Docker volume made by root for a container running as uid 1000
    folder = tmp_path / "volume"
    folder.mkdir()
    train_cmd = [mpiexec(), "-n", "2", sys.executable, "-m", "music.train", *SMALL, "--n_epochs", "1",
                 "--logdir", str(folder / "push")]
    start = time.time()
    proc = run_with_read_only(folder, train_cmd)
    assert proc.returncode == 2 and time.time() - start < 60, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    why = "a read-only file system" if os.geteuid() == 0 else "owned by uid "
    assert lines[-1].startswith(f"music.train: error: --logdir {folder / 'push'}: uid {os.geteuid()} cannot write "
                                f"in {folder} ({why}"), proc.stderr
    assert "Traceback" not in proc.stderr and list(folder.iterdir()) == []


def test_a_resume_whose_checkpoints_folder_is_read_only_stops_before_training(full_run, tmp_path):
    # the first checkpoint of the resumed run would fail an epoch later, its work lost
    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    checkpoints = run / "checkpoints"
    before = (run / "progress.csv").read_bytes()
    proc = run_with_read_only(checkpoints, [sys.executable, "-m", "music.train", "--resume", str(run), "--n_epochs",
                                            "4"])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(
        f"music.train: error: --resume {checkpoints}: uid {os.geteuid()} cannot write in {checkpoints} (")
    assert "Traceback" not in proc.stderr and (run / "progress.csv").read_bytes() == before


@pytest.mark.alone  # asserts how soon the job ends
def test_a_killed_rank_ends_the_job(tmp_path):
    proc = train([*SMALL, "--n_epochs", "2", "--logdir", str(tmp_path / "k")], mpi=2,
                 fault="rank:1,epoch:0,cycle:1,kind:kill", timeout=120)
    assert proc.returncode != 0 and proc.seconds < 60


def test_mine_nan_names_epoch_and_cycle_and_keeps_the_last_checkpoint(tmp_path):
    logdir = tmp_path / "nan"
    proc = train([*SMALL, "--n_epochs", "2", "--logdir", str(logdir)],
                 fault="rank:0,epoch:1,cycle:1,kind:nan_mine")
    assert proc.returncode == 3
    assert re.search(r"error on rank 0: epoch 1, cycle 1: MINE estimate is NaN or Inf", proc.stderr)
    assert json.loads((logdir / "checkpoints" / "manifest.json").read_text())["epoch"] == 1
    assert "Traceback" not in proc.stderr


def test_a_damaged_checkpoint_is_found_before_anything_is_written_and_the_one_before_it_resumes(full_run, tmp_path):
    # two checkpoints are kept (the latest and the one before), older rank files are deleted
    folder = full_run / "checkpoints"
    latest, previous = (json.loads((folder / name).read_text()) for name in ("manifest.json", "previous.json"))
    assert (latest["epoch"], previous["epoch"]) == (3, 2)
    assert sorted(p.name for p in folder.glob("rank*.npz")) == ["rank0-e2c0.npz", "rank0-e3c0.npz"]
    # the latest damaged on disk: the run goes on from the one before, says so, and ends as it did
    damaged = tmp_path / "damaged"
    shutil.copytree(full_run, damaged)
    truncate(damaged / "checkpoints" / "rank0-e3c0.npz")
    proc = train(["--resume", str(damaged)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (f"warning: checkpoint file {damaged / 'checkpoints' / 'rank0-e3c0.npz'} is damaged (sha256 differs from "
            "the manifest); resuming from the checkpoint before it (epoch 2, cycle 0)") in proc.stdout
    assert digest(damaged) == digest(full_run) and rows(damaged) == rows(full_run)
    # a manifest that cannot be read, the one before whole: resumed from it, and its next checkpoint is
    # written over the unreadable one (which once crashed the first save)
    unreadable = tmp_path / "unreadable"
    shutil.copytree(full_run, unreadable)
    (unreadable / "checkpoints" / "manifest.json").write_bytes(os.urandom(200))
    proc = train(["--resume", str(unreadable)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "manifest.json is damaged" in proc.stdout and "resuming from the checkpoint before it" in proc.stdout
    assert digest(unreadable) == digest(full_run) and rows(unreadable) == rows(full_run)
    assert json.loads((unreadable / "checkpoints" / "previous.json").read_text())["epoch"] == 2
    # both damaged: refused at once, before anything is written (log.txt, TensorBoard, progress.csv)
    both = tmp_path / "both"
    shutil.copytree(full_run, both)
    for name in ("rank0-e2c0.npz", "rank0-e3c0.npz"):
        truncate(both / "checkpoints" / name)
    before = {str(p): p.stat().st_mtime_ns for p in both.rglob("*")}
    proc = train(["--resume", str(both), "--n_epochs", "4"])  # more to do
    assert proc.returncode == 2 and proc.stderr.strip().endswith(
        "rank0-e3c0.npz is damaged (sha256 differs from the manifest), and no earlier whole checkpoint is left; "
        "start the run again in a new folder"), proc.stderr
    assert {str(p): p.stat().st_mtime_ns for p in both.rglob("*")} == before
    (both / "checkpoints" / "manifest.json").write_bytes(os.urandom(200))
    proc = train(["--resume", str(both), "--n_epochs", "4"])
    assert proc.returncode == 2 and "manifest.json is damaged" in proc.stderr


def truncate(path):
    path.write_bytes(path.read_bytes()[:1000])


def test_foreign_checkpoints_are_refused(full_run, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(full_run, damaged)
    # a checkpoint of another network size dropped into this run folder
    other = tmp_path / "other"
    assert train([*SMALL, "--n_epochs", "1", "--param", "hidden=16", "--logdir", str(other)]).returncode == 0
    shutil.rmtree(damaged / "checkpoints")
    shutil.copytree(other / "checkpoints", damaged / "checkpoints")
    proc = train(["--resume", str(damaged), "--n_epochs", "4"])  # more to do
    assert proc.returncode == 2 and "hidden is 16 there, 32 here" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = train(["--resume", str(tmp_path / "nowhere")])
    assert proc.returncode == 2 and "no params.json there" in proc.stderr


def test_checkpoint_without_buffer_resumes_with_an_empty_one(tmp_path):
    logdir = tmp_path / "nobuf"
    assert train([*SMALL, "--n_epochs", "1", "--checkpoint_buffer", "False", "--logdir", str(logdir)]).returncode == 0
    assert json.loads((logdir / "checkpoints" / "manifest.json").read_text())["with_buffer"] is False
    proc = train(["--resume", str(logdir), "--n_epochs", "2"])
    assert proc.returncode == 0, proc.stderr
    assert "continues with an empty buffer" in proc.stdout
    assert [r["epoch"] for r in rows(logdir)] == ["0", "1"]


def test_safe_policy_files_load_without_pickle_and_act_identically(full_run, capsys):
    from music.policy_files import load_policy

    safe = load_policy(full_run / "policy_latest.npz")
    pickled = load_policy(full_run / "policy_latest.pkl")
    assert "warning" not in capsys.readouterr().err  # our own run folder: no pickle warning
    for name, value in pickled.save_weight().items():
        np.testing.assert_array_equal(safe.save_weight()[name], value)
    rng = np.random.default_rng(0)
    x = dict(o=rng.normal(size=(4, 25)), z=np.ones((4, 1)), ag=rng.normal(size=(4, 3)), g=rng.normal(size=(4, 3)))
    np.testing.assert_array_equal(safe.get_actions(**x), pickled.get_actions(**x))
    with np.load(full_run / "policy_latest.npz", allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)


def test_pickles_from_elsewhere_get_a_warning(full_run, tmp_path, capsys):
    from music.policy_files import PolicyFileError, load_policy

    stray = tmp_path / "policy.pkl"
    shutil.copy(full_run / "policy_latest.pkl", stray)
    load_policy(stray)
    assert "loading a pickle can run arbitrary code" in capsys.readouterr().err
    junk = tmp_path / "junk.npz"
    junk.write_bytes(os.urandom(500))
    with pytest.raises(PolicyFileError, match="is not an .npz archive"):
        load_policy(junk)
    other = tmp_path / "other.npz"  # an archive, but not one of a policy
    np.savez(other, a=np.zeros(3))
    with pytest.raises(PolicyFileError, match="not a music policy archive"):
        load_policy(other)
