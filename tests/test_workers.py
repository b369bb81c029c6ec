"""Virtual workers: K agents of one process that share networks, normalizers and optimizers
do the math of K MPI ranks (tests/mpi_scripts/agent_two_ranks.py is the reference)."""

import re

import numpy as np
import pytest

from conftest import make_agent, random_episodes


def test_tree_sum_adds_in_pairs():
    from music.mpi_util import tree_sum

    a, b, c, d, e = (np.array([x], np.float32) for x in (1e8, 1.0, -1e8, 1.0, 3.0))
    assert tree_sum([a]) is a
    assert tree_sum([a, b, c, d])[0] == np.float32(np.float32(1e8 + 1.0) + np.float32(-1e8 + 1.0))
    assert tree_sum([a, b, c, d, e])[0] == tree_sum([a, b, c, d])[0] + 3.0


def test_a_virtual_worker_shares_networks_and_keeps_its_own_streams_and_buffer():
    owner = make_agent(hidden=16, workers_per_rank=2)
    second = make_agent(hidden=16, seed=1_000_000, shared=owner)
    assert second.main is owner.main and second.Q_adam is owner.Q_adam and second.o_stats is owner.o_stats
    assert second.buffer is not owner.buffer and second.rng is not owner.rng
    assert second.tf_rng is not owner.tf_rng and second._train_graph is not owner._train_graph
    with pytest.raises(ValueError, match="same params"):
        make_agent(hidden=32, shared=owner)


@pytest.mark.mpi
def test_two_virtual_workers_end_with_the_weights_of_two_mpi_ranks():
    from music.experiment import weights_digest

    from conftest import run_mpi

    reference = set(re.findall(r"weights ([0-9a-f]+)", run_mpi("agent_two_ranks.py")))
    assert len(reference) == 1
    # The reference script's steps, with rank r's seed and data as virtual worker r.
    owner = make_agent(seed=0, mi_r_scale=5000.0, r_scale=1.0, workers_per_rank=2)
    workers = [owner, make_agent(seed=1_000_000, mi_r_scale=5000.0, r_scale=1.0, shared=owner)]
    data_rngs = [np.random.default_rng(rank) for rank in range(2)]
    for _cycle in range(2):
        for worker, rng in zip(workers, data_rngs, strict=True):
            episodes = random_episodes(rng)
            worker.store_episode(episodes, update_stats=False)
            worker.accumulate_stats(episodes)
        owner.recompute_stats()
        for _ in range(3):
            owner.apply_gradients([w.gradients(epoch=0) for w in workers])
            owner.ir.apply_mine([w.mi_gradient(w.buffer.buffers["o"][: w.buffer.current_size]) for w in workers])
        owner.update_target_net()
    assert weights_digest(owner) == reference.pop()
