"""Checkpoints that let a run continue exactly where it stopped (``music.train --resume``).

Each rank writes its own state to ``<logdir>/checkpoints/rank<r>-e<epoch>c<cycle>.npz`` (a virtual
worker, ``music.workers``, writes the file of the rank it stands for): every variable
(networks, targets, normalizers), the four optimizers' moments and step counts, the
random states (numpy, TF, every env), the log histories, the rollout counters and, by
default, the replay buffer. Rank 0 then writes ``checkpoints/manifest.json`` naming the
epoch and cycle to continue from and the sha256 of every rank file. Every file is
written to a temporary name, flushed and renamed, and the manifest comes last, so a
run killed at any moment leaves the previous complete checkpoint readable. The one
before it stays too (``previous.json`` names its files): a checkpoint damaged later on
disk leaves a whole one to resume from (``verified_manifest``), at the cost of twice the
disk of one checkpoint.

No pickle: arrays go into .npz, everything else into JSON, so loading a checkpoint runs
no code from the file. The components produce and restore their own state
(``state_dict``/``load_state_dict`` of the agent, its optimizers, normalizers and buffer,
and of the rollout workers); this module only lays those states out in the file.
"""

from __future__ import annotations

import json
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


def rank_state(policy, rollout_worker, evaluator, loop: dict, with_buffer: bool) -> tuple[dict, dict]:
    """(arrays, meta) describing one rank completely: the components' states laid out as the file holds them."""
    agent = policy.state_dict(with_buffer=with_buffer)
    arrays = {f"var/{name}": value for name, value in agent["weights"].items()}
    for name, adam in agent["optimizers"].items():
        arrays[f"adam/{name}/m"], arrays[f"adam/{name}/v"] = adam["m"], adam["v"]
    for name, norm in agent["normalizers"].items():
        arrays.update({f"norm/{name}/{part}": value for part, value in norm.items()})
    arrays["tf_rng/state"] = agent["tf_rng"]["state"]
    arrays.update({f"buffer/{key}": value for key, value in agent["buffer"]["arrays"].items()})
    arrays.update({f"history/{name}": value for name, value in agent["histories"].items()})
    meta = {
        "format": FORMAT_VERSION,
        **agent["architecture"],
        "adam_t": {name: adam["t"] for name, adam in agent["optimizers"].items()},
        "np_rng": agent["np_rng"],
        "tf_rng_algorithm": agent["tf_rng"]["algorithm"],
        # the loop's MI scale, also kept here (as every file of format 1 has it)
        "mi_current": agent["mi_current"], "mi_r_scale": loop["mi_r_scale"],
        "buffer": {key: agent["buffer"][key] for key in ("saved", "current_size", "n_transitions_stored", "size")},
        "rollout_worker": rollout_worker.state_dict(),
        "evaluator": evaluator.state_dict(),
        "loop": loop,
    }
    return arrays, meta


def agent_state(arrays: dict, meta: dict, architecture_keys) -> dict:
    """The agent's ``state_dict`` read back from a checkpoint file's (arrays, meta);
    ``architecture_keys``: those of the agent's ``architecture()`` (the file keeps them in meta)."""
    def under(prefix: str) -> dict:
        return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}

    norms = {}
    for key, value in under("norm/").items():
        name, part = key.split("/", 1)
        norms.setdefault(name, {})[part] = value
    return {
        "architecture": {key: meta[key] for key in architecture_keys},
        "weights": under("var/"),
        "optimizers": {name: {"m": arrays[f"adam/{name}/m"], "v": arrays[f"adam/{name}/v"], "t": t}
                       for name, t in meta["adam_t"].items()},
        "normalizers": norms,
        "np_rng": meta["np_rng"],
        "tf_rng": {"state": arrays["tf_rng/state"], "algorithm": meta["tf_rng_algorithm"]},
        "histories": under("history/"),
        "mi_current": meta["mi_current"],
        "buffer": {**meta["buffer"], "arrays": under("buffer/")},
    }


