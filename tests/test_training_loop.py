"""The training loop in-process on a tiny numpy goal env: order of hooks, outputs, determinism, exact resume."""

import csv

import numpy as np
import pytest
from fake_env import FakeGoalEnv
from mpi4py import MPI

from music import checkpoint
from music.logger import Logger
from music.rollout import RolloutWorker
from music.training import Checkpointer, Hook, PolicySaver, train
from music.workers import Worker

from conftest import make_agent

T = 10
DIMS = {"o": 25, "g": 3, "u": 4, "z": 1, "info_is_success": 1}
PARAMS = {"n_cycles": 2, "rollout_batch_size": 2, "n_batches": 3, "batch_size": 16, "n_test_rollouts": 1,
          "num_skills": 1, "use_skill_n": None, "goal_generation": "Zero", "mi_end_epoch": 200, "no_train_mi": False,
          "sk_r_scale": 0, "mi_r_scale": 5000}


class Recorder(Hook):
    def __init__(self):
        self.events = []

    def on_epoch_start(self, run):
        self.events.append(("epoch_start", run.loop["epoch"]))

    def on_cycle_start(self, run):
        self.events.append(("cycle_start", run.loop["cycle"]))

    def on_rollout(self, run, episode, frames, skills):
        self.events.append(("rollout", episode["o"].shape))

    def on_cycle_end(self, run):
        self.events.append(("cycle_end", run.loop["cycle"]))

    def on_cycles_done(self, run):
        self.events.append(("cycles_done", len(run.episodes)))

    def on_epoch_end(self, run, epoch):
        self.events.append(("epoch_end", epoch, run.loop["epoch"]))


def components(logdir, seed=0):
    agent = make_agent(hidden=16, batch_size=16, T=T, buffer_size=2000, seed=seed)
    common = dict(dims=DIMS, T=T, rollout_batch_size=2, noise_eps=0.2, random_eps=0.3, env_name="FetchPush-v1")
    worker = RolloutWorker(lambda: FakeGoalEnv(T), agent, exploit=False, **common)
    evaluator = RolloutWorker(lambda: FakeGoalEnv(T), agent, exploit=True, compute_Q=True, **common)
    worker.seed(seed)
    evaluator.seed(seed)
    logdir.mkdir(parents=True, exist_ok=True)
    return agent, worker, evaluator, Logger(logdir, tensorboard=False)


def run_loop(logdir, n_epochs, hooks=(), loop=None, state=None):
    agent, worker, evaluator, logger = components(logdir)
    if state is not None:
        loop = checkpoint.restore(agent, worker, evaluator, *state, source=str(logdir))
    train(workers=[Worker(agent, worker, evaluator)], logger=logger, params=PARAMS, n_epochs=n_epochs,
          comm=MPI.COMM_WORLD, loop=loop, hooks=hooks)
    logger.close()
    return agent


def test_hooks_run_in_the_loops_order_and_the_outputs_are_written(tmp_path):
    recorder = Recorder()
    run_loop(tmp_path, 2, hooks=[recorder, PolicySaver(interval=1), Checkpointer(interval=1)])
    epoch = [("epoch_start", 0), ("cycle_start", 0), ("rollout", (2, T + 1, 25)), ("cycle_end", 1),
             ("cycle_start", 1), ("rollout", (2, T + 1, 25)), ("cycle_end", 2), ("cycles_done", 2),
             ("epoch_end", 0, 1)]
    assert recorder.events[:len(epoch)] == epoch and recorder.events[-1] == ("epoch_end", 1, 2)
    rows = list(csv.DictReader(open(tmp_path / "progress.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1"] and float(rows[-1]["train/episode"]) == 8
    assert -1 <= float(rows[-1]["mi_reward/mean"]) <= 0
    assert {"policy_0.pkl", "policy_1.npz", "policy_latest.pkl", "policy_best.npz"} <= {
        p.name for p in tmp_path.iterdir()}
    assert checkpoint.read_manifest(tmp_path)["epoch"] == 2


@pytest.mark.bitexact
def test_same_seed_same_weights_and_resume_continues_exactly(tmp_path):
    full = run_loop(tmp_path / "full", 2)
    again = run_loop(tmp_path / "again", 2)
    part = tmp_path / "part"
    run_loop(part, 1, hooks=[Checkpointer(interval=1)])
    manifest, arrays, meta = checkpoint.load_rank(part, 0, 1)
    assert manifest["epoch"] == 1
    resumed = run_loop(part, 2, state=(arrays, meta))
    for name, value in full.save_weight().items():
        np.testing.assert_array_equal(again.variables[name].numpy(), value, err_msg=name)
        np.testing.assert_array_equal(resumed.variables[name].numpy(), value, err_msg=name)
