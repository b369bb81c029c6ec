"""Benchmark: the authors' TF1 MUSIC code against this port, on the same weights and inputs.

    .venv/bin/python benchmarks/vs_original.py --original PATH [--calls 300] [--block 10] [--warmup 10]
                                              [--variants SAC+MUSIC DDPG] [--out DIR] [--check-only]

PATH is a checkout of the authors' code (``git clone https://github.com/ruizhaogit/music``);
``MUSIC_ORIGINAL=PATH`` works too. It is an optional benchmark dependency: its modules are
imported at run time under the stand-ins of ``benchmarks/original_shims.py`` (which need
``tf_keras``, see benchmarks/requirements.txt); none of its code is in this repository.

For each variant (SAC+MUSIC, DDPG) two worker processes are started, one per side: the
authors' agent (a TF1 graph under ``tf.compat.v1``, in their single-threaded session) and
ours (TF2; music's default of one intra-op and one inter-op thread). Both have one MPI rank
(``COMM_WORLD`` of size 1) and one BLAS/OpenMP thread, and the FetchPush sizes (dimo 25,
dimg 3, dimu 4, T 50) with the variant's music/params/FetchPush-v1/<variant>.json
(clip_return off, the default of both command lines).

1. Set-up. Our agent is built with music's API (``configure_ddpg``) and stores 200 random
   episodes (seed 0). The authors' agent stores the same episodes, then every variable of
   ours (normalizers, actor, critic, targets, MINE, skill discriminator) is assigned to its
   counterpart by name (``original_name``); the two replay buffers hold the same episodes,
   each in its own default storage dtype (theirs float64, ours float32), and each side takes
   the inputs of its timed calls from its own buffer.
2. Checks, before any training step: the weights read back; greedy actions (no noise) and,
   for DDPG, Q(o, pi(o)) on 64 observations; the MINE estimate on 256 pairs (o_t, o_t+1)
   and on 256 episodes x 51 states with the same time permutation (fed into the authors'
   graph in place of its ``random_shuffle``); MINE's gradient; critic and actor losses and
   gradients on the same batch (SAC: the same N(0, 1) draws, fed into the authors' graph in
   place of ``random_normal``). Each passes if max|ours - theirs| <= atol + rtol * max|theirs|
   (per variable for weights and gradients); the tolerances are in the output. If one fails,
   nothing is timed and the exit status is 1. ``--check-only`` stops here: it prints each check's
   max|ours - theirs| in full (and whether it is exactly 0), times nothing and writes no file.
3. Timing. Each piece runs ``--warmup`` untimed calls per side, then ``--calls`` timed calls
   per side in blocks of ``--block`` that alternate between the sides (A B B A A B ...), so that
   both see the same machine load. Reported: the median ms per call of each side and the
   port's speed relative to the original, original ms / port ms (above 1: ours is faster).
4. Implied epochs from the medians, one worker, default loop (50 cycles x 40 batches, 2
   episodes of 50 steps per cycle, 10 test rollouts): SAC+MUSIC = 2000 x (train + MINE step)
   + 3000 x get_actions + 50 x Polyak; DDPG = 2000 x train + 3000 x get_actions + 50 x Polyak
   (env steps, episode storage, normalizer updates and logging are left out; test rollouts are
   counted at the exploring get_actions time).
5. Floors, timed the same way on both sides (``FLOORS``): the parts of a step that its numbers
   need (HER sample with MI rewards, the gradient graph alone, the Adam update with the write
   of the new parameters, MINE's gradient graph alone), and the first three one after the
   other as ``train()`` runs them. The port's epoch is recomputed with its steps at those
   floors: how fast it could get by trimming the work around them (docs/performance.md).

Writes benchmarks/results/vs_original.json and prints the tables (markdown);
``benchmarks/report.py`` puts the same tables into RESULTS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import math
import multiprocessing
import os
import platform
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from report import vs_original_section  # noqa: E402

ENV = "FetchPush-v1"
T = 50
DIMS = {"o": 25, "u": 4, "g": 3, "info_is_success": 1}  # z: num_skills
N_EPISODES = 200
SEED = 0
BATCH = 256  # transitions per gradient step, episodes per MINE step, states per skill step
N_CHECK_OBS = 64
THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "MUSIC_TF_THREADS": "1", "MUSIC_TF_INTER_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
HOW_TO_GET = ("the authors' code is needed: git clone https://github.com/ruizhaogit/music, then pass "
              "--original PATH or set MUSIC_ORIGINAL=PATH")

PIECES = {
    "SAC+MUSIC": [
        ("train", "SAC+MUSIC `train()`: sample (HER + MI reward) + gradients + Adam"),
        ("mi_reward", "MI reward, MINE on 256 (o_t, o_t+1) pairs"),
        ("mine_step", "MINE training step (256 episodes x 51 states)"),
        ("mine_adam", "its MpiAdam update"),
        ("skill_step", "skill-discriminator step (256 states)"),
        ("get_actions", "`get_actions`, 2 observations, exploring"),
        ("polyak", "Polyak update"),
    ],
    "DDPG": [
        ("train", "DDPG `train()`: sample (HER) + gradients + Adam"),
        ("get_actions", "DDPG `get_actions`, 2 observations, exploring"),
        ("polyak", "DDPG Polyak update"),
    ],
}

# The parts of a training step that the algorithm's numbers need, both sides: the HER sample
# (with MI rewards), the gradient graphs (the same ops since issue 17: the checks show the
# same numbers) and the Adam update in numpy with the write of the new parameters. They
# bound how much faster the port's pieces can get by trimming the rest (conversions,
# Python). Each call's input is prepared outside the timed call (their staging area is
# filled first; ours gets a batch sampled and packed once). Timed alone, each part finds its data in the caches; one
# after the other, as train() runs them, each evicts the others' (in_sequence: train()
# without its bookkeeping, the loss values and reward histories).
FLOORS = {
    "SAC+MUSIC": [
        ("sample", "train", "HER sample of 256 transitions with their MI rewards"),
        ("train_graph", "train", "critic and actor gradient graph alone (batch staged / packed before)"),
        ("adam_update", "train", "Adam update of critic and actor (gradients given)"),
        ("in_sequence", None, "the three parts above one after the other, as train() runs them"),
        ("mine_graph", "mine_step", "MINE gradient graph alone (256 episodes x 51 states)"),
    ],
    "DDPG": [
        ("sample", "train", "DDPG HER sample of 256 transitions"),
        ("train_graph", "train", "DDPG critic and actor gradient graph alone (batch staged / packed before)"),
        ("adam_update", "train", "DDPG Adam update of critic and actor (gradients given)"),
        ("in_sequence", None, "DDPG: the three parts above one after the other, as train() runs them"),
    ],
}

# (atol, rtol) of each check: passes if max|ours - theirs| <= atol + rtol * max|theirs|.
TOLERANCES = {
    "weights": (0.0, 0.0),  # assigned, so read back bit for bit
    "actions": (1e-5, 0.0),  # in [-1, 1]: about 80 float32 ulps at 1
    "q": (1e-5, 1e-5),
    "mine": (1e-6, 1e-5),
    "losses": (1e-6, 1e-5),
    "gradients": (1e-7, 1e-4),  # per variable, relative to its largest |gradient|
}


def fetch_reward(ag_2, g, info=None):
    """Fetch's sparse task reward, batched: 0 within 0.05 of the goal, else -1."""
    return -(np.linalg.norm(ag_2 - g, axis=-1) > 0.05).astype(np.float32)


