"""Run under mpiexec -n 2: mpi_moments and Normalizer pool data across ranks correctly."""

import numpy as np
from mpi4py import MPI

from music.mpi_util import mpi_average, mpi_moments
from music.normalizer import Normalizer

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
assert size == 2, size

# Every rank can build every rank's data from the same seed.
rng = np.random.default_rng(0)
per_rank = [rng.normal(2, 3, size=(n, 3)) for n in (11, 17)]

mean, std, count = mpi_moments(per_rank[rank], axis=0)
pooled = np.concatenate(per_rank)
np.testing.assert_allclose(mean, pooled.mean(0))
np.testing.assert_allclose(std, pooled.std(0))
assert count == 28
assert mpi_average([1.0, 2.0] if rank == 0 else [6.0]) == 3.0
assert mpi_average([] if rank == 0 else [4.0]) == 2.0  # an empty list counts as [0]

# Normalizer: the original averages sums and counts over ranks.
norm = Normalizer(3, eps=0.01, name="o_stats")
norm.update(per_rank[rank])
norm.recompute_stats()
avg_sum = (per_rank[0].sum(0) + per_rank[1].sum(0)) / 2
avg_sumsq = ((per_rank[0] ** 2).sum(0) + (per_rank[1] ** 2).sum(0)) / 2
count = 1 + (11 + 17) / 2
np.testing.assert_allclose(norm.count.numpy(), [count])
np.testing.assert_allclose(norm.mean.numpy(), avg_sum / count, rtol=1e-5)
np.testing.assert_allclose(norm.std.numpy(), np.sqrt(avg_sumsq / count - (avg_sum / count) ** 2), rtol=1e-4)
gathered = comm.allgather(norm.mean.numpy())
np.testing.assert_array_equal(gathered[0], gathered[1])
print(f"OK rank {rank}", flush=True)
