"""Setting up and running a training run: what ``python -m music.train`` does after parsing.

``launch(args, argv)`` checks every input on every rank (one-line errors, nothing
written), lets rank 0 name the log folder, seeds each rank, writes ``params.json``,
builds the agent and its rollout workers (``build_workers``), restores a checkpoint for
``--resume``, runs ``music.training.train`` and reports how it ended (exit statuses in
``music.cli``). The original's counterpart is ``baselines/her/experiment/train.py``'s
``launch``.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np

from music.cli import EXIT_BAD_INPUT, EXIT_TRAINING_FAILED, fail
from music.files import repo_relative, weights_sha256
from music.mpi_launch import MpiLauncherError, mpi_fork

# Options that define a run: on resume the run keeps its own (its params.json holds them);
# given again with the run's own value they are accepted, with another value refused.
FIXED_ON_RESUME = ("--env_name", "--seed", "--policy_save_interval", "--n_cycles", "--replay_strategy",
                   "--clip_return", "--version", "--note", "--logdir", "--params_file", "--param")
# --num_cpu, --binding and --logging say how a run is launched or named, not what it computes:
# on resume they are obeyed or moot (the folder is --resume's; the ranks x workers must fit the
# checkpoint's, checked below).


def given_options(argv: list[str]) -> set[str]:
    """The options written on the command line (prefix matching is off, so they are exact)."""
    return {token.split("=", 1)[0] for token in argv if token.startswith("--")}


class BadInput(Exception):
    """A problem with the command line or files that the user must fix (exit status 2)."""


def install_excepthook(comm, logdir: Path | None) -> None:
    """An uncaught exception on any rank: its traceback goes to stderr (and, once the log folder
    exists, ``crash_rank<r>.txt`` and log.txt), then every rank is aborted, so that no rank is
    left waiting in a collective for one that died. Installed as soon as MPI is up, before the
    set-up, and again with the log folder once it is made."""
    from music.mpi_util import abort_all_ranks  # MPI is up by now (see launch)

    def hook(exc_type, exc, tb):
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        rank = comm.Get_rank()
        print(f"rank {rank}: {text}", file=sys.stderr, flush=True)
        if logdir is not None:
            try:
                (logdir / f"crash_rank{rank}.txt").write_text(text)
                with open(logdir / "log.txt", "a") as f:
                    f.write(f"rank {rank} failed:\n{text}")
            except OSError:
                pass
        if comm.Get_size() > 1:
            abort_all_ranks(1, comm)
        sys.stdout.flush()
        os._exit(1)

    sys.excepthook = hook


# ------------------------------------------------------------------------------ set-up
# What the set-up of a new run writes in its (new or empty) folder before the first cycle.
SETUP_FILES = ("params.json", "log.txt", "tb")


def resolve_params(args, given: set[str] = frozenset()) -> dict:
    """The run's parameters: defaults, then the note's params file (or --params_file), then --param.

    With --params_file the note is the file's (or the default's) unless --note is given.
    """
    from music.config import (
        ParamsError,
        check_consistency,
        check_params,
        default_params,
        load_params_file,
        params_file,
        parse_override,
    )
    from music.envs import SplitError, UnknownEnvError, check_env_name

    try:
        check_env_name(args.env_name)
        params = default_params()
        params.update(check_params({"replay_strategy": args.replay_strategy, "n_cycles": args.n_cycles},
                                   "command line"))
        source = Path(args.params_file) if args.params_file else params_file(args.env_name, args.note)
        params.update(load_params_file(source))
        if not args.params_file or "--note" in given:
            params["note"] = args.note
        overrides = dict(parse_override(text) for text in args.param)
        params.update(check_params(overrides, "--param"))
        check_consistency(params, str(source or "params"))
        check_env_and_split(args.env_name, params)
    except (ParamsError, UnknownEnvError, SplitError) as err:
        raise BadInput(str(err)) from None
    for name in ("n_epochs", "num_cpu"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise BadInput(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.seed < 0:
        raise BadInput(f"--seed must be >= 0, got {args.seed} (rank r uses seed + 1000000 r)")
    if args.policy_save_interval < 0:
        raise BadInput(f"--policy_save_interval must be >= 0, got {args.policy_save_interval}")
    params["env_name"] = args.env_name
    params["params_source"] = repo_relative(source.resolve()) if source else None
    if isinstance(params["max_u"], list):
        from music.envs import make_env

        dimu = make_env(args.env_name).action_space.shape[0]
        if len(params["max_u"]) != dimu:
            raise BadInput(f"max_u lists {len(params['max_u'])} bounds but {args.env_name} has {dimu} action "
                           f"dimensions; give one number or a list of {dimu}")
    return params


def check_env_and_split(env_name: str, params: dict) -> None:
    """Before anything is written: an environment without a registered split is made once (it must
    be goal-conditioned), and a declared or needed agent/surrounding split must fit its observations.
    Raises ``UnknownEnvError`` or ``SplitError`` (one line each)."""
    from music.config import needs_split
    from music.envs import KNOWN_SPLITS, VECTOR_SPLITS, env_id, make_env, observation_split

    declared = params["agent_obs"] is not None or params["surrounding_obs"] is not None
    known = env_id(env_name) in KNOWN_SPLITS and env_id(env_name) not in VECTOR_SPLITS  # goal envs of ours
    if known and not declared:
        return  # the registered split is checked against the observations when the agent is built
    env = make_env(env_name, quiet=True)
    dimo = env.observation_space["observation"].shape[0]
    env.close()
    if declared or needs_split(params):
        observation_split(env_name, dimo, params["agent_obs"], params["surrounding_obs"])


def default_logdir(args, num_cpu: int) -> Path:
    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H-%M-%S")
    if args.logging:
        return Path("logs") / (f"{args.env_name}-replay_strategy{args.replay_strategy}-n_epochs{args.n_epochs}"
                               f"-num_cpu{num_cpu}-seed{args.seed}-n_cycles{args.n_cycles}-version{args.version}"
                               f"-T-{stamp}")
    return Path(tempfile.gettempdir()) / datetime.datetime.now().strftime("openai-%Y-%m-%d-%H-%M-%S-%f")


def choose_logdir(args, comm) -> Path:
    """Rank 0 names the log folder (from its own clock, once) and every rank uses that name.

    Each rank stamping the default name with its own clock gave different folders to ranks
    that crossed a second boundary, and the run crashed at its first checkpoint.
    """
    name = None
    if comm.Get_rank() == 0:
        name = str(Path(args.logdir) if args.logdir else default_logdir(args, comm.Get_size()))
    return Path(comm.bcast(name, root=0))


def check_writable(folder: Path, what: str) -> None:
    """BadInput unless this process can make and write ``folder`` (the nearest existing folder
    on its path must be writable): a run that cannot write its log stops before it starts."""
    existing = Path(folder).absolute()
    while not existing.exists():
        existing = existing.parent
    if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
        return
    stat = existing.stat()
    if os.statvfs(existing).f_flag & os.ST_RDONLY:
        why, fix = "a read-only file system", "mount it writable"
    else:
        why = f"owned by uid {stat.st_uid}, mode {stat.st_mode & 0o777:o}"
        fix = f"a Docker volume: create it and `chown {os.getuid()}` it on the host, or run the container with --user"
    raise BadInput(f"{what} {folder}: uid {os.getuid()} cannot write in {existing} ({why}); give a folder this user "
                   f"can write, or make it so ({fix})")


def only_a_setup(logdir: Path) -> bool:
    """Whether ``logdir`` holds nothing but what a run writes before its first epoch ends (a run killed
    in its set-up, e.g. by a second Ctrl-C, or in its first epoch without a checkpoint)."""
    entries = [path.name for path in logdir.iterdir()] if logdir.is_dir() else []
    return bool(entries) and all(name in SETUP_FILES or name.startswith("crash_rank") for name in entries)


def check_logdir(logdir: Path) -> None:
    if logdir.exists() and not logdir.is_dir():
        raise BadInput(f"--logdir {logdir} is a file; give a folder")
    check_writable(logdir, "--logdir")
    if only_a_setup(logdir):
        raise BadInput(f"--logdir {logdir} holds only the start of a run that saved nothing (no progress.csv, no "
                       f"checkpoint, no policy: killed in its set-up or first epoch?); remove it (rm -r {logdir}) "
                       "or give a new folder")
    if logdir.is_dir() and any(logdir.iterdir()):
        hint = (f"to continue that run use --resume {logdir}; " if (logdir / "params.json").exists() else "")
        raise BadInput(f"--logdir {logdir} already holds files (a previous run?); {hint}give a new or empty folder")


def resolve_load_weight(params: dict, seed: int) -> Path | None:
    """The policy file whose weights this run loads (a list is indexed by seed), checked to exist."""
    value = params.get("load_weight")
    if not value:
        return None
    if isinstance(value, list):
        if not 0 <= seed < len(value):
            raise BadInput(f"load_weight lists {len(value)} policies (one per seed) but --seed is {seed}; "
                           "add one for this seed or pick a seed in range")
        value = value[seed]
    from music.save_weight import saved_weights, weights_file, weights_source

    if value.startswith("pretrained:"):
        from music.config import ParamsError, shipped_weights

        try:
            return weights_source(shipped_weights(value, params["env_name"], params["note"]))
        except ParamsError as err:
            raise BadInput(str(err)) from None
    path = Path(value)
    if not path.exists() and saved_weights(path) is None:
        raise BadInput(f"load_weight {path} does not exist (nor {weights_file(path).name}); train the "
                       "pretraining run first and point load_weight at its policy file, e.g. "
                       "--param load_weight='\"logs/<run>/policy_latest.pkl\"'")
    return weights_source(path)  # the file that is read, which the log names


def weights_digest(policy) -> str:
    """sha256 of every variable of the policy (music.files.weights_sha256)."""
    return weights_sha256(policy.save_weight())


def check_ranks_agree(policy, logger, comm) -> bool:
    """Log each rank's weights digest; True if all ranks hold identical weights."""
    digests = comm.allgather(weights_digest(policy))
    same = len(set(digests)) == 1
    logger.info(f"final weights identical on all {len(digests)} ranks: {same} "
                f"(sha256 per rank: {' '.join(d[:16] for d in digests)})")
    return same


