"""Does a rank's last message reach the user when it aborts the job? Counted over many aborts.

A failing rank writes its reason to stderr and calls MPI_Abort (``music.mpi_util.abort_all_ranks``)
so that no peer waits for it forever. The launcher forwards that stderr asynchronously, and an
abort right after the write can end the job before it is forwarded. This runs ``--runs`` 2-rank
jobs, one after another, in which rank 1 raises an exception (its traceback goes to stderr, then
the excepthook of ``music.train`` aborts) while rank 0 waits in a barrier with SIGTERM and SIGINT
recorded as in training, once per grace period, and counts the jobs whose stderr lost the
exception's message.

    .venv/bin/python benchmarks/abort_output.py [--runs 100] [--graces 0 1.0] [--json out.json]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAST_WORDS = "the reason this job ended"


def one_rank(grace: float) -> None:
    """What each rank of a job runs: training's failure path, set up as ``music.train`` sets it up."""
    sys.path.insert(0, str(REPO))
    from mpi4py import MPI

    from music import mpi_util
    from music.experiment import install_excepthook
    from music.training import StopRequest

    mpi_util.ABORT_GRACE_SECONDS = grace
    comm = MPI.COMM_WORLD
    install_excepthook(comm, None)
    StopRequest().install()
    comm.Barrier()  # both ranks past their start, as after the set-up's first collective
    if comm.Get_rank() == 1:
        raise RuntimeError(LAST_WORDS)
    comm.Barrier()


def lost(runs: int, grace: float, mpiexec: str) -> int:
    count = 0
    for _ in range(runs):
        proc = subprocess.run([mpiexec, "-n", "2", sys.executable, __file__, "--rank", str(grace)],
                              capture_output=True, text=True, timeout=120)
        count += LAST_WORDS not in proc.stderr
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--graces", type=float, nargs="+", default=None,
                        help="seconds between the write and the abort (default: 0 and the library's)")
    parser.add_argument("--rank", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, default=None, help="also write the counts here")
    args = parser.parse_args()
    if args.rank is not None:
        one_rank(args.rank)
        return
    sys.path.insert(0, str(REPO))
    from music.mpi_launch import find_mpiexec
    from music.mpi_util import ABORT_GRACE_SECONDS

    mpiexec = find_mpiexec()
    if mpiexec is None:
        sys.exit("abort_output.py: no mpiexec found (install the mpich extra or a system MPI)")
    result = {}
    for grace in args.graces or [0.0, ABORT_GRACE_SECONDS]:
        result[f"{grace:g} s"] = {"runs": args.runs, "stderr lost": lost(args.runs, grace, mpiexec)}
        print(f"grace {grace:g} s: the last line was lost in {result[f'{grace:g} s']['stderr lost']} "
              f"of {args.runs} aborted jobs", flush=True)
    if args.json:
        sys.path.insert(0, str(REPO / "benchmarks"))
        from provenance import write_result

        write_result(args.json.parent, args.json.stem, result)


if __name__ == "__main__":
    main()
