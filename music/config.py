"""Parameters: the original's DEFAULT_PARAMS as a typed Params, params files, validation, run sizes.

A run's parameters are DEFAULT_PARAMS, updated by the variant's params file
(``music/params/<env>/<note>.json``), then by command-line overrides. Every
source is checked against DEFAULT_PARAMS: unknown keys and wrong types are refused
with the file (or flag), the key and the reason.
"""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from music.envs import SplitError, canonical_env_name, env_id, parse_indices
from music.her import REPLAY_STRATEGIES, make_sample_her_transitions
from music.schedules import PiecewiseSchedule

# The variants' params files: package data, in the same place in a clone and in an install.
PARAMS_DIR = Path(__file__).resolve().parent / "params"


# Variant -> (pretraining variant, task of the pretraining run or None for the same task).
PRETRAINING = {
    "SAC+MUSIC-r": ("SAC+MUSIC", None), "SAC+MUSIC-p": ("SAC+MUSIC", None), "SAC+MUSIC-f": ("SAC+MUSIC", None),
    "SAC+MUSIC-f-with-normalizers": ("SAC+MUSIC", None),
    "DDPG+MUSIC-r": ("DDPG+MUSIC", None), "DDPG+MUSIC-p": ("DDPG+MUSIC", None),
    "DDPG+MUSIC-f": ("DDPG+MUSIC", None), "DDPG+MUSIC-t": ("DDPG+MUSIC", "FetchPickAndPlace-v1"),
    "DIAYN-f": ("DIAYN", None), "SAC+DIAYN-f": ("DIAYN", None), "MUSIC+DIAYN": ("SAC+MUSIC_5Skill", None),
}
# The shipped pretrained weights are campaigns' exports (music/shipped.py, docs/pretrained.md).
# An installed package has its own copy, which setup.py puts beside the params files; a clone
# reads the exports themselves.
PACKAGED_WEIGHTS_DIR = Path(__file__).resolve().parent / "pretrained"
CLONE_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "experiments" / "results"


def shipped_weights_dir() -> Path:
    """The folder of the shipped campaigns (``<campaign>/<task>/<variant>/seed<k>``): the package's
    copy if it has one, else the clone's exports."""
    return PACKAGED_WEIGHTS_DIR if PACKAGED_WEIGHTS_DIR.is_dir() else CLONE_WEIGHTS_DIR


class ParamsError(ValueError):
    """A parameter source (file or command line) is malformed or inconsistent."""


