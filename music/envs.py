"""The Fetch tasks and which part of their observation is the agent and which its surroundings.

MUSIC needs to know, for each environment, which slice of the observation vector is
the agent's own state (the gripper position) and which is the surrounding state (the
object position). This table is that knowledge; nothing else in the library hard-codes
observation layouts.
"""

from __future__ import annotations

from dataclasses import dataclass


class UnknownEnvError(ValueError):
    """An environment name this project does not support."""


@dataclass(frozen=True)
class ObservationSplit:
    """Where the agent and the surrounding states sit in a flat observation.

    Fetch object tasks, 25 floats: grip_pos 0:3, object_pos 3:6, object_rel_pos 6:9,
    gripper_state 9:11, object_rot 11:14, object_velp 14:17, object_velr 17:20,
    grip_velp 20:23, gripper_vel 23:25.
    """

    dimo: int
    agent: slice  # grip_pos
    surrounding: slice  # object_pos

    @property
    def dim_agent(self) -> int:
        return self.agent.stop - self.agent.start

    @property
    def dim_surrounding(self) -> int:
        return self.surrounding.stop - self.surrounding.start


_FETCH_OBJECT_SPLIT = ObservationSplit(dimo=25, agent=slice(0, 3), surrounding=slice(3, 6))

# Supported task -> its agent/surrounding split (None: the task has no object).
SUPPORTED_ENVS: dict[str, ObservationSplit | None] = {
    "FetchPush-v4": _FETCH_OBJECT_SPLIT,
    "FetchPickAndPlace-v4": _FETCH_OBJECT_SPLIT,
    "FetchSlide-v4": _FETCH_OBJECT_SPLIT,
    "FetchReach-v4": None,
}

# The original's names (old gym, mujoco-py) and the task they mean today.
ALIASES: dict[str, str] = {
    "FetchPush-v1": "FetchPush-v4",
    "FetchPickAndPlace-v1": "FetchPickAndPlace-v4",
    "FetchSlide-v1": "FetchSlide-v4",
    "FetchReach-v1": "FetchReach-v4",
}


def canonical_env_name(env_name: str) -> str:
    """The supported v4 name for ``env_name`` (v1 aliases resolved); raises ``UnknownEnvError``."""
    name = ALIASES.get(env_name, env_name)
    if name not in SUPPORTED_ENVS:
        known = ", ".join(sorted(SUPPORTED_ENVS) + sorted(ALIASES))
        raise UnknownEnvError(f"unknown env {env_name!r}; supported: {known}")
    return name


def observation_split(env_name: str, dimo: int | None = None) -> ObservationSplit:
    """The agent/surrounding split of ``env_name``'s observations.

    Raises ``ValueError`` naming the env if it has no object to split off, or if
    ``dimo`` (the observation size actually seen) differs from the expected one.
    """
    name = canonical_env_name(env_name)
    split = SUPPORTED_ENVS[name]
    if split is None:
        raise ValueError(
            f"{env_name} has no agent/surrounding split (there is no object in the scene), so "
            "MUSIC's mutual-information and skill rewards cannot be used on it; "
            "set mi_r_scale=0 and sk_r_scale=0, or use FetchPush, FetchPickAndPlace or FetchSlide"
        )
    if dimo is not None and dimo != split.dimo:
        raise ValueError(
            f"{env_name}: observations have {dimo} floats, expected {split.dimo} "
            f"(grip_pos at {split.agent.start}:{split.agent.stop}, "
            f"object_pos at {split.surrounding.start}:{split.surrounding.stop})"
        )
    return split


_ALIAS_PRINTED: set[str] = set()


def make_env(env_name: str, render_mode: str | None = None, max_episode_steps: int | None = None,
             frame_size: int | None = None, quiet: bool = False):
    """Create the gymnasium-robotics task ``env_name`` (v1 aliases accepted, announced once).

    ``frame_size`` sets the width and height of rendered frames (gymnasium-robotics: 480).
    ``quiet`` counts the alias as announced without printing it (MPI ranks other than 0).

    Raises ``UnknownEnvError`` listing the supported names for anything else.
    """
    name = canonical_env_name(env_name)
    if env_name != name and env_name not in _ALIAS_PRINTED:
        _ALIAS_PRINTED.add(env_name)
        if not quiet:
            print(f"{env_name} -> {name}", flush=True)
    import contextlib
    import io

    import gymnasium as gym

    # gymnasium_robotics prints a notice about the Adroit hand tasks on import; not ours.
    with contextlib.redirect_stderr(io.StringIO()):
        import gymnasium_robotics
    gym.register_envs(gymnasium_robotics)
    kwargs = {"render_mode": render_mode} if render_mode else {}
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = max_episode_steps
    if frame_size is not None:
        kwargs.update(width=frame_size, height=frame_size)
    return gym.make(name, **kwargs)


def set_goal(env, goal) -> None:
    """Overwrite the episode's goal (``Zero`` goal generation sets it to zeros after reset)."""
    env.unwrapped.goal = goal.copy()


def episode_length(env) -> int:
    """T, the number of steps of an episode (the TimeLimit of the task)."""
    steps = env.spec.max_episode_steps if env.spec is not None else None
    if not steps:
        raise ValueError(f"{env} has no episode length (max_episode_steps)")
    return int(steps)
