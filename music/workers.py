"""Virtual workers: the math of N x K MPI ranks on N processes (docs/algorithm.md §6).

In the original every rank collects its own episodes into its own replay buffer, samples
its own batches, and the ranks' gradients are summed before Adam (and the normalizers'
sums averaged). A process with K virtual workers does what K ranks would: each worker
has the state a rank has (its environments, random streams, replay buffer, rollout
statistics), while what ranks keep identical (weights, optimizers, normalizer variables)
is kept once (``DDPG(shared=...)``). Worker k of process n stands for rank n * K + k: it is
seeded as that rank and writes that rank's checkpoint file, so a checkpoint of 4 ranks
resumes on 2 processes x 2 workers and the other way round.
"""

from __future__ import annotations

from typing import NamedTuple


class Worker(NamedTuple):
    """One virtual worker: its agent (sharing the networks of the process's first), its
    exploring rollout worker and its greedy evaluator."""

    agent: object
    rollout_worker: object
    evaluator: object


def global_rank(comm, workers_per_rank: int, index: int) -> int:
    """The rank a process's worker ``index`` stands for."""
    return comm.Get_rank() * workers_per_rank + index


def rank_seed(seed: int, rank: int) -> int:
    """The seed of a rank (real or virtual), as the original's train.py derives it."""
    return seed + 1_000_000 * rank


def build_workers(params: dict, reward_env, seed: int, comm, workers_per_rank: int = 1, pretrain_weights=None,
                  clip_return: bool = False) -> list[Worker]:
    """This process's workers, each seeded as the rank it stands for; the first owns the networks."""
    from music.config import configure_dims
    from music.ddpg import configure_ddpg
    from music.envs import make_env
    from music.rollout import RolloutWorker

    if workers_per_rank < 1:
        raise ValueError(f"workers_per_rank must be >= 1, got {workers_per_rank}")
    env_name = params["env_name"]
    dims = configure_dims(reward_env)
    workers: list[Worker] = []
    for index in range(workers_per_rank):
        rank = global_rank(comm, workers_per_rank, index)
        owner = workers[0].agent if workers else None
        agent = configure_ddpg(dims, params, reward_env, pretrain_weights=pretrain_weights, clip_return=clip_return,
                               seed=rank_seed(seed, rank), comm=comm, workers_per_rank=workers_per_rank, shared=owner)
        sizes = {**dims, "z": params["num_skills"]}
        common = dict(dims=sizes, T=params["T"], rollout_batch_size=params["rollout_batch_size"],
                      noise_eps=params["noise_eps"], random_eps=params["random_eps"], env_name=env_name)
        render = params["collect_video"] and rank == 0
        rollout_worker = RolloutWorker(lambda: make_env(env_name), agent, exploit=False, use_target_net=False,
                                       compute_Q=False, render=render, **common)
        evaluator = RolloutWorker(lambda: make_env(env_name), agent, exploit=True,
                                  use_target_net=params["test_with_polyak"], compute_Q=True, **common)
        rollout_worker.seed(rank_seed(seed, rank))
        evaluator.seed(rank_seed(seed, rank))
        workers.append(Worker(agent, rollout_worker, evaluator))
    return workers
