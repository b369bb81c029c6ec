"""The training loop (docs/algorithm.md §5), resumable and preemptible.

Every rank runs ``train`` in lock-step. The loop position (epoch, cycle), the best
success rate and the MI scale live in ``loop``, a dict saved in checkpoints, so a run
can continue at any cycle boundary. At the end of every cycle the ranks agree whether
any of them received SIGTERM or SIGINT; if so, all write a checkpoint and stop.
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


def inject_fault(rank: int, epoch: int, cycle: int, policy) -> None:
    """Test hook: ``MUSIC_FAULT=rank:R,epoch:E,cycle:C,kind:raise|kill|nan_mine`` breaks that rank there."""
    spec = os.environ.get("MUSIC_FAULT")
    if not spec:
        return
    fault = dict(item.split(":", 1) for item in spec.split(","))
    if (int(fault.get("rank", 0)), int(fault.get("epoch", 0)), int(fault.get("cycle", 0))) != (rank, epoch, cycle):
        return
    kind = fault.get("kind", "raise")
    if kind == "raise":
        raise RuntimeError(f"fault injected by MUSIC_FAULT on rank {rank}, epoch {epoch}, cycle {cycle}")
    if kind == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "nan_mine":
        policy.variables["ir/state_mi/out/bias"].assign([np.nan])
    if kind == "term":
        os.kill(os.getpid(), signal.SIGTERM)


def train(*, policy, rollout_worker, evaluator, logger, params: dict, n_epochs: int, policy_save_interval: int,
          save_policies: bool, comm, loop: dict | None = None, checkpoint_interval: int = 0,
          checkpoint_buffer: bool = True, keep_policies: int = 0, stop: StopRequest | None = None,
          progress=None) -> dict:
    """Train until epoch ``n_epochs``, starting at ``loop`` (default: epoch 0, cycle 0).

    ``progress`` (a ``music.logger.CycleProgress``, rank 0) shows progress within epochs.
    """
    from music.ddpg import MineNaNError
    from music.mpi_util import mpi_average

    rank = comm.Get_rank()
    logdir = logger.logdir
    rng = policy.rng
    loop = dict(loop or {"epoch": 0, "cycle": 0, "best_success_rate": -1.0, "mi_r_scale": params["mi_r_scale"]})
    row: dict = {}
    logger.info("Training...")

    def stop_if_asked() -> None:
        if stop is not None:
            signum = stop.any_rank(comm)
            if signum:
                checkpoint.save(logdir, comm, policy, rollout_worker, evaluator, loop, checkpoint_buffer)
                logger.info(f"Signal {signal.Signals(signum).name}: checkpoint written at epoch {loop['epoch']}, "
                            f"cycle {loop['cycle']}; resume with --resume {logdir}")
                raise Preempted(signum, loop)

    while loop["epoch"] < n_epochs:
        epoch = loop["epoch"]
        epoch_start = time.perf_counter()
        if loop["cycle"] == 0:
            rollout_worker.clear_history()
        episodes = []  # of this epoch (after a mid-epoch resume: since the resume)
        if progress is not None:
            progress.start_epoch(loop["cycle"])
        while loop["cycle"] < params["n_cycles"]:
            cycle = loop["cycle"]
            inject_fault(rank, epoch, cycle, policy)
            z, z_onehot = sample_skill(params["num_skills"], params["rollout_batch_size"], params["use_skill_n"], rng)
            goal = np.zeros(rollout_worker.g.shape) if params["goal_generation"] == "Zero" else None
            episode = rollout_worker.generate_rollouts(generated_goal=goal, z_s_onehot=z_onehot)
            if rollout_worker.renderer is not None:  # collect_video, rank 0
                from music.render import save_video

                frames, episode = episode
                for i, clip in enumerate(frames):
                    save_video(clip, logdir / video_name(epoch, rank, cycle, i, int(z[i, 0])))
            episodes.append(episode)
            policy.store_episode(episode)
            try:
                for _batch in range(params["n_batches"]):
                    policy.train(epoch)
                    if epoch >= params["mi_end_epoch"]:
                        loop["mi_r_scale"] = 0
                        policy.mi_r_scale = 0
                    n_stored = policy.buffer.current_size
                    if loop["mi_r_scale"] > 0 and not params["no_train_mi"]:
                        idx = rng.integers(0, n_stored, params["batch_size"])
                        policy.train_mi(policy.buffer.buffers["o"][idx])
                    if params["sk_r_scale"] > 0:
                        idx = rng.integers(0, n_stored, params["batch_size"])
                        t = rng.integers(0, policy.T, params["batch_size"])
                        policy.train_sk(policy.buffer.buffers["o"][idx, t], policy.buffer.buffers["z"][idx, t])
            except MineNaNError as err:
                raise MineNaNError(f"epoch {epoch}, cycle {cycle}: {err}; the last good checkpoint "
                                   f"(if any) is in {checkpoint.checkpoint_dir(logdir)}") from None
            policy.update_target_net()
            loop["cycle"] += 1
            if progress is not None:
                progress.cycle_done(epoch, loop["cycle"])
            stop_if_asked()
        if progress is not None:
            progress.end_epoch()

        if params["collect_data"] and rank == 0:
            with open(logdir / f"rollout_{epoch}_{rank}.txt", "w") as f:
                json.dump([ep["o"].tolist() for ep in episodes], f)

        evaluator.clear_history()
        for _ in range(params["n_test_rollouts"]):
            _, z_onehot = sample_skill(params["num_skills"], evaluator.rollout_batch_size, params["use_skill_n"], rng)
            evaluator.generate_rollouts(generated_goal=None, z_s_onehot=z_onehot)

        logger.record_tabular("timestamp", datetime.datetime.now().strftime("%Y-%m-%d-%H-%M-%S"))
        logger.record_tabular("epoch", epoch)
        for key, value in evaluator.logs("test") + rollout_worker.logs("train") + policy.logs():
            logger.record_tabular(key, mpi_average(value, comm))
        logger.record_tabular("train/nan_retries", mpi_average(rollout_worker.nan_retries, comm))
        # The best test success rate so far, this epoch included (the original logged it
        # before updating, so its column lagged an epoch; see docs/deviations.md).
        success_rate = mpi_average(evaluator.current_success_rate(), comm)
        new_best = success_rate >= loop["best_success_rate"]
        loop["best_success_rate"] = max(loop["best_success_rate"], success_rate)
        logger.record_tabular("best_success_rate", loop["best_success_rate"])
        logger.record_tabular("time/epoch", time.perf_counter() - epoch_start)  # s on rank 0, before saving
        row = logger.dump_tabular(step=epoch)
        if progress is not None:
            logger.info(progress.run_eta(epoch + 1, time.perf_counter() - epoch_start))

        if rank == 0 and save_policies:
            if new_best:
                logger.info(f"New best success rate: {success_rate:.4g}. Saving policy to "
                            f"{logdir / 'policy_best.pkl'} ...")
                save_policy(policy, logdir / "policy_best.pkl")
            save_policy(policy, logdir / "policy_latest.pkl")
            if policy_save_interval > 0 and epoch % policy_save_interval == 0:
                logger.info(f"Saving periodic policy to {logdir / f'policy_{epoch}.pkl'} ...")
                save_policy(policy, logdir / f"policy_{epoch}.pkl")
                if keep_policies > 0:
                    prune_policies(logdir, keep_policies)
        loop["epoch"] += 1
        loop["cycle"] = 0
        if checkpoint_interval > 0 and (loop["epoch"] % checkpoint_interval == 0 or loop["epoch"] == n_epochs):
            checkpoint.save(logdir, comm, policy, rollout_worker, evaluator, loop, checkpoint_buffer)
        stop_if_asked()
    return row


def prune_policies(logdir: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest policy_{epoch}.pkl (and their .npz twins)."""
    periodic = sorted((int(p.stem.split("_")[1]), p) for p in logdir.glob("policy_*.pkl")
                      if p.stem.split("_")[1].isdigit())
    for _, path in periodic[:-keep]:
        for twin in (path, path.with_suffix(".npz"), path.with_name(path.stem + "_weight.pkl")):
            twin.unlink(missing_ok=True)
