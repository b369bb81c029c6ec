"""Measure the Fetch tasks we run on: initial positions, goals, and the success rate by chance.

    .venv/bin/python experiments/env_facts.py --episodes 500 --out experiments/results/env_facts

For each object task (gymnasium-robotics ``Fetch*-v4`` on ``mujoco``), resets the env
``--episodes`` times (seeded once, then the env's own stream, as training does) and
records the initial gripper and object positions and the goal; then runs as many
episodes with three policies that know nothing of the task: zero actions (the arm holds
still), uniform random actions, and an untrained SAC+MUSIC agent acting greedily (the
port's initial weights for seed 0). The success rate of the last step, as the logs count
it, is the chance level a learning curve must rise above. Writes ``env_facts.csv``
(one row per task and policy) and ``env_facts.md`` (the table docs/deviations.md quotes).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TASKS = ("FetchPush-v1", "FetchPickAndPlace-v1", "FetchSlide-v1")


def interval(values: np.ndarray) -> str:
    return f"[{values.min():.3f}, {values.max():.3f}]"


def initial_states(env_name: str, episodes: int, seed: int) -> dict:
    from music.envs import make_env

    env = make_env(env_name)
    grip, obj, goal = [], [], []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed if i == 0 else None)
        grip.append(obs["observation"][0:3])
        obj.append(obs["observation"][3:6])
        goal.append(obs["desired_goal"])
    grip, obj, goal = np.array(grip), np.array(obj), np.array(goal)
    table_z = obj[:, 2].min()
    return {
        "dimo": int(obs["observation"].shape[0]),
        "grip_pos": "(" + ", ".join(f"{v:.3f}" for v in grip.mean(axis=0)) + f") ± {grip.std(axis=0).max():.1e}",
        "object_x": interval(obj[:, 0]), "object_y": interval(obj[:, 1]), "object_z": interval(obj[:, 2]),
        "goal_x": interval(goal[:, 0]), "goal_y": interval(goal[:, 1]), "goal_z": interval(goal[:, 2]),
        "goals_in_air": float(np.mean(goal[:, 2] > table_z + 0.01)),
        "object_goal_distance_mean": float(np.mean(np.linalg.norm(goal - obj, axis=1))),
        "object_within_0.05_of_goal_at_reset": float(np.mean(np.linalg.norm(goal - obj, axis=1) < 0.05)),
    }


def chance_success(env_name: str, policy_name: str, episodes: int, seed: int) -> dict:
    from music.envs import make_env

    env = make_env(env_name)
    rng = np.random.default_rng(seed)
    agent = untrained_agent(env_name, env, seed) if policy_name == "untrained SAC" else None
    successes, moved = [], []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed if i == 0 else None)
        start = obs["observation"][3:6].copy()
        for _ in range(env.spec.max_episode_steps):
            if policy_name == "zero":
                u = np.zeros(4, np.float32)
            elif policy_name == "random":
                u = rng.uniform(-1, 1, 4).astype(np.float32)
            else:
                u = agent.get_actions(obs["observation"], np.ones(1), obs["achieved_goal"], obs["desired_goal"])
            obs, _, _, _, info = env.step(u)
        successes.append(float(info["is_success"]))
        moved.append(float(np.linalg.norm(obs["observation"][3:6] - start)))
    p = float(np.mean(successes))
    return {"success_rate": p, "success_se": float(np.sqrt(p * (1 - p) / episodes)),
            "object_displacement_mean": float(np.mean(moved))}


def untrained_agent(env_name: str, env, seed: int):
    from music.config import configure_dims, default_params, load_params_file, params_file
    from music.ddpg import configure_ddpg
    from music.envs import episode_length

    params = default_params()
    params.update(load_params_file(params_file(env_name, "SAC+MUSIC")))
    params.update(env_name=env_name, load_weight=None, T=episode_length(env))
    return configure_ddpg(configure_dims(env), params, env, seed=seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="experiments/results/env_facts")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, lines = [], []
    for task in TASKS:
        facts = initial_states(task, args.episodes, args.seed)
        print(task, facts, flush=True)
        for policy_name in ("zero", "random", "untrained SAC"):
            measured = chance_success(task, policy_name, args.episodes, args.seed)
            print(task, policy_name, measured, flush=True)
            rows.append({"task": task, "policy": policy_name, "episodes": args.episodes, **measured, **facts})
    with open(out / "env_facts.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines.append(f"Measured by `experiments/env_facts.py --episodes {args.episodes}` "
                 "(gymnasium-robotics Fetch*-v4, mujoco).\n")
    lines.append("| task | grip_pos at reset | object x / y / z | goal x / y / z | goals in the air | "
                 "object-goal distance (m) | success: zero / random / untrained SAC (± s.e.) |")
    lines.append("|---|---|---|---|---|---|---|")
    for task in TASKS:
        r = [row for row in rows if row["task"] == task]
        f = r[0]
        rates = " / ".join(f"{row['success_rate']:.3f} ± {row['success_se']:.3f}" for row in r)
        lines.append(f"| {task} | {f['grip_pos']} | {f['object_x']} / {f['object_y']} / {f['object_z']} | "
                     f"{f['goal_x']} / {f['goal_y']} / {f['goal_z']} | {f['goals_in_air']:.2f} | "
                     f"{f['object_goal_distance_mean']:.3f} | {rates} |")
    (out / "env_facts.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
