"""Benchmark (a)+(b): one default epoch of one worker, split by where the time goes, next to the floor.

    .venv/bin/python benchmarks/epoch.py [--variants DDPG SAC SAC+MUSIC DIAYN] [--n_cycles 50] [--out DIR]

For each variant, builds the agent and workers exactly as ``music.train`` does on
FetchPush-v4 (1 rank, the original's defaults: 50 cycles x (2 episodes + 40 gradient
steps), 10 test rollouts), runs one warm-up cycle (tracing), then one timed epoch of
the real training loop with its methods wrapped by a profiler. Also measures the floor
pieces (env step, reset, a bare critic+actor gradient, numpy Adam, batch-2 actor
forward) in the same process and computes the floor of the epoch from them. Writes
``epoch.json`` and prints a table; ``benchmarks/report.py`` turns results into RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from profiler import Profiler, TimedComm  # noqa: E402

PARAMS_OF = {"DDPG": "DDPG", "SAC": "SAC", "SAC+MUSIC": "SAC+MUSIC", "DIAYN": "DIAYN"}
ENV = "FetchPush-v1"


def build(variant: str, n_cycles: int):
    from mpi4py import MPI

    from music.config import default_params, load_params_file, params_file
    from music.envs import episode_length, make_env
    from music.logger import Logger
    from music.workers import build_workers

    params = default_params()
    params.update(load_params_file(params_file(ENV, PARAMS_OF[variant])))
    params.update(env_name=ENV, note=variant, n_cycles=n_cycles, load_weight=None)
    reward_env = make_env(ENV)
    params["T"] = episode_length(reward_env)
    [(policy, worker, evaluator)] = build_workers(params, reward_env, 0, MPI.COMM_WORLD)
    import tempfile

    logger = Logger(Path(tempfile.mkdtemp(prefix="bench-")), active=True, tensorboard=False)
    return params, policy, worker, evaluator, logger


def instrument(prof: Profiler, policy, workers) -> None:
    import music.training as train_module

    for w in workers:
        for env in w.envs:
            prof.wrap(env, "step", "env_step")
            prof.wrap(env, "reset", "env_step")
    prof.wrap(policy, "get_actions", "policy_calls")
    prof.wrap(policy, "sample_transitions", "her_sampling")
    policy.buffer.sample_transitions = policy.sample_transitions
    prof.wrap(policy.buffer, "store_episode", "her_sampling")
    learner = policy.learner
    for reward in learner.intrinsic.values():  # the MI and skill rewards of sampled batches
        prof.wrap(reward, "reward", "mi_sk_reward")
    prof.wrap(policy, "run_mi", "mi_sk_reward")  # the MI priorities of stored episodes (-p)
    prof.wrap(learner, "gradients", "gradients")
    for adam in learner.optimizers().values():
        prof.wrap(adam, "update", "adam")
        prof.wrap(adam, "step", "adam")  # the learner calls step and writes both networks itself
        adam.comm = TimedComm(adam.comm, prof, "mpi_reduce")
    prof.wrap(learner.main_params, "set", "adam")
    if policy.mine is not None:  # MINE and the skill discriminator train themselves
        prof.wrap(policy.mine, "gradient_graph", "mine_training")
        prof.wrap(policy.skill, "gradient_graph", "skill_training")
    for norm in (learner.o_stats, learner.g_stats):
        prof.wrap(norm, "recompute_stats", "normalizer")
        prof.wrap(norm, "update", "normalizer")
        norm.comm = TimedComm(norm.comm, prof, "mpi_reduce")
    prof.wrap(learner, "update_target_net", "polyak")
    prof.wrap(train_module, "save_policy", "logging_saving")


def run_epoch(variant: str, n_cycles: int, n_epochs: int = 1) -> dict:
    from mpi4py import MPI

    import music.training as train_module
    from music.workers import Worker

    params, policy, worker, evaluator, logger = build(variant, n_cycles)
    # warm-up: one cycle traces every graph (not timed)
    warm = dict(params, n_cycles=1, n_test_rollouts=1)
    workers = [Worker(policy, worker, evaluator)]
    train_module.train(workers=workers, logger=logger, params=warm, n_epochs=1, comm=MPI.COMM_WORLD)
    traces_after_warmup = tracing_counts(policy)
    prof = Profiler()
    instrument(prof, policy, [worker, evaluator])
    prof.wrap(logger, "dump_tabular", "logging_saving")
    start = time.perf_counter()
    with prof.section("other"):
        train_module.train(workers=workers, logger=logger, params=params, n_epochs=n_epochs,
                           hooks=[train_module.PolicySaver(interval=1)], comm=MPI.COMM_WORLD,
                           loop={"epoch": 0, "cycle": 0, "best_success_rate": -1.0,
                                 "mi_r_scale": params["mi_r_scale"]})
    total = time.perf_counter() - start
    retraces = {k: v - traces_after_warmup.get(k, 0) for k, v in tracing_counts(policy).items()}
    return {"variant": variant, "n_cycles": n_cycles, "n_epochs": n_epochs, "seconds": total,
            "breakdown": dict(prof.exclusive), "calls": dict(prof.calls),
            "retraces_after_first_epoch": sum(retraces.values()), "retraces_by_graph": retraces}


def tracing_counts(policy) -> dict[str, int]:
    def count(fn) -> int:  # a graph, or the profiler's timed wrapper of one
        return getattr(fn, "__wrapped__", fn).experimental_get_tracing_count()

    learner = policy.learner
    counts = {f"policy.{name}": count(g) for name, g in policy.acting.graphs().items()}
    counts.update({f"learner.{name}": count(g) for name, g in learner.graphs().items()})
    for log_name, reward in learner.intrinsic.items():
        counts.update({f"{log_name}.{name}": count(g) for name, g in reward.graphs().items()})
    owners = [("o_stats", learner.o_stats), ("g_stats", learner.g_stats)]
    for owner_name, owner in owners + [(n, adam.params) for n, adam in learner.optimizers().items()]:
        for name, value in vars(owner).items():
            if hasattr(getattr(value, "__wrapped__", value), "experimental_get_tracing_count"):
                counts[f"{owner_name}.{name}"] = count(value)
    return counts


def floor_pieces(repeats: int = 300) -> dict:
    """Median times (ms) of the floor pieces, measured here."""
    import tensorflow as tf

    import music.tf_util  # noqa: F401
    from music.envs import make_env

    env = make_env("FetchPush-v4")
    env.reset(seed=0)
    step, reset = [], []
    for i in range(repeats):
        t = time.perf_counter()
        env.step(env.action_space.sample())
        step.append(time.perf_counter() - t)
        if i % 50 == 49:
            t = time.perf_counter()
            env.reset()
            reset.append(time.perf_counter() - t)

    rng = np.random.default_rng(0)

    def mlp(sizes):
        return [(tf.Variable(rng.normal(0, 0.05, (a, b)).astype(np.float32)), tf.Variable(np.zeros(b, np.float32)))
                for a, b in zip(sizes[:-1], sizes[1:], strict=True)]

    def forward(layers, x):
        for i, (w, b) in enumerate(layers):
            x = x @ w + b
            if i < len(layers) - 1:
                x = tf.nn.relu(x)
        return x

    pi, q = mlp([29, 256, 256, 256, 4]), mlp([33, 256, 256, 256, 1])
    pi_t, q_t = mlp([29, 256, 256, 256, 4]), mlp([33, 256, 256, 256, 1])
    pi_vars = [v for layer in pi for v in layer]
    q_vars = [v for layer in q for v in layer]
    spec = tf.TensorSpec([256, 29], tf.float32)

    @tf.function(input_signature=[spec, spec, tf.TensorSpec([256, 4], tf.float32), tf.TensorSpec([256, 1], tf.float32)])
    def bare_grads(x, x2, u, r):
        with tf.GradientTape(persistent=True) as tape:
            a2 = tf.tanh(forward(pi_t, x2))
            target = r + 0.98 * forward(q_t, tf.concat([x2, a2], 1))
            q_loss = tf.reduce_mean(tf.square(tf.stop_gradient(target) - forward(q, tf.concat([x, u], 1))))
            a = tf.tanh(forward(pi, x))
            pi_loss = -tf.reduce_mean(forward(q, tf.concat([x, a], 1))) + tf.reduce_mean(tf.square(a))
        return tape.gradient(q_loss, q_vars), tape.gradient(pi_loss, pi_vars)

    @tf.function(input_signature=[tf.TensorSpec([2, 29], tf.float32)])
    def actor2(x):
        return tf.tanh(forward(pi, x))

    x = rng.normal(size=(256, 29)).astype(np.float32)
    u = rng.normal(size=(256, 4)).astype(np.float32)
    r = rng.normal(size=(256, 1)).astype(np.float32)
    bare_grads(x, x, u, r)
    actor2(x[:2])
    grads, acts = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        bare_grads(x, x, u, r)
        grads.append(time.perf_counter() - t)
        t = time.perf_counter()
        actor2(x[:2]).numpy()
        acts.append(time.perf_counter() - t)
    n = sum(int(np.prod(v.shape)) for v in q_vars)  # about 140k, as the spec's figure
    m = np.zeros(n, np.float32)
    v = np.zeros(n, np.float32)
    theta = np.zeros(n, np.float32)
    g = rng.normal(size=n).astype(np.float32)
    adam = []
    for t_ in range(1, repeats + 1):
        t = time.perf_counter()
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        theta = theta - 1e-3 * np.sqrt(1 - 0.999**t_) / (1 - 0.9**t_) * m / (np.sqrt(v) + 1e-8)
        adam.append(time.perf_counter() - t)
    med = lambda xs: float(np.median(xs) * 1000)  # noqa: E731
    pieces = {"env_step_ms": med(step), "env_reset_ms": med(reset), "bare_critic_actor_grad_ms": med(grads),
              "numpy_adam_ms": med(adam), "adam_params": n, "actor_forward_batch2_ms": med(acts)}
    # One default epoch of one worker: 5,000 train + 1,000 test env steps (and 120 resets),
    # 2,000 gradient steps, 4,000 Adam updates, 3,000 batch-2 policy calls.
    pieces["floor_epoch_s"] = (6000 * pieces["env_step_ms"] + 120 * pieces["env_reset_ms"]
                               + 2000 * pieces["bare_critic_actor_grad_ms"] + 4000 * pieces["numpy_adam_ms"]
                               + 3000 * pieces["actor_forward_batch2_ms"]) / 1000
    return pieces


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variants", nargs="+", default=list(PARAMS_OF))
    p.add_argument("--n_cycles", type=int, default=50, help="50 is a default epoch")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"floor": floor_pieces(), "epochs": []}
    print(json.dumps(result["floor"], indent=1), flush=True)
    for variant in args.variants:
        r = run_epoch(variant, args.n_cycles)
        result["epochs"].append(r)
        parts = ", ".join(f"{k} {v:.1f}" for k, v in sorted(r["breakdown"].items(), key=lambda kv: -kv[1]))
        print(f"{variant}: {r['seconds']:.1f} s ({parts}); retraces after warm-up: {r['retraces_after_first_epoch']}",
              flush=True)
    from provenance import write_result

    print(f"wrote {write_result(args.out, 'epoch', result)}")


if __name__ == "__main__":
    main()
