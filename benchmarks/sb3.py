"""Benchmark (c): Stable-Baselines3 SAC+HER and DDPG+HER doing one default epoch's work on FetchPush-v4.

    .venv/bin/pip install -r benchmarks/requirements.txt   # optional: torch + stable-baselines3
    .venv/bin/python benchmarks/sb3.py [--out DIR]

The same work as one epoch of one music worker: 5,000 training env steps in 50 rounds
of 100 steps (2 episodes), each followed by 40 gradient steps on batches of 256 (HER
'future', k=4), 3x256 networks, then 1,000 deterministic test steps (20 episodes);
torch and TF each on 1 thread. Writes sb3.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def run(algo_name: str) -> dict:
    import gymnasium as gym
    import gymnasium_robotics
    import torch
    from stable_baselines3 import DDPG, SAC, HerReplayBuffer
    from stable_baselines3.common.evaluation import evaluate_policy

    torch.set_num_threads(1)
    gym.register_envs(gymnasium_robotics)
    env = gym.make("FetchPush-v4")
    algo = {"SAC": SAC, "DDPG": DDPG}[algo_name]
    model = algo("MultiInputPolicy", env, replay_buffer_class=HerReplayBuffer,
                 replay_buffer_kwargs=dict(n_sampled_goal=4, goal_selection_strategy="future"),
                 learning_starts=99, batch_size=256, train_freq=(2, "episode"), gradient_steps=40,
                 policy_kwargs=dict(net_arch=[256, 256, 256]), buffer_size=1_000_000, gamma=0.98, tau=0.05,
                 learning_rate=1e-3, device="cpu", seed=0, verbose=0)
    start = time.perf_counter()
    model.learn(total_timesteps=5000)
    train_s = time.perf_counter() - start
    t = time.perf_counter()
    evaluate_policy(model, env, n_eval_episodes=20, deterministic=True)
    test_s = time.perf_counter() - t
    return {"algo": algo_name, "seconds": train_s + test_s, "train_s": train_s, "test_s": test_s,
            "gradient_steps": int(model._n_updates), "env_steps": int(model.num_timesteps) + 1000}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--algos", nargs="+", default=["SAC", "DDPG"])
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = p.parse_args()
    rows = []
    for algo in args.algos:
        rows.append(run(algo))
        print(rows[-1], flush=True)
    from provenance import write_result

    print(f"wrote {write_result(args.out, 'sb3', rows)}")


if __name__ == "__main__":
    main()
