"""Checkpoints that let a run continue exactly where it stopped (``music.train --resume``).

Each rank writes its own state to ``<logdir>/checkpoints/rank<r>.npz``: every variable
(networks, targets, normalizers), the four optimizers' moments and step counts, the
random states (numpy, TF, every env), the log histories, the rollout counters and, by
default, the replay buffer. Rank 0 then writes ``checkpoints/manifest.json`` naming the
epoch and cycle to continue from and the sha256 of every rank file. Every file is
written to a temporary name, flushed and renamed, and the manifest comes last, so a
run killed at any moment leaves the previous complete checkpoint readable.

No pickle: arrays go into .npz, everything else into JSON, so loading a checkpoint runs
no code from the file.
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

import numpy as np

from music.files import atomic_write, file_sha256

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint is missing, damaged, or does not fit this run."""


LEGACY_DIR = "checkpoint"  # runs made before the rename; TensorBoard warns about a folder of this name


def checkpoint_dir(logdir: Path) -> Path:
    """``<logdir>/checkpoints``, or the ``checkpoint`` folder of a run written before the rename."""
    logdir = Path(logdir)
    legacy = logdir / LEGACY_DIR
    if (legacy / "manifest.json").exists() and not (logdir / "checkpoints").exists():
        return legacy
    return logdir / "checkpoints"


def _env_rng_states(worker) -> list:
    return [env.unwrapped.np_random.bit_generator.state for env in worker.envs]


def _set_env_rng_states(worker, states) -> None:
    if len(states) != len(worker.envs):
        raise CheckpointError(f"checkpoint has {len(states)} envs for a worker with {len(worker.envs)}")
    for env, state in zip(worker.envs, states, strict=True):
        env.unwrapped.np_random.bit_generator.state = state


def _worker_state(worker) -> dict:
    return {"n_episodes": worker.n_episodes, "nan_retries": worker.nan_retries, "seeds": worker._seeds,
            "env_rng": _env_rng_states(worker),
            "history": {name: list(getattr(worker, name)) for name in
                        ("success_history", "Q_history", "displacement_history", "lift_history")}}


def _restore_worker(worker, state: dict) -> None:
    worker.n_episodes = state["n_episodes"]
    worker.nan_retries = state["nan_retries"]
    worker._seeds = state["seeds"]
    _set_env_rng_states(worker, state["env_rng"])
    for name, values in state["history"].items():
        getattr(worker, name).clear()
        getattr(worker, name).extend(values)


def rank_state(policy, rollout_worker, evaluator, loop: dict, with_buffer: bool) -> tuple[dict, dict]:
    """(arrays, meta) describing one rank completely."""
    arrays = {f"var/{name}": value for name, value in policy.save_weight().items()}
    adams = {}
    for name in ("Q_adam", "pi_adam", "mi_adam", "sk_adam"):
        adam = getattr(policy, name)
        if adam is not None:
            arrays[f"adam/{name}/m"] = adam.m
            arrays[f"adam/{name}/v"] = adam.v
            adams[name] = adam.t
    for norm in (policy.o_stats, policy.g_stats):
        for part in ("local_sum", "local_sumsq", "local_count"):
            arrays[f"norm/{norm.name}/{part}"] = getattr(norm, part)
    arrays["tf_rng/state"] = policy.tf_rng.state.numpy()
    buffer = policy.buffer
    if with_buffer:
        for key, value in buffer.buffers.items():
            arrays[f"buffer/{key}"] = value[: buffer.current_size]
    histories = {name: np.asarray(getattr(policy, name), dtype=np.float64)
                 for name in ("mi_r_history", "gl_r_history", "sk_r_history", "et_r_history")}
    arrays.update({f"history/{k}": v for k, v in histories.items()})
    meta = {
        "format": FORMAT_VERSION,
        "env_name": policy.env_name,
        "input_dims": policy.input_dims,
        "hidden": policy.hidden, "layers": policy.layers, "sac": policy.sac,
        "adam_t": adams,
        "np_rng": policy.rng.bit_generator.state,
        "tf_rng_algorithm": int(policy.tf_rng.algorithm),
        "mi_current": policy.mi_current, "mi_r_scale": policy.mi_r_scale,
        "buffer": {"saved": with_buffer, "current_size": buffer.current_size,
                   "n_transitions_stored": buffer.n_transitions_stored, "size": buffer.size},
        "rollout_worker": _worker_state(rollout_worker),
        "evaluator": _worker_state(evaluator),
        "loop": loop,
    }
    return arrays, meta


