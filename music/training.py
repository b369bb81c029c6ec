"""The training loop (docs/algorithm.md §5), with its side concerns as hooks.

Every rank runs ``train`` in lock-step. The loop position (epoch, cycle), the best
success rate and the MI scale live in ``loop``, a dict saved in checkpoints, so a run
can continue at any cycle boundary. Videos, data dumps, policy files, checkpoints,
preemption (at the end of every cycle the ranks agree whether any of them received
SIGTERM or SIGINT; if so, all write a checkpoint and stop) and the progress line are
``Hook``s that ``music.experiment`` attaches.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import time
from pathlib import Path

import numpy as np
from mpi4py import MPI

from music import checkpoint
from music.mpi_launch import resume_command
from music.rollout import exploring_goals


class Preempted(Exception):
    """Training stopped at a safe point because a rank received a signal; a checkpoint was written."""

    def __init__(self, signum: int, loop: dict):
        super().__init__(f"stopped by signal {signal.Signals(signum).name} at epoch {loop['epoch']}, "
                         f"cycle {loop['cycle']}; a checkpoint was written")
        self.signum = signum
        self.exit_code = 128 + signum


class StopRequest:
    """Records the first SIGTERM/SIGINT; a second one ends the process at once."""

    def __init__(self):
        self.signum = 0
        self._previous = {}

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.signum:
            os._exit(128 + signum)
        self.signum = signum

    def any_rank(self, comm) -> int:
        """The signal received by any rank (0 if none); collective."""
        return comm.allreduce(self.signum, op=MPI.MAX)


def sample_skill(num_skills: int, n: int, use_skill_n: int | None, rng: np.random.Generator):
    """Skills for n episodes: indices (n, 1) and one-hot (n, num_skills); use_skill_n fixes one."""
    z = rng.integers(0, num_skills, n)
    if use_skill_n:
        z[:] = use_skill_n - 1
    return z.reshape(n, 1), np.eye(num_skills)[z]


def video_name(epoch: int, rank: int, cycle: int, rollout: int, skill: int) -> str:
    """File name of a training video: the original's, with the mp4 container."""
    return f"video_epoch_{epoch}_rank_{rank}_cycle_{cycle}_rollout_{rollout}_skill_{skill}.mp4"


def save_policy(policy, path: Path) -> None:
    """Pickle the policy atomically (temporary file, then rename), plus its pickle-free twin."""
    import cloudpickle

    from music.files import atomic_write, file_sha256
    from music.policy_files import save_safe_policy

    atomic_write(path, lambda f: cloudpickle.dump(policy, f))
    save_safe_policy(policy, path.with_suffix(".npz"), pickle_sha256=file_sha256(path))


class Run:
    """What hooks see of a running training: the components, the loop position and this epoch's data.

    ``workers`` are this process's virtual workers (``music.workers``; one unless
    ``--workers_per_rank``); ``policy``, ``rollout_worker`` and ``evaluator`` are the first's,
    whose agent owns the networks. ``rank`` is the rank the first worker stands for.
    """

    def __init__(self, workers, logger, params: dict, comm, loop: dict, n_epochs: int):
        self.workers = list(workers)
        self.policy, self.rollout_worker, self.evaluator = self.workers[0]
        self.logger, self.params, self.comm = logger, params, comm
        self.loop = loop  # {"epoch", "cycle", "best_success_rate", "mi_r_scale"}: saved in checkpoints
        self.n_epochs = n_epochs
        self.rank = comm.Get_rank() * len(self.workers)
        self.logdir = logger.logdir
        self.episodes: list[dict] = []  # the first worker's, of this epoch (after a mid-epoch resume: since it)
        self.epoch_start = time.perf_counter()
        self.row: dict = {}  # the last logged epoch
        self.success_rate = 0.0  # this epoch's test success rate (all ranks)
        self.new_best = False  # it is at least the best so far