def _field(default, help: str, kind: str = "", check: str = "", choices: tuple = ()):
    """A parameter: its default, one line of help, its kind and range (what params files may give)."""
    meta = {"help": help, "kind": kind, "check": check, "choices": choices}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class Params:
    """Every parameter of a run: the original's DEFAULT_PARAMS (same names, values and order),
    then ours. Params files (``music/params/<env>/<note>.json``) and ``--param`` override
    them; ``check_params`` validates each against its kind and range here; ``params.json``
    records them; ``--list_params`` prints this table."""

    # env
    max_u: Any = _field(1.0, "largest absolute action per coordinate (a number, or a list: one bound per coordinate)",
                        "max_u")
    # ddpg
    layers: int = _field(3, "hidden layers of actor and critic", "int", "positive")
    hidden: int = _field(256, "units per hidden layer", "int", "positive")
    Q_lr: float = _field(0.001, "critic learning rate", "float", "non_negative")
    pi_lr: float = _field(0.001, "actor learning rate", "float", "non_negative")
    mi_lr: float = _field(0.001, "MINE learning rate", "float", "non_negative")
    sk_lr: float = _field(0.001, "skill discriminator learning rate", "float", "non_negative")
    buffer_size: int = _field(int(1e6), "replay capacity in transitions", "int", "positive")
    polyak: float = _field(0.95, "target <- polyak * target + (1 - polyak) * main", "float", "probability")
    action_l2: float = _field(1.0, "actor penalty on (pi / max_u)^2", "float", "non_negative")
    clip_obs: float = _field(200.0, "observations and goals are clipped to +-clip_obs", "float", "positive")
    relative_goals: bool = _field(False, "feed g - ag instead of g", "bool")
    # training
    n_cycles: int = _field(50, "cycles per epoch", "int", "positive")
    rollout_batch_size: int = _field(2, "episodes per cycle per rank", "int", "positive")
    n_batches: int = _field(40, "gradient steps per cycle", "int", "positive")
    batch_size: int = _field(256, "transitions per gradient step per rank (episodes per MINE step)", "int", "positive")
    n_test_rollouts: int = _field(10, "test rollouts per epoch, each of rollout_batch_size episodes", "int",
                                  "non_negative")
    test_with_polyak: bool = _field(False, "test with the target networks", "bool")
    # exploration
    random_eps: float = _field(0.3, "probability of a uniformly random action", "float", "probability")
    noise_eps: float = _field(0.2, "std of the Gaussian action noise, as a fraction of max_u", "float")
    # normalization
    norm_eps: float = _field(0.01, "normalizer std floor", "float", "non_negative")
    norm_clip: float = _field(5, "normalized inputs are clipped to +-norm_clip", "float", "positive")
    # HER
    replay_strategy: str = _field("future", "HER relabelling: a later achieved goal, the last one, or none",
                                  "choice", choices=REPLAY_STRATEGIES)
    collect_data: bool = _field(False, "save the observations of the train rollouts every epoch", "bool")
    collect_video: bool = _field(False, "save videos of the train rollouts (rank 0)", "bool")
    num_objective: float = _field(4, "scales clip_return: (1 / (1 - gamma)) * num_objective", "int", "non_negative")
    # MUSIC
    note: str = _field("SAC+MUSIC", "the variant's name", "str")
    sac: bool = _field(True, "SAC actor (else DDPG)", "bool")
    replay_k: float = _field(0, "relabelled : original goals (relabel probability 1 - 1/(1 + replay_k))", "float",
                             "non_negative")
    r_scale: float = _field(0, "task reward scale", "float", "non_negative")
    mi_r_scale: float = _field(5000, "MI reward scale", "float", "non_negative")
    sk_r_scale: float = _field(0, "skill (DIAYN) reward scale: 1 (2 skills), 0.75 (3), 0.5 (5)", "float",
                               "non_negative")
    et_r_scale: float = _field(0.02, "SAC entropy reward scale", "float", "non_negative")
    mi_w_schedule: list = _field([[0, 1], [50, 1], [200, 1]], "(epoch, weight) points of the MI reward weight",
                                 "schedule")
    mi_end_epoch: int = _field(200, "MI reward off from this epoch on", "int", "non_negative")
    goal_generation: str = _field("Zero", "Env goals, or Zero goals (zeros after every reset)", "choice",
                                  choices=("Env", "Zero"))
    num_skills: int = _field(1, "number of skills", "int", "positive")
    use_skill_n: Any = _field(None, "always use skill n (1..num_skills), or null", "skill")
    et_w_schedule: list = _field([[0, 0.2], [24, 0.2], [200, 0.2]], "(epoch, weight) points of the entropy reward "
                                 "weight", "schedule")
    finetune_pi: bool = _field(False, "with load_weight, also load actor, critic and targets", "bool")
    no_train_mi: bool = _field(False, "keep MINE frozen", "bool")
    mi_prioritization: bool = _field(False, "replay episodes by their MI", "bool")
    load_weight: Any = _field(None, "policy file (or a list, one per seed) whose weights are loaded", "load_weight")
    # not in the original (see docs/deviations.md)
    entropy_reward_mode: str = _field("original", "SAC entropy reward: original (B x B broadcast, as the authors) "
                                      "or per_transition", "choice", choices=("original", "per_transition"))
    replay_dtype: str = _field("float32", "replay storage: float32 (ours) or float64 (the original's)", "choice",
                               choices=("float32", "float64"))
    mi_end_mode: str = _field("original", "after mi_end_epoch the MI term is -m_w (original) or 0 (drop)", "choice",
                              choices=("original", "drop"))
    finetune_normalizers: bool = _field(False, "with finetune_pi, also load the observation normalizers (o_stats, "
                                        "g_stats); the original does not", "bool")
    agent_obs: Any = _field(None, "observation entries of the agent's own state, e.g. \"0:3\" or [0, 1, 2] "
                            "(null: the task's registered split; docs/custom_envs.md)", "indices")
    surrounding_obs: Any = _field(None, "observation entries of the surroundings the agent should control, e.g. "
                                  "\"3:6\" (null: the task's registered split)", "indices")


PARAM_FIELDS = {f.name: f for f in fields(Params)}
DEFAULT_PARAMS: dict[str, Any] = asdict(Params())