# Our variable names (``DDPG.save_weight``) -> the authors': their MINE layers are contrib
# ``linear``s (fully_connected, _1, _2 in the order x, y, out) and their SAC heads unnamed
# ``tf.layers.dense`` (dense, dense_1 in the order mu, log_std).
MI_LAYERS = {"x": "fully_connected", "y": "fully_connected_1", "out": "fully_connected_2"}
MI_VARIABLES = {"kernel": "weights", "bias": "biases"}
SAC_HEADS = {"mu": "dense", "log_std": "dense_1"}


def original_name(name: str, scope: str = "ddpg") -> str:
    """The authors' variable (TF1 name) of our variable ``name``: main/pi/_0/kernel -> ddpg/main/pi/_0/kernel:0."""
    parts = name.split("/")
    if parts[:2] == ["ir", "state_mi"]:
        parts = ["ir", "state_mi", MI_LAYERS[parts[2]], MI_VARIABLES[parts[3]]]
    elif len(parts) == 4 and parts[1] == "pi" and parts[2] in SAC_HEADS:
        parts[2] = SAC_HEADS[parts[2]]
    return f"{scope}/{'/'.join(parts)}:0"


# ---------------------------------------------------------------------------------------------- inputs
def make_inputs(seed: int = SEED) -> dict:
    """Episodes and every input of the checks and timed calls, drawn once and given to both sides."""
    rng = np.random.default_rng(seed)
    n, dimo, dimg, dimu = N_EPISODES, DIMS["o"], DIMS["g"], DIMS["u"]
    episodes = dict(o=rng.normal(size=(n, T + 1, dimo)), ag=rng.normal(size=(n, T + 1, dimg)),
                    g=rng.normal(size=(n, T, dimg)), u=rng.uniform(-1, 1, (n, T, dimu)), z=np.ones((n, T, 1)),
                    info_is_success=np.zeros((n, T, 1)))

    def steps(k):
        i, t = rng.integers(0, n, k), rng.integers(0, T, k)
        return {key: episodes[key][i, t] for key in ("o", "z", "ag", "g")}

    i, t = rng.integers(0, n, BATCH), rng.integers(0, T, BATCH)
    batch = {"o": episodes["o"][i, t], "z": episodes["z"][i, t], "g": episodes["g"][i, t], "u": episodes["u"][i, t],
             "o_2": episodes["o"][i, t + 1], "g_2": episodes["g"][i, t], "r": rng.choice([-1.0, 0.0], BATCH),
             "m": rng.uniform(0, 4e-4, BATCH), "s": np.zeros(BATCH)}  # 5000 m spans [0, 2]: MI clip half used
    return {
        "episodes": episodes,
        "check_obs": steps(N_CHECK_OBS),
        "act_obs": steps(2),
        "pairs": (rng.integers(0, n, BATCH), rng.integers(0, T, BATCH)),  # (episode, t): MI reward inputs
        "mine_episodes": rng.integers(0, n, BATCH),
        "skill_steps": (rng.integers(0, n, BATCH), rng.integers(0, T, BATCH)),
        "perm_pairs": np.array([1, 0]),
        "perm_episodes": rng.permutation(T + 1),
        "batch": {k: v.astype(np.float32) for k, v in batch.items()},
        "noise": rng.normal(size=(2, BATCH, dimu)).astype(np.float32),  # SAC: main, target N(0, 1) draws
    }


