"""The MUSIC agent: DDPG or SAC with HER, plus MINE and skill-discriminator intrinsic rewards.

This is the original's ``baselines/her/ddpg.py`` in TensorFlow 2. Each computation
that the original ran as a session call is one ``tf.function`` with a fixed input
signature (traced once): here acting, the critic+actor losses and gradients and the
target update; the MINE estimate, the skill reward and their training steps belong to
``self.ir`` (``music.discriminator.Discriminator``). Optimizers are ``MpiAdam`` (numpy
Adam on rank-summed gradients). The agent scores the intrinsic rewards of the batches
the pure HER sampler (``music.her``) returns.

``configure_ddpg`` builds the agent of a run's parameters (the original kept it in
``config.py``; here it sits beside the agent, so that ``config`` stays below ``ddpg``).

Shapes: B is a batch, T the episode length, tau a sequence length. dimo, dimz, dimg,
dimu are the sizes of the observation, one-hot skill, goal and action.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import deque
from typing import NamedTuple

import numpy as np
import tensorflow as tf
from mpi4py import MPI

from music.actor_critic import ActorCritic, action_bound
from music.config import PARAM_FIELDS, Params, configure_her, discount, params_from_dict, pretrained_scopes
from music.discriminator import Discriminator, MineNaNError
from music.envs import known_split, observation_split
from music.mpi_adam import MpiAdam
from music.mpi_util import tree_sum
from music.normalizer import Normalizer
from music.replay_buffer import ReplayBuffer, mi_priorities
from music.tf_util import FlatParams, flatten, graph

ENTROPY_REWARD_MODES = ("original", "per_transition")
MI_END_MODES = ("original", "drop")

# Scopes whose variables ``load_weight`` understands, as in the original.
WEIGHT_SCOPES = ("o_stats", "g_stats", "main", "target", "state_mi", "skill_ds")


# Scalar weights of the reward terms in the critic target (schedules), in the order the training graph takes them.
WEIGHT_KEYS = ("m_w", "s_w", "r_w", "e_w", "mi_r_scale")

# Constructor arguments besides params: facts of the run, kept in policy files.
RUN_FACTS = ("input_dims", "env_name", "T", "gamma", "clip_return", "clip_pos_returns", "seed", "history_len")


def _spec(*shape) -> tf.TensorSpec:
    return tf.TensorSpec(shape, tf.float32)


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


class Gradients(NamedTuple):
    """One worker's critic and actor step before the optimizers: losses, flat gradients, and the
    current flat parameters (read in the same graph call, so that Adam need not read them)."""

    q_loss: float
    pi_loss: float
    q_grad: np.ndarray
    pi_grad: np.ndarray
    q_flat: np.ndarray
    pi_flat: np.ndarray


class RewardHistories:
    """The most recent per-transition reward terms, which the logs average (``stats``).

    ``mi``: the clipped, scaled MI reward of sampled transitions times its weight; ``skill``,
    ``task``: the skill and scaled task rewards; ``entropy``: SAC's clipped entropy reward.
    """

    # log name -> (attribute, key in checkpoints), in the order the logs list them
    KINDS = {"mi_reward": ("mi", "mi_r_history"), "sk_reward": ("skill", "sk_r_history"),
             "et_reward": ("entropy", "et_r_history"), "gl_reward": ("task", "gl_r_history")}

    def __init__(self, maxlen: int):
        self.mi: deque = deque(maxlen=maxlen)
        self.skill: deque = deque(maxlen=maxlen)
        self.entropy: deque = deque(maxlen=maxlen)
        self.task: deque = deque(maxlen=maxlen)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {key: np.asarray(getattr(self, attr), dtype=np.float64) for attr, key in self.KINDS.values()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for attr, key in self.KINDS.values():
            getattr(self, attr).clear()
            getattr(self, attr).extend(np.asarray(state[key]).tolist())

    def stats(self, name: str) -> list[tuple[str, float]]:
        """mean, std, max and min of the kind logged as ``name`` (NaN before the first batch)."""
        values = np.asarray(getattr(self, self.KINDS[name][0]) or [np.nan], dtype=np.float64)
        return [(f"{name}/mean", np.mean(values)), (f"{name}/std", np.std(values)),
                (f"{name}/max", np.max(values)), (f"{name}/min", np.min(values))]


class DDPG:
    """The agent (the original's ``DDPG`` class; with ``params.sac`` it is SAC).

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
        shared: another agent of this process whose networks, normalizers and optimizers this
            one uses (virtual workers, ``music.workers``): it keeps its own random streams,
            replay buffer and reward histories, and its own graphs that draw from them.

    Two parameters are not the original's (see docs/deviations.md): ``params.mi_end_mode``
    decides what the critic target's MI term becomes once the loop sets ``mi_r_scale`` to 0
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
        self.clip_pos_returns = clip_pos_returns
        self.max_u = action_bound(p.max_u, self.dimu)
        # The current MI scale: the loop sets it to 0 at mi_end_epoch. The critic target keeps
        # params.mi_r_scale unless mi_end_mode='drop'.
        self.mi_r_scale = p.mi_r_scale
        self.sample_transitions = sample_transitions
        self.comm = comm or MPI.COMM_WORLD

        needs_split = p.mi_r_scale > 0 or p.sk_r_scale > 0 or p.mi_prioritization
        declared = p.agent_obs is not None or p.surrounding_obs is not None
        if not needs_split and not declared and known_split(env_name) is None:
            self.split = None  # e.g. FetchReach: plain DDPG/SAC + HER, no intrinsic reward
        else:
            self.split = observation_split(env_name, self.dimo, p.agent_obs, p.surrounding_obs)

        # Separate streams, so that no sampling draw repeats a draw that made the initial weights.
        init_seq, np_seq, tf_seq = np.random.SeedSequence(seed).spawn(3)
        init_rng = np.random.default_rng(init_seq)
        self.rng = np.random.default_rng(np_seq)
        self.tf_rng = tf.random.Generator.from_seed(int(tf_seq.generate_state(1, np.uint64)[0] >> 1))

        # This process's virtual workers, in order (each a DDPG); this one is worker_index.
        self.workers: list[DDPG] = [self]
        self.worker_index = 0
        if shared is None:
            self._build_networks(init_rng, workers_per_rank)
        else:
            self._share_networks(shared)

        self._build_graphs()

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

        self.reward_histories = RewardHistories(history_len)
        self.mi_current = 0.0
        if shared is not None:
            return  # the networks' owner loaded, synchronized and copied them

        # Same order as the original: pretrained MINE (and networks) first, then rank 0's
        # weights everywhere, then targets (copied from main unless fine-tuning).
        scopes = pretrained_scopes(p.finetune_pi, p.finetune_normalizers) if pretrain_weights else []
        for scope in scopes:
            if scope != "target":
                self.load_weight(pretrain_weights, [scope])
        self._sync_optimizers()
        if "target" in scopes:
            self.load_weight(pretrain_weights, ["target"])
        else:
            self._init_target_net()

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

    def _build_networks(self, init_rng: np.random.Generator, workers_per_rank: int) -> None:
        """Normalizers, actor-critic and target, MINE and skill discriminator, and their optimizers."""
        p = self.params
        self.o_stats = Normalizer(self.dimo, p.norm_eps, p.norm_clip, name="o_stats", comm=self.comm,
                                  workers_per_rank=workers_per_rank)
        self.g_stats = Normalizer(self.dimg, p.norm_eps, p.norm_clip, name="g_stats", comm=self.comm,
                                  workers_per_rank=workers_per_rank)
        nets = dict(dimo=self.dimo, dimz=self.dimz, dimg=self.dimg, dimu=self.dimu, max_u=self.max_u,
                    o_stats=self.o_stats, g_stats=self.g_stats, hidden=p.hidden, layers=p.layers, sac=p.sac,
                    rng=init_rng)
        self.main = ActorCritic("main", **nets)
        self.target = ActorCritic("target", **nets)
        self.ir = (Discriminator(self.split, self.dimz, p.hidden, p.layers, init_rng, p.mi_lr, p.sk_lr, self.comm)
                   if self.split else None)

        self.variables: dict[str, tf.Variable] = {
            **self.o_stats.named_variables, **self.g_stats.named_variables,
            **self.main.pi_variables, **self.main.q_variables,
            **self.target.pi_variables, **self.target.q_variables,
        }
        if self.ir is not None:
            self.variables.update(self.ir.mi_variables)
            self.variables.update(self.ir.sk_variables)

        self._q_vars = list(self.main.q_variables.values())
        self._pi_vars = list(self.main.pi_variables.values())
        self._main_vars = self._q_vars + self._pi_vars
        self._target_vars = list(self.target.q_variables.values()) + list(self.target.pi_variables.values())
        self._main_params = FlatParams(self._main_vars)
        self.Q_adam = MpiAdam(self._q_vars, scale_grad_by_procs=False, comm=self.comm)
        self.pi_adam = MpiAdam(self._pi_vars, scale_grad_by_procs=False, comm=self.comm)
        self._new_main_params = np.empty(self._main_params.size, np.float32)  # apply_gradients' output

    def _share_networks(self, owner: DDPG) -> None:
        """Use ``owner``'s variables, normalizers, discriminator and optimizers (a virtual worker
        of the same process: what a rank keeps identical to rank 0 is kept once)."""
        if (owner.params, owner.run_facts["input_dims"], owner.env_name) != (self.params, self.input_dims,
                                                                             self.env_name):
            raise ValueError("a virtual worker must have the same params, sizes and task as the agent it shares with")
        for name in ("o_stats", "g_stats", "main", "target", "ir", "variables", "_q_vars", "_pi_vars", "_main_vars",
                     "_target_vars", "_main_params", "_new_main_params", "Q_adam", "pi_adam"):
            setattr(self, name, getattr(owner, name))
        if len(owner.workers) >= owner.o_stats.workers_per_rank:
            raise ValueError(f"the agent was built for {owner.o_stats.workers_per_rank} workers per rank; "
                             "give a larger workers_per_rank")
        self.worker_index = len(owner.workers)
        owner.workers.append(self)
        self.workers = owner.workers

    # ------------------------------------------------------------------ graphs
    def _build_graphs(self) -> None:
        o, z, g, u = _spec(None, self.dimo), _spec(None, self.dimz), _spec(None, self.dimg), _spec(None, self.dimu)
        # Acting takes [o, z, g] packed into one matrix: one input to convert instead of three.
        act_sig = [_spec(None, self.dimo + self.dimz + self.dimg)]
        # Acting with and without Q(o, pi(o)): training rollouts need no critic pass.
        self._act_main = graph(functools.partial(self._act_graph, self.main, False), act_sig)
        self._act_target = graph(functools.partial(self._act_graph, self.target, False), act_sig)
        self._act_main_q = graph(functools.partial(self._act_graph, self.main, True), act_sig)
        self._act_target_q = graph(functools.partial(self._act_graph, self.target, True), act_sig)

        batch_sig = {"o": o, "z": z, "g": g, "u": u, "o_2": o, "g_2": g, "r": _spec(None), "m": _spec(None),
                     "s": _spec(None)}
        weights_sig = {k: _spec() for k in WEIGHT_KEYS}
        # The training step takes the batch packed into one matrix and the weights into one
        # vector: binding and converting 14 separate inputs cost about 0.5 ms a step.
        self._batch_widths = {"o": self.dimo, "z": self.dimz, "g": self.dimg, "u": self.dimu, "o_2": self.dimo,
                              "g_2": self.dimg, "r": 1, "m": 1, "s": 1}
        self._train_signature = [_spec(None, sum(self._batch_widths.values())), _spec(len(WEIGHT_KEYS))]
        self._train_graph = graph(self._train_step_graph, self._train_signature)
        self._group_train_graph = None  # all virtual workers at once: built at its first use
        noise_sig = _spec(None, self.dimu)
        self._loss_terms = graph(self._losses, [batch_sig, weights_sig, noise_sig, noise_sig])
        self._polyak_graph = graph(self._polyak_update, [])
        self._copy_target_graph = graph(self._copy_main_to_target, [])

    def _act_graph(self, net: ActorCritic, with_q: bool, ozg):
        o, z, g = tf.split(ozg, [self.dimo, self.dimz, self.dimg], axis=1)
        # Drawn with or without Q, so that the random stream (shared with training) is the same.
        noise = self.tf_rng.normal(tf.stack([tf.shape(o)[0], self.dimu])) if self.params.sac else None
        out = net.actor(o, z, g, noise)
        # SAC acts with its mean (exploration noise is added outside); Q_pi uses the sample.
        return (out.mu, net.critic(o, z, g, out.pi)) if with_q else out.mu

    def _critic_target(self, batch, weights, neg_logp_pi, target_q_pi):
        """The critic target of docs/algorithm.md §3. (B, 1), or (B, B) for SAC in the original entropy mode."""
        r, m, s = batch["r"][:, None], batch["m"][:, None], batch["s"][:, None]
        mi_r_scale = weights["mi_r_scale"]
        mi_offset = tf.cast(tf.not_equal(mi_r_scale, 0.0), tf.float32)
        entropy = tf.clip_by_value(self.params.et_r_scale * neg_logp_pi, -1.0, 0.0) * weights["e_w"]  # (B,)
        if self.params.sac and self.params.entropy_reward_mode == "per_transition":
            entropy = entropy[:, None]
        elif not self.params.sac:
            entropy = tf.zeros([1])
        target = (
            self.params.r_scale * r * weights["r_w"]
            + (tf.clip_by_value(mi_r_scale * m, 0.0, 1.0) - mi_offset) * weights["m_w"]
            + tf.clip_by_value(self.params.sk_r_scale * s, -1.0, 0.0) * weights["s_w"]
            + entropy
            + self.gamma * target_q_pi
        )
        upper = self.clip_return if self.clip_pos_returns else np.inf
        return tf.clip_by_value(target, -self.clip_return, upper)

    def _losses(self, batch, weights, noise, noise_2):
        main_out = self.main.actor(batch["o"], batch["z"], batch["g"], noise)
        target_out = self.target.actor(batch["o_2"], batch["z"], batch["g_2"], noise_2)
        target_q_pi = self.target.critic(batch["o_2"], batch["z"], batch["g_2"], target_out.pi)
        target = self._critic_target(batch, weights, main_out.neg_logp_pi, target_q_pi)
        q = self.main.critic(batch["o"], batch["z"], batch["g"], batch["u"])
        q_loss = tf.reduce_mean(tf.square(tf.stop_gradient(target) - q))
        q_pi = self.main.critic(batch["o"], batch["z"], batch["g"], main_out.pi)
        pi_loss = -tf.reduce_mean(q_pi) + self.params.action_l2 * tf.reduce_mean(tf.square(main_out.pi / self.max_u))
        return {"target": target, "Q": q, "Q_pi": q_pi, "pi": main_out.pi, "neg_logp_pi": main_out.neg_logp_pi,
                "Q_loss": q_loss, "pi_loss": pi_loss}

    def _train_step_graph(self, packed_batch, weight_vector):
        q_loss, pi_loss, q_grad, pi_grad, neg_logp_pi = self._gradient_terms(packed_batch, weight_vector)
        # the current parameters too, so that MpiAdam need not read them in another call
        q_flat = flatten([v.read_value() for v in self._q_vars])
        pi_flat = flatten([v.read_value() for v in self._pi_vars])
        return q_loss, pi_loss, q_grad, pi_grad, neg_logp_pi, q_flat, pi_flat

    def _group_train_step_graph(self, packed_batches, weight_vectors):
        """Every worker's gradients in one graph, each with its own batch and random stream:
        the same float32 operations as K separate calls, at one call's overhead. The
        gradients come back stacked (K, size) and are summed in numpy: in the graph, TF's
        optimizer rewrites a chain of three or more additions into one AddN, which adds in
        another order than MPI's pairs (measured: 1-ulp differences at K = 3)."""
        terms = [worker._gradient_terms(packed_batches[k], weight_vectors[k])
                 for k, worker in enumerate(self.workers)]
        q_loss, pi_loss, q_grads, pi_grads, neg_logp_pi = zip(*terms, strict=True)
        q_flat = flatten([v.read_value() for v in self._q_vars])
        pi_flat = flatten([v.read_value() for v in self._pi_vars])
        return (tf.stack(q_loss), tf.stack(pi_loss), tf.stack(q_grads), tf.stack(pi_grads), tf.stack(neg_logp_pi),
                q_flat, pi_flat)

    def _gradient_terms(self, packed_batch, weight_vector):
        """(critic loss, actor loss, flat critic gradient, flat actor gradient, neg_logp_pi) of one batch."""
        columns = tf.split(packed_batch, list(self._batch_widths.values()), axis=1)
        batch = dict(zip(self._batch_widths, columns, strict=True))
        for key in ("r", "m", "s"):
            batch[key] = batch[key][:, 0]
        weights = dict(zip(WEIGHT_KEYS, tf.unstack(weight_vector), strict=True))
        shape = tf.stack([tf.shape(batch["o"])[0], self.dimu])
        noise = self.tf_rng.normal(shape) if self.params.sac else tf.zeros(shape)
        noise_2 = self.tf_rng.normal(shape) if self.params.sac else tf.zeros(shape)
        with tf.GradientTape(persistent=True) as tape:
            terms = self._losses(batch, weights, noise, noise_2)
        q_grad = flatten(tape.gradient(terms["Q_loss"], self._q_vars))
        pi_grad = flatten(tape.gradient(terms["pi_loss"], self._pi_vars))
        del tape
        return terms["Q_loss"], terms["pi_loss"], q_grad, pi_grad, terms["neg_logp_pi"]

    def _polyak_update(self):
        for target, main in zip(self._target_vars, self._main_vars, strict=True):
            target.assign(self.params.polyak * target + (1.0 - self.params.polyak) * main)

    def _copy_main_to_target(self):
        for target, main in zip(self._target_vars, self._main_vars, strict=True):
            target.assign(main)

    # ------------------------------------------------------------------ acting
    def _preprocess_og(self, o: np.ndarray, ag: np.ndarray, g: np.ndarray):
        if self.params.relative_goals:
            g = (g.reshape(-1, self.dimg) - ag.reshape(-1, self.dimg)).reshape(g.shape)
        bound = self.params.clip_obs
        return np.clip(o, -bound, bound), np.clip(g, -bound, bound)

    def _check_width(self, name: str, array: np.ndarray, dim: int) -> None:
        if array.shape[-1] != dim:
            raise ValueError(f"{self.env_name}: {name} has shape {array.shape}, expected (..., {dim})")

    def _random_action(self, n: int) -> np.ndarray:
        return self.rng.uniform(-self.max_u, self.max_u, size=(n, self.dimu))

    def get_actions(self, o, z, ag, g, noise_eps: float = 0.0, random_eps: float = 0.0,
                    use_target_net: bool = False, compute_Q: bool = False):
        """Actions for observations o (B, dimo) or (dimo,), skills z, achieved and desired goals.

        Exploration as the original: Gaussian noise of std noise_eps * max_u, clipped,
        then with probability random_eps a uniform random action. Returns u (B, dimu),
        or (dimu,) for a single observation; with compute_Q also Q_pi (B, 1).
        """
        o, z, ag, g = (np.asarray(x, dtype=np.float32) for x in (o, z, ag, g))
        for name, array, dim in (("o", o, self.dimo), ("z", z, self.dimz), ("g", g, self.dimg), ("ag", ag, self.dimg)):
            self._check_width(name, array, dim)
        o, g = self._preprocess_og(o, ag, g)
        ozg = np.concatenate([o.reshape(-1, self.dimo), z.reshape(-1, self.dimz), g.reshape(-1, self.dimg)], axis=1)
        if compute_Q:
            act = self._act_target_q if use_target_net else self._act_main_q
            u, q = act(ozg)
        else:
            act = self._act_target if use_target_net else self._act_main
            u = act(ozg)
        # float32 throughout, as the original: each float64 term is added to the float32
        # actions in place, so the sum is rounded back to float32 (env.step and the replay
        # buffer get float32 actions).
        u = u.numpy().copy()
        u += noise_eps * self.max_u * self.rng.standard_normal(u.shape)
        u = np.clip(u, -self.max_u, self.max_u)
        explore = self.rng.binomial(1, random_eps, u.shape[0]).reshape(-1, 1)
        u += explore * (self._random_action(u.shape[0]) - u)
        if u.shape[0] == 1:
            u = u[0]
        return (u.copy(), q.numpy()) if compute_Q else u.copy()

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
        self.o_stats.update(o, self.worker_index)
        self.g_stats.update(g, self.worker_index)

    def recompute_stats(self) -> None:
        """Fold every worker's and rank's local sums into the normalizers (collective)."""
        self.o_stats.recompute_stats()
        self.g_stats.recompute_stats()

    def get_current_buffer_size(self) -> int:
        return self.buffer.get_current_size()

    def clear_buffer(self) -> None:
        self.buffer.clear_buffer()

    # ------------------------------------------------------------------ training
    def sample_batch(self, epoch: int) -> tuple[dict[str, np.ndarray], dict[str, np.float32]]:
        """A training batch with intrinsic rewards: (batch arrays, scalar weights)."""
        n = self.params.batch_size
        tr = self.buffer.sample(n, epoch, intrinsic=True, with_mi=self.mi_r_scale > 0)
        # Intrinsic rewards of the sampled steps, with the current MINE and skill discriminator.
        m = np.zeros(n) if tr.mi_pairs is None else -self.run_mi(tr.mi_pairs, tr.mi_perm).reshape(-1)
        s = np.zeros(n) if self.params.sk_r_scale <= 0 else self.run_sk(tr.o, tr.z).reshape(-1)
        mi_offset = 1.0 if self.mi_r_scale != 0 else 0.0
        self.reward_histories.mi.extend(((np.clip(self.mi_r_scale * m, 0, 1) - mi_offset) * tr.m_w).tolist())
        self.reward_histories.skill.extend(np.clip(self.params.sk_r_scale * s, -1, 0).tolist())
        self.reward_histories.task.extend((self.params.r_scale * tr.r).tolist())
        o, g = self._preprocess_og(tr.o, tr.ag, tr.g)
        o_2, g_2 = self._preprocess_og(tr.o_2, tr.ag_2, tr.g)
        batch = {"o": o, "z": tr.z, "g": g, "u": tr.u, "o_2": o_2, "g_2": g_2, "r": tr.r, "m": m, "s": s}
        batch = {k: np.asarray(v, dtype=np.float32) for k, v in batch.items()}
        graph_scale = self.params.mi_r_scale if self.params.mi_end_mode == "original" else self.mi_r_scale
        weights = {"m_w": np.float32(tr.m_w), "s_w": np.float32(1.0), "r_w": np.float32(1.0),
                   "e_w": np.float32(tr.e_w), "mi_r_scale": np.float32(graph_scale)}
        return batch, weights

    def _pack(self, batch: dict[str, np.ndarray], weights: dict[str, np.float32]) -> tuple[np.ndarray, np.ndarray]:
        """The training graph's two inputs: the batch as one (B, width) matrix, the weights as a vector."""
        n = len(batch["o"])
        packed = np.concatenate([np.reshape(batch[k], (n, -1)) for k in self._batch_widths], axis=1, dtype=np.float32)
        return packed, np.array([weights[k] for k in WEIGHT_KEYS], dtype=np.float32)

    def _record_entropy(self, neg_logp_pi: np.ndarray, weights: dict[str, np.float32]) -> None:
        et_reward = np.clip(self.params.et_r_scale * neg_logp_pi, -1, 0) * weights["e_w"]
        self.reward_histories.entropy.extend(et_reward.tolist() if self.params.sac else [0.0])

    def gradients(self, epoch: int, batch=None) -> Gradients | None:
        """This worker's critic and actor gradients on a sampled batch (None while the buffer is empty)."""
        if self.buffer.current_size == 0:
            return None
        batch, weights = batch if batch is not None else self.sample_batch(epoch)
        q_loss, pi_loss, q_grad, pi_grad, neg_logp_pi, q_flat, pi_flat = self._train_graph(*self._pack(batch, weights))
        self._record_entropy(neg_logp_pi.numpy(), weights)
        return Gradients(float(q_loss), float(pi_loss), q_grad.numpy(), pi_grad.numpy(), q_flat.numpy(),
                         pi_flat.numpy())

    def workers_gradients(self, epoch: int) -> Gradients | None:
        """The summed critic and actor gradients of all this process's workers, each on a batch
        of its own (None while a buffer is empty); one graph call however many workers.

        Equal, bit for bit, to ``tree_sum`` of each worker's ``gradients`` (the losses are the
        first worker's). Only the networks' owner (worker 0) runs it.
        """
        if len(self.workers) == 1:
            return self.gradients(epoch)
        if any(worker.buffer.current_size == 0 for worker in self.workers):
            return None
        if self._group_train_graph is None:
            self._group_train_graph = self._build_group_graph(self._group_train_step_graph, self._train_signature)
        sampled = [worker.sample_batch(epoch) for worker in self.workers]
        packed = [worker._pack(batch, weights) for worker, (batch, weights) in zip(self.workers, sampled, strict=True)]
        outputs = self._group_train_graph(np.stack([p[0] for p in packed]), np.stack([p[1] for p in packed]))
        q_loss, pi_loss, q_grad, pi_grad, neg_logp_pi, q_flat, pi_flat = (x.numpy() for x in outputs)
        for worker, (_, weights), row in zip(self.workers, sampled, neg_logp_pi, strict=True):
            worker._record_entropy(row, weights)
        return Gradients(float(q_loss[0]), float(pi_loss[0]), tree_sum(list(q_grad)), tree_sum(list(pi_grad)), q_flat,
                         pi_flat)

    def _build_group_graph(self, fn, signature: list[tf.TensorSpec]):
        """``fn`` as a graph over all workers: each input gets a leading axis of the worker count."""
        if len(self.workers) != self.o_stats.workers_per_rank:
            raise ValueError(f"{len(self.workers)} of {self.o_stats.workers_per_rank} virtual workers were built")
        k = len(self.workers)
        return graph(fn, [tf.TensorSpec([k, *spec.shape], spec.dtype) for spec in signature])

    def apply_gradients(self, gradients: list[Gradients]) -> None:
        """One Adam step of critic and actor on the gradients of this process's workers, summed
        (as MpiAdam then sums them over ranks: K workers count as K ranks)."""
        q_grad = tree_sum([g.q_grad for g in gradients])
        pi_grad = tree_sum([g.pi_grad for g in gradients])
        # both networks' new parameters go into one reused buffer, written by one TF call
        new_params, n_q = self._new_main_params, self.Q_adam.size
        self.Q_adam.step(q_grad, self.params.Q_lr, current=gradients[0].q_flat, out=new_params[:n_q])
        self.pi_adam.step(pi_grad, self.params.pi_lr, current=gradients[0].pi_flat, out=new_params[n_q:])
        self._main_params.set(new_params)

    def train(self, epoch: int, batch=None):
        """One critic + actor step on a sampled batch; returns (critic loss, actor loss)."""
        gradients = self.gradients(epoch, batch)
        if gradients is None:
            return None
        self.apply_gradients([gradients])
        return gradients.q_loss, gradients.pi_loss

    def _require_ir(self, what: str) -> None:
        if self.ir is None:
            raise ValueError(
                f"{what} needs an agent/surrounding split of observations, which {self.env_name} does not have; "
                "use an env with an object (FetchPush, FetchPickAndPlace, FetchSlide) or declare agent_obs and "
                "surrounding_obs (docs/custom_envs.md)"
            )

    def _mi_inputs(self, o_s: np.ndarray, perm) -> tuple[np.ndarray, np.ndarray]:
        """MINE's graph inputs from observations o_s (B, tau, dimo): their agent and surrounding
        entries (``Discriminator.mine_input``) and a time permutation (drawn if None)."""
        self._require_ir("the MI estimate")
        o_s = np.asarray(o_s)
        if o_s.ndim != 3 or o_s.shape[-1] != self.dimo:
            raise ValueError(f"{self.env_name}: MINE input has shape {o_s.shape}, expected (B, tau, {self.dimo})")
        xy = self.ir.mine_input(o_s)
        if not np.all(np.isfinite(xy)):
            bad = int(np.sum(~np.isfinite(xy)))
            raise MineNaNError(f"MINE input contains {bad} NaN or Inf values in the agent and surrounding entries "
                               f"of observations of shape {o_s.shape}")
        tau = o_s.shape[1]
        perm = self.rng.permutation(tau) if perm is None else np.asarray(perm)
        if sorted(perm.tolist()) != list(range(tau)):
            raise ValueError(f"perm must be a permutation of range({tau}), got {perm.tolist()}")
        return xy, perm.astype(np.int32)

    def run_mi(self, o_s: np.ndarray, perm=None) -> np.ndarray:
        """Negative MINE estimate per sequence of o_s (B, tau, dimo); shape (B, 1).

        ``perm`` permutes the time axis of the surrounding state for the marginal
        samples, shared by the batch; by default a random one is drawn per call.
        """
        o_s, perm = self._mi_inputs(o_s, perm)
        return self.ir.mi_estimate(o_s, perm)

    def mi_gradient(self, o_s_batch: np.ndarray, perm=None) -> np.ndarray:
        """MINE's gradient on whole episodes (B, tau, dimo) of this worker; sets ``mi_current``,
        the MI estimate (mean over B) before the step."""
        return self._mi_gradient(o_s_batch, perm)[0]

    def _mi_gradient(self, o_s_batch: np.ndarray, perm) -> tuple[np.ndarray, np.ndarray]:
        """``mi_gradient`` and MINE's flat parameters it was taken at."""
        o_s, perm = self._mi_inputs(o_s_batch, perm)
        neg_mi, grad, params = self.ir.mine_gradient(o_s, perm)
        self.mi_current = -float(np.mean(neg_mi))
        return grad, params

    def workers_mi_gradient(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """MINE's gradient summed over this process's workers, each on ``batch_size`` whole
        episodes of its own buffer (one graph call; bit for bit the ``tree_sum`` of each
        worker's ``mi_gradient``), and MINE's flat parameters it was taken at. Sets every
        worker's ``mi_current``."""
        if len(self.workers) == 1:
            return self._mi_gradient(self.buffer.random_observations(batch_size, self.rng), None)
        inputs = [worker._mi_inputs(worker.buffer.random_observations(batch_size, worker.rng), None)
                  for worker in self.workers]
        neg_mi, grad, params = self.ir.group_mine_gradient(np.stack([o for o, _ in inputs]),
                                                           np.stack([perm for _, perm in inputs]))
        for worker, values in zip(self.workers, neg_mi, strict=True):
            worker.mi_current = -float(np.mean(values))
        return grad, params

    def workers_mine_step(self, batch_size: int) -> None:
        """One MINE step on the summed gradients of this process's workers (``workers_mi_gradient``)."""
        grad, params = self.workers_mi_gradient(batch_size)
        self.ir.apply_mine([grad], params)

    def train_mi(self, o_s_batch: np.ndarray, perm=None) -> float:
        """One MINE step on whole episodes (B, tau, dimo); returns the MI estimate (mean over B)."""
        grad, params = self._mi_gradient(o_s_batch, perm)
        self.ir.apply_mine([grad], params)
        return self.mi_current

    def run_sk(self, o: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Skill reward -cross_entropy(discriminator(object_pos), z) for o (B, dimo), z (B, dimz); shape (B,)."""
        self._require_ir("the skill reward")
        return self.ir.skill_reward(np.asarray(o, np.float32), np.asarray(z, np.float32))

    def sk_gradient(self, o_s_batch: np.ndarray, z_s_batch: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """(-mean cross-entropy, the skill discriminator's gradient, its flat parameters) on this
        worker's batch."""
        self._require_ir("the skill discriminator")
        sk_loss, grad, params = self.ir.skill_gradient(np.asarray(o_s_batch, np.float32),
                                                       np.asarray(z_s_batch, np.float32))
        return -float(np.mean(sk_loss)), grad, params

    def workers_skill_step(self, batch_size: int) -> None:
        """One skill-discriminator step on the summed gradients of this process's workers, each
        on ``batch_size`` random steps of its own buffer."""
        steps = [worker.sk_gradient(*worker.buffer.random_steps(batch_size, worker.rng)) for worker in self.workers]
        self.ir.apply_skill([grad for _, grad, _ in steps], steps[0][2])

    def train_sk(self, o_s_batch: np.ndarray, z_s_batch: np.ndarray) -> float:
        """One skill-discriminator step; returns -mean cross-entropy."""
        value, grad, params = self.sk_gradient(o_s_batch, z_s_batch)
        self.ir.apply_skill([grad], params)
        return value

    @property
    def mi_adam(self) -> MpiAdam | None:
        """MINE's optimizer (owned by the discriminator; None without an object)."""
        return self.ir.mi_adam if self.ir is not None else None

    @property
    def sk_adam(self) -> MpiAdam | None:
        return self.ir.sk_adam if self.ir is not None else None

    def _sync_optimizers(self) -> None:
        for adam in (self.Q_adam, self.pi_adam, self.mi_adam, self.sk_adam):
            if adam is not None:
                adam.sync()

    def _init_target_net(self) -> None:
        self._copy_target_graph()

    def update_target_net(self) -> None:
        """Polyak-average the main networks into the targets."""
        self._polyak_graph()

    # ------------------------------------------------------------------ weights
    def save_weight(self) -> dict[str, np.ndarray]:
        """All variables as {name: array}, names like ``main/pi/_0/kernel``."""
        return {name: var.numpy() for name, var in self.variables.items()}

    def load_weight(self, data: dict[str, np.ndarray], include=WEIGHT_SCOPES, verbose: bool = True) -> dict[str, list]:
        """Load the variables whose name contains one of ``include`` and is in ``data``.

        Only names present in both with equal shapes are loaded. Returns
        {'loaded': [names], 'shape_mismatch': [(name, ours, theirs)], 'missing': [names]}
        and, with ``verbose``, prints what was loaded and warns about mismatches.
        """
        if isinstance(include, str):
            include = [include]
        report: dict[str, list] = {"loaded": [], "shape_mismatch": [], "missing": []}
        for name, var in self.variables.items():
            if not any(scope in name for scope in include):
                continue
            if name not in data:
                report["missing"].append(name)
                continue
            value = np.asarray(data[name])
            if tuple(value.shape) != tuple(var.shape):
                report["shape_mismatch"].append((name, tuple(var.shape), tuple(value.shape)))
                continue
            var.assign(value.astype(np.float32))
            report["loaded"].append(name)
        if verbose:
            print(f"load_weight {list(include)}: loaded {len(report['loaded'])} variables")
            for name, ours, theirs in report["shape_mismatch"]:
                print(f"load_weight: NOT loaded {name}: shape {theirs} in the weights, {ours} in this policy")
        return report

    # ------------------------------------------------------------------ state (checkpoints)
    OPTIMIZERS = ("Q_adam", "pi_adam", "mi_adam", "sk_adam")

    def architecture(self) -> dict:
        """What must match for a state to load into this agent."""
        return {"env_name": self.env_name, "input_dims": self.input_dims, "hidden": self.params.hidden,
                "layers": self.params.layers, "sac": self.params.sac}

    def state_dict(self, with_buffer: bool = True) -> dict:
        """Everything training needs to continue exactly: weights, optimizers, normalizer sums,
        random streams, reward histories, the MI scale and (``with_buffer``) the replay buffer."""
        return {
            "architecture": self.architecture(),
            "weights": self.save_weight(),
            "optimizers": {name: getattr(self, name).state_dict() for name in self.OPTIMIZERS
                           if getattr(self, name) is not None},
            "normalizers": {norm.name: norm.state_dict(self.worker_index) for norm in (self.o_stats, self.g_stats)},
            "np_rng": self.rng.bit_generator.state,
            "tf_rng": {"state": self.tf_rng.state.numpy(), "algorithm": int(self.tf_rng.algorithm)},
            "histories": self.reward_histories.state_dict(),
            "mi_current": self.mi_current, "mi_r_scale": self.mi_r_scale,
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
        for name, optimizer_state in state["optimizers"].items():
            getattr(self, name).load_state_dict(optimizer_state)
        for norm in (self.o_stats, self.g_stats):
            norm.load_state_dict(state["normalizers"][norm.name], self.worker_index)
        self.rng.bit_generator.state = state["np_rng"]
        self.tf_rng.reset(tf.constant(state["tf_rng"]["state"]))
        self.mi_current = state["mi_current"]
        self.mi_r_scale = state["mi_r_scale"]
        self.reward_histories.load_state_dict(state["histories"])
        self.buffer.load_state_dict(state["buffer"])

    # ------------------------------------------------------------------ logs
    def logs(self, prefix: str = "") -> list[tuple[str, float]]:
        histories = self.reward_histories
        logs = [("stats_o/mean", float(np.mean(self.o_stats.mean.numpy()))),
                ("stats_o/std", float(np.mean(self.o_stats.std.numpy()))),
                ("stats_g/mean", float(np.mean(self.g_stats.mean.numpy()))),
                ("stats_g/std", float(np.mean(self.g_stats.std.numpy())))]
        # the original's column order: MINE's training estimate sits after the MI reward
        logs += histories.stats("mi_reward") + [("mi_train/-neg_l", self.mi_current)]
        logs += histories.stats("sk_reward") + histories.stats("et_reward") + histories.stats("gl_reward")
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

