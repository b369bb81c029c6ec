"""Run under mpiexec -n 2: MpiAdam sums gradients over ranks, sync broadcasts rank 0."""

import numpy as np
import tensorflow as tf
from mpi4py import MPI

from music.mpi_adam import MpiAdam, ParametersDivergedError

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
assert comm.Get_size() == 2

# Different starting points per rank; sync must make them rank 0's.
var = tf.Variable(np.full(4, 10.0 * (rank + 1), np.float32))
adam = MpiAdam([var], scale_grad_by_procs=False)
adam.sync()
np.testing.assert_array_equal(var.numpy(), np.full(4, 10.0))

# Each rank has its own gradient; the step must use their sum (g0 + g1) on every rank.
grads = [np.array([1.0, -2.0, 0.5, 0.0], np.float32), np.array([3.0, 1.0, -0.5, 2.0], np.float32)]
total = grads[0] + grads[1]
theta = np.full(4, 10.0)
m = v = np.zeros(4)
for t in range(1, 6):
    adam.update(grads[rank] * t, 0.1)
    g = total * t
    m = 0.9 * m + 0.1 * g
    v = 0.999 * v + 0.001 * g * g
    theta = theta - 0.1 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (np.sqrt(v) + 1e-8)
np.testing.assert_allclose(var.numpy(), theta, rtol=1e-5)
everyone = comm.allgather(var.numpy())
np.testing.assert_array_equal(everyone[0], everyone[1])

# Scaled by the number of ranks: the mean gradient instead.
var2 = tf.Variable(np.zeros(4, np.float32))
scaled = MpiAdam([var2], scale_grad_by_procs=True)
scaled.update(grads[rank], 0.1)
expected = -0.1 * np.sqrt(1 - 0.999) / (1 - 0.9) * (0.1 * total / 2) / (np.sqrt(0.001 * (total / 2) ** 2) + 1e-8)
np.testing.assert_allclose(var2.numpy(), expected, rtol=1e-5)

# A rank that drifts is caught by the periodic check.
if rank == 1:
    var.assign(var.numpy() + 1.0)
try:
    adam.check_synced()
    diverged = False
except ParametersDivergedError as err:
    diverged = "differ from rank 0" in str(err)
assert diverged == (rank == 1), (rank, diverged)
print(f"OK rank {rank}", flush=True)
