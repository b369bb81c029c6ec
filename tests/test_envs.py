"""Fetch environments: v1 aliases, Zero goals, seeding, observation layout."""

import numpy as np
import pytest

from music.envs import UnknownEnvError, canonical_env_name, episode_length, make_env, observation_split, set_goal


def test_v1_names_are_aliases_of_v4_announced_once(capsys):
    assert canonical_env_name("FetchPush-v1") == "FetchPush-v4"
    env = make_env("FetchSlide-v1")
    make_env("FetchSlide-v1")
    assert capsys.readouterr().out.count("FetchSlide-v1 -> FetchSlide-v4") == 1
    assert env.spec.id == "FetchSlide-v4" and episode_length(env) == 50


def test_unknown_env_lists_supported_ones():
    with pytest.raises(UnknownEnvError, match=r"unknown env 'HalfCheetah-v4'; supported: .*FetchPickAndPlace-v4"):
        make_env("HalfCheetah-v4")


@pytest.mark.parametrize("name", ["FetchPush-v4", "FetchPickAndPlace-v4", "FetchSlide-v4"])
def test_object_tasks_split_grip_and_object_position(name):
    env = make_env(name)
    obs, _ = env.reset(seed=3)
    split = observation_split(name, obs["observation"].shape[0])
    grip = obs["observation"][split.agent]
    obj = obs["observation"][split.surrounding]
    np.testing.assert_allclose(obj, obs["achieved_goal"])  # achieved goal is the object position
    np.testing.assert_allclose(obs["observation"][6:9], obj - grip, atol=1e-6)  # object_rel_pos
    u = env.action_space.sample()
    assert env.action_space.shape == (4,) and np.all(env.action_space.high == 1)
    rewards = env.unwrapped.compute_reward(np.zeros((5, 3)), np.full((5, 3), 0.01), None)
    assert rewards.shape == (5,) and np.all(rewards == 0)
    env.step(u)


def test_reach_has_no_split():
    with pytest.raises(ValueError, match="FetchReach-v4 has no agent/surrounding split"):
        observation_split("FetchReach-v4")


def test_zero_goal_generation_and_seeding():
    a, b = make_env("FetchPush-v1"), make_env("FetchPush-v1")
    oa, _ = a.reset(seed=7)
    ob, _ = b.reset(seed=7)
    np.testing.assert_array_equal(oa["observation"], ob["observation"])
    set_goal(a, np.zeros(3))
    obs, reward, *_ = a.step(np.zeros(4))
    np.testing.assert_array_equal(obs["desired_goal"], np.zeros(3))
    assert reward == -1.0  # the object is far from the origin
