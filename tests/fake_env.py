"""A tiny goal environment in numpy with the Fetch object tasks' interface, for fast loop tests.

Observations have the Fetch layout (25 floats: gripper position 0:3, object position 3:6,
the rest zeros); the gripper moves by 0.05 * action[:3] per step and carries the object
along while they are within 5 cm. Goals, rewards and ``is_success`` as Fetch's.
"""

from types import SimpleNamespace

import numpy as np


class FakeGoalEnv:
    def __init__(self, T: int = 10):
        self.spec = SimpleNamespace(max_episode_steps=T)
        self.np_random = np.random.default_rng()
        self.goal = np.zeros(3)
        self.grip = np.zeros(3)
        self.object = np.zeros(3)

    @property
    def unwrapped(self):
        return self

    def _obs(self) -> dict:
        observation = np.zeros(25)
        observation[0:3], observation[3:6] = self.grip, self.object
        return {"observation": observation, "achieved_goal": self.object.copy(), "desired_goal": self.goal.copy()}

    def reset(self, seed: int | None = None):
        if seed is not None:
            self.np_random = np.random.default_rng(seed)
        self.grip = np.array([1.3, 0.75, 0.45])
        self.object = self.grip + np.append(self.np_random.uniform(-0.1, 0.1, 2), -0.02)
        self.goal = self.grip + np.append(self.np_random.uniform(-0.1, 0.1, 2), -0.02)
        return self._obs(), {}

    def compute_reward(self, achieved_goal, goal, info):
        return -(np.linalg.norm(np.asarray(achieved_goal) - goal, axis=-1) > 0.05).astype(np.float32)

    def step(self, action):
        action = np.clip(np.asarray(action, dtype=np.float64), -1, 1)
        carried = np.linalg.norm(self.grip - self.object) < 0.05
        self.grip = self.grip + 0.05 * action[:3]
        if carried:
            self.object = self.object + 0.05 * action[:3]
        obs = self._obs()
        success = float(self.compute_reward(obs["achieved_goal"], self.goal, None) == 0)
        return obs, success - 1.0, False, False, {"is_success": success}