def workers_per_rank(args, given: set[str], params: dict | None = None) -> int:
    """K: ``--workers_per_rank``, else (resuming) the run's own, else 1; checked to be >= 1."""
    value = args.workers_per_rank if "--workers_per_rank" in given or params is None else \
        params.get("workers_per_rank", 1)
    if value < 1:
        raise BadInput(f"--workers_per_rank must be >= 1 (got {value}): every process runs at least one worker")
    return value


def recorded_processes(logdir: Path) -> int | None:
    """The MPI processes a run was launched with (its params.json's num_cpu), if it says."""
    try:
        value = json.loads((logdir / "params.json").read_text()).get("num_cpu")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and value >= 1 else None


def resume_params(args, size: int, given: set[str]) -> tuple[dict, Path, dict, str | None]:
    """Parameters, folder and checkpoint manifest of the run to continue, and why an older
    checkpoint than the latest is used (None if it is not); checks, before anything is
    written, that the checkpoint is whole (every file's sha256) and fits this launch.

    Options that define the run (``FIXED_ON_RESUME``) may only repeat the run's own values.
    """
    from music.checkpoint import CheckpointError, verified_manifest

    logdir = Path(args.resume)
    try:
        params = json.loads((logdir / "params.json").read_text())
        # a resumed run appends to its log and progress and writes new checkpoints: all must be
        # writable now, not at the first checkpoint an epoch later (a sub-folder may be a mount of its own)
        for folder in (logdir, logdir / "checkpoints"):
            check_writable(folder, "--resume")
        for name in ("log.txt", "progress.csv"):
            if (logdir / name).exists() and not os.access(logdir / name, os.W_OK):
                raise BadInput(f"--resume {logdir}: uid {os.getuid()} cannot write {name} there; make it writable "
                               f"(chown {os.getuid()} or chmod u+w), or resume as its owner")
    except FileNotFoundError:
        raise BadInput(f"--resume {logdir}: no params.json there; give the folder of a music.train run") from None
    except ValueError as err:
        raise BadInput(f"--resume {logdir}: params.json is damaged ({type(err).__name__})") from None
    changed = changed_on_resume(args, given, params, logdir)
    if changed:
        raise BadInput(f"--resume continues {logdir} with its own settings; {'; '.join(changed)} (only --n_epochs, "
                       "--workers_per_rank and the checkpoint options can change on resume)")
    if only_a_setup(logdir):
        raise BadInput(f"--resume {logdir}: that run saved nothing to continue from (no checkpoint, no progress.csv: "
                       f"killed in its set-up or first epoch?); remove it (rm -r {logdir}) and start it again")
    try:
        manifest, fallback = verified_manifest(logdir)
    except CheckpointError as err:
        raise BadInput(f"--resume: {err}") from None
    workers = workers_per_rank(args, given, params)
    if manifest["ranks"] != size * workers:
        raise BadInput(f"--resume {logdir}: its checkpoint was written by {manifest['ranks']} ranks, this run has "
                       f"{size} x {workers} workers per rank = {size * workers}; start it with N processes and "
                       f"--workers_per_rank K where N x K = {manifest['ranks']}")
    params["workers_per_rank"] = workers
    if "--n_epochs" in given:
        params["n_epochs"] = args.n_epochs
    # A run started before mi_end_mode existed fed the live MI scale to the critic target:
    # it continues that way (see docs/deviations.md).
    params.setdefault("mi_end_mode", "drop")
    return params, logdir, manifest, fallback


