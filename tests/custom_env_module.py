"""A module that registers a goal environment, as a user's own would (docs/custom_envs.md):
the toy push task again, under a name without a registered split."""

import gymnasium

from music.toy_env import PointPushEnv

if "TestPush-v0" not in gymnasium.registry:
    gymnasium.register("TestPush-v0", entry_point=PointPushEnv, max_episode_steps=20)
