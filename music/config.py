"""Parameters: the original's DEFAULT_PARAMS, params files, validation, and building the agent.

A run's parameters are DEFAULT_PARAMS, updated by the variant's params file
(``experiments/params/<env>/<note>.json``), then by command-line overrides. Every
source is checked against DEFAULT_PARAMS: unknown keys and wrong types are refused
with the file (or flag), the key and the reason.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np

from music.envs import canonical_env_name
from music.her import REPLAY_STRATEGIES, make_sample_her_transitions
from music.schedules import PiecewiseSchedule

PARAMS_DIR = Path(__file__).resolve().parent.parent / "experiments" / "params"


class ParamsError(ValueError):
    """A parameter source (file or command line) is malformed or inconsistent."""


DEFAULT_PARAMS: dict[str, Any] = {
    # env
    "max_u": 1.0,  # largest absolute value of each action coordinate (or a list: one bound per coordinate)
    # ddpg
    "layers": 3,  # hidden layers of actor and critic
    "hidden": 256,  # units per hidden layer
    "Q_lr": 0.001,  # critic learning rate
    "pi_lr": 0.001,  # actor learning rate
    "mi_lr": 0.001,  # MINE learning rate
    "sk_lr": 0.001,  # skill discriminator learning rate
    "buffer_size": int(1e6),  # replay capacity in transitions
    "polyak": 0.95,  # target <- polyak * target + (1 - polyak) * main
    "action_l2": 1.0,  # actor penalty on (pi / max_u)^2
    "clip_obs": 200.0,
    "relative_goals": False,
    # training
    "n_cycles": 50,  # cycles per epoch
    "rollout_batch_size": 2,  # episodes per cycle per rank
    "n_batches": 40,  # gradient steps per cycle
    "batch_size": 256,  # transitions per gradient step per rank (episodes per MINE step)
    "n_test_rollouts": 10,  # test rollouts per epoch, each of rollout_batch_size episodes
    "test_with_polyak": False,  # test with the target networks
    # exploration
    "random_eps": 0.3,  # probability of a uniformly random action
    "noise_eps": 0.2,  # std of the Gaussian action noise, as a fraction of max_u
    # normalization
    "norm_eps": 0.01,
    "norm_clip": 5,
    # HER
    "replay_strategy": "future",
    "collect_data": False,  # save the observations of the train rollouts every epoch
    "collect_video": False,  # save videos of the train rollouts (rank 0)
    "num_objective": 4,  # scales clip_return: (1 / (1 - gamma)) * num_objective
    # MUSIC
    "note": "SAC+MUSIC",
    "sac": True,
    "replay_k": 0,
    "r_scale": 0,  # task reward
    "mi_r_scale": 5000,  # MI reward
    "sk_r_scale": 0,  # skill (DIAYN) reward: 1 (2 skills), 0.75 (3), 0.5 (5)
    "et_r_scale": 0.02,  # SAC entropy reward
    "mi_w_schedule": [[0, 1], [50, 1], [200, 1]],  # (epoch, weight) of the MI reward
    "mi_end_epoch": 200,  # MI reward off from this epoch on
    "goal_generation": "Zero",  # 'Env' or 'Zero'
    "num_skills": 1,
    "use_skill_n": None,  # 1..num_skills to always use that skill, or None
    "et_w_schedule": [[0, 0.2], [24, 0.2], [200, 0.2]],  # (epoch, weight) of the entropy reward
    "finetune_pi": False,  # with load_weight, also load actor, critic and targets
    "no_train_mi": False,  # keep MINE frozen
    "mi_prioritization": False,
    "load_weight": None,  # policy file (or list indexed by seed) whose weights are loaded
    # not in the original (see docs/deviations.md)
    "entropy_reward_mode": "original",
    "replay_dtype": "float32",  # the original stored float64 (twice the memory)
    "mi_end_mode": "original",  # after mi_end_epoch the MI term is -m_w ('original') or 0 ('drop')
}

# One line per key for --list_params (the comments above say the same, beside the values).
PARAM_HELP = {
    "max_u": "largest absolute action per coordinate (a number, or a list with one bound per coordinate)",
    "layers": "hidden layers of actor and critic", "hidden": "units per hidden layer",
    "Q_lr": "critic learning rate", "pi_lr": "actor learning rate", "mi_lr": "MINE learning rate",
    "sk_lr": "skill discriminator learning rate", "buffer_size": "replay capacity in transitions",
    "polyak": "target <- polyak * target + (1 - polyak) * main", "action_l2": "actor penalty on (pi / max_u)^2",
    "clip_obs": "observations and goals are clipped to +-clip_obs", "relative_goals": "feed g - ag instead of g",
    "n_cycles": "cycles per epoch", "rollout_batch_size": "episodes per cycle per rank",
    "n_batches": "gradient steps per cycle", "batch_size": "transitions per gradient step (episodes per MINE step)",
    "n_test_rollouts": "test rollouts per epoch", "test_with_polyak": "test with the target networks",
    "random_eps": "probability of a uniformly random action", "noise_eps": "std of the action noise / max_u",
    "norm_eps": "normalizer std floor", "norm_clip": "normalized inputs are clipped to +-norm_clip",
    "replay_strategy": "HER relabelling: future, final or none", "collect_data": "save train observations per epoch",
    "collect_video": "save videos of the train rollouts (rank 0)", "num_objective": "clip_return scale",
    "note": "the variant's name", "sac": "SAC actor (else DDPG)", "replay_k": "relabelled : original goals",
    "r_scale": "task reward scale", "mi_r_scale": "MI reward scale", "sk_r_scale": "skill (DIAYN) reward scale",
    "et_r_scale": "SAC entropy reward scale", "mi_w_schedule": "(epoch, weight) points of the MI reward weight",
    "mi_end_epoch": "MI reward off from this epoch on", "goal_generation": "Env goals or Zero goals",
    "num_skills": "number of skills", "use_skill_n": "always use skill n (1..num_skills), or null",
    "et_w_schedule": "(epoch, weight) points of the entropy reward weight",
    "finetune_pi": "with load_weight, also load actor, critic and targets", "no_train_mi": "keep MINE frozen",
    "mi_prioritization": "replay episodes by their MI", "load_weight": "policy file (or one per seed) to load",
    "entropy_reward_mode": "original (B x B broadcast, as the authors) or per_transition",
    "replay_dtype": "replay storage: float32 (ours) or float64 (the original's)",
    "mi_end_mode": "after mi_end_epoch the MI term is -m_w (original) or 0 (drop)",
}


def describe_param(key: str) -> str:
    return PARAM_HELP.get(key, "")


# What each key accepts (beyond DEFAULT_PARAMS's own type).
_FLOAT_KEYS = {"Q_lr", "pi_lr", "mi_lr", "sk_lr", "polyak", "action_l2", "clip_obs", "random_eps",
               "noise_eps", "norm_eps", "norm_clip", "replay_k", "r_scale", "mi_r_scale", "sk_r_scale", "et_r_scale"}
_INT_KEYS = {"layers", "hidden", "buffer_size", "n_cycles", "rollout_batch_size", "n_batches", "batch_size",
             "n_test_rollouts", "num_objective", "mi_end_epoch", "num_skills"}
_BOOL_KEYS = {"relative_goals", "test_with_polyak", "collect_data", "collect_video", "sac", "finetune_pi",
              "no_train_mi", "mi_prioritization"}
_CHOICES = {"replay_strategy": REPLAY_STRATEGIES, "goal_generation": ("Env", "Zero"),
            "entropy_reward_mode": ("original", "per_transition"), "replay_dtype": ("float32", "float64"),
            "mi_end_mode": ("original", "drop")}
_POSITIVE = {"layers", "hidden", "buffer_size", "n_cycles", "rollout_batch_size", "n_batches", "batch_size",
             "num_skills", "norm_clip", "clip_obs"}
_NON_NEGATIVE = {"n_test_rollouts", "replay_k", "r_scale", "mi_r_scale", "sk_r_scale", "et_r_scale", "Q_lr",
                 "pi_lr", "mi_lr", "sk_lr", "action_l2", "norm_eps", "num_objective", "mi_end_epoch"}
_PROBABILITY = {"random_eps", "polyak"}


def _check_type(key: str, value: Any) -> str | None:
    """Why ``value`` is not acceptable for ``key`` (None if it is)."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if key in _FLOAT_KEYS and not is_number:
        return f"expected a number, got {value!r}"
    if key in _INT_KEYS and not (isinstance(value, int) and not isinstance(value, bool)):
        if not (isinstance(value, float) and value.is_integer()):
            return f"expected an integer, got {value!r}"
    if key in _BOOL_KEYS and not isinstance(value, bool):
        return f"expected true or false, got {value!r}"
    if key in _CHOICES and value not in _CHOICES[key]:
        return f"expected one of {', '.join(_CHOICES[key])}, got {value!r}"
    if key == "max_u":
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            return f"expected a number or a list of numbers (one per action dimension), got {value!r}"
        if not all(v > 0 for v in values):
            return f"must be > 0, got {value!r}"
    if key in ("note",) and not isinstance(value, str):
        return f"expected a string, got {value!r}"
    if key in ("mi_w_schedule", "et_w_schedule"):
        try:
            PiecewiseSchedule(value, name=key)
        except ValueError as err:
            return str(err)
    if key == "use_skill_n" and value is not None and not (isinstance(value, int) and not isinstance(value, bool)):
        return f"expected null or a skill number, got {value!r}"
    if key == "load_weight":
        ok = value in (None, False) or isinstance(value, str)
        ok = ok or (isinstance(value, list) and value and all(isinstance(v, str) for v in value))
        if not ok:
            return f"expected null, a policy path or a list of paths (one per seed), got {value!r}"
    if is_number and key in _POSITIVE and value <= 0:
        return f"must be > 0, got {value!r}"
    if is_number and key in _NON_NEGATIVE and value < 0:
        return f"must be >= 0, got {value!r}"
    if is_number and key in _PROBABILITY and not 0 <= value <= 1:
        return f"must be in [0, 1], got {value!r}"
    return None


