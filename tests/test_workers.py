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
    assert second.learner is owner.learner and second.worker_index == 1
    assert second.buffer is not owner.buffer and second.rng is not owner.rng
    assert second.tf_rng is not owner.tf_rng and second.reward_histories is not owner.reward_histories
    # each worker trains through a graph of its own random stream
    assert owner.learner.gradient_graph([second.tf_rng]) is not owner.learner.gradient_graph([owner.tf_rng])
    with pytest.raises(ValueError, match="same params"):
        make_agent(hidden=32, shared=owner)
    with pytest.raises(ValueError, match="built for 2 workers per rank"):
        make_agent(hidden=16, seed=2_000_000, shared=owner)


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
            owner.learner.apply_gradients([w.gradients(epoch=0) for w in workers])
            owner.mine.apply([w.mi_gradient(w.buffer.buffers["o"][: w.buffer.current_size]) for w in workers])
        owner.learner.update_target_net()
    assert weights_digest(owner) == reference.pop()


def _group_of(k: int, hidden: int = 32) -> list:
    """K virtual workers with their own data, as three ranks of seed 0 would have."""
    owner = make_agent(seed=0, hidden=hidden, mi_r_scale=5000.0, r_scale=1.0, workers_per_rank=k)
    workers = [owner] + [make_agent(seed=1_000_000 * r, hidden=hidden, mi_r_scale=5000.0, r_scale=1.0, shared=owner)
                         for r in range(1, k)]
    for r, worker in enumerate(workers):
        episodes = random_episodes(np.random.default_rng(r))
        worker.store_episode(episodes, update_stats=False)
        worker.accumulate_stats(episodes)
    owner.recompute_stats()
    return workers


@pytest.mark.bitexact
def test_one_graph_call_for_all_workers_equals_their_separate_calls_bit_for_bit():
    from music.ddpg import workers_gradients, workers_intrinsic_gradients
    from music.mpi_util import tree_sum

    grouped = _group_of(3)
    workers = _group_of(3)
    for _step in range(2):  # the second step checks that every worker's random streams moved alike
        together = workers_gradients(grouped, epoch=0)
        alone = [w.gradients(epoch=0) for w in workers]
        np.testing.assert_array_equal(together.q_grad, tree_sum([g.q_grad for g in alone]))
        np.testing.assert_array_equal(together.pi_grad, tree_sum([g.pi_grad for g in alone]))
        np.testing.assert_array_equal(together.q_flat, alone[0].q_flat)
        assert (together.q_loss, together.pi_loss) == (alone[0].q_loss, alone[0].pi_loss)
        # three workers: ((g0 + g1) + g2) is the pair order; not the plain sum in another order
        assert together.q_grad.dtype == np.float32
        mi_together, mi_params = workers_intrinsic_gradients(grouped, "mi_reward", batch_size=2)
        mi_alone = [w.mi_gradient(w.buffer.random_observations(2, w.rng)) for w in workers]
        np.testing.assert_array_equal(mi_together, tree_sum(mi_alone))
        np.testing.assert_array_equal(mi_params, grouped[0].mine.adam.params.get())
        assert [w.estimates for w in grouped] == [w.estimates for w in workers]
        grouped[0].learner.apply_gradients([together])
        workers[0].learner.apply_gradients(alone)
    for a, b in zip(grouped, workers, strict=True):
        assert list(a.reward_histories.values["et_reward"]) == list(b.reward_histories.values["et_reward"])
        assert a.rng.bit_generator.state == b.rng.bit_generator.state
        np.testing.assert_array_equal(a.tf_rng.state.numpy(), b.tf_rng.state.numpy())
    for name, var in grouped[0].variables.items():
        np.testing.assert_array_equal(var.numpy(), workers[0].variables[name].numpy(), err_msg=name)


def test_the_group_graph_is_traced_once():
    from music.ddpg import workers_gradients, workers_intrinsic_step

    workers = _group_of(2, hidden=16)
    learner = workers[0].learner
    for _ in range(3):
        learner.apply_gradients([workers_gradients(workers, epoch=0)])
        workers_intrinsic_step(workers, "mi_reward", batch_size=2)
    assert learner.gradient_graph([w.tf_rng for w in workers]).experimental_get_tracing_count() == 1
    assert workers[0].mine.group_gradient_graph(2).experimental_get_tracing_count() == 1


