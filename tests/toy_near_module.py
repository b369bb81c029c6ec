"""The toy push task with the object starting near the agent, for a CI-size test of MUSIC
(tests/test_toy_learning.py): MINE sees contacts from the first episodes on, so learning
shows within minutes. Importable as an entry point: ``--env_name tests.toy_near_module:NearPush-v0``."""

import gymnasium

from music.toy_env import PointPushEnv

if "NearPush-v0" not in gymnasium.registry:
    gymnasium.register("NearPush-v0", entry_point=PointPushEnv, max_episode_steps=50,
                       kwargs={"object_distance": (0.07, 0.12)})