def check_params(overrides: dict[str, Any], source: str) -> dict[str, Any]:
    """Check keys and types of ``overrides`` against DEFAULT_PARAMS; returns them normalized."""
    out = {}
    for key, value in overrides.items():
        if key not in DEFAULT_PARAMS:
            raise ParamsError(f"{source}: unknown key {key!r} (known keys: {', '.join(sorted(DEFAULT_PARAMS))})")
        reason = _check_type(key, value)
        if reason:
            raise ParamsError(f"{source}: key {key!r}: {reason}")
        if key in _INT_KEYS:
            value = int(value)
        elif key in _FLOAT_KEYS:
            value = float(value) if isinstance(value, float) else value
        out[key] = value
    return out


def check_consistency(params: dict[str, Any], source: str = "params") -> None:
    """Checks across keys (after all sources are merged)."""
    n = params["use_skill_n"]
    if n is not None and not 1 <= n <= params["num_skills"]:
        raise ParamsError(f"{source}: key 'use_skill_n': must be in 1..num_skills={params['num_skills']}, got {n}")
    if params["batch_size"] > params["buffer_size"]:
        raise ParamsError(f"{source}: key 'batch_size': {params['batch_size']} transitions per batch is more than "
                          f"the replay buffer holds (buffer_size {params['buffer_size']})")
    episodes = params["buffer_size"] // params["rollout_batch_size"] * params["rollout_batch_size"]
    if episodes < params["rollout_batch_size"]:
        raise ParamsError(f"{source}: key 'buffer_size': {params['buffer_size']} cannot hold one rollout batch")