# ---------------------------------------------------------------------------------------------- the two sides
class Side:
    """One agent in its worker process: the inputs of the timed calls and ``time``."""

    pieces: dict

    def _inputs_from_buffer(self, inputs: dict, o: np.ndarray, z: np.ndarray) -> None:
        # from the side's own buffer, so in its own storage dtype (theirs float64, ours float32)
        i, t = inputs["pairs"]
        self.pairs = np.stack([o[i, t], o[i, t + 1]], axis=1)
        self.mine_batch = o[inputs["mine_episodes"]]
        i, t = inputs["skill_steps"]
        self.skill_o, self.skill_z = o[i, t], z[i, t]
        self.act = inputs["act_obs"]
        self.mine_grad = None

    prepare: dict | None = None  # piece -> what runs before each of its calls, untimed

    def time(self, piece: str, n: int) -> list[float]:
        """Seconds of each of n calls of ``piece``."""
        fn = self.pieces[piece]
        prepare = (self.prepare or {}).get(piece, lambda: None)
        out = []
        for _ in range(n):
            prepare()
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
        return out


class PortSide(Side):
    def __init__(self, variant: str, original: str | None, inputs: dict):
        from music.config import default_params, load_params_file, params_file
        from music.ddpg import Gradients, configure_ddpg

        params = default_params()
        params.update(load_params_file(params_file(ENV, variant)))
        params.update(env_name=ENV, T=T, load_weight=None)
        reward_env = SimpleNamespace(unwrapped=SimpleNamespace(compute_reward=lambda ag_2, g, _: fetch_reward(ag_2, g)))
        self.agent = a = configure_ddpg(DIMS, params, reward_env, clip_return=False, seed=SEED)
        a.store_episode({k: v.copy() for k, v in inputs["episodes"].items()})
        self._inputs_from_buffer(inputs, a.buffer.buffers["o"][: a.buffer.current_size],
                                 a.buffer.buffers["z"][: a.buffer.current_size])
        p = a.params
        act = self.act
        self.pieces = {
            "train": lambda: a.train(0),
            "mi_reward": lambda: a.run_mi(self.pairs),
            "mine_step": lambda: a.train_mi(self.mine_batch),
            "mine_adam": lambda: a.mine.adam.update(self.mine_grad, p.mi_lr),
            "skill_step": lambda: a.train_sk(self.skill_o, self.skill_z),
            "get_actions": lambda: a.get_actions(act["o"], act["z"], act["ag"], act["g"], noise_eps=p.noise_eps,
                                                 random_eps=p.random_eps),
            "polyak": a.update_target_net,
        }
        train_graph = a.learner.gradient_graph([a.tf_rng])
        packed = a.learner.pack(*a.sample_batch(0))
        self.pieces["train_graph"] = lambda: train_graph(*packed)
        self.pieces["sample"] = lambda: a.sample_batch(0)
        gradients = a.gradients(0)
        self.pieces["adam_update"] = lambda: a.apply_gradients([gradients])

        def in_sequence():  # train() without the loss values and the entropy history
            out = train_graph(*a.learner.pack(*a.sample_batch(0)))
            q_grad, pi_grad, q_flat, pi_flat = (out[i].numpy() for i in (2, 3, 5, 6))
            a.apply_gradients([Gradients(0.0, 0.0, q_grad, pi_grad, q_flat, pi_flat, None)])

        self.pieces["in_sequence"] = in_sequence
        if a.mine is not None:
            self.pieces["mine_graph"] = lambda: a.mine.gradient_graph(*a.mine_inputs(self.mine_batch))

    def facts(self) -> dict:
        a = self.agent
        return {"params": dataclasses.asdict(a.params), "input_dims": dict(a.input_dims), "gamma": a.gamma,
                "clip_return": a.clip_return, "max_u": a.max_u, "T": a.T}

    def weights(self) -> dict[str, np.ndarray]:
        return self.agent.save_weight()

    def greedy(self, obs: dict) -> dict:
        a = self.agent
        if a.params.sac:  # SAC's Q(o, pi) takes a sampled action: not comparable
            return {"u": a.get_actions(obs["o"], obs["z"], obs["ag"], obs["g"])}
        u, q = a.get_actions(obs["o"], obs["z"], obs["ag"], obs["g"], compute_Q=True)
        return {"u": u, "q": q}

    def mine(self, kind: str, perm: np.ndarray) -> np.ndarray:
        return self.agent.run_mi(self.pairs if kind == "pairs" else self.mine_batch, perm)

    def mine_gradient(self, perm: np.ndarray) -> dict[str, np.ndarray]:
        grad = self.agent.mi_gradient(self.mine_batch, perm)
        return _unflatten(grad, [(n, v.shape) for n, v in self.agent.mine.named_variables.items()])

    def losses_and_gradients(self, batch: dict, weights: dict, noise: np.ndarray | None) -> dict:
        """Critic and actor losses and gradients on ``batch``: DDPG through the training graph;
        SAC through the same loss function with the given N(0, 1) draws (the graph draws its own)."""
        import tensorflow as tf

        a = self.agent
        if noise is None:
            g = a.gradients(0, batch=(batch, weights))
            q_loss, pi_loss, q_grad, pi_grad = g.q_loss, g.pi_loss, g.q_grad, g.pi_grad
        else:
            @tf.function  # a graph, as in training: TF's graph optimizer fuses ops (e.g. matmul + bias + tanh)
            def losses_and_gradients(batch, weights, noise, noise_2):
                with tf.GradientTape(persistent=True) as tape:
                    terms = a.learner.losses(batch, weights, noise, noise_2)
                return (terms["Q_loss"], terms["pi_loss"], tape.gradient(terms["Q_loss"], a.learner.q_vars),
                        tape.gradient(terms["pi_loss"], a.learner.pi_vars))

            q_loss, pi_loss, q_grads, pi_grads = losses_and_gradients(
                {k: tf.constant(v) for k, v in batch.items()}, {k: tf.constant(v) for k, v in weights.items()},
                tf.constant(noise[0]), tf.constant(noise[1]))
            q_grad = np.concatenate([x.numpy().ravel() for x in q_grads])
            pi_grad = np.concatenate([x.numpy().ravel() for x in pi_grads])
            q_loss, pi_loss = float(q_loss), float(pi_loss)
        grads = _unflatten(q_grad, [(n, v.shape) for n, v in a.learner.main.q_variables.items()])
        grads.update(_unflatten(pi_grad, [(n, v.shape) for n, v in a.learner.main.pi_variables.items()]))
        return {"losses": np.array([q_loss, pi_loss]), "gradients": grads}

    def prepare_mine_adam(self) -> None:
        self.mine_grad = self.agent.mi_gradient(self.mine_batch)


