"""experiments/evaluate_campaign.py on a campaign folder of tiny finished runs."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("evaluate_campaign", REPO / "experiments/evaluate_campaign.py")
evaluate_campaign = importlib.util.module_from_spec(spec)
spec.loader.exec_module(evaluate_campaign)

# Default network sizes: the untrained policy is built from the variant's params file.
TINY = ["--env_name", "FetchPush-v1", "--note", "SAC+MUSIC", "--n_epochs", "1", "--n_cycles", "1",
        "--param", "n_batches=1", "--param", "n_test_rollouts=1"]


@pytest.mark.slow
def test_music_runs_get_untrained_comparisons_and_task_runs_a_final_success(tmp_path, monkeypatch):
    run = tmp_path / "tiny"
    proc = subprocess.run([sys.executable, "-m", "music.train", *TINY, "--logdir", str(run)], capture_output=True,
                          text=True, cwd=REPO, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    runs = tmp_path / "runs_root" / "t" / "runs" / "t" / "FetchPush-v1"
    for variant in ("SAC+MUSIC", "SAC"):  # the same policy stands in for a run with task reward
        shutil.copytree(run, runs / variant / "seed0")
        (runs / variant / "seed0" / "sweep.json").write_text("{}")
    shutil.copytree(run, runs / "SAC+MUSIC-r" / "seed1.partial")  # not finished: not measured, even with a
    (runs / "SAC+MUSIC-r" / "seed1.partial" / "sweep.json").write_text("{}")  # sweep.json left by a crash
    monkeypatch.setenv("MUSIC_RUNS", str(tmp_path / "runs_root"))
    out = tmp_path / "eval"
    assert evaluate_campaign.main(["--campaign", "t", "--episodes", "2", "--out", str(out)]) == 0

    music = json.loads((out / "FetchPush-v1/SAC+MUSIC/seed0/motion.json").read_text())
    assert music["episodes"] == 2 and music["seed"] == 0
    for kind in ("trained", "untrained"):
        assert sorted(music[kind]) == ["test", "train"]
        for mode in ("test", "train"):
            assert set(music[kind][mode]) == set(evaluate_campaign.KEYS)
            assert music[kind][mode]["success_rate"] in (0.0, 0.5, 1.0)
            assert music[kind][mode]["object_lifted"] in (0.0, 0.5, 1.0)
            assert -1.0 <= music[kind][mode]["mi_reward_mean"] <= 0.0
    task = json.loads((out / "FetchPush-v1/SAC/seed0/motion.json").read_text())
    assert sorted(task["trained"]) == ["test"] and task["untrained"] == {}
    # same policy, seed and mode: the same episodes
    assert task["trained"]["test"]["success_rate"] == music["trained"]["test"]["success_rate"]
    assert task["trained"]["test"]["object_displacement"] == music["trained"]["test"]["object_displacement"]
    assert not (out / "FetchPush-v1/SAC+MUSIC-r").exists()

    # fell == 0: every episode ended on the table, so its displacement is the displacement
    for row in (*music["trained"].values(), *music["untrained"].values()):
        if row["object_fell"] == 0.0:
            assert row["object_displacement_on_table"] == pytest.approx(row["object_displacement"])

    task_file = out / "FetchPush-v1/SAC/seed0/motion.json"
    task_file.write_text(task_file.read_text().replace('"episodes": 2', '"episodes": 2, "marker": 1'))
    assert evaluate_campaign.main(["--campaign", "t", "--episodes", "2", "--out", str(out)]) == 0
    assert '"marker": 1' in task_file.read_text()  # measured already: skipped
    assert evaluate_campaign.main(["--campaign", "t", "--episodes", "2", "--out", str(out), "--again",
                                   "--variants", "SAC"]) == 0
    assert json.loads(task_file.read_text()) == task  # measured again: the same episodes, the same numbers