def describe_param(key: str) -> str:
    return PARAM_FIELDS[key].metadata["help"] if key in PARAM_FIELDS else ""


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_type(key: str, value: Any) -> str | None:
    """Why ``value`` is not acceptable for ``key`` (None if it is), from its field's kind and range."""
    meta = PARAM_FIELDS[key].metadata
    kind, check = meta["kind"], meta["check"]
    if kind == "float" and not _is_number(value):
        return f"expected a number, got {value!r}"
    if kind == "int" and not (_is_number(value) and float(value).is_integer()):
        return f"expected an integer, got {value!r}"
    if kind == "bool" and not isinstance(value, bool):
        return f"expected true or false, got {value!r}"
    if kind == "str" and not isinstance(value, str):
        return f"expected a string, got {value!r}"
    if kind == "choice" and value not in meta["choices"]:
        return f"expected one of {', '.join(meta['choices'])}, got {value!r}"
    if kind == "max_u":
        values = value if isinstance(value, list) else [value]
        if not values or not all(_is_number(v) for v in values):
            return f"expected a number or a list of numbers (one per action dimension), got {value!r}"
        if not all(v > 0 for v in values):
            return f"must be > 0, got {value!r}"
    if kind == "schedule":
        try:
            PiecewiseSchedule(value, name=key)
        except ValueError as err:
            return str(err)
    if kind == "skill" and value is not None and not (isinstance(value, int) and not isinstance(value, bool)):
        return f"expected null or a skill number, got {value!r}"
    if kind == "indices" and value is not None:
        try:
            parse_indices(value, key)
        except SplitError as err:
            return str(err).removeprefix(f"{key} ")
    if kind == "load_weight":
        ok = value in (None, False) or isinstance(value, str)
        ok = ok or (isinstance(value, list) and value and all(isinstance(v, str) for v in value))
        if not ok:
            return f"expected null, a policy path or a list of paths (one per seed), got {value!r}"
    if _is_number(value):
        if check == "positive" and value <= 0:
            return f"must be > 0, got {value!r}"
        if check == "non_negative" and value < 0:
            return f"must be >= 0, got {value!r}"
        if check == "probability" and not 0 <= value <= 1:
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
        if PARAM_FIELDS[key].metadata["kind"] == "int":
            value = int(value)
        out[key] = value
    return out


def check_consistency(params: dict[str, Any], source: str = "params") -> None:
    """Checks across keys (after all sources are merged)."""
    n = params["use_skill_n"]
    if n is not None and not 1 <= n <= params["num_skills"]:
        raise ParamsError(f"{source}: key 'use_skill_n': must be in 1..num_skills={params['num_skills']}, got {n}")
    if params["finetune_normalizers"] and not params["finetune_pi"]:
        raise ParamsError(f"{source}: key 'finetune_normalizers': loads the normalizers of a fine-tuned policy, but "
                          "finetune_pi is false (nothing is fine-tuned); set finetune_pi too, or leave it out")
    if params["batch_size"] > params["buffer_size"]:
        raise ParamsError(f"{source}: key 'batch_size': {params['batch_size']} transitions per batch is more than "
                          f"the replay buffer holds (buffer_size {params['buffer_size']})")
    episodes = params["buffer_size"] // params["rollout_batch_size"] * params["rollout_batch_size"]
    if episodes < params["rollout_batch_size"]:
        raise ParamsError(f"{source}: key 'buffer_size': {params['buffer_size']} cannot hold one rollout batch")


def needs_split(params) -> bool:
    """Whether a run's intrinsic rewards need the agent/surrounding split of observations
    (``params``: ``Params`` or its dict)."""
    get = params.get if isinstance(params, dict) else functools.partial(getattr, params)
    return get("mi_r_scale") > 0 or get("sk_r_scale") > 0 or bool(get("mi_prioritization"))


def pretrained_scopes(finetune_pi: bool, finetune_normalizers: bool) -> list[str]:
    """The scopes an agent built with ``load_weight`` takes from the pretrained weights, in load order.

    As the original: the MINE always, actor and critic (``main``) with their targets when
    fine-tuning (-f). The observation normalizers only with ``finetune_normalizers``, which the
    original does not have: without them a fine-tuned policy starts on fresh statistics
    (docs/deviations.md).
    """
    if not finetune_pi:
        return ["state_mi"]
    return ["state_mi", "main", *(["o_stats", "g_stats"] if finetune_normalizers else []), "target"]