class Hook:
    """A side concern of the training loop (videos, data dumps, policy files, checkpoints,
    progress, ...). Every method does nothing unless overridden; the loop calls them in the
    order the hooks were given."""

    def on_epoch_start(self, run: Run) -> None:
        pass

    def on_cycle_start(self, run: Run) -> None:
        pass

    def on_rollout(self, run: Run, episode: dict, frames, skills: np.ndarray) -> None:
        """After the cycle's training rollouts; ``frames`` (episodes, T, H, W, 3) when rendering, else None."""

    def on_cycle_end(self, run: Run) -> None:
        """After the cycle (``run.loop['cycle']`` already counts it)."""

    def on_cycles_done(self, run: Run) -> None:
        """After the epoch's last cycle, before the test rollouts."""

    def on_epoch_end(self, run: Run, epoch: int) -> None:
        """After epoch ``epoch`` was logged (``run.loop['epoch']`` is already the next one)."""


def train(*, workers, logger, params: dict, n_epochs: int, comm, loop: dict | None = None,
          hooks: list[Hook] | tuple[Hook, ...] = ()) -> dict:
    """Train until epoch ``n_epochs``, starting at ``loop`` (default: epoch 0, cycle 0); returns the last row.

    The loop of docs/algorithm.md §5, as the original's ``train``: per cycle rollouts, store,
    ``n_batches`` x (agent step, MINE step, skill step), target update; per epoch test
    rollouts and the log. ``workers`` (``music.workers.Worker``) each do what a rank does with
    its own data and random stream; their gradients are summed into one step of the shared
    networks, as MPI sums the ranks'. Everything else is a ``Hook``.
    """
    from music.ddpg import MineNaNError, workers_gradients, workers_intrinsic_step
    from music.mpi_util import mpi_average

    agents = [worker.agent for worker in workers]
    learner = agents[0].learner  # the networks, normalizers and optimizers all workers share
    loop = dict(loop or {"epoch": 0, "cycle": 0, "best_success_rate": -1.0, "mi_r_scale": params["mi_r_scale"]})
    run = Run(workers, logger, params, comm, loop, n_epochs)
    logger.info("Training...")

    def average(values: list[float]) -> float:
        return mpi_average(values if len(values) > 1 else values[0], comm)

    while loop["epoch"] < n_epochs:
        epoch = loop["epoch"]
        run.epoch_start = time.perf_counter()
        if loop["cycle"] == 0:
            for worker in workers:
                worker.rollout_worker.clear_history()
        run.episodes = []
        for hook in hooks:
            hook.on_epoch_start(run)
        while loop["cycle"] < params["n_cycles"]:
            cycle = loop["cycle"]
            for hook in hooks:
                hook.on_cycle_start(run)
            for index, (agent, rollout_worker, _) in enumerate(workers):
                z, z_onehot = sample_skill(params["num_skills"], params["rollout_batch_size"], params["use_skill_n"],
                                           agent.rng)
                episode = rollout_worker.generate_rollouts(generated_goal=exploring_goals(params, rollout_worker),
                                                           z_s_onehot=z_onehot)
                frames = None
                if rollout_worker.renderer is not None:
                    frames, episode = episode
                if index == 0:
                    for hook in hooks:
                        hook.on_rollout(run, episode, frames, z)
                    run.episodes.append(episode)
                agent.store_episode(episode, update_stats=False)
                agent.accumulate_stats(episode)
            agents[0].recompute_stats()
            try:
                for _batch in range(params["n_batches"]):
                    # each worker's batch and gradient, summed over the workers (one graph call)
                    gradients = workers_gradients(agents, epoch, mi_r_scale=loop["mi_r_scale"])
                    if gradients is not None:
                        learner.apply_gradients([gradients])
                    if epoch >= params["mi_end_epoch"]:
                        loop["mi_r_scale"] = 0  # as the original: after the epoch's first step
                    # then MINE's step and the skill discriminator's (each while its reward is on)
                    scales = agents[0].current_scales(loop["mi_r_scale"])
                    for name, reward in learner.intrinsic.items():
                        if reward.wants_training(learner.params, scales[name]):
                            workers_intrinsic_step(agents, name, params["batch_size"])
            except MineNaNError as err:
                raise MineNaNError(f"epoch {epoch}, cycle {cycle}: {err}; the last good checkpoint "
                                   f"(if any) is in {checkpoint.checkpoint_dir(run.logdir)}") from None
            learner.update_target_net()
            loop["cycle"] += 1
            for hook in hooks:
                hook.on_cycle_end(run)
        for hook in hooks:
            hook.on_cycles_done(run)

        for agent, _, evaluator in workers:
            evaluator.clear_history()
            for _ in range(params["n_test_rollouts"]):
                _, z_onehot = sample_skill(params["num_skills"], evaluator.rollout_batch_size, params["use_skill_n"],
                                           agent.rng)
                evaluator.generate_rollouts(generated_goal=None, z_s_onehot=z_onehot)

        logger.record_tabular("timestamp", datetime.datetime.now().strftime("%Y-%m-%d-%H-%M-%S"))
        logger.record_tabular("epoch", epoch)
        # Each logged value is averaged over all workers of all ranks, as over ranks before.
        per_worker = [w.evaluator.logs("test") + w.rollout_worker.logs("train") + w.agent.logs() for w in workers]
        for i, (key, _) in enumerate(per_worker[0]):
            logger.record_tabular(key, average([logs[i][1] for logs in per_worker]))
        logger.record_tabular("train/nan_retries", average([w.rollout_worker.nan_retries for w in workers]))
        # train/episode is per worker, as the original's is per rank; this counts them all
        logger.record_tabular("train/episodes_all_workers",
                              comm.allreduce(sum(w.rollout_worker.n_episodes for w in workers)))
        # The best test success rate so far, this epoch included (the original logged it
        # before updating, so its column lagged an epoch; see docs/deviations.md).
        run.success_rate = average([w.evaluator.current_success_rate() for w in workers])
        run.new_best = run.success_rate >= loop["best_success_rate"]
        loop["best_success_rate"] = max(loop["best_success_rate"], run.success_rate)
        logger.record_tabular("best_success_rate", loop["best_success_rate"])
        logger.record_tabular("time/epoch", time.perf_counter() - run.epoch_start)  # s on rank 0, before saving
        run.row = logger.dump_tabular(step=epoch)
        loop["epoch"] += 1
        loop["cycle"] = 0
        for hook in hooks:
            hook.on_epoch_end(run, epoch)
    return run.row


