"""Rendering in a helper process: frames follow the simulator state of the env in this process;
envs without a simulator draw themselves."""

import numpy as np
import pytest

from music.envs import make_env
from music.render import SelfRenderer, SubprocessRenderer, make_renderer

pytestmark = pytest.mark.slow


def test_frames_follow_the_state_of_the_env_being_rolled_out():
    env = make_env("FetchPush-v4")
    env.reset(seed=0)
    renderer = SubprocessRenderer("FetchPush-v4")
    try:
        first = renderer.render(env)
        again = renderer.render(env)
        assert first.shape == (500, 500, 3) and first.dtype == np.uint8 and first.std() > 1
        np.testing.assert_array_equal(first, again)
        for _ in range(10):
            env.step(np.array([1.0, 0.0, 1.0, 0.0]))  # the arm moves
        moved = renderer.render(env)
        assert np.mean(moved != first) > 0.001
        env.reset(seed=0)
        np.testing.assert_array_equal(renderer.render(env), first)  # same state, same picture
    finally:
        renderer.close()


def test_a_renderer_that_cannot_start_says_so():
    with pytest.raises(RuntimeError, match="renderer for NoSuchEnv-v0 failed to start: UnknownEnvError"):
        SubprocessRenderer("NoSuchEnv-v0")


def test_an_env_without_a_simulator_draws_itself_and_frames_follow_it():
    env = make_env("MusicPointPush-v0")  # as rollout workers make them: no render mode
    renderer = make_renderer("MusicPointPush-v0", env)
    assert isinstance(renderer, SelfRenderer)
    env.reset(seed=0)
    first = renderer.render(env)
    assert first.shape == (500, 500, 3) and first.dtype == np.uint8 and len(np.unique(first.reshape(-1, 3), axis=0)) > 2
    for _ in range(5):
        env.step(np.array([1.0, 0.0]))
    assert np.mean(renderer.render(env) != first) > 0.0005  # the agent moved
    env.reset(seed=0)
    np.testing.assert_array_equal(renderer.render(env), first)
    fetch = make_renderer("FetchPush-v4", make_env("FetchPush-v4"))
    try:
        assert isinstance(fetch, SubprocessRenderer)
    finally:
        fetch.close()
