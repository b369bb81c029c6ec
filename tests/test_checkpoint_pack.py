"""Packs of checkpoints (music.checkpoint_pack): buffers rebuilt from their actions bit for bit, or refused."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from music.checkpoint import load_rank, read_manifest
from music.checkpoint_pack import PackError, _check_replayable, pack, read_pack, unpack, verify

from conftest import REPO

# MUSIC alone on FetchPickAndPlace with the origin as goal, as the paper campaign runs it, on
# 1 process x 2 virtual workers
TINY = ["--env_name", "FetchPickAndPlace-v1", "--note", "SAC+MUSIC", "--n_cycles", "3", "--workers_per_rank", "2",
        "--param", "n_batches=2", "--param", "n_test_rollouts=1", "--param", "hidden=32", "--param", "batch_size=32"]


def train(*args):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "music.train", *args], capture_output=True, text=True, cwd=REPO,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def final_digest(logdir):
    return [line for line in (logdir / "log.txt").read_text().splitlines() if "final weights identical" in line][-1]


@pytest.fixture(scope="module")
def halfway(tmp_path_factory):
    """A run stopped at epoch 2 that was itself resumed at epoch 1 (its envs made anew there)."""
    logdir = tmp_path_factory.mktemp("pack") / "run"
    train(*TINY, "--n_epochs", "1", "--logdir", str(logdir))
    train("--resume", str(logdir), "--n_epochs", "2")
    return logdir


def rank_files(logdir):
    manifest = read_manifest(logdir)
    return [load_rank(logdir, rank, manifest["ranks"])[1:] for rank in range(manifest["ranks"])]


@pytest.mark.slow
def test_an_unpacked_checkpoint_is_the_packed_one_and_resumes_to_the_same_weights(halfway, tmp_path):
    record = pack(halfway, tmp_path / "pack", commit="abc")
    assert (record["epoch"], record["cycle"], record["ranks"], record["commit"]) == (2, 0, 2, "abc")
    assert record["checkpoint_sha256"] == read_manifest(halfway)["sha256"]  # names the checkpoint's files
    for state in record["ranks_state"]:  # the observations are not in the pack, the actions are
        entries = {entry["key"]: entry for entry in state["arrays"]}
        assert "files" not in entries["buffer/o"] and "files" not in entries["buffer/ag"]
        assert entries["buffer/u"]["files"] and entries["buffer/u"]["shape"] == [12, 50, 4]
    assert sorted(p.name for p in (tmp_path / "pack" / "files").iterdir()) == [
        "log.txt", "params.json", "policy_0.npz", "policy_0.pkl", "policy_1.npz", "policy_1.pkl", "policy_best.npz",
        "policy_best.pkl", "policy_latest.npz", "policy_latest.pkl", "progress.csv"]

    rebuilt = tmp_path / "rebuilt"
    manifest = unpack(tmp_path / "pack", rebuilt, processes=2, log=lambda _: None)
    assert (manifest["epoch"], manifest["cycle"], manifest["ranks"]) == (2, 0, 2)
    for (arrays, meta), (again, meta_again) in zip(rank_files(halfway), rank_files(rebuilt), strict=True):
        assert list(again) == list(arrays) and meta_again == meta
        for key, value in arrays.items():
            assert again[key].dtype == value.dtype and np.array_equal(again[key], value), key

    train("--resume", str(halfway), "--n_epochs", "3")
    train("--resume", str(rebuilt), "--n_epochs", "3")
    assert final_digest(rebuilt) == final_digest(halfway)


@pytest.mark.slow
def test_episodes_the_simulator_does_not_reproduce_are_refused_by_name(halfway, tmp_path):
    pack(halfway, tmp_path / "pack")
    verify(tmp_path / "pack", [0, 1], processes=2, log=lambda _: None)  # a good pack passes, writing nothing
    # the environments' random states after the replay are checked too (an episode missing or extra
    # leaves them elsewhere): a pack whose rank 0 records other states is refused
    import shutil

    shutil.copytree(tmp_path / "pack", tmp_path / "other_rng")
    record = read_pack(tmp_path / "other_rng")
    record["ranks_state"][0]["meta"]["rollout_worker"]["env_rng"][0]["state"]["state"] += 1
    (tmp_path / "other_rng" / "pack.json").write_text(json.dumps(record))
    with pytest.raises(PackError, match=r"rank 0: after replaying its episodes its environments' random states "
                                        r"differ from the checkpoint's"):
        verify(tmp_path / "other_rng", [0], log=lambda _: None)

    # another run's actions for rank 1's first episodes, consistently recorded: the pack is whole,
    # but replaying it does not give the observations it was made with
    record = read_pack(tmp_path / "pack")
    entry = next(e for e in record["ranks_state"][1]["arrays"] if e["key"] == "buffer/u")
    actions = np.load(tmp_path / "pack" / "arrays" / entry["files"][0])
    actions[0, 0] = -actions[0, 0]
    from music.checkpoint_pack import _store
    from music.files import array_sha256

    entry["files"] = [_store(tmp_path / "pack" / "arrays", actions)]
    entry["sha256"] = array_sha256(actions)
    (tmp_path / "pack" / "pack.json").write_text(json.dumps(record))
    with pytest.raises(PackError, match=r"rank 1: the rebuilt buffer/o differs from the packed run's, so this "
                                        r"simulator steps differently .*resume on that build"):
        unpack(tmp_path / "pack", tmp_path / "bad", log=lambda _: None)
    assert not (tmp_path / "bad" / "checkpoints" / "manifest.json").exists()  # no checkpoint to resume from
    # verify finds it in the rank that has it, and only there
    verify(tmp_path / "pack", [0], log=lambda _: None)
    with pytest.raises(PackError, match=r"rank 1: the rebuilt buffer/o differs"):
        verify(tmp_path / "pack", [1], log=lambda _: None)
    cli = subprocess.run([sys.executable, "-m", "music.checkpoint_pack", "verify", str(tmp_path / "pack"), "--ranks",
                          "0", "2"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert cli.returncode == 2 and cli.stderr.strip().splitlines() == [
        f"checkpoint_pack: error: {tmp_path / 'pack'} packs ranks 0-1; there is no rank 2"], cli.stderr

    # a damaged file of the pack is named before anything is replayed
    (tmp_path / "pack" / "arrays" / entry["files"][0]).write_bytes(b"\x93NUMPY")
    with pytest.raises(PackError, match=r"a file of buffer/u cannot be read \(ValueError"):
        unpack(tmp_path / "pack", tmp_path / "bad2", log=lambda _: None)


@pytest.mark.slow
def test_a_pack_that_fails_leaves_the_pack_before_it_and_no_files_of_its_own(halfway, tmp_path):
    # (the campaign packs into the clone: a half-written pack would be committed with the next commit -a)
    pack(halfway, tmp_path / "halfway")
    before = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    def disk_full(name):  # fails once the arrays are written, while the run's files are copied
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        pack(halfway, tmp_path / "halfway", policies=disk_full)
    assert {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["halfway"]


def test_unpacking_over_a_checkpoint_is_refused(tmp_path):
    (tmp_path / "pack").mkdir()
    (tmp_path / "pack" / "pack.json").write_text(json.dumps({"format": 1}))
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    (tmp_path / "run" / "checkpoints" / "manifest.json").write_text("{}")
    with pytest.raises(PackError, match="holds a checkpoint already; unpack into a new folder"):
        unpack(tmp_path / "pack", tmp_path / "run")
    with pytest.raises(PackError, match="cannot be read .* is .* a checkpoint pack"):
        read_pack(tmp_path / "run")


def test_a_pack_missing_a_file_it_lists_is_refused_by_name_before_anything_is_written(tmp_path):
    # a clone of a commit that left the pack's policies out (.gitignore matched them): unpack
    # copied the files last, so it failed with a FileNotFoundError after rebuilding every rank
    (tmp_path / "pack" / "files").mkdir(parents=True)
    (tmp_path / "pack" / "files" / "log.txt").write_text("log\n")
    (tmp_path / "pack" / "pack.json").write_text(json.dumps({"format": 1, "files": ["log.txt", "policy_10.npz"]}))
    with pytest.raises(PackError, match=r"pack lacks files/policy_10.npz of the pack; copy them from where"):
        unpack(tmp_path / "pack", tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_buffers_that_cannot_be_rebuilt_from_their_actions_are_refused():
    def meta(current_size, n_episodes, nan_retries=0, saved=True):
        return {"buffer": {"saved": saved, "current_size": current_size},
                "rollout_worker": {"n_episodes": n_episodes, "nan_retries": nan_retries}}

    _check_replayable(meta(40, 40), 0)
    _check_replayable(meta(0, 90, saved=False), 0)  # no buffer in the checkpoint: nothing to rebuild
    with pytest.raises(PackError, match="rank 3: its buffer holds 20 of the 40 episodes it generated"):
        _check_replayable(meta(20, 40), 3)
    with pytest.raises(PackError, match="rank 0: 1 rollouts were retried after NaN observations"):
        _check_replayable(meta(40, 40, nan_retries=1), 0)


def test_a_pack_carries_the_sweep_s_record_of_the_run_s_sessions():
    # a campaign run restored from a pack counts the sessions before it (music.sweep writes the file)
    from music.checkpoint_pack import RUN_FILES
    from music.sweep import SEGMENTS

    assert SEGMENTS in RUN_FILES