def shipped_weights(name: str, env_name: str, note: str, root: Path | None = None) -> Path:
    """The policy path whose committed ``_weight.npz`` a short name means.

    ``pretrained:seed<k>`` is the pretraining run of this note on this task (e.g. SAC+MUSIC
    for SAC+MUSIC-r on FetchPush-v1); ``pretrained:<task>/<variant>/seed<k>`` names it fully.
    Both are the default campaign's (medium); ``pretrained:<campaign>/...`` (e.g.
    ``pretrained:paper/seed0``) another shipped campaign's. Raises ParamsError if the name is
    malformed or no weights were shipped for it.
    """
    from music.shipped import SHIPPED_CAMPAIGNS

    parts = name.removeprefix("pretrained:").split("/")
    campaign = parts.pop(0) if len(parts) in (2, 4) and parts[0] in SHIPPED_CAMPAIGNS else SHIPPED_CAMPAIGNS[0]
    if len(parts) == 1:
        if note not in PRETRAINING:
            raise ParamsError(f"load_weight {name!r}: note {note!r} loads no pretrained run; name it fully, "
                              "e.g. pretrained:FetchPush-v1/SAC+MUSIC/seed0")
        variant, task = PRETRAINING[note]
        parts = [task or canonical_env_name(env_name).replace("-v4", "-v1"), variant, parts[0]]
    if len(parts) != 3 or not parts[2].startswith("seed"):
        raise ParamsError(f"load_weight {name!r}: expected pretrained:seed<k> or pretrained:<task>/<variant>/seed<k> "
                          f"(either after a campaign, e.g. pretrained:{SHIPPED_CAMPAIGNS[-1]}/seed0)")
    root = shipped_weights_dir() if root is None else root
    if not root.is_dir():
        raise ParamsError(f"load_weight {name!r}: this installation has no shipped weights ({root} does not exist; "
                          "a wheel built by setup.py or a clone of the repository has them); train the pretraining "
                          "run yourself and point load_weight at its policy file")
    folder = root.joinpath(campaign, *parts)
    # the final weights: the highest epoch (a campaign may also ship weights of earlier epochs)
    found = sorted(folder.glob("policy_*_weight.npz"), key=lambda p: int(p.name.split("_")[1])
                   if p.name.split("_")[1].isdigit() else -1)
    if not found:
        shipped = []
        for shipped_campaign in SHIPPED_CAMPAIGNS:
            prefix = "" if shipped_campaign == SHIPPED_CAMPAIGNS[0] else f"{shipped_campaign}/"
            shipped += sorted({prefix + "/".join(p.parent.relative_to(root / shipped_campaign).parts)
                               for p in (root / shipped_campaign).glob("*/*/seed*/policy_*_weight.npz")})
        wanted = ("" if campaign == SHIPPED_CAMPAIGNS[0] else f"{campaign}/") + "/".join(parts)
        raise ParamsError(f"load_weight {name!r}: no shipped weights for {wanted} (shipped: "
                          f"{', '.join(f'pretrained:{s}' for s in shipped) or 'none'}); train the pretraining run "
                          "yourself and point load_weight at its policy file")
    return found[-1].with_name(found[-1].name.replace("_weight.npz", ".pkl"))


def params_file(env_name: str, note: str, params_dir: Path = PARAMS_DIR) -> Path:
    """Where the params of variant ``note`` for ``env_name`` live (v1 folder names, as the original)."""
    canonical = env_id(env_name)  # vector:/module: prefixes dropped
    candidates = [env_name, canonical.replace("-v4", "-v1"), canonical]
    folder = next((name for name in candidates if (params_dir / name).is_dir()), None)
    if folder is None:
        raise ParamsError(
            f"no params folder for env {env_name} ({params_dir / canonical} does not exist): give the variant's "
            "parameters with --params_file FILE, e.g. a copy of music/params/MusicPointPush-v0/SAC+MUSIC.json "
            "(docs/custom_envs.md)"
        )
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


# --------------------------------------------------------------------- sizes and sampler of the run
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


def discount(T: int) -> float:
    """gamma = 1 - 1/T: the horizon of the discount is the episode length."""
    return 1.0 - 1.0 / T


def params_from_dict(values: dict[str, Any], source: str = "params") -> Params:
    """The ``Params`` of ``values`` (checked as a params file is), defaults for missing keys."""
    return Params(**check_params(values, source))
