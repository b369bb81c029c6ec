"""The learner: the networks a process's workers share, and everything that changes them.

One ``Learner`` per process holds the observation normalizers, the actor-critic and its
target, the intrinsic rewards (``music.mine``, ``music.skill``), their optimizers
(``MpiAdam``: numpy Adam on gradients summed over ranks) and the graphs that train them.
Every virtual worker of the process (``music.workers``) holds the same learner by
reference; what is a worker's own (random streams, replay buffer, normalizer sums, reward
histories) stays in its agent (``music.ddpg.DDPG``). So the learner takes data, never
workers: batches and the workers' TF random generators in, gradients out.

The losses are pure functions (``music.losses``); this module makes them one graph per
worker count, each with a fixed input signature, and applies the Adam and Polyak steps.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from music.actor_critic import ActorCritic
from music.config import Params
from music.envs import ObservationSplit
from music.losses import actor_critic_losses
from music.mpi_adam import MpiAdam
from music.mpi_util import tree_sum
from music.normalizer import Normalizer
from music.rewards import REWARD_TERMS, weight_keys
from music.tf_util import FlatParams, flatten, graph

# Scopes whose variables ``load_weight`` understands, as in the original.
WEIGHT_SCOPES = ("o_stats", "g_stats", "main", "target", "state_mi", "skill_ds")



def spec(*shape) -> tf.TensorSpec:
    return tf.TensorSpec(shape, tf.float32)


class Sizes(NamedTuple):
    """Widths of one step's arrays: observation, one-hot skill, goal, action."""

    dimo: int
    dimz: int
    dimg: int
    dimu: int


class Gradients(NamedTuple):
    """The critic and actor step of a process's workers before the optimizers: the first
    worker's losses, the workers' flat gradients summed (``tree_sum``, as MPI sums ranks'),
    the current flat parameters (read in the same graph call, so that Adam need not read
    them), and each worker's -log pi of its batch (K, B), for its entropy history."""

    q_loss: float
    pi_loss: float
    q_grad: np.ndarray
    pi_grad: np.ndarray
    q_flat: np.ndarray
    pi_flat: np.ndarray
    neg_logp_pi: np.ndarray