def changed_on_resume(args, given: set[str], params: dict, logdir: Path) -> list[str]:
    """What the options given with --resume would change of the run (``FIXED_ON_RESUME``), one
    'OPTION is V there, W here' each; the run's own values (e.g. the command that started it,
    repeated with --resume) change nothing."""
    from music.config import ParamsError, parse_override

    changed = []
    for option in sorted(given & set(FIXED_ON_RESUME)):
        name = option[2:]
        if option == "--param":
            for text in args.param:
                try:
                    key, value = parse_override(text)
                except ParamsError as err:
                    changed.append(f"--param {text}: {err}")
                    continue
                if params.get(key, object()) != value:
                    changed.append(f"--param {key} is {json.dumps(params.get(key))} there, {json.dumps(value)} here")
        elif option == "--logdir":
            if Path(args.logdir).resolve() != logdir.resolve():
                changed.append(f"--logdir {args.logdir} is not the run's folder {logdir}")
        elif option == "--params_file":
            changed += params_file_changes(args, params)
        elif params.get(name) != getattr(args, name):
            changed.append(f"{option} is {params.get(name)} there, {getattr(args, name)} here")
    return changed


def params_file_changes(args, params: dict) -> list[str]:
    """What --params_file, given with --resume, would change of the run's params.json: its keys
    that differ (those a --param given now overrides are --param's to check). The file that
    started the run, or any with the same values, changes nothing."""
    from music.config import ParamsError, load_params_file, parse_override

    try:
        from_file = load_params_file(args.params_file)
    except ParamsError as err:
        return [f"--params_file: {err}"]
    overridden = {parse_override(text)[0] for text in args.param if "=" in text}
    missing = object()

    def as_json(value):  # tuples and lists alike, as params.json has them
        return value if value is missing else json.loads(json.dumps(value))

    return [f"--params_file {args.params_file}: {key} is {json.dumps(params.get(key))} there, {json.dumps(value)} "
            "here" for key, value in sorted(from_file.items())
            if key not in overridden and as_json(params.get(key, missing)) != as_json(value)]