# ---------------------------------------------------------------- music.train --workers_per_rank
SMALL = ["--env_name", "FetchPush-v1", "--note", "SAC+MUSIC", "--n_cycles", "3", "--param", "n_batches=2",
         "--param", "n_test_rollouts=1", "--param", "hidden=32", "--param", "batch_size=32"]


def train(args, mpi=0):
    import os
    import subprocess
    import sys

    from conftest import REPO, mpiexec

    cmd = ([mpiexec(), "-n", str(mpi)] if mpi else []) + [sys.executable, "-m", "music.train", *args]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=REPO, env=env)


def digests(logdir):
    line = [x for x in (logdir / "log.txt").read_text().splitlines() if x.startswith("final weights identical")][-1]
    return set(re.search(r"sha256 per rank: (.*)\)", line).group(1).split())


def rows(logdir):
    import csv

    return [{k: v for k, v in r.items() if k not in ("timestamp", "time/epoch")}
            for r in csv.DictReader(open(logdir / "progress.csv"))]


@pytest.mark.bitexact
@pytest.mark.slow
@pytest.mark.mpi
@pytest.mark.parametrize("processes, workers, ranks", [(1, 2, 2), (2, 2, 4)])
def test_n_processes_of_k_workers_train_exactly_as_n_times_k_ranks(tmp_path, processes, workers, ranks):
    import json

    virtual, real = tmp_path / "virtual", tmp_path / "real"
    proc = train([*SMALL, "--n_epochs", "2", "--workers_per_rank", str(workers), "--logdir", str(virtual)],
                 mpi=processes if processes > 1 else 0)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert train([*SMALL, "--n_epochs", "2", "--logdir", str(real)], mpi=ranks).returncode == 0
    assert len(digests(virtual)) == 1 and digests(virtual) == digests(real)  # bit for bit
    assert rows(virtual) == rows(real)
    params = json.loads((virtual / "params.json").read_text())
    assert (params["num_cpu"], params["workers_per_rank"], params["total_workers"]) == (processes, workers, ranks)
    for row in rows(virtual):  # train/episode is per worker; the new column counts all N x K workers' episodes
        assert float(row["train/episodes_all_workers"]) == float(row["train/episode"]) * ranks
    # a checkpoint of N x K workers is one of N*K ranks: it resumes on real ranks, exactly
    assert json.loads((virtual / "checkpoints" / "manifest.json").read_text())["ranks"] == ranks
    part = tmp_path / "part"
    assert train([*SMALL, "--n_epochs", "1", "--workers_per_rank", str(workers), "--logdir", str(part)],
                 mpi=processes if processes > 1 else 0).returncode == 0
    resumed = train(["--resume", str(part), "--n_epochs", "2", "--workers_per_rank", "1"], mpi=ranks)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert digests(part) == digests(real) and rows(part) == rows(real)


def test_bad_worker_counts_are_one_line_errors_and_write_nothing(tmp_path):
    proc = train([*SMALL, "--workers_per_rank", "0", "--logdir", str(tmp_path / "run")])
    assert proc.returncode == 2 and "--workers_per_rank must be >= 1" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "run").exists()


@pytest.mark.slow
def test_resuming_with_a_worker_count_that_does_not_match_is_refused(tmp_path):
    run = tmp_path / "run"
    assert train([*SMALL, "--n_epochs", "1", "--workers_per_rank", "2", "--logdir", str(run)]).returncode == 0
    before = sorted(p.name for p in run.rglob("*"))
    proc = train(["--resume", str(run), "--n_epochs", "2", "--workers_per_rank", "3"])
    assert proc.returncode == 2 and "written by 2 ranks" in proc.stderr and "N x K = 2" in proc.stderr
    assert "Traceback" not in proc.stderr and sorted(p.name for p in run.rglob("*")) == before
