"""Train MUSIC: ``python -m music.train`` (one rank) or ``mpirun -np N python -m music.train``.

Options are the original's (env_name, n_epochs, num_cpu, seed, policy_save_interval,
n_cycles, replay_strategy, clip_return, binding, logging, version, note) plus
``--logdir``, ``--param key=value`` to override any parameter, ``--resume LOGDIR`` to
continue a run from its checkpoint, and checkpoint options. ``--num_cpu N`` re-launches
this command under ``mpiexec -n N`` (as the original's mpi_fork).

This module only parses the command line; ``music.experiment.launch`` sets the run up
and every rank runs the same loop (``music.training``) in lock-step; only rank 0 writes
logs and policies, every rank writes its own checkpoint file.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from music.cli import fail, parser, str2bool
from music.experiment import BadInput, launch


def build_parser():
    p = parser("python -m music.train", __doc__.split("\n\n")[0],
               epilog="Variants per task: python -m music.train --list_notes. "
                      "Parameters --param accepts: python -m music.train --list_params.")
    p.add_argument("--env_name", default="FetchPickAndPlace-v1",
                   help="FetchPush, FetchPickAndPlace, FetchSlide (-v1 or -v4), FetchReach-v4 (-v1)")
    p.add_argument("--n_epochs", type=int, default=50, help="number of training epochs")
    p.add_argument("--num_cpu", type=int, default=1, help="MPI ranks; > 1 re-launches under mpiexec")
    p.add_argument("--workers_per_rank", type=int, default=1,
                   help="virtual workers per process: N processes x K workers do the math of N*K ranks")
    p.add_argument("--seed", type=int, default=0, help="seed of rank 0 (rank r: seed + 1000000 r), >= 0")
    p.add_argument("--policy_save_interval", type=int, default=1,
                   help="save policy_{epoch}.pkl every this many epochs (0: only best and latest)")
    p.add_argument("--n_cycles", type=int, default=50, help="cycles per epoch")
    p.add_argument("--replay_strategy", choices=["future", "final", "none"], default="future",
                   help="HER goal relabelling: a later achieved goal of the episode, the last one, or none")
    p.add_argument("--clip_return", type=int, default=0, help="1: clip targets to (1/(1-gamma)) * num_objective")
    p.add_argument("--binding", choices=["none", "core"], default="core", help="process binding under --num_cpu")
    p.add_argument("--logging", type=str2bool, nargs="?", const=True, default=False,
                   help="True: log to logs/<run name>; False: to a temporary folder (unless --logdir)")
    p.add_argument("--version", type=int, default=0, help="a number recorded in the run name")
    p.add_argument("--note", default="SAC+MUSIC",
                   help="variant: loads music/params/<env_name>/<note>.json (see --list_notes)")
    p.add_argument("--logdir", default=None, help="log folder (must be new or empty)")
    p.add_argument("--params_file", default=None, help="a params JSON file to use instead of the note's")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="override a parameter, e.g. --param n_batches=20 (repeatable; JSON values; see --list_params)")
    p.add_argument("--resume", default=None, metavar="LOGDIR",
                   help="continue the run in LOGDIR from its last checkpoint (same ranks; --n_epochs may extend it)")
    p.add_argument("--checkpoint_interval", type=int, default=1, help="epochs between checkpoints (0: none)")
    p.add_argument("--checkpoint_buffer", type=str2bool, default=True,
                   help="include the replay buffer in checkpoints (False saves disk; a resumed run then "
                        "starts with an empty buffer)")
    p.add_argument("--keep_policies", type=int, default=0, help="keep only the newest N policy_{epoch} files (0: all)")
    p.add_argument("--progress", choices=["auto", "on", "off"], default="auto",
                   help="progress line within epochs on rank 0 (auto: when the output is a terminal)")
    p.add_argument("--list_notes", action="store_true", help="list the variants (notes) of each task and exit")
    p.add_argument("--list_params", action="store_true", help="list the parameters --param accepts and exit")
    return p


def list_notes(params_dir: Path | None = None) -> str:
    """The variants (params files) of each task, one line per task."""
    from music.config import PARAMS_DIR

    params_dir = params_dir or PARAMS_DIR
    lines = []
    for folder in sorted(p for p in params_dir.iterdir() if p.is_dir()):
        notes = sorted(f.stem for f in folder.glob("*.json"))
        lines.append(f"{folder.name}: {', '.join(notes)}")
    return "\n".join(lines)


def list_params() -> str:
    """Every key --param and params files accept, with its default and meaning."""
    from music.config import DEFAULT_PARAMS, describe_param

    return "\n".join(f"{key} = {json.dumps(DEFAULT_PARAMS[key])}  {describe_param(key)}".rstrip()
                     for key in DEFAULT_PARAMS)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.list_notes or args.list_params:
        try:
            print(list_notes() if args.list_notes else list_params(), flush=True)
        except BrokenPipeError:  # e.g. piped into head
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    try:
        return launch(args, argv)
    except BadInput as err:
        return fail("music.train", err)
    except KeyboardInterrupt:  # Ctrl-C in the first second, before the set-up records signals
        print("music.train: interrupted before the set-up began; nothing was written", file=sys.stderr, flush=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