class OriginalSide(Side):
    def __init__(self, variant: str, original: str, inputs: dict, facts: dict):
        warnings.simplefilter("ignore")  # their TF1 calls are all deprecated
        from original_shims import load_original

        o = load_original(original)
        self.tf = tf = o.tf
        tf.logging.set_verbosity(tf.logging.ERROR)
        self.sess = o.tf_util.single_threaded_session()  # as their train.py: 1 intra-op, 1 inter-op thread
        self.sess.__enter__()
        np.random.seed(SEED)
        tf.set_random_seed(SEED)
        p = facts["params"]
        sampler = o.her.make_sample_her_transitions(
            replay_strategy=p["replay_strategy"], replay_k=p["replay_k"], reward_fun=fetch_reward,
            mi_w_schedule=p["mi_w_schedule"], et_w_schedule=p["et_w_schedule"],
            mi_prioritization=p["mi_prioritization"])
        names = ("buffer_size", "hidden", "layers", "polyak", "batch_size", "Q_lr", "pi_lr", "mi_lr", "sk_lr",
                 "r_scale", "mi_r_scale", "sk_r_scale", "et_r_scale", "norm_eps", "norm_clip", "action_l2",
                 "clip_obs", "relative_goals", "rollout_batch_size", "finetune_pi", "mi_prioritization", "sac")
        self.policy = pol = o.ddpg.DDPG(
            input_dims=facts["input_dims"], **{k: p[k] for k in names}, max_u=facts["max_u"],
            network_class_actor_critic="baselines.her.actor_critic:ActorCritic",
            network_class_discriminator="baselines.her.discriminator:Discriminator",
            scope="ddpg", T=facts["T"], subtract_goals=lambda a, b: a - b, clip_pos_returns=True,
            clip_return=facts["clip_return"], sample_transitions=sampler, gamma=facts["gamma"], env_name=ENV,
            max_timesteps=None, pretrain_weights=None)
        pol.store_episode({k: v.copy() for k, v in inputs["episodes"].items()})
        n = pol.buffer.current_size
        self._inputs_from_buffer(inputs, pol.buffer.buffers["o"][:n], pol.buffer.buffers["z"][:n])
        act = self.act
        self.pieces = {
            "train": lambda: pol.train(0),
            "mi_reward": lambda: pol.run_mi(self.pairs),
            "mine_step": lambda: pol.train_mi(self.mine_batch),
            "mine_adam": lambda: pol.mi_adam.update(self.mine_grad, pol.mi_lr),
            "skill_step": lambda: pol.train_sk(self.skill_o, self.skill_z),
            "get_actions": lambda: pol.get_actions(act["o"], act["z"], act["ag"], act["g"], noise_eps=p["noise_eps"],
                                                   random_eps=p["random_eps"]),
            "polyak": pol.update_target_net,
            "sample": lambda: pol.sample_batch(ir=True, t=0),
            "train_graph": pol._grads,  # what their train() runs after staging a batch
            "mine_graph": lambda: pol._grads_mi(self.mine_batch),
        }
        self.prepare = {"train_graph": lambda: pol.stage_batch(ir=True, t=0)}
        pol.stage_batch(ir=True, t=0)
        _, _, q_grad, pi_grad, _, _ = pol._grads()
        self.pieces["adam_update"] = lambda: pol._update(q_grad, pi_grad)

        def in_sequence():
            pol.stage_batch(ir=True, t=0)
            _, _, q_grad, pi_grad, _, _ = pol._grads()
            pol._update(q_grad, pi_grad)

        self.pieces["in_sequence"] = in_sequence
        graph = tf.get_default_graph()
        ops = graph.get_operations()
        # the ops whose outputs the checks feed: MINE's time shuffle, SAC's N(0, 1) draws
        self.shuffle = [op.outputs[0] for op in ops if op.type == "RandomShuffle" and "/state_mi/" in op.name]
        self.noise = {scope: [graph.get_tensor_by_name(op.name.rsplit("/", 1)[0] + ":0") for op in ops
                              if op.type == "RandomStandardNormal" and op.name.startswith(f"ddpg/{scope}/pi/")]
                      for scope in ("main", "target")}
        self.port_names: dict[str, str] = {}

    def load_weights(self, weights: dict[str, np.ndarray]) -> int:
        """Assign our variables to theirs by name; every variable of theirs must get one."""
        theirs = {v.name: v for v in self.tf.global_variables()}
        self.port_names = {original_name(name): name for name in weights}
        unmatched = sorted(set(self.port_names) ^ set(theirs))
        if unmatched:
            raise RuntimeError(f"variables without a counterpart: {unmatched}")
        for their_name, name in self.port_names.items():
            theirs[their_name].load(np.asarray(weights[name], np.float32), self.sess)
        return len(theirs)

    def weights(self) -> dict[str, np.ndarray]:
        variables = {v.name: v for v in self.tf.global_variables()}
        values = self.sess.run({name: variables[their] for their, name in self.port_names.items()})
        return values

    def _names(self, variables) -> list[tuple[str, tuple]]:
        return [(self.port_names[v.name], tuple(v.shape.as_list())) for v in variables]

    def greedy(self, obs: dict) -> dict:
        pol = self.policy
        if pol.sac:
            return {"u": pol.get_actions(obs["o"], obs["z"], obs["ag"], obs["g"])}
        u, q = pol.get_actions(obs["o"], obs["z"], obs["ag"], obs["g"], compute_Q=True)
        return {"u": u, "q": q}

    def _mine_feed(self, o_s: np.ndarray, perm: np.ndarray) -> dict:
        """Feed of their MINE graph with the time permutation ``perm`` in place of random_shuffle."""
        (shuffled,) = self.shuffle
        feed = {self.policy.o_tau_tf: o_s}
        y_time_major = self.sess.run(shuffled.op.inputs[0], feed)
        return {**feed, shuffled: y_time_major[np.asarray(perm)]}

    def mine(self, kind: str, perm: np.ndarray) -> np.ndarray:
        o_s = self.pairs if kind == "pairs" else self.mine_batch
        return self.sess.run(self.policy.main_ir.mi_tf, self._mine_feed(o_s, perm))

    def mine_gradient(self, perm: np.ndarray) -> dict[str, np.ndarray]:
        grad = self.sess.run(self.policy.mi_grad_tf, self._mine_feed(self.mine_batch, perm))
        return _unflatten(grad, self._names(self.policy._vars("ir/state_mi")))

    def losses_and_gradients(self, batch: dict, weights: dict, noise: np.ndarray | None) -> dict:
        pol = self.policy
        values = {**batch, **weights, "w": np.ones(len(batch["o"]), np.float32)}
        pol.stage_batch(ir=True, t=0, batch=[values[key] for key in pol.stage_shapes])
        feed = {}
        if noise is not None:
            (main,), (target,) = self.noise["main"], self.noise["target"]
            feed = {main: noise[0], target: noise[1]}
        q_loss, pi_loss, q_grad, pi_grad = self.sess.run(
            [pol.Q_loss_tf, pol.pi_loss_tf, pol.Q_grad_tf, pol.pi_grad_tf], feed)
        grads = _unflatten(q_grad, self._names(pol._vars("main/Q")))
        grads.update(_unflatten(pi_grad, self._names(pol._vars("main/pi"))))
        return {"losses": np.array([q_loss, pi_loss]), "gradients": grads}

    def prepare_mine_adam(self) -> None:
        self.mine_grad = self.sess.run(self.policy.mi_grad_tf, {self.policy.o_tau_tf: self.mine_batch})


