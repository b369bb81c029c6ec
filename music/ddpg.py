"""The MUSIC agent of one worker: DDPG or SAC with HER, plus MINE and skill-discriminator rewards.

This is the original's ``baselines/her/ddpg.py`` in TensorFlow 2, cut along what is
shared and what is not:

- ``music.learner.Learner``: the networks, normalizers, optimizers and training graphs,
  one per process, shared by reference by its virtual workers (``music.workers``);
- ``DDPG`` (here): one worker's own part: its random streams, replay buffer, normalizer
  sums and reward histories; acting (one ``tf.function`` per acting mode); sampling a
  batch and scoring its intrinsic rewards;
- the training steps of a process's workers (``workers_gradients``,
  ``workers_intrinsic_step``): each worker's data through the learner's graphs;
- ``music.losses`` (the critic target and losses as pure functions) and
  ``music.rewards`` (the table of reward terms).

``configure_ddpg`` builds the agent of a run's parameters (the original kept it in
``config.py``; here it sits beside the agent, so that ``config`` stays below ``ddpg``).

Shapes: B is a batch, T the episode length, tau a sequence length. dimo, dimz, dimg,
dimu are the sizes of the observation, one-hot skill, goal and action.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf
from mpi4py import MPI

from music.acting import Acting, preprocess_og
from music.actor_critic import action_bound
from music.config import PARAM_FIELDS, Params, configure_her, discount, needs_split, params_from_dict, pretrained_scopes
from music.envs import known_split, observation_split
from music.learner import WEIGHT_SCOPES, Gradients, Learner, Sizes
from music.losses import ENTROPY_REWARD_MODES, return_bounds
from music.mine import Mine, MineNaNError
from music.replay_buffer import ReplayBuffer, mi_priorities
from music.rewards import NUMPY, REWARD_TERMS, WEIGHT_KEYS, RewardHistories, log_order, term
from music.skill import SkillDiscriminator

__all__ = ["DDPG", "Gradients", "MineNaNError", "configure_ddpg", "workers_gradients", "workers_intrinsic_gradients",
           "workers_intrinsic_step", "ENTROPY_REWARD_MODES", "MI_END_MODES", "WEIGHT_KEYS", "WEIGHT_SCOPES"]

MI_END_MODES = ("original", "drop")

# Constructor arguments besides params: facts of the run, kept in policy files.
RUN_FACTS = ("input_dims", "env_name", "T", "gamma", "clip_return", "clip_pos_returns", "seed", "history_len")


def _constructor_args(description: dict) -> tuple[Params, dict]:
    """(params, run facts) of a description: format 2 (``DDPG.description``) or format 1,
    the flat constructor arguments of policy files written before the agent took ``Params``
    (all agent hyperparameters, run facts and an ``info`` dict of the parameters play reads)."""
    if description.get("format") == 2:
        return params_from_dict(description["params"]), dict(description["run"])
    flat = dict(description.get("init_kwargs", description))
    run = {key: flat.pop(key) for key in RUN_FACTS if key in flat}
    info = flat.pop("info", None) or {}
    dtype = flat.pop("buffer_dtype", None)
    if dtype is not None:
        flat["replay_dtype"] = np.dtype(dtype).name
    # info held the parameters play reads (note, noise_eps, ...); env_name and T are run facts
    flat.update({k: v for k, v in info.items() if k not in ("env_name", "T")})
    return params_from_dict(flat), run


class DDPG:
    """One worker's agent (the original's ``DDPG`` class; with ``params.sac`` it is SAC).

    Its hyperparameters are the run's typed ``Params`` (``music.config``, one documented
    line per field: network sizes, learning rates, reward scales, normalization, replay);
    the agent reads them from ``self.params``, so a new hyperparameter is one ``Params``
    field. The other arguments are facts of the run, not choices:

    Args:
        params: the run's parameters (the agent keeps a copy).
        input_dims: sizes {'o', 'z', 'g', 'u', 'info_*'} of one step's arrays.
        env_name: the task (decides the agent/surrounding split of observations).
        T: episode length.
        gamma: discount; by default 1 - 1/T, as the original.
        clip_return: targets are clipped to [-clip_return, clip_return]; None for no clip.
        clip_pos_returns: clip targets above at +clip_return too (else only below); the
            original always does.
        sample_transitions: the HER sampler (``music.her``). Without one the agent plays but
            does not train, and its replay buffer holds a single rollout batch.
        pretrain_weights: a name -> array dict (``save_weight``) whose MINE is loaded (and, with
            ``params.finetune_pi``, actor, critic and targets; with ``params.finetune_normalizers``
            too, the observation normalizers: see ``pretrained_scopes``).
        seed: seeds three independent streams (``np.random.SeedSequence(seed).spawn``): the
            initial weights, this agent's numpy generator and its TF generator.
        history_len: how many recent rewards the logs average over.
        comm: MPI communicator.
        workers_per_rank: virtual workers of this process (``music.workers``): the normalizers
            average their sums over ranks x workers.
        shared: another agent of this process whose learner (networks, normalizers,
            optimizers) this one uses (virtual workers, ``music.workers``): it keeps its own
            random streams, replay buffer and reward histories.
        reward_terms: the table of reward terms (``music.rewards``); another table is how a
            new intrinsic reward is tried (docs/architecture.md).

    Two parameters are not the original's (see docs/deviations.md): ``params.mi_end_mode``
    decides what the critic target's MI term becomes once the loop sets the MI scale to 0
    at ``mi_end_epoch`` (``original``: the target keeps the scale the agent was built with,
    so the term is the constant ``-m_w``, as the original's TF1 graph; ``drop``: 0), and
    ``params.entropy_reward_mode`` (``original``: the (B,) entropy reward broadcasts against
    the (B, 1) target into a (B, B) matrix, so the critic's gradient is that of a target with
    the batch-mean entropy reward; ``per_transition``: each transition its own).
    """

    def __init__(
        self,
        params: Params,
        *,
        input_dims: dict[str, int],
        env_name: str,
        T: int,
        gamma: float | None = None,
        clip_return: float | None = None,
        clip_pos_returns: bool = True,
        sample_transitions=None,
        pretrain_weights: dict[str, np.ndarray] | None = None,
        seed: int = 0,
        history_len: int = 10000,
        comm: MPI.Comm | None = None,
        workers_per_rank: int = 1,
        shared: DDPG | None = None,
        reward_terms=REWARD_TERMS,
    ):
        if not isinstance(params, Params):
            raise TypeError(f"params must be a music.config.Params, got {type(params).__name__}")
        self.params = p = dataclasses.replace(params)
        if p.entropy_reward_mode not in ENTROPY_REWARD_MODES:
            raise ValueError(f"entropy_reward_mode must be one of {ENTROPY_REWARD_MODES}, got "
                             f"{p.entropy_reward_mode!r}")
        if p.mi_end_mode not in MI_END_MODES:
            raise ValueError(f"mi_end_mode must be one of {MI_END_MODES}, got {p.mi_end_mode!r}")
        for key in ("o", "z", "g", "u"):
            if key not in input_dims:
                raise ValueError(f"input_dims lacks {key!r}: {input_dims}")
        # What, with params and the weights, rebuilds this agent (policy files, pickles).
        self.run_facts = {"input_dims": {k: int(v) for k, v in input_dims.items()}, "env_name": env_name,
                          "T": int(T), "gamma": gamma, "clip_return": clip_return,
                          "clip_pos_returns": clip_pos_returns, "seed": seed, "history_len": history_len}
        self.input_dims = dict(self.run_facts["input_dims"])
        self.dimo, self.dimz, self.dimg, self.dimu = (self.input_dims[k] for k in ("o", "z", "g", "u"))
        self.env_name = env_name
        self.T = int(T)
        self.gamma = discount(self.T) if gamma is None else gamma
        self.clip_return = np.inf if clip_return is None else float(clip_return)
        self.max_u = action_bound(p.max_u, self.dimu)
        self.sample_transitions = sample_transitions
        self.comm = comm or MPI.COMM_WORLD

        declared = p.agent_obs is not None or p.surrounding_obs is not None
        if not needs_split(p) and not declared and known_split(env_name) is None:
            self.split = None  # e.g. FetchReach: plain DDPG/SAC + HER, no intrinsic reward
        else:
            self.split = observation_split(env_name, self.dimo, p.agent_obs, p.surrounding_obs)

        # Separate streams, so that no sampling draw repeats a draw that made the initial weights.
        init_seq, np_seq, tf_seq = np.random.SeedSequence(seed).spawn(3)
        init_rng = np.random.default_rng(init_seq)
        self.rng = np.random.default_rng(np_seq)
        self.tf_rng = tf.random.Generator.from_seed(int(tf_seq.generate_state(1, np.uint64)[0] >> 1))

        if shared is None:
            self.learner = Learner(p, Sizes(self.dimo, self.dimz, self.dimg, self.dimu), self.max_u, self.split,
                                   init_rng, gamma=self.gamma, return_bounds=return_bounds(self.clip_return,
                                                                                           clip_pos_returns),
                                   comm=self.comm, workers_per_rank=workers_per_rank, reward_terms=reward_terms)
        else:
            if (shared.params, shared.input_dims, shared.env_name) != (self.params, self.input_dims, self.env_name):
                raise ValueError("a virtual worker must have the same params, sizes and task as the agent it "
                                 "shares with")
            self.learner = shared.learner
        self.worker_index = self.learner.join()  # the normalizer sums of this worker are its own

        self.acting = Acting(self.learner, p, self.tf_rng, env_name)

        buffer_shapes = {
            "o": (self.T + 1, self.dimo), "ag": (self.T + 1, self.dimg), "g": (self.T, self.dimg),
            "u": (self.T, self.dimu), "z": (self.T, self.dimz),
        }
        for key, dim in self.input_dims.items():
            if key.startswith("info_"):
                buffer_shapes[key] = (self.T, dim)
        # A whole number of rollout batches, as the original; a play-only agent needs one.
        transitions = p.buffer_size if sample_transitions is not None else self.T * p.rollout_batch_size
        transitions = (transitions // p.rollout_batch_size) * p.rollout_batch_size
        self.buffer = ReplayBuffer(buffer_shapes, transitions, self.T, sample_transitions, p.mi_prioritization,
                                   dtype=np.dtype(p.replay_dtype).type, rng=self.rng)

        self.reward_histories = RewardHistories(history_len, self.learner.reward_terms)
        # the training estimate of each term that logs one (MINE's on this worker's last batch)
        self.estimates = {row.log_name: 0.0 for row in self.learner.reward_terms if row.estimate_log}
        if shared is None:
            scopes = pretrained_scopes(p.finetune_pi, p.finetune_normalizers) if pretrain_weights else []
            self.learner.initialize(pretrain_weights, scopes)

    def description(self) -> dict:
        """What rebuilds this agent, as JSON-able data: {'format': 2, 'params', 'run'}."""
        run = dict(self.run_facts)
        if run["clip_return"] is not None and not np.isfinite(run["clip_return"]):
            run["clip_return"] = None
        return {"format": 2, "params": dataclasses.asdict(self.params), "run": run}

    @classmethod
    def from_description(cls, description: dict, comm: MPI.Comm | None = None) -> DDPG:
        """A play-only agent (no HER sampler) built from ``description()`` or from the flat
        constructor arguments that policy files of format 1 kept (``init_kwargs``)."""
        params, run = _constructor_args(description)
        return cls(params, **run, comm=comm)

    # The learner's parts that playing, evaluating and the original's API reach through the agent.
    @property
    def mine(self) -> Mine | None:
        """MINE (None without an agent/surrounding split)."""
        return self.learner.intrinsic.get("mi_reward")

    @property
    def skill(self) -> SkillDiscriminator | None:
        """The skill discriminator (None without an agent/surrounding split)."""
        return self.learner.intrinsic.get("sk_reward")

    @property
    def variables(self) -> dict[str, tf.Variable]:
        return self.learner.variables

    # ------------------------------------------------------------------ acting
    def get_actions(self, o, z, ag, g, noise_eps: float = 0.0, random_eps: float = 0.0,
                    use_target_net: bool = False, compute_Q: bool = False):
        """Actions for observations o (B, dimo) or (dimo,), skills z, achieved and desired goals
        (``music.acting``: exploring with this worker's numpy generator ``rng``).

        Exploration as the original: Gaussian noise of std noise_eps * max_u, clipped,
        then with probability random_eps a uniform random action. Returns u (B, dimu),
        or (dimu,) for a single observation; with compute_Q also Q_pi (B, 1).
        """
        return self.acting.actions(o, z, ag, g, self.rng, noise_eps, random_eps, use_target_net, compute_Q)

    def _preprocess_og(self, o: np.ndarray, ag: np.ndarray, g: np.ndarray):
        return preprocess_og(self.params, self.dimg, o, ag, g)

    # ------------------------------------------------------------------ storing
    def store_episode(self, episode_batch: dict[str, np.ndarray], update_stats: bool = True) -> None:
        """Store episodes {o: (B, T+1, dimo), ag: (B, T+1, dimg), g, u, z, info_*: (B, T, .)}.

        With ``update_stats`` the o and g normalizers are updated (over all ranks) from
        a HER-relabelled sample of all the new transitions.
        """
        if self.params.mi_prioritization:
            episode_batch = {**episode_batch, "p": mi_priorities(self.run_mi, episode_batch["o"])}
        self.buffer.store_episode(episode_batch)
        if update_stats:
            self.accumulate_stats(episode_batch)
            self.recompute_stats()

    def accumulate_stats(self, episode_batch: dict[str, np.ndarray]) -> None:
        """Add a HER-relabelled sample of all the new transitions to the normalizers' local sums."""
        batch = {**episode_batch, "o_2": episode_batch["o"][:, 1:, :], "ag_2": episode_batch["ag"][:, 1:, :]}
        n_transitions = batch["u"].shape[0] * batch["u"].shape[1]
        transitions = self.sample_transitions(batch, n_transitions, 0, self.rng)
        o, g = self._preprocess_og(transitions.o, transitions.ag, transitions.g)
        self.learner.o_stats.update(o, self.worker_index)
        self.learner.g_stats.update(g, self.worker_index)

    def recompute_stats(self) -> None:
        """Fold every worker's and rank's local sums into the normalizers (collective)."""
        self.learner.o_stats.recompute_stats()
        self.learner.g_stats.recompute_stats()

    def get_current_buffer_size(self) -> int:
        return self.buffer.get_current_size()

    def clear_buffer(self) -> None:
        self.buffer.clear_buffer()

    # ------------------------------------------------------------------ a batch and its rewards
    def current_scales(self, mi_r_scale: float | None = None) -> dict[str, float]:
        """Each reward term's scale now, by its log name: the ``Params`` field, but the loop's
        current MI scale (``mi_r_scale``: 0 from ``mi_end_epoch`` on) for a scale that is a graph input."""
        return {row.log_name: mi_r_scale if row.scale_is_input and mi_r_scale is not None
                else getattr(self.params, row.scale) for row in self.learner.reward_terms}

    def sample_batch(self, epoch: int, mi_r_scale: float | None = None) -> tuple[dict[str, np.ndarray], dict]:
        """A training batch with every reward term's raw value: (batch arrays, scalar weights).

        ``mi_r_scale``: the current MI scale (the loop's); by default ``params.mi_r_scale``.
        Each term of the batch goes into its history (the actor's, after the step: ``record_entropy``).
        """
        p, n = self.params, self.params.batch_size
        scales = self.current_scales(mi_r_scale)
        # MINE's (o_t, o_t+1) pairs and permutation are drawn by the sampler, where the original drew them
        tr = self.buffer.sample(n, epoch, intrinsic=True, with_mi=scales["mi_reward"] > 0)
        o, g = self._preprocess_og(tr.o, tr.ag, tr.g)
        o_2, g_2 = self._preprocess_og(tr.o_2, tr.ag_2, tr.g)
        batch = {"o": o, "z": tr.z, "g": g, "u": tr.u, "o_2": o_2, "g_2": g_2}
        weights = {}
        for row in self.learner.reward_terms:
            weight = getattr(tr, row.weight, 1.0)  # a schedule of the sampler (m_w, e_w), else 1
            weights[row.weight] = np.float32(weight)
            if row.scale_is_input:  # mi_end_mode 'original': the target keeps the scale it was built with
                weights[row.scale] = np.float32(getattr(p, row.scale) if p.mi_end_mode == "original"
                                                else scales[row.log_name])
            if row.batch_key is None:
                continue  # the actor's term: computed in the training graph
            batch[row.batch_key] = value = self._raw_reward(row, tr, scales[row.log_name])
            self.reward_histories.record(row.log_name, term(row, value, scales[row.log_name], weight, NUMPY))
        return {k: np.asarray(v, dtype=np.float32) for k, v in batch.items()}, weights

    def _raw_reward(self, row, transitions, scale: float) -> np.ndarray:
        """A term's raw values (B,) for sampled transitions: the sampler's field (the task's r), or
        its intrinsic reward's scores with the current networks (zeros while its scale is 0)."""
        if row.make is None:
            return getattr(transitions, row.batch_key)
        reward = self.learner.intrinsic.get(row.log_name)
        if reward is None or scale <= 0:
            return np.zeros(self.params.batch_size)
        return reward.reward(transitions, self.rng)

    def record_entropy(self, neg_logp_pi: np.ndarray, weights: dict) -> None:
        """The actor's term of a training step's -log pi (B,) into its history (DDPG: 0)."""
        for row in self.learner.reward_terms:
            if row.batch_key is None:
                values = term(row, neg_logp_pi, getattr(self.params, row.scale), weights[row.weight], NUMPY)
                self.reward_histories.record(row.log_name, values if self.params.sac else [0.0])

    def _require(self, reward, what: str):
        if reward is None:
            raise ValueError(
                f"{what} needs an agent/surrounding split of observations, which {self.env_name} does not have; "
                "use an env with an object (FetchPush, FetchPickAndPlace, FetchSlide) or declare agent_obs and "
                "surrounding_obs (docs/custom_envs.md)"
            )
        return reward

    def mine_inputs(self, o_s: np.ndarray, perm=None) -> tuple[np.ndarray, np.ndarray]:
        """MINE's graph inputs from observations o_s (B, tau, dimo) (``Mine.inputs``), with a time
        permutation drawn from this worker's stream if ``perm`` is None."""
        mine = self._require(self.mine, "the MI estimate")
        try:
            return mine.inputs(o_s, perm, self.rng)
        except ValueError as err:
            raise ValueError(f"{self.env_name}: {err}") from None

    def run_mi(self, o_s: np.ndarray, perm=None) -> np.ndarray:
        """Negative MINE estimate per sequence of o_s (B, tau, dimo); shape (B, 1).

        ``perm`` permutes the time axis of the surrounding state for the marginal
        samples, shared by the batch; by default a random one is drawn per call.
        """
        xy, perm = self.mine_inputs(o_s, perm)  # first: it names a missing split
        return self.mine.estimate(xy, perm)

    def run_sk(self, o: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Skill reward -cross_entropy(discriminator(object_pos), z) for o (B, dimo), z (B, dimz); shape (B,)."""
        return self._require(self.skill, "the skill reward").skill_reward(o, z)

    def training_inputs(self, log_name: str, batch_size: int) -> tuple:
        """The inputs of a training step of the intrinsic reward of term ``log_name``, drawn from
        this worker's buffer and stream."""
        reward = self._require(self.learner.intrinsic.get(log_name), f"training {log_name}")
        return reward.training_inputs(self.buffer, batch_size, self.rng)

    # ------------------------------------------------------------------ training this worker alone
    # The same steps as a process's workers take together (``workers_*`` below), for one worker.
    def gradients(self, epoch: int, batch=None) -> Gradients | None:
        """This worker's critic and actor gradients on a sampled batch (or ``batch``, as
        ``sample_batch`` returns it); None while the buffer is empty."""
        if self.buffer.current_size == 0:
            return None
        return workers_gradients([self], epoch, None if batch is None else [batch])

    def apply_gradients(self, gradients: list[Gradients]) -> None:
        self.learner.apply_gradients(gradients)

    def train(self, epoch: int, batch=None):
        """One critic + actor step on a sampled batch; returns (critic loss, actor loss)."""
        gradients = self.gradients(epoch, batch)
        if gradients is None:
            return None
        self.learner.apply_gradients([gradients])
        return gradients.q_loss, gradients.pi_loss

    def mi_gradient(self, o_s_batch: np.ndarray, perm=None) -> np.ndarray:
        """MINE's gradient on whole episodes (B, tau, dimo) of this worker; sets its training
        estimate (``estimates``: the MI estimate, mean over B, before the step)."""
        return _intrinsic_gradients([self], "mi_reward", [self.mine_inputs(o_s_batch, perm)])[0]

    def train_mi(self, o_s_batch: np.ndarray, perm=None) -> float:
        """One MINE step on whole episodes (B, tau, dimo); returns the MI estimate (mean over B)."""
        grad, params = _intrinsic_gradients([self], "mi_reward", [self.mine_inputs(o_s_batch, perm)])
        self.mine.apply([grad], params)
        return self.estimates["mi_reward"]

    def sk_gradient(self, o_s_batch: np.ndarray, z_s_batch: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """(-mean cross-entropy, the skill discriminator's gradient, its flat parameters) on this
        worker's batch."""
        sk_loss, grad, params = self._require(self.skill, "the skill discriminator").gradient(o_s_batch, z_s_batch)
        return -float(np.mean(sk_loss)), grad, params

    def train_sk(self, o_s_batch: np.ndarray, z_s_batch: np.ndarray) -> float:
        """One skill-discriminator step; returns -mean cross-entropy."""
        value, grad, params = self.sk_gradient(o_s_batch, z_s_batch)
        self.skill.apply([grad], params)
        return value

    def update_target_net(self) -> None:
        """Polyak-average the main networks into the targets."""
        self.learner.update_target_net()

    # ------------------------------------------------------------------ weights
    def save_weight(self) -> dict[str, np.ndarray]:
        """All variables as {name: array}, names like ``main/pi/_0/kernel``."""
        return self.learner.save_weight()

    def load_weight(self, data: dict[str, np.ndarray], include=WEIGHT_SCOPES, verbose: bool = True) -> dict[str, list]:
        """``Learner.load_weight``: the variables of the ``include`` scopes that ``data`` has."""
        return self.learner.load_weight(data, include, verbose)

    # ------------------------------------------------------------------ state (checkpoints)
    def architecture(self) -> dict:
        """What must match for a state to load into this agent."""
        return {"env_name": self.env_name, "input_dims": self.input_dims, "hidden": self.params.hidden,
                "layers": self.params.layers, "sac": self.params.sac}

    def state_dict(self, with_buffer: bool = True) -> dict:
        """Everything training needs to continue exactly: weights, optimizers, this worker's
        normalizer sums, random streams, reward histories and (``with_buffer``) the replay buffer."""
        learner = self.learner
        return {
            "architecture": self.architecture(),
            "weights": learner.save_weight(),
            "optimizers": {name: adam.state_dict() for name, adam in learner.optimizers().items()},
            "normalizers": {norm.name: norm.state_dict(self.worker_index) for norm in (learner.o_stats,
                                                                                       learner.g_stats)},
            "np_rng": self.rng.bit_generator.state,
            "tf_rng": {"state": self.tf_rng.state.numpy(), "algorithm": int(self.tf_rng.algorithm)},
            "histories": self.reward_histories.state_dict(),
            "mi_current": self.estimates.get("mi_reward", 0.0),
            "buffer": self.buffer.state_dict(with_data=with_buffer),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()``; raises ValueError naming what does not match this agent."""
        for key, ours in self.architecture().items():
            if state["architecture"][key] != ours:
                raise ValueError(f"it is of a different run: {key} is {state['architecture'][key]!r} there, "
                                 f"{ours!r} here")
        weights = state["weights"]
        if set(weights) != set(self.variables):
            raise ValueError(f"it holds other variables than this agent "
                             f"(e.g. {sorted(set(weights) ^ set(self.variables))[:3]})")
        report = self.load_weight(weights, include=[""], verbose=False)
        if report["shape_mismatch"]:
            name, ours, theirs = report["shape_mismatch"][0]
            raise ValueError(f"variable {name} has shape {theirs} there, {ours} here")
        optimizers = self.learner.optimizers()
        for name, optimizer_state in state["optimizers"].items():
            optimizers[name].load_state_dict(optimizer_state)
        for norm in (self.learner.o_stats, self.learner.g_stats):
            norm.load_state_dict(state["normalizers"][norm.name], self.worker_index)
        self.rng.bit_generator.state = state["np_rng"]
        self.tf_rng.reset(tf.constant(state["tf_rng"]["state"]))
        if "mi_reward" in self.estimates:
            self.estimates["mi_reward"] = state["mi_current"]
        self.reward_histories.load_state_dict(state["histories"])
        self.buffer.load_state_dict(state["buffer"])

    # ------------------------------------------------------------------ logs
    def logs(self, prefix: str = "") -> list[tuple[str, float]]:
        histories = self.reward_histories
        o_stats, g_stats = self.learner.o_stats, self.learner.g_stats
        logs = [("stats_o/mean", float(np.mean(o_stats.mean.numpy()))),
                ("stats_o/std", float(np.mean(o_stats.std.numpy()))),
                ("stats_g/mean", float(np.mean(g_stats.mean.numpy()))),
                ("stats_g/std", float(np.mean(g_stats.std.numpy())))]
        # the original's column order: MINE's training estimate sits after the MI reward
        for row in log_order(self.learner.reward_terms):
            logs += histories.stats(row.log_name)
            if row.estimate_log:
                logs.append((row.estimate_log, self.estimates[row.log_name]))
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return [(prefix + key, float(val)) for key, val in logs]

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict:
        """Description and weights; no replay buffer (as the original).

        The unpickled policy acts like this one; it has no HER sampler, so it plays
        but does not train (resuming training is a separate checkpoint format).
        """
        return {**self.description(), "weights": self.save_weight()}

    def __setstate__(self, state: dict) -> None:
        params, run = _constructor_args(state)  # format 2, or format 1's {"init_kwargs": ...}
        self.__init__(params, **run)
        report = self.load_weight(state["weights"], include=[""], verbose=False)
        if report["shape_mismatch"] or report["missing"]:
            raise ValueError(f"pickled policy does not match its own architecture: {report}")


# ---------------------------------------------------------------------- a process's workers together
# Each worker samples from its own buffer with its own streams; the learner sums their
# gradients into one step of the shared networks, as MPI sums the ranks'. The loop
# (``music.training``) calls these with all workers; the one-worker methods above with one.
def workers_gradients(agents: list[DDPG], epoch: int, batches=None, mi_r_scale: float | None = None
                      ) -> Gradients | None:
    """The summed critic and actor gradients of ``agents`` (workers of one learner), each on a
    batch of its own (sampled, or ``batches``); None while a buffer is empty. One graph call
    however many workers, equal bit for bit to ``tree_sum`` of each worker's alone. Records
    each worker's entropy term."""
    if batches is None:
        if any(agent.buffer.current_size == 0 for agent in agents):
            return None
        batches = [agent.sample_batch(epoch, mi_r_scale) for agent in agents]
    learner = agents[0].learner
    gradients = learner.gradients([agent.tf_rng for agent in agents],
                                  [learner.pack(batch, weights) for batch, weights in batches])
    for agent, (_, weights), row in zip(agents, batches, gradients.neg_logp_pi, strict=True):
        agent.record_entropy(row, weights)
    return gradients


def _intrinsic_gradients(agents: list[DDPG], log_name: str, inputs: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    """The gradient of the intrinsic reward of term ``log_name`` summed over the workers on their
    ``inputs``, and its flat parameters; sets every worker's training estimate of it."""
    estimates, grad, params = agents[0].learner.intrinsic[log_name].gradients(inputs)
    if log_name in agents[0].estimates:
        for agent, value in zip(agents, estimates, strict=True):
            agent.estimates[log_name] = value
    return grad, params


def workers_intrinsic_gradients(agents: list[DDPG], log_name: str, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The gradient of the intrinsic reward of term ``log_name`` (MINE: "mi_reward", the skill
    discriminator: "sk_reward") summed over the workers, each on ``batch_size`` samples of its
    own buffer (MINE: one graph call for all), and the flat parameters it was taken at."""
    return _intrinsic_gradients(agents, log_name, [agent.training_inputs(log_name, batch_size) for agent in agents])


def workers_intrinsic_step(agents: list[DDPG], log_name: str, batch_size: int) -> None:
    """One step of the intrinsic reward of term ``log_name`` on the workers' summed gradients."""
    grad, params = workers_intrinsic_gradients(agents, log_name, batch_size)
    agents[0].learner.intrinsic[log_name].apply([grad], params)


def configure_ddpg(dims: dict[str, int], params: dict, env, pretrain_weights=None,
                   clip_return: bool = False, seed: int = 0, comm=None, workers_per_rank: int = 1,
                   shared: DDPG | None = None):
    """Build the agent of ``params`` for ``env`` (docs/algorithm.md; clip_return from the CLI flag).

    The agent takes the typed ``Params`` (a field missing from an older params.json takes its
    default); the run's facts are derived here: sizes, T, the return clip, the HER sampler.
    ``workers_per_rank`` and ``shared``: virtual workers (``music.workers``).
    """
    T = params["T"]
    return DDPG(
        params_from_dict({key: value for key, value in params.items() if key in PARAM_FIELDS}),
        input_dims={**dims, "z": params["num_skills"]}, env_name=params["env_name"], T=T,
        clip_return=(1.0 / (1.0 - discount(T))) * params["num_objective"] if clip_return else None,
        sample_transitions=configure_her(params, env), pretrain_weights=pretrain_weights, seed=seed, comm=comm,
        workers_per_rank=workers_per_rank, shared=shared,
    )

