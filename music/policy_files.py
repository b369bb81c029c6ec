"""Policy files: the original's pickles, and pickle-free twins that load without running code.

``policy_<x>.pkl`` (cloudpickle, as the original; loading a pickle can run code) is
written together with ``policy_<x>.npz``: the weights as arrays plus the agent's
description (``DDPG.description``: its Params and run facts) as JSON. ``load_policy``
reads either; a pickle that does not sit in a run folder written by ``music.train`` gets
a warning first.
"""

from __future__ import annotations

import json
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np

from music.files import atomic_write, file_sha256, weights_sha256


class PolicyFileError(ValueError):
    """A file is missing, unreadable, or not a policy / weights file of this project."""


def save_safe_policy(policy, path: Path, pickle_sha256: str | None = None) -> None:
    """Write weights + the agent's description (no pickle) atomically to ``path`` (.npz).

    ``pickle_sha256``: the digest of the pickle twin, recorded so that loading the pickle
    can detect damage (a pickle with overwritten bytes may still unpickle).
    """
    meta = {"format": 2, "kind": "music-policy", "agent": policy.description()}
    if pickle_sha256:
        meta["pickle_sha256"] = pickle_sha256
    atomic_write(path, lambda f: np.savez(f, __policy__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                                          **{f"var/{k}": v for k, v in policy.save_weight().items()}))


def load_safe_policy(path: Path):
    """A play-only policy from a ``.npz`` of format 2 (``agent``: the description) or of
    format 1 (``init_kwargs``: the flat constructor arguments older versions kept)."""
    from music.ddpg import DDPG

    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(arrays.pop("__policy__").tobytes().decode())
        if meta.get("kind") != "music-policy":
            raise KeyError("kind")
        description = meta["agent"] if meta.get("format", 1) >= 2 else {"init_kwargs": meta["init_kwargs"]}
    except Exception as err:
        raise PolicyFileError(f"{path} is not a music policy archive ({type(err).__name__}: {err})") from None
    try:
        policy = DDPG.from_description(description)
    except (TypeError, ValueError) as err:
        raise PolicyFileError(f"{path}: cannot rebuild the agent ({err})") from None
    report = policy.load_weight({k[len("var/"):]: v for k, v in arrays.items()}, include=[""], verbose=False)
    if report["missing"] or report["shape_mismatch"]:
        raise PolicyFileError(f"{path}: weights do not match the agent they describe ({report['missing'][:2]}, "
                              f"{report['shape_mismatch'][:2]})")
    return policy


def policy_weights_sha256(path: Path | str) -> str:
    """The weights digest (``music.files.weights_sha256``) of a ``policy_<x>.npz`` or a weights file
    ``policy_<x>_weight.npz``, read without rebuilding the agent: equal to
    ``music.experiment.weights_digest`` of the policy ``load_policy`` makes of it."""
    if str(path).endswith(WEIGHTS_SUFFIXES):
        return weights_sha256(read_weights(path))
    try:
        with np.load(path, allow_pickle=False) as data:
            weights = {k[len("var/"):]: data[k] for k in data.files if k.startswith("var/")}
    except Exception as err:
        raise PolicyFileError(f"{path} is not a music policy archive ({type(err).__name__}: {err})") from None
    return weights_sha256(weights)


def read_weights(path: Path | str) -> dict[str, np.ndarray]:
    """A name -> array dict from ``.npz`` (no code runs) or ``.pkl`` (a pickle)."""
    path = Path(path)
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        with open(path, "rb") as f:
            weights = pickle.load(f)
    except Exception as err:
        raise PolicyFileError(f"{path} is not a readable weights file ({type(err).__name__}: {err})") from None
    if not isinstance(weights, dict) or not all(isinstance(k, str) for k in weights):
        raise PolicyFileError(f"{path} is not a name -> array weights file")
    return {k: np.asarray(v) for k, v in weights.items()}


WEIGHTS_SUFFIXES = ("_weight.npz", "_weight.pkl")


def agent_of_run(run_params: Path, context: str = ""):
    """The agent a run's ``params.json`` describes, with the fresh weights of its seed (the ones
    its training started from). ``context`` starts the message of an agent that cannot be rebuilt."""
    from music.config import configure_dims, default_params
    from music.ddpg import configure_ddpg
    from music.envs import make_env

    try:
        params = {**default_params(), **json.loads(run_params.read_text())}
    except ValueError as err:
        raise PolicyFileError(f"{run_params} is damaged ({type(err).__name__})") from None
    env = make_env(params["env_name"], quiet=True)
    try:
        return configure_ddpg(configure_dims(env), params, env, seed=int(params.get("seed", 0)))
    except (TypeError, ValueError, KeyError) as err:
        raise PolicyFileError(f"{context}cannot rebuild the agent of {run_params} ({err})") from None
    finally:
        env.close()


