"""Rollout worker: episode shapes, Zero goals, exploration, statistics, NaN retries."""

import numpy as np
import pytest

from music.envs import make_env
from music.rollout import RolloutError, RolloutWorker

from conftest import make_agent

DIMS = dict(o=25, z=1, g=3, u=4, info_is_success=1)


@pytest.fixture(scope="module")
def agent():
    return make_agent(hidden=16)


def worker(agent, **kw):
    kw.setdefault("env_name", "FetchPush-v1")
    w = RolloutWorker(lambda: make_env("FetchPush-v1"), agent, DIMS, T=50, rollout_batch_size=2, **kw)
    w.seed(0)
    return w


def test_episode_shapes_and_zero_goals(agent):
    w = worker(agent, noise_eps=0.2, random_eps=0.3)
    ep = w.generate_rollouts(generated_goal=np.zeros((2, 3)), z_s_onehot=np.ones((2, 1)))
    shapes = {k: v.shape for k, v in ep.items()}
    assert shapes == {"o": (2, 51, 25), "ag": (2, 51, 3), "g": (2, 50, 3), "u": (2, 50, 4), "z": (2, 50, 1),
                      "info_is_success": (2, 50, 1)}
    assert not ep["g"].any()  # Zero goal generation
    assert np.all(np.abs(ep["u"]) <= 1)
    np.testing.assert_array_equal(ep["ag"], ep["o"][..., 3:6])  # achieved goal = object position
    # with Zero goals the object is never at the goal
    assert not ep["info_is_success"].any()
    assert w.n_episodes == 2


def test_env_goals_and_seeding_make_runs_repeatable(agent):
    a = worker(agent, exploit=True).generate_rollouts()
    b = worker(agent, exploit=True).generate_rollouts()
    np.testing.assert_array_equal(a["o"], b["o"])
    assert np.all(np.linalg.norm(a["g"][:, 0], axis=-1) > 0.5)  # env goals near the table, not zeros
    assert not np.array_equal(a["o"][0, 0], a["o"][1, 0])  # env i seeded seed + 1000 i


def test_logs_report_success_q_and_object_motion(agent):
    w = worker(agent, exploit=True, compute_Q=True)
    ep = w.generate_rollouts()
    logs = dict(w.logs("test"))
    assert set(logs) == {"test/success_rate", "test/mean_Q", "test/episode", "test/object_displacement",
                         "test/object_lift"}
    moved = np.linalg.norm(ep["o"][:, -1, 3:6] - ep["o"][:, 0, 3:6], axis=-1).mean()
    assert logs["test/object_displacement"] == pytest.approx(moved)
    assert logs["test/episode"] == 2 and np.isfinite(logs["test/mean_Q"])


def test_nan_observations_are_retried_then_refused(agent, caplog):
    class NaNEnv:
        def __init__(self):
            self.env = make_env("FetchPush-v1")
            self.calls = 0

        def reset(self, seed=None):
            return self.env.reset(seed=seed)

        def step(self, u):
            obs, r, term, trunc, info = self.env.step(u)
            obs = {**obs, "observation": obs["observation"] * np.nan}
            return obs, r, term, trunc, info

    w = RolloutWorker(NaNEnv, agent, DIMS, T=5, rollout_batch_size=1, max_nan_retries=2, env_name="FetchPush-v1")
    with pytest.raises(RolloutError, match="NaN observations in 3 rollouts in a row"):
        w.generate_rollouts()
    assert w.nan_retries == 3
    assert "NaN caught during rollout generation" in caplog.text


@pytest.mark.parametrize("mode, greedy, goals", [("test", True, "Env"), ("train", False, "Zero"),
                                                 ("play", True, "Zero")])
def test_evaluate_modes_set_exploration_and_goals_as_the_originals_logs_and_play(agent, mode, greedy, goals):
    # play is the original's play.py: greedy, with the goals of training (Zero for MUSIC)
    from music.evaluate import evaluate_policy

    seen = []
    act = agent.get_actions

    def spy(o, z, ag, g, noise_eps=0.0, random_eps=0.0, **kw):
        seen.append((noise_eps, random_eps, bool(np.any(g))))
        return act(o, z, ag, g, noise_eps=noise_eps, random_eps=random_eps, **kw)

    agent.get_actions = spy
    try:
        summary = evaluate_policy(agent, 1, seed=3, mode=mode)
    finally:
        del agent.get_actions
    assert summary["goals"] == goals and len(seen) == 50
    exploration = {(n, r) for n, r, _ in seen}
    assert exploration == ({(0.0, 0.0)} if greedy else {(agent.params.noise_eps, agent.params.random_eps)})
    assert all(nonzero_goal == (goals == "Env") for _, _, nonzero_goal in seen)
    with pytest.raises(ValueError, match="mode 'greedy': expected one of test, train, play"):
        evaluate_policy(agent, 1, mode="greedy")
