"""experiments/policy_clip.py: the clip shows every episode played, and says how far the object moved."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


def test_a_clip_of_the_toy_task_holds_every_episode_and_the_objects_motion(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    run = tmp_path / "run"
    train = [sys.executable, "-m", "music.train", "--env_name", "MusicPointPush-v0", "--note", "SAC+MUSIC",
             "--n_epochs", "1", "--n_cycles", "1", "--param", "n_batches=1", "--param", "n_test_rollouts=1",
             "--logdir", str(run), "--progress", "off"]
    assert subprocess.run(train, capture_output=True, cwd=REPO, env=env, timeout=600).returncode == 0
    out = tmp_path / "clips" / "toy"
    proc = subprocess.run([sys.executable, "experiments/policy_clip.py", str(run / "policy_latest.pkl"), "--out",
                           str(out), "--episodes", "2", "--every", "5", "--shrink", "4"],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    facts = json.loads(out.with_suffix(".json").read_text())
    import imageio.v3 as iio

    frames = iio.imread(out.with_suffix(".gif"))
    # 2 episodes of 50 frames (one per step, as training videos), every 5th: 10 each; 500 / 4 pixels
    assert frames.shape[:3] == (20, 125, 125) and facts["frames"] == 20
    assert facts["episodes"] == 2 and len(facts["object_moved"]) == 2
    assert all(m >= 0 for m in facts["object_moved"]) and facts["mode"] == "train"
    assert "object_lift" not in facts and "object_fell" not in facts  # a point on a plane: no height
    assert not np.array_equal(frames[0], frames[-1])  # the agent moved


def test_a_missing_policy_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "experiments/policy_clip.py", str(tmp_path / "nope.pkl"), "--out",
                           str(tmp_path / "x")], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "does not exist; give a policy_*.pkl" in proc.stderr
    assert "Traceback" not in proc.stderr