def save(logdir: Path, comm, policy, rollout_worker, evaluator, loop: dict, with_buffer: bool = True) -> Path:
    """Write this rank's state, then (rank 0) the manifest. Collective: every rank must call it."""
    folder = checkpoint_dir(logdir)
    rank, size = comm.Get_rank(), comm.Get_size()
    if rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
    comm.Barrier()
    arrays, meta = rank_state(policy, rollout_worker, evaluator, loop, with_buffer)

    def write(f):
        np.savez(f, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)

    # The previous checkpoint stays valid until the new manifest replaces the old one:
    # rank files are written under a name keyed by the position, then the manifest.
    key = f"e{loop['epoch']}c{loop['cycle']}"
    path = folder / f"rank{rank}-{key}.npz"
    atomic_write(path, write)
    digests = comm.gather(file_sha256(path), root=0)
    if rank == 0:
        manifest = {"format": FORMAT_VERSION, "epoch": loop["epoch"], "cycle": loop["cycle"], "ranks": size,
                    "files": [f"rank{r}-{key}.npz" for r in range(size)], "sha256": digests,
                    "with_buffer": with_buffer}
        atomic_write(folder / "manifest.json", lambda f: f.write(json.dumps(manifest, indent=1).encode()))
        for old in folder.glob("rank*-e*c*.npz"):  # rank files of earlier checkpoints
            if old.name not in manifest["files"]:
                old.unlink(missing_ok=True)
    comm.Barrier()
    return path


def read_manifest(logdir: Path) -> dict:
    path = checkpoint_dir(logdir) / "manifest.json"
    if not path.exists():
        raise CheckpointError(f"no checkpoint in {logdir} ({path} does not exist); was the run started "
                              "by this version of music.train with checkpoints on?")
    try:
        manifest = json.loads(path.read_text())
        for key in ("epoch", "cycle", "ranks", "files", "sha256"):
            manifest[key]
    except (ValueError, KeyError, TypeError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise CheckpointError(f"{path} is damaged ({type(err).__name__})") from None
    return manifest


def load_rank(logdir: Path, rank: int, size: int) -> tuple[dict, dict, dict]:
    """(manifest, arrays, meta) of this rank, checked against the manifest's sha256."""
    manifest = read_manifest(logdir)
    if manifest["ranks"] != size:
        raise CheckpointError(f"the checkpoint in {logdir} was written by {manifest['ranks']} ranks; resume it "
                              f"with the same number (this run has {size})")
    path = checkpoint_dir(logdir) / manifest["files"][rank]
    if not path.exists():
        raise CheckpointError(f"checkpoint file {path} is missing")
    if file_sha256(path) != manifest["sha256"][rank]:
        raise CheckpointError(f"checkpoint file {path} is damaged (sha256 differs from the manifest)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(arrays.pop("__meta__").tobytes().decode())
    except Exception as err:
        raise CheckpointError(f"checkpoint file {path} cannot be read ({type(err).__name__}: {err})") from None
    if meta.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format {meta.get('format')}, this code reads {FORMAT_VERSION}")
    return manifest, arrays, meta


def restore(policy, rollout_worker, evaluator, arrays: dict, meta: dict, source: str) -> dict:
    """Put a rank's checkpointed state back; returns the loop position. Refuses a mismatched agent."""
    import tensorflow as tf

    for key, ours in (("env_name", policy.env_name), ("input_dims", policy.input_dims), ("hidden", policy.hidden),
                      ("layers", policy.layers), ("sac", policy.sac)):
        if meta[key] != ours:
            raise CheckpointError(f"{source} is of a different run: {key} is {meta[key]!r} there, {ours!r} here")
    weights = {k[len("var/"):]: v for k, v in arrays.items() if k.startswith("var/")}
    if set(weights) != set(policy.variables):
        raise CheckpointError(f"{source} holds other variables than this agent "
                              f"(e.g. {sorted(set(weights) ^ set(policy.variables))[:3]})")
    report = policy.load_weight(weights, include=[""], verbose=False)
    if report["shape_mismatch"]:
        name, ours, theirs = report["shape_mismatch"][0]
        raise CheckpointError(f"{source}: variable {name} has shape {theirs} there, {ours} here")
    for name, t in meta["adam_t"].items():
        adam = getattr(policy, name)
        adam.m = arrays[f"adam/{name}/m"].astype(np.float32)
        adam.v = arrays[f"adam/{name}/v"].astype(np.float32)
        adam.t = int(t)
    for norm in (policy.o_stats, policy.g_stats):
        for part in ("local_sum", "local_sumsq", "local_count"):
            getattr(norm, part)[...] = arrays[f"norm/{norm.name}/{part}"]
    policy.rng.bit_generator.state = meta["np_rng"]
    policy.tf_rng.reset(tf.constant(arrays["tf_rng/state"]))
    policy.mi_current = meta["mi_current"]
    policy.mi_r_scale = meta["mi_r_scale"]
    for name in ("mi_r_history", "gl_r_history", "sk_r_history", "et_r_history"):
        setattr(policy, name, deque(arrays[f"history/{name}"].tolist(), maxlen=getattr(policy, name).maxlen))
    buffer = policy.buffer
    buffer.clear_buffer()
    if meta["buffer"]["saved"]:
        n = meta["buffer"]["current_size"]
        if n > buffer.size:
            raise CheckpointError(f"{source} holds {n} episodes, more than this buffer's {buffer.size}")
        for key in buffer.buffers:
            buffer.buffers[key][:n] = arrays[f"buffer/{key}"]
        buffer.current_size = n
        buffer.n_transitions_stored = meta["buffer"]["n_transitions_stored"]
    _restore_worker(rollout_worker, meta["rollout_worker"])
    _restore_worker(evaluator, meta["evaluator"])
    return meta["loop"]
