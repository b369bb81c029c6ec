"""``music.train`` with a fault injected, for the tests of failures (never part of the library).

    mpiexec -n 2 python tests/fault_train.py --fault rank:1,epoch:0,cycle:1,kind:raise ARGS...

kinds: ``raise`` (an exception), ``kill`` (SIGKILL), ``term`` (SIGTERM to itself),
``nan_mine`` (MINE's output bias set to NaN), at the start of that cycle on that rank;
``checkpoint``: write a checkpoint there and leave at once (one rank only: a test's look at
what a resumed run holds before it trains); ``kill_before_manifest``: SIGKILL that rank when
it is about to write the manifest of the checkpoint of that epoch and cycle, after every
rank's file of it is written (rank 0 writes the manifest); ``setup_raise``: an exception on that
rank while the run's parameters are checked, before the log folder exists (epoch and cycle
unused); ``setup_signal``: SIGINT to that rank while its workers are built, after the log
folder and params.json are written (epoch and cycle unused).
"""

import os
import signal
import sys

import numpy as np

from music import checkpoint
from music.experiment import BadInput, launch
from music.train import build_parser
from music.training import Hook


class FaultInjector(Hook):
    def __init__(self, spec: str):
        fault = dict(item.split(":", 1) for item in spec.split(","))
        self.where = (int(fault.get("rank", 0)), int(fault.get("epoch", 0)), int(fault.get("cycle", 0)))
        self.kind = fault.get("kind", "raise")
        if self.kind == "kill_before_manifest":
            self._kill_before_manifest()
        if self.kind == "setup_raise":
            self._raise_in_setup()
        if self.kind == "setup_signal":
            self._signal_in_setup()

    def _signal_in_setup(self) -> None:
        from mpi4py import MPI

        from music import workers

        rank, build = self.where[0], workers.build_workers

        def build_workers(*args, **kwargs):
            if MPI.COMM_WORLD.Get_rank() == rank:
                os.kill(os.getpid(), signal.SIGINT)
            return build(*args, **kwargs)

        workers.build_workers = build_workers

    def _raise_in_setup(self) -> None:
        from mpi4py import MPI

        from music import experiment

        rank, check = self.where[0], experiment.resolve_params

        def resolve_params(*args, **kwargs):
            if MPI.COMM_WORLD.Get_rank() == rank:
                raise RuntimeError(f"fault injected in the set-up of rank {rank}")
            return check(*args, **kwargs)

        experiment.resolve_params = resolve_params

    def _kill_before_manifest(self) -> None:
        rank, epoch, cycle = self.where  # rank 0: the rank that writes manifests
        write = checkpoint.atomic_write

        def atomic_write(path, writer):
            if path.name == "manifest.json" and (path.parent / f"rank{rank}-e{epoch}c{cycle}.npz").exists():
                os.kill(os.getpid(), signal.SIGKILL)
            return write(path, writer)

        checkpoint.atomic_write = atomic_write

    def on_cycle_start(self, run) -> None:
        rank, epoch, cycle = run.rank, run.loop["epoch"], run.loop["cycle"]
        if (rank, epoch, cycle) != self.where:
            return
        if self.kind == "raise":
            raise RuntimeError(f"fault injected on rank {rank}, epoch {epoch}, cycle {cycle}")
        if self.kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.kind == "term":
            os.kill(os.getpid(), signal.SIGTERM)
        if self.kind == "checkpoint":
            checkpoint.save(run.logdir, run.comm, run.workers, run.loop)
            sys.stdout.flush()
            os._exit(0)
        if self.kind == "nan_mine":
            run.policy.variables["ir/state_mi/out/bias"].assign([np.nan])


if __name__ == "__main__":
    argv = sys.argv[1:]
    spec = argv.pop(argv.index("--fault") + 1)
    argv.remove("--fault")
    try:
        sys.exit(launch(build_parser().parse_args(argv), argv, extra_hooks=(FaultInjector(spec),)))
    except BadInput as err:
        sys.exit(f"fault_train: {err}")