def params_file(env_name: str, note: str, params_dir: Path = PARAMS_DIR) -> Path:
    """Where the params of variant ``note`` for ``env_name`` live (v1 folder names, as the original)."""
    canonical = canonical_env_name(env_name)
    candidates = [env_name, canonical.replace("-v4", "-v1"), canonical]
    folder = next((name for name in candidates if (params_dir / name).is_dir()), candidates[1])
    path = params_dir / folder / f"{note}.json"
    if not path.is_file():
        available = sorted(p.stem for p in (params_dir / folder).glob("*.json"))
        raise ParamsError(
            f"no params file for note {note!r} and env {env_name}: {path} does not exist "
            f"(available: {', '.join(available) or 'none'})"
        )
    return path


def load_params_file(path: Path | str) -> dict[str, Any]:
    """Read and check a params JSON file (unknown keys, wrong types, bad JSON are errors)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    except json.JSONDecodeError as err:
        raise ParamsError(f"{path}: malformed JSON at line {err.lineno}, column {err.colno}: {err.msg}") from None
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a JSON object of key: value, got {type(data).__name__}")
    return check_params(data, str(path))


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` from the command line; value parsed as JSON, else kept as a string."""
    if "=" not in text:
        raise ParamsError(f"--param {text!r}: expected key=value, e.g. --param n_batches=20")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = {"True": True, "False": False, "None": None}.get(raw, raw)
    return key.strip(), value


