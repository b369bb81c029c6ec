"""Rendering in a helper process: frames follow the simulator state of the env in this process."""

import numpy as np
import pytest

from music.envs import make_env
from music.render import SubprocessRenderer

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
