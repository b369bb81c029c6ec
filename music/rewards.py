"""The reward terms of the critic target, as one table (docs/algorithm.md §3).

The critic's target is the sum, in table order, of one term per row plus the discounted
target Q. Each term is

    (clip(scale * value, low, high) - offset_while_on * [scale != 0]) * weight

where ``value`` is the raw reward of a transition (a batch column, or for the entropy the
actor's -log pi computed in the training graph), ``scale`` a ``Params`` field and
``weight`` an entry of the training step's weight vector (a schedule of the epoch, or 1).
The same row and the same formula (``term``) give the TF target and the numpy reward
histories that ``progress.csv`` averages (``mi_reward/mean`` ...): only the array library
differs (``TF``, ``NUMPY``).

Adding an intrinsic reward is one row here, one ``Params`` field for its scale, and the module
that scores it (docs/architecture.md, "Adding an intrinsic reward: a worked example").
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from music import mine, skill


class RewardTerm(NamedTuple):
    """One row of the reward table."""

    log_name: str  # progress.csv columns <log_name>/mean, /std, /max, /min
    history_key: str  # the key of its recent values in checkpoints
    batch_key: str | None  # the training batch column of its raw value; None: the actor's -log pi,
    #                        computed in the graph
    scale: str  # the Params field scaling it
    weight: str  # its key in the weight vector; its value is the Transitions field of that name
    #              (a schedule of the epoch: m_w, e_w) if there is one, else 1
    clip: tuple[float, float] | None  # bounds of the scaled value, if clipped
    offset_while_on: float = 0.0  # subtracted while its scale is not 0 (MI: the reward is in [-1, 0])
    scale_is_input: bool = False  # the scale is a graph input, not a constant: the loop's current MI
    #                               scale (0 from mi_end_epoch on; DDPG.current_scales)
    estimate_log: str | None = None  # the column logging its network's training estimate
    make: Callable | None = None  # builds the intrinsic reward that scores it: (split, dimz, params,
    #                              rng, comm) -> an object with ``music.mine.Mine``'s interface; None:
    #                              the raw value is the Transitions field of its batch key (the task's r)


# In the order the critic target sums them (the original's), which the float32 target depends on.
# The intrinsic rewards are built in this order too, which fixes the draws of their initial weights.
REWARD_TERMS = (
    RewardTerm("gl_reward", "gl_r_history", "r", "r_scale", "r_w", None),
    RewardTerm("mi_reward", "mi_r_history", "m", "mi_r_scale", "m_w", (0.0, 1.0), offset_while_on=1.0,
               scale_is_input=True, estimate_log="mi_train/-neg_l", make=mine.build),
    RewardTerm("sk_reward", "sk_r_history", "s", "sk_r_scale", "s_w", (-1.0, 0.0), make=skill.build),
    RewardTerm("et_reward", "et_r_history", None, "et_r_scale", "e_w", (-1.0, 0.0)),
)


def weight_keys(terms=REWARD_TERMS) -> tuple[str, ...]:
    """The scalar inputs of the training step, in the order of its weight vector: each term's
    weight, then the scales that are graph inputs."""
    return tuple(row.weight for row in terms) + tuple(row.scale for row in terms if row.scale_is_input)


WEIGHT_KEYS = weight_keys()

# The order of the reward columns in progress.csv (the original's).
LOG_ORDER = ("mi_reward", "sk_reward", "et_reward", "gl_reward")


class ArrayOps(NamedTuple):
    """The two operations a term needs, in one array library."""

    clip: object  # (x, low, high) -> x clipped
    is_on: object  # scale -> 1.0 if scale != 0 else 0.0


NUMPY = ArrayOps(np.clip, lambda scale: 1.0 if scale != 0 else 0.0)
TF = ArrayOps(tf.clip_by_value, lambda scale: tf.cast(tf.not_equal(scale, 0.0), tf.float32))


def term(row: RewardTerm, value, scale, weight, ops: ArrayOps):
    """The term of ``row`` for raw rewards ``value`` (the formula of this module's docstring).

    Clip and offset are left out where the row has none, rather than applied as no-ops, so
    that the float operations are exactly the original's.
    """
    scaled = scale * value
    if row.clip is not None:
        scaled = ops.clip(scaled, *row.clip)
    if row.offset_while_on:
        scaled = scaled - row.offset_while_on * ops.is_on(scale)
    return scaled * weight


def log_order(terms=REWARD_TERMS) -> list[RewardTerm]:
    """The rows in the order progress.csv lists their columns: the original's four, then any other."""
    ranked = {name: i for i, name in enumerate(LOG_ORDER)}
    return sorted(terms, key=lambda row: ranked.get(row.log_name, len(ranked)))


class RewardHistories:
    """The most recent per-transition value of each reward term, which the logs average.

    One deque per row of the table, filled with ``term`` of the sampled transitions (the
    entropy: of the training step's -log pi).
    """

    def __init__(self, maxlen: int, terms=REWARD_TERMS):
        self.terms = {row.log_name: row for row in terms}
        self.values: dict[str, deque] = {row.log_name: deque(maxlen=maxlen) for row in terms}

    def record(self, log_name: str, values) -> None:
        self.values[log_name].extend(np.asarray(values).tolist())

    def state_dict(self) -> dict[str, np.ndarray]:
        return {row.history_key: np.asarray(self.values[name], dtype=np.float64) for name, row in self.terms.items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for name, values in self.values.items():
            values.clear()
            values.extend(np.asarray(state[self.terms[name].history_key]).tolist())

    def stats(self, log_name: str) -> list[tuple[str, float]]:
        """mean, std, max and min of one term's recent values (NaN before the first batch)."""
        values = np.asarray(self.values[log_name] or [np.nan], dtype=np.float64)
        return [(f"{log_name}/mean", np.mean(values)), (f"{log_name}/std", np.std(values)),
                (f"{log_name}/max", np.max(values)), (f"{log_name}/min", np.min(values))]
