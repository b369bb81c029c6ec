"""MusicPointPush-v0: a point agent that can push a disk on a square table; pure numpy, no MuJoCo.

A goal environment of our own for tests, tutorials and quick experiments with MUSIC
(docs/custom_envs.md). The agent is a point (radius ``AGENT_RADIUS``) moved by its 2-D
action, ``STEP`` per unit of action and step; the object is a disk (``OBJECT_RADIUS``) that
moves only when the agent runs into it, pushed straight away from the agent until they
just touch; an object against an edge of the table [0, 1]^2 stops the agent. Both stay on
the table. The object starts 0.15-0.30 from the agent (``object_distance``),
so an agent that does not seek it rarely touches it.

Observation, 8 floats: agent_pos 0:2, object_pos 2:4, object_rel_pos 4:6 (object - agent),
agent_vel 6:8 (this step's move). achieved_goal = object_pos; the desired goal is a point
of the table; the sparse reward is 0 within ``DISTANCE_THRESHOLD`` of it, else -1, as the
Fetch tasks'. Registered as ``MusicPointPush-v0`` with 50 steps per episode; its split
(agent_pos | object_pos) is registered in ``music.envs.KNOWN_SPLITS``.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

STEP = 0.04  # how far a unit action moves the agent in one step
AGENT_RADIUS = 0.02
OBJECT_RADIUS = 0.04
DISTANCE_THRESHOLD = 0.05
TABLE = (0.0, 1.0)


class PointPushEnv(gym.Env):
    """See the module docstring. ``render_mode='rgb_array'`` draws the table from above."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(self, render_mode: str | None = None, width: int = 500, height: int = 500,
                 object_distance: tuple[float, float] = (0.15, 0.30)):
        low, high = object_distance
        if not AGENT_RADIUS + OBJECT_RADIUS <= low <= high:
            raise ValueError(f"object_distance {object_distance} must be (low, high) with "
                             f"{AGENT_RADIUS + OBJECT_RADIUS} <= low <= high (the object starts clear of the agent)")
        self.object_distance = (float(low), float(high))
        self.render_mode = render_mode
        self.width, self.height = width, height
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        box = spaces.Box(-np.inf, np.inf, (2,), np.float64)
        self.observation_space = spaces.Dict({
            "observation": spaces.Box(-np.inf, np.inf, (8,), np.float64),
            "achieved_goal": box, "desired_goal": box,
        })
        self.agent = np.zeros(2)
        self.object = np.zeros(2)
        self.velocity = np.zeros(2)
        self.goal = np.zeros(2)

    def _obs(self) -> dict[str, np.ndarray]:
        observation = np.concatenate([self.agent, self.object, self.object - self.agent, self.velocity])
        return {"observation": observation, "achieved_goal": self.object.copy(), "desired_goal": self.goal.copy()}

    def compute_reward(self, achieved_goal, desired_goal, info) -> np.ndarray:
        """0 where the object is within DISTANCE_THRESHOLD of the goal, else -1 (batched on the last axis)."""
        distance = np.linalg.norm(np.asarray(achieved_goal) - np.asarray(desired_goal), axis=-1)
        return -(distance > DISTANCE_THRESHOLD).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        self.agent = rng.uniform(0.25, 0.75, 2)
        angle = rng.uniform(0.0, 2.0 * np.pi)
        distance = rng.uniform(*self.object_distance)
        low, high = TABLE[0] + OBJECT_RADIUS, TABLE[1] - OBJECT_RADIUS
        self.object = np.clip(self.agent + distance * np.array([np.cos(angle), np.sin(angle)]), low, high)
        self.goal = rng.uniform(low, high, 2)
        self.velocity = np.zeros(2)
        return self._obs(), {}

    def step(self, action):
        action = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)
        before = self.agent.copy()
        self.agent = np.clip(self.agent + STEP * action, TABLE[0] + AGENT_RADIUS, TABLE[1] - AGENT_RADIUS)
        offset = self.object - self.agent
        gap = np.linalg.norm(offset)
        contact = AGENT_RADIUS + OBJECT_RADIUS
        if gap < contact:
            # pushed straight away from the agent until they just touch (along the move if they coincide)
            direction = offset / gap if gap > 1e-9 else (self.agent - before) / max(np.linalg.norm(self.agent - before),
                                                                                   1e-9)
            low, high = TABLE[0] + OBJECT_RADIUS, TABLE[1] - OBJECT_RADIUS
            self.object = np.clip(self.agent + contact * direction, low, high)
            if np.linalg.norm(self.object - self.agent) < contact:  # the object is against an edge: it stops the agent
                self.agent = self.object - contact * direction
        self.velocity = self.agent - before
        obs = self._obs()
        success = float(self.compute_reward(obs["achieved_goal"], self.goal, None) == 0.0)
        return obs, success - 1.0, False, False, {"is_success": success}

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        image = np.full((self.height, self.width, 3), 235, np.uint8)
        ys, xs = np.mgrid[0:self.height, 0:self.width]
        # table coordinates of every pixel (y up)
        px, py = (xs + 0.5) / self.width, 1.0 - (ys + 0.5) / self.height
        for centre, radius, colour in ((self.goal, DISTANCE_THRESHOLD, (150, 220, 150)),
                                       (self.object, OBJECT_RADIUS, (200, 60, 50)),
                                       (self.agent, AGENT_RADIUS * 1.5, (40, 80, 200))):
            image[(px - centre[0]) ** 2 + (py - centre[1]) ** 2 <= radius**2] = colour
        return image
