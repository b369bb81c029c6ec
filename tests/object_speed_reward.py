"""The worked example of docs/architecture.md: a toy intrinsic reward, "object speed".

The reward of a transition is how far the object moved in it, ||y_t+1 - y_t|| over the
surrounding entries y of the observation split (object_pos on the Fetch tasks). It has no
network, so it neither trains nor has an optimizer. Not a variant: tests train with it.

Adding it to the agent is this module plus one row of the reward table and one Params field
for its scale (``speed_r_scale``), as ``SPEED_ROW`` and ``SpeedParams`` show.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from music.config import Params
from music.envs import take
from music.rewards import RewardTerm


class ObjectSpeed:
    """The intrinsic-reward interface of ``music.mine.Mine``, for a reward without a network."""

    optimizer_name = None
    adam = None
    named_variables: dict = {}

    def __init__(self, split):
        self.split = split

    def reward(self, transitions, rng: np.random.Generator) -> np.ndarray:
        moved = take(transitions.o_2, self.split.surrounding) - take(transitions.o, self.split.surrounding)
        return np.linalg.norm(moved, axis=-1)

    @staticmethod
    def wants_training(params, scale: float) -> bool:
        return False

    def graphs(self) -> dict:
        return {}


def build(split, dimz, params, rng, comm=None) -> ObjectSpeed:
    return ObjectSpeed(split)


# The row: raw value in batch column "v", scaled by speed_r_scale and clipped to [0, 1]
# (a few centimetres a step already earn the whole reward at the default scale of 50).
SPEED_ROW = RewardTerm("speed_reward", "speed_r_history", "v", "speed_r_scale", "v_w", (0.0, 1.0), make=build)

# The Params field (in music/config.py this is one more line of Params).
SpeedParams = dataclasses.make_dataclass("SpeedParams", [("speed_r_scale", float, dataclasses.field(default=50.0))],
                                         bases=(Params,))
