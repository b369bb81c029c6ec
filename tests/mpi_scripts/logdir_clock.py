"""Run under mpiexec -n 2: ranks whose clocks read different seconds still share one log folder."""

import datetime
import types

from mpi4py import MPI

import music.experiment as experiment
from music.train import build_parser

comm = MPI.COMM_WORLD
rank = comm.Get_rank()


class RankClock(datetime.datetime):
    """Rank r's clock reads r seconds later: as two ranks on either side of a second boundary."""

    @classmethod
    def now(cls, tz=None):
        return datetime.datetime(2030, 1, 1, 12, 0, rank, 999_999 - rank)


experiment.datetime = types.SimpleNamespace(datetime=RankClock)
for argv in (["--logging", "True"], []):
    args = build_parser().parse_args(argv)
    folders = comm.allgather(str(experiment.choose_logdir(args, comm)))
    assert len(set(folders)) == 1, folders
    assert "2030-01-01-12-00-00" in folders[0], folders  # rank 0's clock
print(f"rank {rank}: one folder", flush=True)
