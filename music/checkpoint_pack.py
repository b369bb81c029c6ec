"""A checkpoint small enough to commit: the replay buffers' episodes kept as their actions.

A checkpoint (``music.checkpoint``) is mostly replay buffers: at the paper's 16 workers and
epoch 20, about 230 MB of observations. Those observations are a function of what the
run did: each environment was seeded as its rank's, reset in turn, and stepped with the
recorded actions. A pack keeps what cannot be recomputed (every other array, each once
however many rank files hold it, and the rank files' JSON) plus the sha256 of what it
drops (the buffers' ``o``, ``ag``, ``g`` and ``info_*``). ``unpack`` replays every stored
episode with the rollout worker of training, driven by the recorded actions, checks each
rebuilt array against its digest and writes the rank files and manifest again, so that
``music.train --resume`` continues the run exactly as from the original checkpoint. A pack
of 16 workers at epoch 20 is about 40 MB; rebuilding it costs about 0.15 s of a core per
episode (the simulator's steps), some 40 min on 2 cores for 16 workers at epoch 20, against
2-5 h to train those epochs again. ``verify`` rebuilds a few ranks only, to check a pack
before the checkpoint it came from is gone.

The campaign runner commits the pack of a run it stops half-way, and the campaign queue one
every hour while the run trains, so that a new machine, whose runs folder is gone, resumes
it instead of training it again (``music.campaign``).

Packing refuses a checkpoint it could not rebuild: a rank whose buffer overwrote an
episode (full) or whose rollouts were retried after NaN observations (the envs were reset
for episodes the buffer never got). Unpacking on another simulator build that steps
differently stops at the first rebuilt array that differs, naming it.

    python -m music.checkpoint_pack pack <run folder> <pack folder>
    python -m music.checkpoint_pack unpack <pack folder> <run folder>
    python -m music.checkpoint_pack verify <pack folder> [--ranks 0 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from music.checkpoint import FORMAT_VERSION, CheckpointError, checkpoint_dir, load_rank, verified_manifest
from music.files import array_sha256, atomic_write, atomic_write_text, folder_bytes

PACK_FORMAT = 1
PACK_JSON = "pack.json"
# One .npy file per distinct array, named by its sha256, and the buffers' kept arrays in
# chunks of CHUNK episodes: the next pack of the same run writes the chunks of the episodes
# it shares with this one as the same files, which git stores once.
ARRAYS = "arrays"
CHUNK = 500
FILES = "files"  # the run folder's own small files, as they were
# What a resumed run needs from its folder besides the checkpoint: its params and logs (the
# loop appends to them) and the pickle-free and pickled policies it kept (policy_<epoch>,
# policy_best, policy_latest). TensorBoard's event files are not carried: progress.csv holds
# the same numbers.
RUN_FILES = ("params.json", "progress.csv", "log.txt", "sweep_segments.json")  # the last: music.sweep.SEGMENTS
REPLAYED = ("buffer/o", "buffer/ag", "buffer/g")  # and every buffer/info_*: recomputed by unpack


class PackError(CheckpointError):
    """A checkpoint that cannot be packed, or a pack that does not rebuild the checkpoint it was made of."""


def replayed(key: str) -> bool:
    """Whether a rank file's array is dropped by the pack and recomputed by replaying the episodes."""
    return key in REPLAYED or key.startswith("buffer/info_")