def truncate_progress(logdir: Path, first_epoch: int) -> int:
    """Drop progress.csv rows of epochs >= first_epoch (they are redone); returns rows kept."""
    import csv
    import io

    from music.files import atomic_write_text

    path = logdir / "progress.csv"
    if not path.exists():
        return 0
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    epoch_col = header.index("epoch")
    kept = [r for r in body if int(float(r[epoch_col])) < first_epoch]
    text = io.StringIO()
    csv.writer(text).writerows([header, *kept])
    atomic_write_text(path, text.getvalue())
    return len(kept)


def agree_on_error(comm, error: str | None) -> str | None:
    """The first error any rank found (collective), so that all ranks stop together."""
    errors = [e for e in comm.allgather(error) if e]
    return errors[0] if errors else None


def setup_interrupted(signum: int, args, logdir: Path, made_logdir: bool, manifest: dict | None, logger,
                      comm) -> int:
    """SIGINT/SIGTERM reached a rank during the set-up (every rank calls this together).

    Nothing was trained. A new run's folder is emptied of what the set-up wrote (and removed
    if the set-up made it), so that the same command starts afresh; a resumed run's
    checkpoint was only read. Returns 128 + signum, the status of a stopped training."""
    import shutil
    import signal

    from music.mpi_launch import resume_command

    logger.close()
    name = signal.Signals(signum).name
    if comm.Get_rank() == 0:
        if args.resume:
            print(f"music.train: {name} during the set-up, before training went on: the checkpoint of epoch "
                  f"{manifest['epoch']}, cycle {manifest['cycle']} is as it was; resume with: "
                  f"{resume_command(logdir, comm.Get_size())}", file=sys.stderr, flush=True)
        else:
            for entry in SETUP_FILES:
                path = logdir / entry
                shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
            if made_logdir and not any(logdir.iterdir()):
                logdir.rmdir()
            print(f"music.train: {name} during the set-up, before the first cycle: nothing was trained and "
                  f"{logdir} is {'gone' if made_logdir else 'empty'} again; the same command starts afresh",
                  file=sys.stderr, flush=True)
    comm.Barrier()
    return 128 + signum


