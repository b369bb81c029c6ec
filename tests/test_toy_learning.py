"""MUSIC alone moves the toy object far more than an untrained policy: a CI-size check.

The measured claim (docs/custom_envs.md, experiments/results/toy_push/) is on
MusicPointPush-v0, where learning shows after about 20 epochs (200 s on one core). Here the
same task starts the object near the agent (tests/toy_near_module.py), so that MINE sees
contacts in the first episodes and a few epochs suffice; the policy is trained end to end
by ``music.train`` (intrinsic reward only) and measured as the campaign measures: train-mode
episodes (exploration noise, Zero goals), object displacement, against the untrained policy
of the same seed.
"""

import os
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow
ENV = "tests.toy_near_module:NearPush-v0"
PARAMS = REPO / "music" / "params" / "MusicPointPush-v0" / "SAC+MUSIC.json"
EPISODES = 20


def displacement(policy, seed: int) -> float:
    from music.evaluate import evaluate_policy

    return evaluate_policy(policy, EPISODES, seed, "train")["object_displacement_mean"]


def test_music_moves_the_object_far_more_than_an_untrained_policy(tmp_path, monkeypatch):
    logdir = tmp_path / "run"
    cmd = [sys.executable, "-m", "music.train", "--env_name", ENV, "--params_file", str(PARAMS),
           "--param", 'agent_obs="0:2"', "--param", 'surrounding_obs="2:4"', "--n_epochs", "8", "--n_cycles", "10",
           "--seed", "0", "--logdir", str(logdir), "--progress", "off"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]

    monkeypatch.chdir(REPO)  # the env's entry point module is found from the repository
    monkeypatch.syspath_prepend(str(REPO))
    from music.config import configure_dims, default_params, load_params_file
    from music.ddpg import configure_ddpg
    from music.envs import episode_length, make_env
    from music.policy_files import load_policy

    trained = displacement(load_policy(logdir / "policy_latest.pkl"), seed=0)
    params = default_params()
    params.update(load_params_file(PARAMS))
    params.update(env_name=ENV, note="SAC+MUSIC", load_weight=None, agent_obs="0:2", surrounding_obs="2:4")
    env = make_env(ENV)
    params["T"] = episode_length(env)
    untrained = displacement(configure_ddpg(configure_dims(env), params, env, seed=0), seed=0)
    print(f"train-mode object displacement: trained {trained:.3f}, untrained {untrained:.3f}")
    # Measured on a 2-core AMD EPYC, 20 train-mode episodes: untrained 0.009 and 0.023 (seeds
    # 0, 1); trained 0.11 and 0.27 after 6 epochs (seeds 2, 1), 0.32 after 10 (seed 0). Another
    # CPU kind rounds differently and follows another course from the same seed, hence margins.
    assert trained > 0.08, (trained, untrained)
    assert trained > 4 * untrained, (trained, untrained)
