"""Run under mpiexec -n 2: ranks with different seeds and data end with identical weights."""

import sys
from pathlib import Path

import numpy as np
from mpi4py import MPI

sys.path.insert(0, str(Path(__file__).parents[1]))
from conftest import make_agent, random_episodes  # noqa: E402

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
agent = make_agent(seed=1_000_000 * rank, mi_r_scale=5000.0, r_scale=1.0)
rng = np.random.default_rng(rank)
for _cycle in range(2):
    agent.store_episode(random_episodes(rng))
    for _ in range(3):
        agent.train(epoch=0)
        agent.train_mi(agent.buffer.buffers["o"][: agent.buffer.current_size])
    agent.update_target_net()
weights = agent.save_weight()
everyone = comm.allgather(weights)
for name in weights:
    np.testing.assert_array_equal(everyone[0][name], everyone[1][name], err_msg=name)
# the ranks did see different data
first_obs = comm.allgather(agent.buffer.buffers["o"][0])
assert not np.array_equal(first_obs[0], first_obs[1])
from music.experiment import weights_digest  # noqa: E402

print(f"OK rank {rank} weights {weights_digest(agent)}", flush=True)