def launch(args, argv: list[str], extra_hooks: tuple = ()) -> int:
    """Run the training the parsed ``args`` describe; returns the exit status.

    ``extra_hooks`` (``music.training.Hook``) run before the standard ones on every rank; they
    do not survive the re-launch of ``--num_cpu N`` (start the ranks with mpiexec instead).
    """
    given = given_options(argv)
    num_cpu = args.num_cpu
    if args.resume and "--num_cpu" not in given:
        num_cpu = recorded_processes(Path(args.resume)) or num_cpu  # as the run was launched
    try:
        forked = mpi_fork(num_cpu, args.binding, [sys.executable, "-m", "music.train", *argv])
    except MpiLauncherError as err:
        raise BadInput(str(err)) from None
    if forked is not None:
        return forked

    # Only now, in a rank or the one process: importing mpi4py initializes MPI, which the
    # --num_cpu launcher must not do (a launcher that is an MPI process of its own loses its
    # ranks' checkpoint when it is killed).
    from music.cli import mpi_missing

    missing = mpi_missing()
    if missing:
        raise BadInput(missing)
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    install_excepthook(comm, None)  # from here on, a rank that fails takes every rank down with it
    from music.training import StopRequest

    # From here on SIGINT/SIGTERM are recorded, not fatal: the set-up stops at its next check
    # (setup_interrupted) with its folder as it found it, training at the next cycle with a checkpoint.
    stop = StopRequest()
    stop.install()

    # Every rank checks the inputs; all exit together if any rank found a problem.
    error = None
    policy_to_load = None
    logdir = None if args.resume else choose_logdir(args, comm)
    manifest = fallback = None
    try:
        if args.resume:
            params, logdir, manifest, fallback = resume_params(args, size, given)
        else:
            params = resolve_params(args, given)
            params["workers_per_rank"] = workers_per_rank(args, given)
            if rank == 0:
                check_logdir(logdir)
            policy_to_load = resolve_load_weight(params, args.seed)
    except BadInput as err:
        error = str(err)
    first_error = agree_on_error(comm, error)
    if first_error:
        if rank == 0:
            return fail("music.train", first_error)
        return EXIT_BAD_INPUT
    if args.resume:
        if manifest["epoch"] >= params["n_epochs"] and manifest["cycle"] == 0:
            if rank == 0:
                print(f"music.train: {logdir} has finished its {params['n_epochs']} epochs; nothing to do "
                      f"(--n_epochs {params['n_epochs'] + 10} would extend it)", flush=True)
            return 0

    import random
    import socket

    import tensorflow as tf

    import music.tf_util  # noqa: F401  (TF threads and log level before anything else touches TF)
    from music import checkpoint
    from music.config import discount
    from music.ddpg import MineNaNError
    from music.envs import episode_length, make_env
    from music.logger import CycleProgress, Logger
    from music.mpi_util import abort_all_ranks
    from music.rollout import RolloutError
    from music.training import Preempted, standard_hooks, train
    from music.workers import build_workers, global_rank, rank_seed

    made_logdir = rank == 0 and not logdir.exists()  # rank 0 makes it, and would remove it (setup_interrupted)
    if rank == 0:
        logdir.mkdir(parents=True, exist_ok=True)
    comm.Barrier()
    install_excepthook(comm, logdir)
    loop = None
    if args.resume and rank == 0:
        truncate_progress(logdir, manifest["epoch"])
    logger = Logger(logdir, active=rank == 0)
    logger.info(f"Logging to {logdir}")
    if fallback:
        logger.info(f"warning: {fallback}")
        if rank == 0:
            checkpoint.restore_from(logdir, manifest)
    if args.resume:
        logger.info(f"Resuming from the checkpoint of epoch {manifest['epoch']}, cycle {manifest['cycle']}")
    hosts = comm.allgather(socket.gethostname())
    logger.info(f"MPI ranks on hosts: {' '.join(f'{r}:{h}' for r, h in enumerate(hosts))}")
    if "--num_cpu" in given and size != args.num_cpu and not args.resume:
        logger.info(f"Running on {size} MPI ranks (--num_cpu {args.num_cpu} ignored under an MPI launcher)")

    seed = params["seed"] if args.resume else args.seed
    workers_per_process = params["workers_per_rank"]
    if workers_per_process > 1:
        logger.info(f"{workers_per_process} virtual workers per process: the math of {size * workers_per_process} "
                    "ranks")
    first_seed = rank_seed(seed, global_rank(comm, workers_per_process, 0))
    random.seed(first_seed)
    np.random.seed(first_seed)
    tf.random.set_seed(first_seed)

    pretrain_weights = None
    if policy_to_load is not None:
        from music.save_weight import load_weights

        pretrain_weights = load_weights(policy_to_load, write=rank == 0)
        logger.info(f"Pretrained weights from {policy_to_load}")

    env_name = params["env_name"]
    reward_env = make_env(env_name, quiet=rank != 0)
    if not args.resume:
        params["T"] = episode_length(reward_env)
        params["gamma"] = discount(params["T"])
        params.update(n_epochs=args.n_epochs, num_cpu=size, total_workers=size * workers_per_process,
                      seed=args.seed, binding=args.binding,
                      version=args.version, clip_return=args.clip_return, logdir=str(logdir),
                      policy_save_interval=args.policy_save_interval,
                      load_weight_used=str(policy_to_load) if policy_to_load else None)
        if rank == 0:
            with open(logdir / "params.json", "w") as f:
                json.dump(params, f, indent=1, sort_keys=True)
        for key in sorted(params):
            logger.info(f"{key}: {params[key]}")

    signum = stop.any_rank(comm)  # the slow parts of the set-up are over: TF, pretrained weights, the env
    if signum:
        return setup_interrupted(signum, args, logdir, made_logdir, manifest, logger, comm)
    workers = build_workers(params, reward_env, seed, comm, workers_per_process, pretrain_weights,
                            clip_return=bool(params["clip_return"]))
    policy = workers[0].agent  # owns the networks every worker of this process uses
    if pretrain_weights is not None:
        from music.config import pretrained_scopes

        # runs started before finetune_normalizers existed did not load the normalizers
        scopes = pretrained_scopes(params["finetune_pi"], params.get("finetune_normalizers", False))
        loaded = [n for n in policy.variables if any(s in n for s in scopes) and n in pretrain_weights
                  and tuple(policy.variables[n].shape) == np.shape(pretrain_weights[n])]
        same = all(np.array_equal(policy.variables[n].numpy(), pretrain_weights[n]) for n in loaded)
        logger.info(f"pretrained weights: {len(loaded)} variables of scopes {scopes} loaded, "
                    f"equal to {policy_to_load}: {same}")
    if args.resume:
        error = None
        try:
            for index, worker in enumerate(workers):
                stands_for = global_rank(comm, workers_per_process, index)
                _, arrays, meta = checkpoint.load_rank(logdir, stands_for, size * workers_per_process, manifest)
                loop = checkpoint.restore(*worker, arrays, meta, f"{logdir} (rank {stands_for})")
        except checkpoint.CheckpointError as err:
            error = f"--resume: {err}"
        first_error = agree_on_error(comm, error)
        if first_error:
            if rank == 0:
                return fail("music.train", first_error)
            return EXIT_BAD_INPUT
        if not meta["buffer"]["saved"]:
            logger.info("The checkpoint has no replay buffer (--checkpoint_buffer False): training continues "
                        "with an empty buffer")

    signum = stop.any_rank(comm)  # the workers are built (and restored)
    if signum:
        return setup_interrupted(signum, args, logdir, made_logdir, manifest, logger, comm)
    progress = None
    if rank == 0:
        progress = CycleProgress(params["n_epochs"], params["n_cycles"], CycleProgress.wanted(args.progress))
    hooks = [*extra_hooks, *standard_hooks(params, params["policy_save_interval"], args.keep_policies,
                                           args.checkpoint_interval, args.checkpoint_buffer, stop, progress)]
    try:
        train(workers=workers, logger=logger, params=params,
              n_epochs=params["n_epochs"], comm=comm, loop=loop, hooks=hooks)
    except Preempted as stopped:
        logger.info(str(stopped))
        logger.close()
        return stopped.exit_code
    except (RolloutError, MineNaNError) as err:
        # A clear one-line cause; the other ranks may wait in a collective, so abort them all.
        message = f"music.train: error on rank {rank}: {err}"
        print(message, file=sys.stderr, flush=True)
        (logdir / f"crash_rank{rank}.txt").write_text(message + "\n")
        with open(logdir / "log.txt", "a") as f:
            f.write(message + "\n")
        if size > 1:
            abort_all_ranks(EXIT_TRAINING_FAILED, comm)
        return EXIT_TRAINING_FAILED
    check_ranks_agree(policy, logger, comm)
    logger.close()
    return 0