def _unflatten(flat: np.ndarray, names_shapes) -> dict[str, np.ndarray]:
    out, start = {}, 0
    for name, shape in names_shapes:
        size = int(np.prod(shape))
        out[name] = np.asarray(flat[start:start + size]).reshape(shape)
        start += size
    assert start == len(flat), (start, len(flat))
    return out


def serve(conn, side: str, variant: str, original: str | None) -> None:
    """A worker: builds its side on "setup", then runs the methods the parent names."""
    os.dup2(2, 1)  # stdout is the parent's table: whatever a worker prints goes to stderr
    sys.stdout = sys.stderr
    obj = None
    while True:
        message = conn.recv()
        if message is None:
            break
        method, args = message
        try:
            if method == "setup":
                obj = (OriginalSide if side == "original" else PortSide)(variant, original, *args)
                result = None
            else:
                result = getattr(obj, method)(*args)
            conn.send(("ok", result))
        except Exception:
            conn.send(("error", traceback.format_exc()))
    conn.close()


class Worker:
    """The parent's handle on one worker process."""

    def __init__(self, ctx, side: str, variant: str, original: str | None):
        self.side = side
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=serve, args=(child, side, variant, original), name=f"vs_original-{side}")
        self.process.start()
        child.close()

    def call(self, method: str, *args):
        self.conn.send((method, args))
        try:
            status, result = self.conn.recv()
        except EOFError:
            self.process.join(5)
            raise RuntimeError(f"the {self.side} worker died (exit code {self.process.exitcode})") from None
        if status == "error":
            raise RuntimeError(f"the {self.side} worker failed:\n{result}")
        return result

    def close(self) -> None:
        try:
            self.conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self.process.join(30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


# ---------------------------------------------------------------------------------------------- checks and timing
def compare(variant: str, name: str, ours, theirs, tolerance: str) -> dict:
    """One check: arrays, or {variable: array} compared per variable."""
    atol, rtol = TOLERANCES[tolerance]
    if not isinstance(ours, dict):
        ours, theirs = {"": ours}, {"": theirs}
    worst, ok = 0.0, set(ours) == set(theirs)
    for key in ours.keys() & theirs.keys():
        a, b = np.asarray(ours[key], np.float64), np.asarray(theirs[key], np.float64)
        if a.shape != b.shape:
            ok = False
            continue
        diff = float(np.max(np.abs(a - b))) if a.size else 0.0
        bound = atol + rtol * (float(np.max(np.abs(b))) if b.size else 0.0)
        ok = ok and diff <= bound
        worst = max(worst, diff)
    return {"variant": variant, "check": name, "max_abs_diff": worst, "atol": atol, "rtol": rtol,
            "per_variable": len(ours) > 1, "ok": bool(ok)}


def run_checks(variant: str, original: Worker, port: Worker, inputs: dict, facts: dict, n_variables: int) -> list:
    sac = facts["params"]["sac"]
    checks = [compare(variant, f"weights read back ({n_variables} variables)", port.call("weights"),
                      original.call("weights"), "weights")]
    ours, theirs = port.call("greedy", inputs["check_obs"]), original.call("greedy", inputs["check_obs"])
    checks.append(compare(variant, f"greedy actions, {N_CHECK_OBS} observations", ours["u"], theirs["u"], "actions"))
    if not sac:
        checks.append(compare(variant, f"Q(o, pi(o)), {N_CHECK_OBS} observations", ours["q"], theirs["q"], "q"))
    if facts["params"]["mi_r_scale"] > 0:
        for kind, perm, label in (("pairs", inputs["perm_pairs"], f"{BATCH} pairs (o_t, o_t+1)"),
                                  ("episodes", inputs["perm_episodes"], f"{BATCH} episodes x {T + 1} states")):
            checks.append(compare(variant, f"MINE estimate, {label}, same permutation", port.call("mine", kind, perm),
                                  original.call("mine", kind, perm), "mine"))
        checks.append(compare(variant, f"MINE gradient, {BATCH} episodes x {T + 1} states",
                              port.call("mine_gradient", inputs["perm_episodes"]),
                              original.call("mine_gradient", inputs["perm_episodes"]), "gradients"))
    p = facts["params"]
    weights = {"m_w": 1.0, "s_w": 1.0, "r_w": 1.0, "e_w": 0.2, "mi_r_scale": p["mi_r_scale"]}
    weights = {k: np.float32(v) for k, v in weights.items()}
    noise = inputs["noise"] if sac else None
    ours = port.call("losses_and_gradients", inputs["batch"], weights, noise)
    theirs = original.call("losses_and_gradients", inputs["batch"], {k: v for k, v in weights.items()
                                                                     if k != "mi_r_scale"}, noise)
    same = " (same N(0, 1) draws)" if sac else ""
    checks.append(compare(variant, f"critic and actor losses, {BATCH} transitions{same}", ours["losses"],
                          theirs["losses"], "losses"))
    checks.append(compare(variant, f"critic and actor gradients, {BATCH} transitions{same}", ours["gradients"],
                          theirs["gradients"], "gradients"))
    return checks


def time_pieces(variant: str, original: Worker, port: Worker, calls: int, block: int, warmup: int,
                pieces: list[tuple[str, str]] | None = None) -> list:
    sides = {"original": original, "port": port}
    rows = []
    for piece, label in PIECES[variant] if pieces is None else pieces:
        if piece == "mine_adam":
            for worker in sides.values():
                worker.call("prepare_mine_adam")
        for worker in sides.values():
            worker.call("time", piece, warmup)
        samples: dict[str, list] = {"original": [], "port": []}
        for b in range(math.ceil(calls / block)):
            n = min(block, calls - b * block)
            for name in (("original", "port") if b % 2 == 0 else ("port", "original")):
                samples[name] += sides[name].call("time", piece, n)
        row = {"variant": variant, "piece": piece, "label": label, "calls": calls}
        for name, values in samples.items():
            ms = np.asarray(values) * 1000
            row[f"{name}_ms"] = float(np.median(ms))
            row[f"{name}_p25_ms"], row[f"{name}_p75_ms"] = (float(x) for x in np.percentile(ms, [25, 75]))
        row["ratio"] = row["original_ms"] / row["port_ms"]
        rows.append(row)
        print(f"  {label}: original {row['original_ms']:.3f} ms, port {row['port_ms']:.3f} ms", file=sys.stderr,
              flush=True)
    return rows


def epoch_seconds(ms: dict, side: str, train: str, mine_step: str | None, counts: tuple[int, int, int]) -> float:
    """One epoch from median ms per call: counts = (gradient steps, actions, Polyak updates)."""
    steps, acts, targets = counts
    step = ms[train, side] + (ms[mine_step, side] if mine_step else 0.0)
    return (steps * step + acts * ms["get_actions", side] + targets * ms["polyak", side]) / 1000


def implied_epochs(pieces: list, facts_by_variant: dict, floors: list | None = None) -> list:
    """Seconds of one default epoch of one worker, from the median piece times; with ``floors``
    also the port's floor: its train and MINE steps at the time of their graphs alone."""
    out = []
    for variant, facts in facts_by_variant.items():
        ms = {(r["piece"], side): r[f"{side}_ms"] for r in [*pieces, *(floors or [])] if r["variant"] == variant
              for side in ("original", "port")}
        p = facts["params"]
        steps, acts, targets = p["n_cycles"] * p["n_batches"], (p["n_cycles"] + p["n_test_rollouts"]) * facts["T"], \
            p["n_cycles"]
        mine = variant == "SAC+MUSIC"
        if ("train", "port") not in ms or (mine and ("mine_step", "port") not in ms):
            continue
        formula = (f"{steps} x (train + MINE step) + {acts} x get_actions + {targets} x Polyak" if mine
                   else f"{steps} x train + {acts} x get_actions + {targets} x Polyak")
        row = {"variant": variant, "formula": formula}
        counts = (steps, acts, targets)
        for side in ("original", "port"):
            row[f"{side}_s"] = epoch_seconds(ms, side, "train", "mine_step" if mine else None, counts)
        row["ratio"] = row["original_s"] / row["port_s"]
        if ("train_graph", "port") in ms and (not mine or ("mine_graph", "port") in ms):
            ms["train_floor", "port"] = ms["sample", "port"] + ms["train_graph", "port"] + ms["adam_update", "port"]
            row["port_floor_s"] = epoch_seconds(ms, "port", "train_floor", "mine_graph" if mine else None, counts)
            row["floor_ratio"] = row["original_s"] / row["port_floor_s"]
        if ("in_sequence", "port") in ms and (not mine or ("mine_graph", "port") in ms):
            row["port_sequence_floor_s"] = epoch_seconds(ms, "port", "in_sequence", "mine_graph" if mine else None,
                                                         counts)
            row["sequence_floor_ratio"] = row["original_s"] / row["port_sequence_floor_s"]
        out.append(row)
    return out


def print_checks(checks: list) -> None:
    """The checks of ``--check-only``: each max|ours - theirs| in full, and whether it is exactly 0."""
    print("| variant | check | max abs diff | exact | |\n|---|---|---|---|---|")
    for c in checks:
        exact, ok = "yes" if c["max_abs_diff"] == 0 else "no", "ok" if c["ok"] else "failed"
        print(f"| {c['variant']} | {c['check']} | {c['max_abs_diff']:.9g} | {exact} | {ok} |")


def git_commit(path: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--original", type=Path, default=os.environ.get("MUSIC_ORIGINAL"),
                   help="checkout of github.com/ruizhaogit/music (default: $MUSIC_ORIGINAL)")
    p.add_argument("--calls", type=int, default=300, help="timed calls per piece and side")
    p.add_argument("--block", type=int, default=10, help="calls per block; blocks alternate between the sides")
    p.add_argument("--warmup", type=int, default=10, help="untimed calls per piece and side first")
    p.add_argument("--variants", nargs="+", default=list(PIECES), choices=list(PIECES))
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument("--check-only", action="store_true",
                   help="stop after the checks: print each check's max abs diff, time nothing, write no file")
    args = p.parse_args()
    from original_shims import check_checkout

    try:
        original = check_checkout(args.original) if args.original else None
    except FileNotFoundError as err:
        print(f"error: {err}; {HOW_TO_GET}", file=sys.stderr)
        sys.exit(2)
    if original is None:
        print(f"error: {HOW_TO_GET}", file=sys.stderr)
        sys.exit(2)
    if importlib.util.find_spec("tf_keras") is None:
        print("error: the authors' code needs tf_keras: pip install --no-deps tf_keras==2.21.0", file=sys.stderr)
        sys.exit(2)

    os.environ.update(THREAD_ENV)  # the workers inherit it
    ctx = multiprocessing.get_context("spawn")
    inputs = make_inputs()
    result = {"calls": args.calls, "block": args.block, "warmup": args.warmup, "tf_threads": 1, "mpi_ranks": 1,
              "original": {"path": str(original), "commit": git_commit(original)},
              "machine": {"cores": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version(), "load_average_before": os.getloadavg()},
              "tolerances": {k: list(v) for k, v in TOLERANCES.items()},
              "checks": [], "pieces": [], "floors": [], "epochs": []}
    facts_by_variant = {}
    failed = False
    for variant in args.variants:
        print(f"{variant}: building both agents", file=sys.stderr, flush=True)
        port = Worker(ctx, "port", variant, None)
        theirs = Worker(ctx, "original", variant, str(original))
        try:
            port.call("setup", inputs)
            facts = facts_by_variant[variant] = port.call("facts")
            theirs.call("setup", inputs, facts)
            n_variables = theirs.call("load_weights", port.call("weights"))
            checks = run_checks(variant, theirs, port, inputs, facts, n_variables)
            result["checks"] += checks
            if not all(c["ok"] for c in checks):
                failed = True
                continue
            if args.check_only:
                continue
            print(f"{variant}: checks passed; timing {args.calls} calls per piece and side", file=sys.stderr,
                  flush=True)
            result["pieces"] += time_pieces(variant, theirs, port, args.calls, args.block, args.warmup)
            floors = time_pieces(variant, theirs, port, args.calls, args.block, args.warmup,
                                 [(piece, label) for piece, _, label in FLOORS[variant]])
            for row, (_, of_piece, _) in zip(floors, FLOORS[variant], strict=True):
                row["of_piece"] = of_piece
            result["floors"] += floors
        finally:
            port.close()
            theirs.close()
    if args.check_only:
        print_checks(result["checks"])
        sys.exit(1 if failed else 0)
    result["epochs"] = implied_epochs(result["pieces"], facts_by_variant, result["floors"])
    result["machine"]["load_average_after"] = os.getloadavg()
    from provenance import write_result

    written = write_result(args.out, "vs_original", result)
    print("\n".join(vs_original_section(result)))
    print(f"wrote {written}", file=sys.stderr)
    if failed:
        print("error: a number check failed (see the table): nothing was timed for that variant", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