class Learner:
    """Networks, normalizers, optimizers and training graphs of one process (see the module doc).

    Args:
        params: the run's parameters.
        sizes: widths of observations, skills, goals and actions.
        max_u: the action bound (``action_bound``).
        split: the agent/surrounding split of observations; None: no intrinsic rewards.
        init_rng: the generator of the initial weights (drawn in the original's order:
            actor-critic, target, then the intrinsic rewards in table order: MINE, skill
            discriminator).
        gamma: discount of the critic target.
        return_bounds: the critic target's clip (``music.losses.return_bounds``).
        comm: MPI communicator of the optimizers and normalizers.
        workers_per_rank: the virtual workers that will share this learner.
        reward_terms: the table of reward terms (``music.rewards.REWARD_TERMS``).
    """

    def __init__(self, params: Params, sizes: Sizes, max_u, split: ObservationSplit | None,
                 init_rng: np.random.Generator, *, gamma: float, return_bounds: tuple[float, float], comm,
                 workers_per_rank: int = 1, reward_terms=REWARD_TERMS):
        p = self.params = params
        self.reward_terms = tuple(reward_terms)
        self.weight_keys = weight_keys(self.reward_terms)
        self.sizes, self.max_u, self.gamma, self.return_bounds = sizes, max_u, gamma, return_bounds
        self.comm, self.workers_per_rank = comm, workers_per_rank
        self.n_workers = 0  # workers that joined (``join``)
        dimo, dimz, dimg, dimu = sizes
        self.o_stats = Normalizer(dimo, p.norm_eps, p.norm_clip, name="o_stats", comm=comm,
                                  workers_per_rank=workers_per_rank)
        self.g_stats = Normalizer(dimg, p.norm_eps, p.norm_clip, name="g_stats", comm=comm,
                                  workers_per_rank=workers_per_rank)
        nets = dict(dimo=dimo, dimz=dimz, dimg=dimg, dimu=dimu, max_u=max_u, o_stats=self.o_stats,
                    g_stats=self.g_stats, hidden=p.hidden, layers=p.layers, sac=p.sac, rng=init_rng)
        self.main = ActorCritic("main", **nets)
        self.target = ActorCritic("target", **nets)
        # The intrinsic rewards (MINE, skill discriminator) by the log name of their term; all of
        # them whenever there is a split, as the original built both whatever the scales.
        self.intrinsic = {row.log_name: row.make(split, dimz, p, init_rng, comm)
                          for row in self.reward_terms if row.make is not None and split is not None}

        self.variables: dict[str, tf.Variable] = {
            **self.o_stats.named_variables, **self.g_stats.named_variables,
            **self.main.pi_variables, **self.main.q_variables,
            **self.target.pi_variables, **self.target.q_variables,
        }
        for reward in self.intrinsic.values():
            self.variables.update(reward.named_variables)
        self.q_vars = list(self.main.q_variables.values())
        self.pi_vars = list(self.main.pi_variables.values())
        self.main_vars = self.q_vars + self.pi_vars
        self.target_vars = list(self.target.q_variables.values()) + list(self.target.pi_variables.values())
        self.main_params = FlatParams(self.main_vars)
        self.Q_adam = MpiAdam(self.q_vars, scale_grad_by_procs=False, comm=comm)
        self.pi_adam = MpiAdam(self.pi_vars, scale_grad_by_procs=False, comm=comm)
        self._new_main_params = np.empty(self.main_params.size, np.float32)  # apply_gradients' output

        # The training step takes the batch packed into one matrix and the weights into one
        # vector: binding and converting 14 separate inputs cost about 0.5 ms a step.
        self.batch_widths = {"o": dimo, "z": dimz, "g": dimg, "u": dimu, "o_2": dimo, "g_2": dimg,
                             **{row.batch_key: 1 for row in self.reward_terms if row.batch_key is not None}}
        self.train_signature = [spec(None, sum(self.batch_widths.values())), spec(len(self.weight_keys))]
        # by the ids of the workers' TF generators (each graph holds its generators, so no id is reused)
        self._gradient_graphs: dict[tuple[int, ...], object] = {}
        rewards = {row.batch_key for row in self.reward_terms}
        batch_sig = {key: spec(None) if key in rewards else spec(None, width)
                     for key, width in self.batch_widths.items()}
        noise_sig = spec(None, dimu)
        self.loss_terms = graph(self.losses, [batch_sig, {k: spec() for k in self.weight_keys}, noise_sig, noise_sig])
        self.polyak_graph = graph(self._polyak_update, [])
        self.copy_target_graph = graph(self._copy_main_to_target, [])

    def graphs(self) -> dict:
        """Its graphs by name (benchmarks and tests count their tracings)."""
        named = {"loss_terms": self.loss_terms, "polyak": self.polyak_graph, "copy_target": self.copy_target_graph}
        named.update({f"gradients[{i}] of {len(key)} workers": fn
                      for i, (key, fn) in enumerate(self._gradient_graphs.items())})
        return named

    # ------------------------------------------------------------------ workers
    def join(self) -> int:
        """Count in a worker that will share this learner; returns its index in the process."""
        if self.n_workers >= self.workers_per_rank:
            raise ValueError(f"the agent was built for {self.workers_per_rank} workers per rank; "
                             "give a larger workers_per_rank")
        self.n_workers += 1
        return self.n_workers - 1

    # ------------------------------------------------------------------ the critic and actor step
    def losses(self, batch: dict, weights: dict, noise, noise_2) -> dict[str, tf.Tensor]:
        """``music.losses.actor_critic_losses`` of this learner's networks."""
        return actor_critic_losses(self.main, self.target, self.params, batch, weights, noise, noise_2, self.gamma,
                                   self.return_bounds, self.reward_terms)

    def pack(self, batch: dict[str, np.ndarray], weights: dict) -> tuple[np.ndarray, np.ndarray]:
        """The training graph's two inputs: the batch as one (B, width) matrix, the weights as a vector."""
        n = len(batch["o"])
        packed = np.concatenate([np.reshape(batch[k], (n, -1)) for k in self.batch_widths], axis=1, dtype=np.float32)
        return packed, np.array([weights[k] for k in self.weight_keys], dtype=np.float32)

    def gradients(self, tf_rngs: list[tf.random.Generator], packed: list[tuple[np.ndarray, np.ndarray]]) -> Gradients:
        """The critic and actor gradients of K workers, each of its batch (``pack``) and its own
        TF generator (SAC's noise), in one graph call however many workers.

        Equal, bit for bit, to ``tree_sum`` of K one-worker calls (the losses are the first's).
        """
        fn = self.gradient_graph(tf_rngs)
        if len(tf_rngs) == 1:
            q_loss, pi_loss, q_grad, pi_grad, neg_logp_pi, q_flat, pi_flat = (x.numpy() for x in fn(*packed[0]))
            return Gradients(float(q_loss), float(pi_loss), q_grad, pi_grad, q_flat, pi_flat, neg_logp_pi[None])
        outputs = fn(np.stack([batch for batch, _ in packed]), np.stack([weights for _, weights in packed]))
        q_loss, pi_loss, q_grad, pi_grad, neg_logp_pi, q_flat, pi_flat = (x.numpy() for x in outputs)
        return Gradients(float(q_loss[0]), float(pi_loss[0]), tree_sum(list(q_grad)), tree_sum(list(pi_grad)),
                         q_flat, pi_flat, neg_logp_pi)

    def gradient_graph(self, tf_rngs: list[tf.random.Generator]):
        """The training graph of these workers' generators (built at its first use, traced once)."""
        key = tuple(id(rng) for rng in tf_rngs)
        if key not in self._gradient_graphs:
            if len(tf_rngs) == 1:
                fn = graph(functools.partial(self._train_step_graph, tf_rngs[0]), self.train_signature)
            else:
                if len(tf_rngs) != self.workers_per_rank:
                    raise ValueError(f"{len(tf_rngs)} of {self.workers_per_rank} virtual workers were built")
                signature = [tf.TensorSpec([len(tf_rngs), *s.shape], s.dtype) for s in self.train_signature]
                fn = graph(functools.partial(self._group_train_step_graph, tuple(tf_rngs)), signature)
            self._gradient_graphs[key] = fn
        return self._gradient_graphs[key]

    def _train_step_graph(self, tf_rng, packed_batch, weight_vector):
        q_loss, pi_loss, q_grad, pi_grad, neg_logp_pi = self._gradient_terms(tf_rng, packed_batch, weight_vector)
        # the current parameters too, so that MpiAdam need not read them in another call
        q_flat = flatten([v.read_value() for v in self.q_vars])
        pi_flat = flatten([v.read_value() for v in self.pi_vars])
        return q_loss, pi_loss, q_grad, pi_grad, neg_logp_pi, q_flat, pi_flat

    def _group_train_step_graph(self, tf_rngs, packed_batches, weight_vectors):
        """Every worker's gradients in one graph, each with its own batch and random stream:
        the same float32 operations as K separate calls, at one call's overhead. The
        gradients come back stacked (K, size) and are summed in numpy: in the graph, TF's
        optimizer rewrites a chain of three or more additions into one AddN, which adds in
        another order than MPI's pairs (measured: 1-ulp differences at K = 3)."""
        terms = [self._gradient_terms(rng, packed_batches[k], weight_vectors[k]) for k, rng in enumerate(tf_rngs)]
        q_loss, pi_loss, q_grads, pi_grads, neg_logp_pi = zip(*terms, strict=True)
        q_flat = flatten([v.read_value() for v in self.q_vars])
        pi_flat = flatten([v.read_value() for v in self.pi_vars])
        return (tf.stack(q_loss), tf.stack(pi_loss), tf.stack(q_grads), tf.stack(pi_grads), tf.stack(neg_logp_pi),
                q_flat, pi_flat)

    def _gradient_terms(self, tf_rng, packed_batch, weight_vector):
        """(critic loss, actor loss, flat critic gradient, flat actor gradient, neg_logp_pi) of one batch."""
        columns = tf.split(packed_batch, list(self.batch_widths.values()), axis=1)
        batch = dict(zip(self.batch_widths, columns, strict=True))
        for row in self.reward_terms:
            if row.batch_key is not None:
                batch[row.batch_key] = batch[row.batch_key][:, 0]
        weights = dict(zip(self.weight_keys, tf.unstack(weight_vector), strict=True))
        shape = tf.stack([tf.shape(batch["o"])[0], self.sizes.dimu])
        noise = tf_rng.normal(shape) if self.params.sac else tf.zeros(shape)
        noise_2 = tf_rng.normal(shape) if self.params.sac else tf.zeros(shape)
        with tf.GradientTape(persistent=True) as tape:
            terms = self.losses(batch, weights, noise, noise_2)
        q_grad = flatten(tape.gradient(terms["Q_loss"], self.q_vars))
        pi_grad = flatten(tape.gradient(terms["pi_loss"], self.pi_vars))
        del tape
        return terms["Q_loss"], terms["pi_loss"], q_grad, pi_grad, terms["neg_logp_pi"]

    def apply_gradients(self, gradients: list[Gradients]) -> None:
        """One Adam step of critic and actor on these gradients, summed (as MpiAdam then sums
        them over ranks: K workers count as K ranks)."""
        q_grad = tree_sum([g.q_grad for g in gradients])
        pi_grad = tree_sum([g.pi_grad for g in gradients])
        # both networks' new parameters go into one reused buffer, written by one TF call
        new_params, n_q = self._new_main_params, self.Q_adam.size
        self.Q_adam.step(q_grad, self.params.Q_lr, current=gradients[0].q_flat, out=new_params[:n_q])
        self.pi_adam.step(pi_grad, self.params.pi_lr, current=gradients[0].pi_flat, out=new_params[n_q:])
        self.main_params.set(new_params)

    # ------------------------------------------------------------------ targets
    def update_target_net(self) -> None:
        """Polyak-average the main networks into the targets."""
        self.polyak_graph()

    def init_target_net(self) -> None:
        """Copy the main networks into the targets."""
        self.copy_target_graph()

    def _polyak_update(self):
        for target, main in zip(self.target_vars, self.main_vars, strict=True):
            target.assign(self.params.polyak * target + (1.0 - self.params.polyak) * main)

    def _copy_main_to_target(self):
        for target, main in zip(self.target_vars, self.main_vars, strict=True):
            target.assign(main)

    # ------------------------------------------------------------------ optimizers
    def optimizers(self) -> dict[str, MpiAdam]:
        """The optimizers this learner has, by their checkpoint names: Q_adam, pi_adam, then
        each intrinsic reward's (MINE's mi_adam, the skill discriminator's sk_adam)."""
        named = {"Q_adam": self.Q_adam, "pi_adam": self.pi_adam}
        named.update({reward.optimizer_name: reward.adam for reward in self.intrinsic.values()
                      if reward.adam is not None})
        return named

    def sync(self) -> None:
        """Every rank's parameters to rank 0's (collective)."""
        for adam in self.optimizers().values():
            adam.sync()

    def initialize(self, pretrain_weights: dict[str, np.ndarray] | None, scopes: list[str]) -> None:
        """The original's start: the pretrained ``scopes`` first (MINE, and with fine-tuning
        actor-critic, normalizers), then rank 0's weights everywhere, then the targets
        (pretrained, or copied from the main networks)."""
        for scope in scopes:
            if scope != "target":
                self.load_weight(pretrain_weights, [scope])
        self.sync()
        if "target" in scopes:
            self.load_weight(pretrain_weights, ["target"])
        else:
            self.init_target_net()

    # ------------------------------------------------------------------ weights by scope
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