# ------------------------------------------------------------------ hooks of music.train
class VideoSaver(Hook):
    """``collect_video``: the training rollouts as mp4 (rank 0 renders), named as the original's."""

    def on_rollout(self, run: Run, episode: dict, frames, skills: np.ndarray) -> None:
        if frames is None:
            return
        from music.render import save_video

        for i, clip in enumerate(frames):
            save_video(clip, run.logdir / video_name(run.loop["epoch"], run.rank, run.loop["cycle"], i,
                                                     int(skills[i, 0])))


class DataCollector(Hook):
    """``collect_data``: rank 0's training observations of every epoch as JSON."""

    def on_cycles_done(self, run: Run) -> None:
        if run.rank == 0:
            with open(run.logdir / f"rollout_{run.loop['epoch']}_{run.rank}.txt", "w") as f:
                json.dump([ep["o"].tolist() for ep in run.episodes], f)


class PolicySaver(Hook):
    """Rank 0 writes policy_best (a new best test success rate), policy_latest (every epoch)
    and policy_<epoch> (every ``interval`` epochs; only the newest ``keep`` if > 0)."""

    def __init__(self, interval: int, keep: int = 0):
        self.interval, self.keep = interval, keep

    def on_epoch_end(self, run: Run, epoch: int) -> None:
        if run.rank != 0:
            return
        logdir, logger = run.logdir, run.logger
        if run.new_best:
            logger.info(f"New best success rate: {run.success_rate:.4g}. Saving policy to "
                        f"{logdir / 'policy_best.pkl'} ...")
            save_policy(run.policy, logdir / "policy_best.pkl")
        save_policy(run.policy, logdir / "policy_latest.pkl")
        if self.interval > 0 and epoch % self.interval == 0:
            logger.info(f"Saving periodic policy to {logdir / f'policy_{epoch}.pkl'} ...")
            save_policy(run.policy, logdir / f"policy_{epoch}.pkl")
            if self.keep > 0:
                prune_policies(logdir, self.keep)