def policy_from_weights(path: Path):
    """A play-only policy from a weights file (name -> array, e.g. a shipped
    ``policy_49_weight.npz``) and the ``params.json`` of its run beside it: the arrays alone do
    not say which agent they fill (env, networks, SAC or DDPG)."""
    run_params = path.parent / "params.json"
    if not run_params.exists():
        raise PolicyFileError(f"{path} holds weights only, and no params.json of its run is beside it to say which "
                              "agent they fill; put the run's params.json there, or give its policy_*.npz")
    weights = read_weights(path)
    policy = agent_of_run(run_params, context=f"{path}: ")
    report = policy.load_weight(weights, include=[""], verbose=False)
    if report["missing"] or report["shape_mismatch"]:
        raise PolicyFileError(f"{path}: the weights do not fit the agent of {run_params} (missing "
                              f"{report['missing'][:2]}, other shapes {report['shape_mismatch'][:2]})")
    return policy


def recorded_pickle_sha256(pickle_path: Path) -> str | None:
    """The pickle digest recorded in the ``.npz`` twin of ``pickle_path`` (None if there is none)."""
    twin = Path(pickle_path).with_suffix(".npz")
    try:
        with np.load(twin, allow_pickle=False) as data:
            return json.loads(data["__policy__"].tobytes().decode()).get("pickle_sha256")
    except Exception:  # no twin, or one without the digest
        return None


def written_by_music_train(path: Path) -> bool:
    """A file inside a run folder of music.train (params.json and progress.csv beside it)."""
    folder = Path(path).resolve().parent
    return (folder / "params.json").exists() and (folder / "progress.csv").exists()


def load_policy(path: Path | str):
    """A policy from ``policy_<x>.npz`` (no code runs), ``policy_<x>.pkl`` (a pickle), a weights
    file ``policy_<x>_weight.npz`` with its run's params.json beside it (``policy_from_weights``),
    or the shipped weights of a campaign run, ``pretrained:<task>/<variant>/seed<k>``."""
    from music.ddpg import DDPG

    if str(path).startswith("pretrained:"):
        from music.config import ParamsError, shipped_weights
        from music.shipped import SHIPPED_CAMPAIGNS

        parts = str(path).removeprefix("pretrained:").split("/")
        if len(parts) - (parts[0] in SHIPPED_CAMPAIGNS) < 3:
            raise PolicyFileError(f"{path}: name the shipped run fully, e.g. pretrained:FetchPush-v1/SAC+MUSIC/seed0 "
                                  "or pretrained:paper/FetchPickAndPlace-v1/SAC+MUSIC/seed0 (pretrained:seed<k> "
                                  "alone is for load_weight, which knows the task and variant)")
        try:
            path = shipped_weights(str(path), "", "")
        except ParamsError as err:
            raise PolicyFileError(str(err)) from None
        path = path.with_name(path.stem + WEIGHTS_SUFFIXES[0])
    path = Path(path)
    if not path.is_file():
        raise PolicyFileError(f"policy file {path} does not exist")
    if path.name.endswith(WEIGHTS_SUFFIXES):
        return policy_from_weights(path)
    if path.suffix == ".npz":
        if not zipfile.is_zipfile(path):
            raise PolicyFileError(f"{path} is not an .npz archive (a zip file); give a policy_*.npz written by "
                                  "music.train")
        return load_safe_policy(path)
    if path.suffix != ".pkl":
        raise PolicyFileError(f"{path} is neither a policy_*.npz nor a policy_*.pkl file; give one written by "
                              "music.train (or a *_weight.npz beside its run's params.json)")
    recorded = recorded_pickle_sha256(path)
    if recorded and recorded != file_sha256(path):
        raise PolicyFileError(f"{path} is damaged: its sha256 differs from the one recorded in "
                              f"{path.with_suffix('.npz').name} when it was written; use {path.with_suffix('.npz')}")
    if not written_by_music_train(path):
        print(f"warning: {path} is a pickle from outside a music.train run folder; loading a pickle can run "
              f"arbitrary code. Prefer the .npz policy files.", file=sys.stderr)
    try:
        with open(path, "rb") as f:
            policy = pickle.load(f)
    except Exception as err:  # a truncated or foreign file can fail in many ways
        raise PolicyFileError(f"{path} is not a readable policy file ({type(err).__name__}: {err}); "
                              "give a policy_*.pkl or policy_*.npz written by music.train") from None
    if not isinstance(policy, DDPG):
        raise PolicyFileError(f"{path} holds a {type(policy).__name__}, not a music policy; "
                              "give a policy_*.pkl or policy_*.npz written by music.train")
    return policy
