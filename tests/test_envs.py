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


def test_unknown_or_not_goal_conditioned_envs_are_named():
    with pytest.raises(UnknownEnvError, match=r"unknown env 'FetchPull-v1': not a registered gymnasium id \(known "
                                              r"tasks: .*FetchPickAndPlace-v4"):
        make_env("FetchPull-v1")
    with pytest.raises(UnknownEnvError, match=r"HalfCheetah-v4 is not goal-conditioned \(its observations are Box"):
        make_env("HalfCheetah-v4")
    with pytest.raises(UnknownEnvError, match=r"cannot import module 'no_such_module'"):
        make_env("no_such_module:Thing-v0")


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


# ---------------------------------------------------------------- the declared split (docs/custom_envs.md)
@pytest.mark.parametrize("agent, surrounding, message", [
    ((), (3,), "the agent part of the split is empty"),
    ((0, 1), (7, 8), r"the surrounding part names entries \[8\] outside the observation of 8 floats"),
    ((0, 1, 2), (2, 3), r"agent and surrounding overlap at entries \[2\]"),
    ((0, 0), (3,), r"the agent part names an entry twice: \[0, 0\]"),
])
def test_a_split_that_does_not_fit_the_observation_is_refused_by_name(agent, surrounding, message):
    from music.envs import ObservationSplit, SplitError

    with pytest.raises(SplitError, match=message):
        ObservationSplit(8, agent, surrounding)


def test_split_entries_parse_from_text_or_lists_and_contiguous_ones_become_slices():
    from music.envs import ObservationSplit, SplitError, parse_indices, take

    assert parse_indices("0:3") == (0, 1, 2) and parse_indices("0:2, 7") == (0, 1, 7)
    assert parse_indices([4, 1]) == (4, 1) and parse_indices("5") == (5,)
    for bad in ("3:1", "a:b", "", [1.5], True, None):
        with pytest.raises(SplitError):
            parse_indices(bad, "agent_obs")
    split = ObservationSplit(10, (2, 3, 4), (9, 6))
    assert split.agent == slice(2, 5) and split.surrounding == (9, 6) and split.dim_surrounding == 2
    o = np.arange(20.0).reshape(2, 10)
    np.testing.assert_array_equal(take(o, split.surrounding), o[:, [9, 6]])
    import tensorflow as tf

    import music.tf_util  # noqa: F401  (TF's thread counts are set before its first op)

    np.testing.assert_array_equal(take(tf.constant(o), split.surrounding).numpy(), o[:, [9, 6]])


def test_an_env_without_a_registered_split_asks_for_one():
    from music.envs import SplitError

    with pytest.raises(SplitError, match=r"HandManipulateBlock-v1 has no registered agent/surrounding split: declare"
                                         r" .*agent_obs.*surrounding_obs"):
        observation_split("HandManipulateBlock-v1", 61)
    with pytest.raises(SplitError, match="agent_obs and surrounding_obs are declared together; surrounding_obs is"):
        observation_split("HandManipulateBlock-v1", 61, agent_obs="0:24")


# ---------------------------------------------------------------- MusicPointPush-v0 (music/toy_env.py)
def test_point_push_is_a_goal_env_whose_agent_pushes_the_object():
    from music.toy_env import AGENT_RADIUS, OBJECT_RADIUS

    env = make_env("MusicPointPush-v0")
    assert episode_length(env) == 50 and env.action_space.shape == (2,)
    obs, _ = env.reset(seed=0)
    split = observation_split("MusicPointPush-v0", obs["observation"].shape[0])
    agent, obj = obs["observation"][split.agent], obs["observation"][split.surrounding]
    np.testing.assert_array_equal(obj, obs["achieved_goal"])
    assert 0.15 - 1e-9 <= np.linalg.norm(obj - agent) <= 0.30 + 1e-9
    # walk straight at the object: it does not move until contact, then keeps just ahead of the agent
    toward = (obj - agent) / np.linalg.norm(obj - agent)
    moved = []
    for _ in range(12):
        obs, reward, *_ = env.step(toward)
        moved.append(np.linalg.norm(obs["achieved_goal"] - obj))
        gap = np.linalg.norm(obs["observation"][2:4] - obs["observation"][0:2])
        assert gap >= AGENT_RADIUS + OBJECT_RADIUS - 1e-9
    assert moved[0] == 0.0 and moved[-1] > 0.1
    np.testing.assert_allclose(obs["observation"][4:6], obs["observation"][2:4] - obs["observation"][0:2])
    goals = np.array([[0.5, 0.5], [0.9, 0.9]])
    np.testing.assert_array_equal(env.unwrapped.compute_reward(np.array([[0.52, 0.5], [0.5, 0.5]]), goals, None),
                                  [0.0, -1.0])


def test_point_push_seeds_and_renders():
    a, b = make_env("MusicPointPush-v0"), make_env("MusicPointPush-v0", render_mode="rgb_array", frame_size=64)
    oa, _ = a.reset(seed=4)
    ob, _ = b.reset(seed=4)
    np.testing.assert_array_equal(oa["observation"], ob["observation"])
    frame = b.render()
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8 and len(np.unique(frame.reshape(-1, 3), axis=0)) > 2


def test_point_push_object_distance_sets_where_the_object_starts():
    from music.toy_env import PointPushEnv

    env = PointPushEnv(object_distance=(0.07, 0.12))
    gaps = []
    for seed in range(200):
        obs, _ = env.reset(seed=seed)
        gaps.append(np.linalg.norm(obs["observation"][4:6]))
    # clipping to the table can only bring the object closer, never into contact
    assert 0.06 <= min(gaps) and max(gaps) <= 0.12 + 1e-9 and np.median(gaps) > 0.08
    # the default keeps the draws of the measured runs: agent, angle, distance in [0.15, 0.30]
    from gymnasium.utils import seeding

    rng, _ = seeding.np_random(3)
    agent, angle, distance = rng.uniform(0.25, 0.75, 2), rng.uniform(0.0, 2.0 * np.pi), rng.uniform(0.15, 0.30)
    expected = np.clip(agent + distance * np.array([np.cos(angle), np.sin(angle)]), 0.04, 0.96)
    np.testing.assert_array_equal(PointPushEnv().reset(seed=3)[0]["observation"][2:4], expected)
    with pytest.raises(ValueError, match=r"object_distance \(0.05, 0.1\) must be \(low, high\) with 0.06 <= low"):
        PointPushEnv(object_distance=(0.05, 0.1))


def test_vector_envs_train_as_goal_envs_without_a_goal():
    env = make_env("vector:Pusher-v5")
    obs, _ = env.reset(seed=1)
    assert obs["observation"].shape == (23,) and obs["desired_goal"].shape == (1,)
    assert episode_length(env) == 100 and env.action_space.shape == (7,)
    split = observation_split("vector:Pusher-v5", 23)
    before = obs["observation"][split.surrounding].copy()
    np.testing.assert_allclose(before, env.env.unwrapped.get_body_com("object"))  # the object's position
    obs, reward, terminated, truncated, info = env.step(np.zeros(7))
    assert (reward, terminated, info["is_success"]) == (0.0, False, 0.0)
    np.testing.assert_array_equal(env.unwrapped.compute_reward(np.zeros((4, 1)), np.ones((4, 1)), None), np.zeros(4))
    set_goal(env, np.zeros(1))  # Zero goal generation
    with pytest.raises(UnknownEnvError, match="train it as --env_name vector:Pusher-v5"):
        make_env("Pusher-v5")