class Checkpointer(Hook):
    """Checkpoints every ``interval`` epochs (and at the last), and stops every rank at a cycle
    end with a checkpoint when any rank got SIGTERM or SIGINT (``stop``)."""

    def __init__(self, interval: int, with_buffer: bool = True, stop: StopRequest | None = None):
        self.interval, self.with_buffer, self.stop = interval, with_buffer, stop

    def save(self, run: Run) -> None:
        checkpoint.save(run.logdir, run.comm, run.workers, run.loop, self.with_buffer)

    def stop_if_asked(self, run: Run) -> None:
        if self.stop is None:
            return
        signum = self.stop.any_rank(run.comm)
        if signum:
            self.save(run)
            run.logger.info(f"Signal {signal.Signals(signum).name}: checkpoint written at epoch {run.loop['epoch']}, "
                            f"cycle {run.loop['cycle']}; resume with: "
                            f"{resume_command(run.logdir, run.comm.Get_size())}")
            raise Preempted(signum, run.loop)

    def on_cycle_end(self, run: Run) -> None:
        self.stop_if_asked(run)

    def on_epoch_end(self, run: Run, epoch: int) -> None:
        done = run.loop["epoch"]
        if self.interval > 0 and (done % self.interval == 0 or done == run.n_epochs):
            self.save(run)
        self.stop_if_asked(run)


class ProgressShower(Hook):
    """Rank 0's progress line within epochs (``music.logger.CycleProgress``) and the run's ETA in the log."""

    def __init__(self, progress):
        self.progress = progress

    def on_epoch_start(self, run: Run) -> None:
        self.progress.start_epoch(run.loop["cycle"])

    def on_cycle_end(self, run: Run) -> None:
        self.progress.cycle_done(run.loop["epoch"], run.loop["cycle"])

    def on_cycles_done(self, run: Run) -> None:
        self.progress.end_epoch()

    def on_epoch_end(self, run: Run, epoch: int) -> None:
        run.logger.info(self.progress.run_eta(epoch + 1, time.perf_counter() - run.epoch_start))


def standard_hooks(params: dict, policy_save_interval: int, keep_policies: int, checkpoint_interval: int,
                   checkpoint_buffer: bool, stop: StopRequest | None, progress=None) -> list[Hook]:
    """The hooks of ``music.train``, in the order their effects happened in the loop."""
    hooks: list[Hook] = [VideoSaver()]
    if progress is not None:
        hooks.append(ProgressShower(progress))
    if params["collect_data"]:
        hooks.append(DataCollector())
    hooks += [PolicySaver(policy_save_interval, keep_policies), Checkpointer(checkpoint_interval, checkpoint_buffer,
                                                                             stop)]
    return hooks


def prune_policies(logdir: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest policy_{epoch}.pkl (and their .npz twins)."""
    periodic = sorted((int(p.stem.split("_")[1]), p) for p in logdir.glob("policy_*.pkl")
                      if p.stem.split("_")[1].isdigit())
    for _, path in periodic[:-keep]:
        for twin in (path, path.with_suffix(".npz"), path.with_name(path.stem + "_weight.pkl")):
            twin.unlink(missing_ok=True)