def default_params() -> dict[str, Any]:
    return copy.deepcopy(DEFAULT_PARAMS)


# --------------------------------------------------------------------- building the run
def configure_dims(env) -> dict[str, int]:
    """Sizes of o, g, u and each info entry, read off one step of ``env``; z is added by the caller."""
    obs, _ = env.reset(seed=0)
    obs, _, _, _, info = env.step(env.action_space.sample())
    dims = {"o": obs["observation"].shape[0], "u": env.action_space.shape[0], "g": obs["desired_goal"].shape[0]}
    for key, value in info.items():
        value = np.asarray(value)
        if value.dtype.kind in "biuf" and value.ndim <= 1:
            dims[f"info_{key}"] = 1 if value.ndim == 0 else value.shape[0]
    return dims


def configure_her(params: dict[str, Any], reward_env):
    def reward_fun(ag_2, g, info):  # batched
        return reward_env.unwrapped.compute_reward(ag_2, g, None)

    return make_sample_her_transitions(
        params["replay_strategy"], params["replay_k"], reward_fun,
        params["mi_w_schedule"], params["et_w_schedule"], params["mi_prioritization"],
    )


def configure_ddpg(dims: dict[str, int], params: dict[str, Any], env, pretrain_weights=None,
                   clip_return: bool = False, seed: int = 0, comm=None):
    """Build the agent of ``params`` for ``env`` (docs/algorithm.md; clip_return from the CLI flag)."""
    from music.ddpg import DDPG

    T = params["T"]
    gamma = 1.0 - 1.0 / T
    input_dims = {**dims, "z": params["num_skills"]}
    return DDPG(
        input_dims=input_dims, buffer_size=params["buffer_size"], hidden=params["hidden"], layers=params["layers"],
        polyak=params["polyak"], batch_size=params["batch_size"], Q_lr=params["Q_lr"], pi_lr=params["pi_lr"],
        mi_lr=params["mi_lr"], sk_lr=params["sk_lr"], r_scale=params["r_scale"], mi_r_scale=params["mi_r_scale"],
        sk_r_scale=params["sk_r_scale"], et_r_scale=params["et_r_scale"], norm_eps=params["norm_eps"],
        norm_clip=params["norm_clip"], max_u=params["max_u"], action_l2=params["action_l2"],
        clip_obs=params["clip_obs"], T=T, rollout_batch_size=params["rollout_batch_size"],
        relative_goals=params["relative_goals"], clip_pos_returns=True,
        clip_return=(1.0 / (1.0 - gamma)) * params["num_objective"] if clip_return else np.inf,
        sample_transitions=configure_her(params, env), gamma=gamma, env_name=params["env_name"],
        sac=params["sac"], finetune_pi=params["finetune_pi"], mi_prioritization=params["mi_prioritization"],
        pretrain_weights=pretrain_weights, entropy_reward_mode=params["entropy_reward_mode"],
        mi_end_mode=params.get("mi_end_mode", "original"), seed=seed,
        buffer_dtype=np.dtype(params.get("replay_dtype", "float32")).type,
        info={"env_name": params["env_name"], "note": params["note"], "goal_generation": params["goal_generation"],
              "num_skills": params["num_skills"], "use_skill_n": params["use_skill_n"], "T": T,
              "test_with_polyak": params["test_with_polyak"], "noise_eps": params["noise_eps"],
              "random_eps": params["random_eps"]},
        comm=comm,
    )