def simulator_versions() -> dict:
    """The versions whose stepping the rebuilt observations depend on (named when a rebuild differs)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("mujoco", "gymnasium", "gymnasium-robotics", "numpy"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def _check_replayable(meta: dict, rank: int) -> None:
    buffer, worker = meta["buffer"], meta["rollout_worker"]
    if not buffer["saved"]:
        return
    if worker["nan_retries"]:
        raise PackError(f"rank {rank}: {worker['nan_retries']} rollouts were retried after NaN observations, so its "
                        "buffer cannot be rebuilt from its actions; copy the whole checkpoint instead")
    if buffer["current_size"] != worker["n_episodes"]:
        raise PackError(f"rank {rank}: its buffer holds {buffer['current_size']} of the {worker['n_episodes']} "
                        "episodes it generated (full: older ones were overwritten), so it cannot be rebuilt from "
                        "its actions; copy the whole checkpoint instead")


def pack(logdir: Path, dest: Path, commit: str | None = None, policies=None) -> dict:
    """Write the pack of ``logdir``'s newest whole checkpoint to ``dest`` (replaced); returns its pack.json.

    ``commit``: the code's, recorded for whoever resumes it. ``policies``: which of the run's
    policy files (``policy_*.npz`` and ``.pkl``) to carry, a function of the file name (default:
    all of them).
    """
    logdir, dest = Path(logdir), Path(dest)
    manifest, _ = verified_manifest(logdir)
    params = json.loads((logdir / "params.json").read_text())
    dest.parent.mkdir(parents=True, exist_ok=True)
    # a name of its own: two packers of one run (a stop beside the queue's hourly pack) do not mix files
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    tmp.chmod(0o755)  # mkdtemp's 0700 would stay on the pack folder
    try:
        record = _write_pack(logdir, manifest, params, tmp, commit, policies)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a refused or failed pack leaves nothing in the clone
        raise
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    return record


def _write_pack(logdir: Path, manifest: dict, params: dict, tmp: Path, commit: str | None, policies) -> dict:
    (tmp / FILES).mkdir()
    (tmp / ARRAYS).mkdir()
    ranks = []
    for rank in range(manifest["ranks"]):
        _, arrays, meta = load_rank(logdir, rank, manifest["ranks"], manifest)
        _check_replayable(meta, rank)
        entries, dropped = [], {}
        for key, value in arrays.items():
            entry = {"key": key, "sha256": array_sha256(value), "shape": list(value.shape), "dtype": value.dtype.str}
            if replayed(key) and meta["buffer"]["saved"]:
                dropped[key] = entry
            else:
                pieces = ([value[start:start + CHUNK] for start in range(0, len(value), CHUNK)]
                          if key.startswith("buffer/") else [value])
                entry["files"] = [_store(tmp / ARRAYS, piece) for piece in pieces]
            entries.append(entry)
        ranks.append({"file": manifest["files"][rank], "meta": meta, "arrays": entries, "replayed": dropped})
    record = {"format": PACK_FORMAT, "checkpoint_format": FORMAT_VERSION,
              **{key: manifest[key] for key in ("epoch", "cycle", "ranks")},
              "with_buffer": manifest.get("with_buffer", True), "env_name": params["env_name"],
              "seed": params["seed"], "rollout_batch_size": params["rollout_batch_size"],
              "commit": commit, "versions": simulator_versions(), "ranks_state": ranks,
              # which checkpoint this is (a run trained again reaches the same epoch and cycle with other files)
              "checkpoint_sha256": list(manifest["sha256"])}

    carried = [name for name in RUN_FILES if (logdir / name).exists()]
    carried += sorted(p.name for p in logdir.glob("policy_*") if p.suffix in (".npz", ".pkl")
                      and (policies is None or policies(p.name)))
    for name in carried:
        shutil.copy2(logdir / name, tmp / FILES / name)
    record["files"] = carried
    atomic_write_text(tmp / PACK_JSON, json.dumps(record, indent=1))
    return record


def _store(folder: Path, value: np.ndarray) -> str:
    """Write ``value`` as ``folder/<sha256>.npy`` (once); returns the file name."""
    name = f"{array_sha256(value)}.npy"
    if not (folder / name).exists():
        np.save(folder / name, np.ascontiguousarray(value), allow_pickle=False)
    return name


def _load(source: Path, entry: dict) -> np.ndarray:
    """An array of the pack, put together from its files and checked against its digest."""
    try:
        pieces = [np.load(source / ARRAYS / name, allow_pickle=False) for name in entry["files"]]
    except (OSError, ValueError) as err:
        raise PackError(f"{source}: a file of {entry['key']} cannot be read ({type(err).__name__}: {err})") from None
    value = (np.concatenate(pieces) if len(pieces) > 1 else pieces[0] if pieces
             else np.empty(entry["shape"], np.dtype(entry["dtype"])))
    if array_sha256(value) != entry["sha256"]:
        raise PackError(f"{source}: the files of {entry['key']} do not give the array that was packed "
                        "(a file is damaged or from another pack)")
    return value


def read_pack(source: Path) -> dict:
    path = Path(source) / PACK_JSON
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise PackError(f"{path} cannot be read ({type(err).__name__}); is {source} a checkpoint pack?") from None
    if record.get("format") != PACK_FORMAT:
        raise PackError(f"{path} has pack format {record.get('format')}, this code reads {PACK_FORMAT}")
    return record


def read_whole_pack(source: Path) -> dict:
    """read_pack, and every small file and policy the pack lists is there (a clone of a commit that
    left some out, e.g. by .gitignore, has the record without them)."""
    record = read_pack(source)
    missing = [f"{FILES}/{name}" for name in record.get("files", []) if not (Path(source) / FILES / name).is_file()]
    if missing:
        raise PackError(f"{source} lacks {', '.join(missing)} of the pack; copy them from where it was made")
    return record


class RecordedActions:
    """Stands in for the agent in a rollout worker: each call returns the next step of the
    actions given to ``play`` (episodes, T, dimu), whatever the observations."""

    split = None  # the task's registered split, as the agent's

    def __init__(self):
        self.actions, self.t = None, 0

    def play(self, actions: np.ndarray) -> None:
        self.actions, self.t = actions, 0

    def get_actions(self, o, z, ag, g, **_):
        u = self.actions[:, self.t]
        self.t += 1
        return u.copy()


def replay_rank(env_name: str, params: dict, seed: int, kept: dict, dropped: dict) -> tuple[dict, list]:
    """The dropped buffer arrays of one rank, recomputed, and its environments' random states
    after them: the environments seeded as the run seeded them (``seed``: the rank's) and the
    stored episodes replayed in the order they were generated (``rollout_batch_size`` at a
    time), with their recorded actions and skills."""
    from music.envs import make_env
    from music.rollout import RolloutWorker, exploring_goals

    actions, skills = kept["buffer/u"], kept["buffer/z"]
    n_episodes, T, dimu = actions.shape
    n = params["rollout_batch_size"]
    dims = {"o": dropped["buffer/o"]["shape"][-1], "g": dropped["buffer/g"]["shape"][-1], "u": dimu,
            "z": skills.shape[-1]}
    dims.update({key[len("buffer/"):]: spec["shape"][-1] for key, spec in dropped.items() if "/info_" in key})
    policy = RecordedActions()
    worker = RolloutWorker(lambda: make_env(env_name, quiet=True), policy, dims, T, rollout_batch_size=n,
                           env_name=env_name, max_nan_retries=0)
    worker.seed(seed)
    rebuilt = {key: np.empty(spec["shape"], np.dtype(spec["dtype"])) for key, spec in dropped.items()}
    for start in range(0, n_episodes, n):
        policy.play(actions[start:start + n])
        episode = worker.generate_rollouts(generated_goal=exploring_goals(params, worker),
                                           z_s_onehot=skills[start:start + n, 0])
        for key in rebuilt:
            rebuilt[key][start:start + n] = episode[key[len("buffer/"):]]
    return rebuilt, [env.unwrapped.np_random.bit_generator.state for env in worker.envs]


def _rebuild_rank(source: Path, record: dict, rank: int, folder: Path) -> tuple[str, str]:
    """Write rank ``rank``'s checkpoint file into ``folder``; returns (file name, sha256)."""
    from music.files import file_sha256
    from music.workers import rank_seed

    state = record["ranks_state"][rank]
    arrays = {entry["key"]: _load(source, entry) for entry in state["arrays"] if entry["key"] not in state["replayed"]}
    if state["replayed"]:
        params = json.loads((source / FILES / "params.json").read_text())
        rebuilt, rng_states = replay_rank(record["env_name"], params, rank_seed(record["seed"], rank), arrays,
                                          state["replayed"])
        for key, value in rebuilt.items():
            if array_sha256(value) != state["replayed"][key]["sha256"]:
                raise PackError(f"rank {rank}: the rebuilt {key} differs from the packed run's, so this simulator "
                                f"steps differently from the one that made it ({_versions_note(record)}); "
                                "resume on that build, or start the run again")
        if rng_states != state["meta"]["rollout_worker"]["env_rng"]:
            raise PackError(f"rank {rank}: after replaying its episodes its environments' random states differ "
                            "from the checkpoint's (an episode is missing or extra); the pack cannot be used")
        arrays.update(rebuilt)
    ordered = {entry["key"]: arrays[entry["key"]] for entry in state["arrays"]}
    meta = np.frombuffer(json.dumps(state["meta"]).encode(), dtype=np.uint8)
    path = folder / state["file"]
    atomic_write(path, lambda f: np.savez(f, __meta__=meta, **ordered))
    return state["file"], file_sha256(path)


def _versions_note(record: dict) -> str:
    here = simulator_versions()
    differ = [f"{name} {was} there, {here.get(name)} here" for name, was in record["versions"].items()
              if here.get(name) != was]
    return "; ".join(differ) if differ else "the same package versions"


def unpack(source: Path, logdir: Path, processes: int = 1, log=print) -> dict:
    """Make ``logdir`` a run folder that resumes from the checkpoint packed in ``source`` (its
    rank files rebuilt and checked, its small files and policies copied); returns the manifest.
    ``logdir`` must not hold a checkpoint already."""
    source, logdir = Path(source), Path(logdir)
    record = read_whole_pack(source)
    folder = checkpoint_dir(logdir)
    if (folder / "manifest.json").exists():
        raise PackError(f"{logdir} holds a checkpoint already; unpack into a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    written = _rebuild_ranks(source, record, list(range(record["ranks"])), folder, processes, log,
                             f"rebuilding the checkpoint of epoch {record['epoch']}, cycle {record['cycle']} "
                             f"({record['ranks']} ranks)")
    for name in record["files"]:
        shutil.copy2(source / FILES / name, logdir / name)
    manifest = {"format": record["checkpoint_format"], "epoch": record["epoch"], "cycle": record["cycle"],
                "ranks": record["ranks"], "files": [name for name, _ in written],
                "sha256": [digest for _, digest in written], "with_buffer": record["with_buffer"]}
    # the manifest last, as music.checkpoint writes it: a folder without it holds no checkpoint
    atomic_write_text(folder / "manifest.json", json.dumps(manifest, indent=1))
    return manifest


def verify(source: Path, ranks: list[int], processes: int = 1, log=print) -> None:
    """Rebuild the rank files ``ranks`` of the pack in a temporary folder and discard them:
    raises PackError as ``unpack`` would if one of them is not the checkpoint that was packed."""
    source = Path(source)
    record = read_whole_pack(source)
    outside = [rank for rank in ranks if not 0 <= rank < record["ranks"]]
    if outside:
        raise PackError(f"{source} packs ranks 0-{record['ranks'] - 1}; there is no rank "
                        f"{', '.join(map(str, outside))}")
    with tempfile.TemporaryDirectory(prefix="pack-verify-") as folder:
        _rebuild_ranks(source, record, ranks, Path(folder), processes, log,
                       f"verifying rank(s) {', '.join(map(str, ranks))} of the checkpoint of epoch "
                       f"{record['epoch']}, cycle {record['cycle']}")


def _rebuild_ranks(source: Path, record: dict, ranks: list[int], folder: Path, processes: int, log,
                   what: str) -> list[tuple[str, str]]:
    """``_rebuild_rank`` of each of ``ranks`` into ``folder``, spread over ``processes``; returns
    their (file name, sha256) in rank order."""
    episodes = sum(record["ranks_state"][rank]["meta"]["buffer"]["current_size"] for rank in ranks
                   if record["ranks_state"][rank]["replayed"])
    log(f"{what}: replaying {episodes} episodes with {processes} process(es)")
    if processes > 1:
        with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
            return list(pool.map(_rebuild_rank, *zip(*[(source, record, r, folder) for r in ranks], strict=True)))
    return [_rebuild_rank(source, record, rank, folder) for rank in ranks]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m music.checkpoint_pack", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    packing = sub.add_parser("pack", help="pack a run folder's newest checkpoint")
    packing.add_argument("logdir", type=Path)
    packing.add_argument("dest", type=Path)
    unpacking = sub.add_parser("unpack", help="rebuild a run folder from a pack (then: music.train --resume)")
    unpacking.add_argument("source", type=Path)
    unpacking.add_argument("logdir", type=Path)
    unpacking.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    verifying = sub.add_parser("verify", help="rebuild some ranks of a pack and check them, writing nothing")
    verifying.add_argument("source", type=Path)
    verifying.add_argument("--ranks", type=int, nargs="+", default=[0])
    verifying.add_argument("--processes", type=int, default=1)
    args = p.parse_args(argv)
    try:
        if args.command == "pack":
            record = pack(args.logdir, args.dest)
            print(f"packed the checkpoint of epoch {record['epoch']}, cycle {record['cycle']} into {args.dest} "
                  f"({folder_bytes(args.dest) / 1e6:.1f} MB)")
        elif args.command == "verify":
            verify(args.source, args.ranks, args.processes)
            print(f"{args.source}: rank(s) {', '.join(map(str, args.ranks))} rebuilt and identical to the "
                  "checkpoint that was packed")
        else:
            manifest = unpack(args.source, args.logdir, args.processes)
            print(f"{args.logdir} resumes from epoch {manifest['epoch']}, cycle {manifest['cycle']}: "
                  f"python -m music.train --resume {args.logdir}")
    except CheckpointError as err:
        print(f"checkpoint_pack: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
