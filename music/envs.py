"""Environments, and which part of their observation is the agent and which its surroundings.

MUSIC needs to know, for each environment, which entries of the observation vector are
the agent's own state (the gripper position of the Fetch tasks) and which the surrounding
state (the object position). Known tasks have that split registered here
(``KNOWN_SPLITS``); any other goal-conditioned gymnasium environment is trained by id (or
``module:EnvId``, importing the module that registers it) with its split declared as data,
the params ``agent_obs`` and ``surrounding_obs`` (docs/custom_envs.md). Nothing else in the
library hard-codes observation layouts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

# Observation entries: a slice where they are contiguous (as the Fetch split), else indices.
Index = slice | tuple[int, ...]


class UnknownEnvError(ValueError):
    """An environment name that gymnasium does not know, or one MUSIC cannot train."""


class SplitError(ValueError):
    """An agent/surrounding split that does not fit the observation."""


def _indices(index: Index) -> tuple[int, ...]:
    if isinstance(index, slice):
        return tuple(range(index.start or 0, index.stop, index.step or 1))
    return tuple(int(i) for i in index)


def compact_index(indices: tuple[int, ...]) -> Index:
    """A slice for ascending contiguous entries (numpy and TF slice them without a gather)."""
    if indices and indices == tuple(range(indices[0], indices[0] + len(indices))):
        return slice(indices[0], indices[0] + len(indices))
    return indices


@dataclass(frozen=True)
class ObservationSplit:
    """Where the agent and the surrounding states sit in a flat observation of ``dimo`` floats.

    ``agent`` and ``surrounding`` are a slice (contiguous entries) or a tuple of indices;
    they must be non-empty, inside the observation and disjoint (``SplitError`` otherwise).
    Fetch object tasks, 25 floats: grip_pos 0:3, object_pos 3:6, object_rel_pos 6:9,
    gripper_state 9:11, object_rot 11:14, object_velp 14:17, object_velr 17:20,
    grip_velp 20:23, gripper_vel 23:25.
    """

    dimo: int
    agent: Index  # the agent's own state (Fetch: grip_pos)
    surrounding: Index  # the state it should control (Fetch: object_pos)

    def __post_init__(self):
        parts = {}
        for name in ("agent", "surrounding"):
            indices = _indices(getattr(self, name))
            if not indices:
                raise SplitError(f"the {name} part of the split is empty; declare at least one observation entry")
            bad = [i for i in indices if not 0 <= i < self.dimo]
            if bad:
                raise SplitError(f"the {name} part names entries {bad} outside the observation of {self.dimo} floats "
                                 f"(valid: 0..{self.dimo - 1})")
            if len(set(indices)) != len(indices):
                raise SplitError(f"the {name} part names an entry twice: {list(indices)}")
            parts[name] = indices
            object.__setattr__(self, name, compact_index(indices))
        shared = sorted(set(parts["agent"]) & set(parts["surrounding"]))
        if shared:
            raise SplitError(f"agent and surrounding overlap at entries {shared}; MI between a state and itself "
                             "is meaningless: declare disjoint parts")

    @property
    def agent_indices(self) -> tuple[int, ...]:
        return _indices(self.agent)

    @property
    def surrounding_indices(self) -> tuple[int, ...]:
        return _indices(self.surrounding)

    @property
    def dim_agent(self) -> int:
        return len(self.agent_indices)

    @property
    def dim_surrounding(self) -> int:
        return len(self.surrounding_indices)

    def describe(self) -> str:
        def text(index: Index) -> str:
            return f"{index.start}:{index.stop}" if isinstance(index, slice) else ",".join(map(str, index))

        return f"agent_obs {text(self.agent)}, surrounding_obs {text(self.surrounding)} (of {self.dimo} floats)"


def take(o, index: Index):
    """The entries ``index`` of the last axis of a numpy array or TF tensor."""
    if isinstance(index, slice):
        return o[..., index]
    if isinstance(o, np.ndarray):
        return o[..., list(index)]
    import tensorflow as tf

    return tf.gather(o, list(index), axis=-1)


def parse_indices(spec, name: str = "indices") -> tuple[int, ...]:
    """Observation entries from a params value: a list of ints, or text like "0:3", "0:3,7", "4,9,11".

    Raises ``SplitError`` naming ``name`` for anything else.
    """
    if isinstance(spec, (list, tuple)) and all(isinstance(i, int) and not isinstance(i, bool) for i in spec):
        return tuple(spec)
    if isinstance(spec, str):
        indices: list[int] = []
        for part in filter(None, (p.strip() for p in spec.split(","))):
            match = re.fullmatch(r"(\d+)(?::(\d+))?", part)
            if not match:
                break
            start = int(match.group(1))
            stop = int(match.group(2)) if match.group(2) is not None else start + 1
            if stop <= start:
                raise SplitError(f"{name}: {part!r} is an empty range; write start:stop with stop > start")
            indices.extend(range(start, stop))
        else:
            if indices:
                return tuple(indices)
    raise SplitError(f"{name} must list observation entries, as a list of ints or text like \"0:3\" or "
                     f"\"0:3,7\", got {spec!r}")


FETCH_OBJECT_SPLIT = ObservationSplit(dimo=25, agent=slice(0, 3), surrounding=slice(3, 6))
# MusicPointPush-v0 (music.toy_env), 8 floats: agent_pos 0:2, object_pos 2:4, object_rel_pos 4:6, agent_vel 6:8.
POINT_PUSH_SPLIT = ObservationSplit(dimo=8, agent=slice(0, 2), surrounding=slice(2, 4))

# Pusher-v5 through VectorGoalEnv ("vector:Pusher-v5"), 23 floats: arm joint angles 0:7,
# joint velocities 7:14, fingertip position 14:17, object position 17:20, goal position 20:23.
PUSHER_SPLIT = ObservationSplit(dimo=23, agent=slice(14, 17), surrounding=slice(17, 20))

# Tasks whose split is registered (None: the task has no object, so no MI or skill reward).
KNOWN_SPLITS: dict[str, ObservationSplit | None] = {
    "FetchPush-v4": FETCH_OBJECT_SPLIT,
    "FetchPickAndPlace-v4": FETCH_OBJECT_SPLIT,
    "FetchSlide-v4": FETCH_OBJECT_SPLIT,
    "FetchReach-v4": None,
    "MusicPointPush-v0": POINT_PUSH_SPLIT,
}
# Registered splits of environments with plain vector observations, trained as "vector:<id>".
VECTOR_SPLITS: dict[str, ObservationSplit] = {"Pusher-v5": PUSHER_SPLIT}
KNOWN_SPLITS.update(VECTOR_SPLITS)
# "vector:<id>" wraps an environment with plain vector observations as a goal env (VectorGoalEnv).
VECTOR_PREFIX = "vector:"

# The original's names (old gym, mujoco-py) and the task they mean today.
ALIASES: dict[str, str] = {
    "FetchPush-v1": "FetchPush-v4",
    "FetchPickAndPlace-v1": "FetchPickAndPlace-v4",
    "FetchSlide-v1": "FetchSlide-v4",
    "FetchReach-v1": "FetchReach-v4",
}


def canonical_env_name(env_name: str) -> str:
    """The name gymnasium knows ``env_name`` by: v1 aliases resolved, anything else as it is."""
    return ALIASES.get(env_name, env_name)


def env_id(env_name: str) -> str:
    """The gymnasium id in ``env_name`` (without ``vector:`` and ``module:``), which keys the
    registered splits and the params folders."""
    return canonical_env_name(env_name).removeprefix(VECTOR_PREFIX).rpartition(":")[2]


def _register_known() -> None:
    """Register the gymnasium-robotics tasks and ours (idempotent)."""
    import contextlib
    import io

    import gymnasium as gym

    # gymnasium_robotics prints a notice about the Adroit hand tasks on import; not ours.
    with contextlib.redirect_stderr(io.StringIO()):
        import gymnasium_robotics
    gym.register_envs(gymnasium_robotics)
    if "MusicPointPush-v0" not in gym.registry:
        gym.register("MusicPointPush-v0", entry_point="music.toy_env:PointPushEnv", max_episode_steps=50)


def check_env_name(env_name: str) -> str:
    """``env_name`` resolved and known to gymnasium (``module:EnvId`` imports the module first);
    raises ``UnknownEnvError`` with a one-line hint otherwise. Returns the id to make."""
    import importlib

    import gymnasium as gym

    _register_known()
    name = canonical_env_name(env_name).removeprefix(VECTOR_PREFIX)
    module, _, gym_id = name.rpartition(":")
    if module:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise UnknownEnvError(f"env {env_name!r}: cannot import module {module!r} ({err}); "
                                  "give 'module:EnvId' with an importable module that registers EnvId") from None
    if gym_id not in gym.registry:
        known = ", ".join(sorted(KNOWN_SPLITS) + sorted(ALIASES))
        raise UnknownEnvError(f"unknown env {env_name!r}: not a registered gymnasium id (known tasks: {known}); "
                              "give a gymnasium id, or 'module:EnvId' to import the module that registers it")
    return gym_id


def known_split(env_name: str) -> ObservationSplit | None:
    """The registered split of a known task, else None."""
    return KNOWN_SPLITS.get(env_id(env_name))


def observation_split(env_name: str, dimo: int | None = None, agent_obs=None,
                      surrounding_obs=None) -> ObservationSplit:
    """The agent/surrounding split of ``env_name``'s observations: the declared one
    (``agent_obs`` and ``surrounding_obs``, both or neither), else the registered one.

    Raises ``SplitError`` naming what to declare if neither exists, if the declaration is
    incomplete or does not fit, or if ``dimo`` (the observation size actually seen)
    differs from a registered split's.
    """
    if (agent_obs is None) != (surrounding_obs is None):
        missing = "surrounding_obs" if surrounding_obs is None else "agent_obs"
        raise SplitError(f"{env_name}: agent_obs and surrounding_obs are declared together; {missing} is missing")
    if agent_obs is not None:
        if dimo is None:
            raise SplitError(f"{env_name}: a declared split needs the observation size")
        return ObservationSplit(dimo, parse_indices(agent_obs, "agent_obs"),
                                parse_indices(surrounding_obs, "surrounding_obs"))
    name = env_id(env_name)
    if name not in KNOWN_SPLITS:
        raise SplitError(
            f"{env_name} has no registered agent/surrounding split: declare which observation entries are the "
            "agent's own state and which the surroundings it should control, e.g. --param agent_obs='\"0:3\"' "
            "--param surrounding_obs='\"3:6\"' (docs/custom_envs.md); or set mi_r_scale=0 and sk_r_scale=0"
        )
    split = KNOWN_SPLITS[name]
    if split is None:
        raise SplitError(
            f"{env_name} has no agent/surrounding split (there is no object in the scene), so "
            "MUSIC's mutual-information and skill rewards cannot be used on it; "
            "set mi_r_scale=0 and sk_r_scale=0, or use FetchPush, FetchPickAndPlace or FetchSlide"
        )
    if dimo is not None and dimo != split.dimo:
        raise SplitError(f"{env_name}: observations have {dimo} floats, expected {split.dimo} "
                         f"({split.describe()})")
    return split


_ALIAS_PRINTED: set[str] = set()


def make_env(env_name: str, render_mode: str | None = None, max_episode_steps: int | None = None,
             frame_size: int | None = None, quiet: bool = False):
    """Create the goal-conditioned gymnasium environment ``env_name`` (v1 aliases accepted, announced once).

    ``frame_size`` sets the width and height of rendered frames (gymnasium-robotics: 480).
    ``quiet`` counts the alias as announced without printing it (MPI ranks other than 0).

    Raises ``UnknownEnvError`` for a name gymnasium does not know, or an environment that is
    not goal-conditioned (dict observations ``observation``, ``achieved_goal``,
    ``desired_goal`` and a ``compute_reward``).
    """
    gym_id = check_env_name(env_name)
    name = canonical_env_name(env_name)
    if env_name != name and env_name not in _ALIAS_PRINTED:
        _ALIAS_PRINTED.add(env_name)
        if not quiet:
            print(f"{env_name} -> {name}", flush=True)
    import gymnasium as gym

    kwargs = {"render_mode": render_mode} if render_mode else {}
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = max_episode_steps
    if frame_size is not None:
        kwargs.update(width=frame_size, height=frame_size)
    if name.startswith(VECTOR_PREFIX):
        kwargs.pop("width", None), kwargs.pop("height", None)  # frame sizes are the wrapped env's own
        env = VectorGoalEnv(gym.make(gym_id, **kwargs))
    else:
        env = gym.make(gym_id, **kwargs)
    check_goal_env(env, env_name)
    return env


class VectorGoalEnv:
    """A goal env around an environment with plain vector observations (``--env_name vector:<id>``).

    MUSIC's intrinsic reward needs no goal, so the goal is a placeholder: ``achieved_goal``
    and ``desired_goal`` are one zero each, ``compute_reward`` is 0 everywhere and
    ``is_success`` is 0 (train with r_scale 0, the SAC+MUSIC settings; the task's own reward
    is not used). The observation is the wrapped env's, and the episode ends only at its
    time limit (terminations are ignored, as the Fetch tasks never terminate). Declare the
    split on that vector, or use a registered one (Pusher-v5: fingertip | object).
    """

    def __init__(self, env):
        from gymnasium import spaces

        inner = env.observation_space
        if not isinstance(inner, spaces.Box) or len(inner.shape) != 1:
            raise UnknownEnvError(f"{env.spec.id if env.spec else env}: vector: needs flat Box observations, "
                                  f"got {inner}")
        self.env = env
        self.spec = env.spec
        self.action_space = env.action_space
        placeholder = spaces.Box(-np.inf, np.inf, (1,), np.float64)
        self.observation_space = spaces.Dict({"observation": inner, "achieved_goal": placeholder,
                                              "desired_goal": placeholder})
        self.goal = np.zeros(1)

    @property
    def unwrapped(self):
        return self  # compute_reward and goal live here, not in the wrapped env

    @property
    def np_random(self):
        """The wrapped env's random generator (checkpoints save and restore its state)."""
        return self.env.unwrapped.np_random

    def _obs(self, observation) -> dict:
        return {"observation": np.asarray(observation, np.float64), "achieved_goal": np.zeros(1),
                "desired_goal": self.goal.copy()}

    def compute_reward(self, achieved_goal, desired_goal, info) -> np.ndarray:
        return np.zeros(np.shape(achieved_goal)[:-1], np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        observation, info = self.env.reset(seed=seed, options=options)
        return self._obs(observation), info

    def step(self, action):
        observation, _, _, truncated, info = self.env.step(action)
        return self._obs(observation), 0.0, False, truncated, {**info, "is_success": 0.0}

    def render(self):
        return self.env.render()

    def close(self) -> None:
        self.env.close()


GOAL_KEYS = ("observation", "achieved_goal", "desired_goal")


def check_goal_env(env, env_name: str) -> None:
    """Refuse, in one line, an environment MUSIC cannot train: it must be goal-conditioned."""
    from gymnasium import spaces

    space = env.observation_space
    if not (isinstance(space, spaces.Dict) and all(k in space.spaces for k in GOAL_KEYS)):
        raise UnknownEnvError(f"{env_name} is not goal-conditioned (its observations are {type(space).__name__}, "
                              f"not a dict of {', '.join(GOAL_KEYS)}); train it as --env_name "
                              f"vector:{env_id(env_name)} (intrinsic reward only) or wrap it as a goal env with a "
                              "compute_reward (docs/custom_envs.md)")
    if not callable(getattr(env.unwrapped, "compute_reward", None)):
        raise UnknownEnvError(f"{env_name} has goal observations but no compute_reward(achieved_goal, goal, info), "
                              "which HER needs to relabel goals (docs/custom_envs.md)")
    if not isinstance(env.action_space, spaces.Box):
        raise UnknownEnvError(f"{env_name} has {type(env.action_space).__name__} actions; DDPG and SAC need "
                              "continuous (Box) actions")


def set_goal(env, goal) -> None:
    """Overwrite the episode's goal (``Zero`` goal generation sets it to zeros after reset)."""
    env.unwrapped.goal = goal.copy()


def episode_length(env) -> int:
    """T, the number of steps of an episode (the TimeLimit of the task)."""
    steps = env.spec.max_episode_steps if env.spec is not None else None
    if not steps:
        raise ValueError(f"{env} has no episode length (max_episode_steps)")
    return int(steps)