def save(logdir: Path, comm, workers, loop: dict, with_buffer: bool = True) -> list[Path]:
    """Write the state of every worker of this process (one file per rank it stands for), then
    (rank 0) the manifest. Collective: every rank must call it. ``workers``: ``music.workers.Worker``s."""
    folder = checkpoint_dir(logdir)
    rank = comm.Get_rank()
    ranks = comm.Get_size() * len(workers)
    if rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
    comm.Barrier()
    # The previous checkpoint stays valid until the new manifest replaces the old one:
    # rank files are written under a name keyed by the position, then the manifest.
    key = f"e{loop['epoch']}c{loop['cycle']}"
    paths = []
    for index, (agent, rollout_worker, evaluator) in enumerate(workers):
        arrays, meta = rank_state(agent, rollout_worker, evaluator, loop, with_buffer)

        def write(f, arrays=arrays, meta=meta):
            np.savez(f, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)

        path = folder / f"rank{rank * len(workers) + index}-{key}.npz"
        atomic_write(path, write)
        paths.append(path)
    digests = comm.gather([file_sha256(path) for path in paths], root=0)
    if rank == 0:
        manifest = {"format": FORMAT_VERSION, "epoch": loop["epoch"], "cycle": loop["cycle"], "ranks": ranks,
                    "files": [f"rank{r}-{key}.npz" for r in range(ranks)],
                    "sha256": [digest for process in digests for digest in process],
                    "with_buffer": with_buffer}
        latest = folder / "manifest.json"
        # the latest becomes the one before, if it names other files (a run resumed from the
        # one before has made that the latest again: restore_from)
        named = _files_named(latest)
        if named and named != manifest["files"]:
            atomic_write(folder / PREVIOUS, lambda f: f.write(latest.read_bytes()))
        atomic_write(latest, lambda f: f.write(json.dumps(manifest, indent=1).encode()))
        kept = set(manifest["files"]) | set(_files_named(folder / PREVIOUS))
        for old in folder.glob("rank*-e*c*.npz"):  # rank files of older checkpoints
            if old.name not in kept:
                old.unlink(missing_ok=True)
    comm.Barrier()
    return paths


PREVIOUS = "previous.json"  # the manifest of the checkpoint before the latest


def _files_named(path: Path) -> list[str]:
    try:
        return list(json.loads(path.read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return []


def damage(logdir: Path, manifest: dict) -> str | None:
    """What is wrong with the files of ``manifest`` (missing, or sha256 not the recorded one), else None."""
    folder = checkpoint_dir(logdir)
    for name, recorded in zip(manifest["files"], manifest["sha256"], strict=False):
        path = folder / name
        if not path.exists():
            return f"checkpoint file {path} is missing"
        if file_sha256(path) != recorded:
            return f"checkpoint file {path} is damaged (sha256 differs from the manifest)"
    if len(manifest["files"]) != len(manifest["sha256"]) or len(manifest["files"]) != manifest["ranks"]:
        return f"the manifest in {folder} does not name one file per rank"
    return None


def verified_manifest(logdir: Path) -> tuple[dict, str | None]:
    """The manifest of the newest checkpoint whose every file is whole (sha256 checked), and
    None, or the reason the latest one was passed over for the previous one. Raises
    ``CheckpointError`` with the latest's problem if neither is whole."""
    try:
        manifest = read_manifest(logdir)
        problem = damage(logdir, manifest)
    except CheckpointError as err:
        if not (checkpoint_dir(logdir) / PREVIOUS).exists():
            raise
        problem = str(err)
    if problem is None:
        return manifest, None
    previous_path = checkpoint_dir(logdir) / PREVIOUS
    if previous_path.exists():
        try:
            previous = read_manifest(logdir, previous_path.name)
        except CheckpointError:
            previous = None
        if previous is not None and damage(logdir, previous) is None:
            return previous, (f"{problem}; resuming from the checkpoint before it (epoch {previous['epoch']}, "
                              f"cycle {previous['cycle']})")
    raise CheckpointError(f"{problem}, and no earlier whole checkpoint is left; start the run again in a new "
                          "folder")


def restore_from(logdir: Path, manifest: dict) -> None:
    """Make ``manifest`` (a whole checkpoint a run resumes from) the latest again, so that the
    next checkpoint keeps it as the one before rather than a damaged latest. Rank 0 only."""
    folder = checkpoint_dir(logdir)
    atomic_write(folder / "manifest.json", lambda f: f.write(json.dumps(manifest, indent=1).encode()))


def read_manifest(logdir: Path, name: str = "manifest.json") -> dict:
    path = checkpoint_dir(logdir) / name
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


def load_rank(logdir: Path, rank: int, size: int, manifest: dict | None = None) -> tuple[dict, dict, dict]:
    """(manifest, arrays, meta) of this rank, checked against the sha256 of ``manifest`` (default:
    the latest)."""
    manifest = read_manifest(logdir) if manifest is None else manifest
    if manifest["ranks"] != size:
        raise CheckpointError(f"the checkpoint in {logdir} was written by {manifest['ranks']} ranks; resume it "
                              f"with as many ranks x workers per rank (this run has {size})")
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
    try:
        policy.load_state_dict(agent_state(arrays, meta, policy.architecture()))
        rollout_worker.load_state_dict(meta["rollout_worker"])
        evaluator.load_state_dict(meta["evaluator"])
    except (ValueError, KeyError) as err:
        raise CheckpointError(f"{source}: {err}") from None
    return meta["loop"]
