"""docs/custom_envs.md: every command it shows runs (with fewer epochs, cycles and episodes)."""

import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow
DOC = REPO / "docs" / "custom_envs.md"
# Appended to the doc's commands (argparse keeps the last value of an option).
SMALLER = {
    "music.train": ["--n_epochs", "1", "--n_cycles", "2", "--param", "n_batches=2", "--param", "n_test_rollouts=1",
                    "--param", "batch_size=32", "--progress", "off"],
    "music.evaluate": ["--episodes", "3"],
    "music.plot": [],
}


def doc_commands() -> list[list[str]]:
    blocks = re.findall(r"```bash\n(.*?)```", DOC.read_text(), flags=re.S)
    return [shlex.split(line) for block in blocks for line in block.splitlines() if line.startswith(".venv/")]


def test_the_tutorial_commands_run_and_write_what_it_describes(tmp_path):
    commands = doc_commands()
    assert len(commands) >= 6
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    for command in commands:
        assert command[:2] == [".venv/bin/python", "-m"], command
        module = command[2]
        args = [a.replace("logs/", f"{tmp_path}/logs/") for a in command[3:]]
        proc = subprocess.run([sys.executable, "-m", module, *args, *SMALLER[module]], capture_output=True, text=True,
                              timeout=600, cwd=REPO, env=env)
        assert proc.returncode == 0, f"{' '.join(command)}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    logs = tmp_path / "logs"
    testpush = json.loads((logs / "testpush" / "seed0" / "params.json").read_text())
    assert (testpush["agent_obs"], testpush["surrounding_obs"]) == ("0:2", "2:4")
    hand = json.loads((logs / "hand" / "seed0" / "params.json").read_text())
    assert (hand["agent_obs"], hand["surrounding_obs"], hand["T"]) == ("0:24", "54:57", 100)
    header = (logs / "hand" / "seed0" / "progress.csv").read_text().splitlines()[0].split(",")
    assert {"mi_reward/mean", "train/object_displacement", "train/object_lift"} <= set(header)
    pusher = json.loads((logs / "pusher" / "seed0" / "params.json").read_text())
    assert (pusher["env_name"], pusher["T"], pusher["r_scale"]) == ("vector:Pusher-v5", 100, 0)
    assert (logs / "pointpush" / "displacement.png").exists() and (logs / "pointpush" / "mi_reward.pdf").exists()
