"""Do the arm's joint limits of gymnasium-robotics' Fetch change what the gripper reaches, or what a policy does?

    .venv/bin/python experiments/fetch_joint_limits.py [--policy FILE] [--episodes 100]
        [--out experiments/results/paper_eval/joint_limits.json]

gym v1's Fetch model gave its torso, head and arm joints a range but no ``limited``, and the
MuJoCo 1.5 of mujoco-py ignored a range without it: the paper's arm was unlimited.
gymnasium-robotics v4 (their PR #18) marks them ``limited="true"``, so MuJoCo 3 enforces the
ranges. The fingers' joints are limited in both. This script builds FetchPickAndPlace-v4 twice,
as shipped and with those joints unlimited again (``model.jnt_limited`` cleared after loading,
the fingers and the object untouched), and measures in both:

1. reach and picks: the gripper driven for 50 steps from the initial pose to each of 125 targets above
   the table (5 x 5 over its top, 5 heights from 2.5 to 50 cm above it); how many it reaches
   within 1 cm; and experiments/grasp_rate.py's scripted pick in ``--episodes`` resets;
2. exploring episodes of ``--policy`` (default: the paper campaign's newest kept policy) and of
   uniform random actions, at the same seeds: the fraction of steps that end with an arm joint
   at its limit (an active limit constraint), the block's displacement and lift, the gripper's
   highest point and largest tilt from vertical, and the largest distance between the two
   models' gripper positions at the same step.

If no limit is ever active the two models step identically and the limits cannot matter.
Prints a line per measurement and writes them as JSON.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "experiments"))

TASK = "FetchPickAndPlace-v1"
FINGER_JOINTS = ("robot0:r_gripper_finger_joint", "robot0:l_gripper_finger_joint")
MODELS = ("v4", "unlimited arm")


class LimitRecorder:
    """Wraps a Fetch env, optionally with the torso, head and arm joints unlimited (as gym v1);
    after every step records the gripper position and whether any of those joints is at a limit."""

    def __init__(self, env, unlimited: bool):
        import mujoco

        self.env = env
        self.mujoco = mujoco
        model = env.unwrapped.model
        self.arm_joints = [j for j in range(model.njnt) if model.jnt_limited[j] and model.joint(j).name not in
                           FINGER_JOINTS and model.joint(j).name.startswith("robot0:")]
        if unlimited:
            for j in self.arm_joints:
                model.jnt_limited[j] = 0
        self.grip_site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "robot0:grip")
        self.grip_path: list[np.ndarray] = []
        self.grip_axis: list[np.ndarray] = []
        self.at_limit: list[np.ndarray] = []  # per step, (len(arm_joints),) bools
        self.initial_axis = env.unwrapped.data.site_xmat[self.grip_site].reshape(3, 3)[:, 2].copy()

    def __getattr__(self, name):
        return getattr(self.env, name)

    def reset(self, **kwargs):
        return self.env.reset(**kwargs)

    def step(self, action):
        result = self.env.step(action)
        data = self.env.unwrapped.data
        limits = data.efc_type[:data.nefc] == self.mujoco.mjtConstraint.mjCNSTR_LIMIT_JOINT
        self.at_limit.append(np.isin(self.arm_joints, data.efc_id[:data.nefc][limits]))
        self.grip_path.append(data.site_xpos[self.grip_site].copy())
        self.grip_axis.append(data.site_xmat[self.grip_site].reshape(3, 3)[:, 2].copy())
        return result


def recorded_factory(unlimited: bool, recorders: list):
    from music.envs import make_env

    def factory(env_name, quiet=False):
        recorders.append(LimitRecorder(make_env(env_name, quiet=quiet), unlimited))
        return recorders[-1]

    return factory


# Targets above the table (its top is 0.4 m high; x 1.05-1.55 m, y 0.4-1.1 m), 5 x 5 x 5.
TABLE_X, TABLE_Y = np.linspace(1.05, 1.55, 5), np.linspace(0.4, 1.1, 5)
ABOVE_TABLE_Z = np.array([0.425, 0.5, 0.6, 0.75, 0.9])
REACHED = 0.01  # m


def reach(unlimited: bool) -> np.ndarray:
    """(125,): how far from each target above the table the gripper ends, driven to it for 50 steps
    from the initial pose (full-speed proportional control, fingers open)."""
    recorders: list[LimitRecorder] = []
    env = recorded_factory(unlimited, recorders)(TASK, quiet=True)
    errors = []
    for target in itertools.product(TABLE_X, TABLE_Y, ABOVE_TABLE_Z):
        env.reset(seed=0)
        grip = env.grip_path[-1] if env.grip_path else env.unwrapped.data.site_xpos[env.grip_site].copy()
        for _ in range(50):
            env.step(np.array([*np.clip((np.asarray(target) - grip) / 0.05, -1.0, 1.0), 1.0]))
            grip = env.grip_path[-1]
        errors.append(np.linalg.norm(np.asarray(target) - grip))
    return np.asarray(errors)


def scripted_picks(unlimited: bool, episodes: int, seed: int) -> dict:
    """experiments/grasp_rate.py's scripted pick in ``episodes`` resets: how many lift the block 5 cm."""
    from grasp_rate import scripted_pick

    from music.evaluate import LIFT_THRESHOLD

    recorders: list[LimitRecorder] = []
    env = recorded_factory(unlimited, recorders)(TASK, quiet=True)
    lifted, tilted = 0, []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed if i == 0 else None)
        start = obs["observation"][5]
        rise = 0.0
        for t in range(env.spec.max_episode_steps):
            obs, *_ = env.step(scripted_pick(obs["observation"], t))
            rise = max(rise, obs["observation"][5] - start)
        lifted += rise >= LIFT_THRESHOLD
    tilted = tilt(env)
    return {"episodes": episodes, "lifted": int(lifted), "grip_tilt_max_degrees": float(tilted.max())}


def tilt(recorder: LimitRecorder) -> np.ndarray:
    """The gripper's tilt from its initial (vertical) axis at every recorded step, in degrees."""
    axes = np.asarray(recorder.grip_axis)
    return np.degrees(np.arccos(np.clip(np.abs(axes @ recorder.initial_axis), 0.0, 1.0)))


def exploring(policy, episodes: int, seed: int) -> dict:
    """Both models' figures over the same exploring episodes of ``policy``."""
    from music.evaluate import evaluate_policy

    out, paths = {}, {}
    for name, unlimited in zip(MODELS, (False, True), strict=True):
        recorders: list[LimitRecorder] = []
        summary = evaluate_policy(policy, episodes, seed, "train", make_env=recorded_factory(unlimited, recorders))
        (recorder,) = recorders
        paths[name] = np.asarray(recorder.grip_path)
        at_limit = np.asarray(recorder.at_limit)
        model = recorder.env.unwrapped.model
        out[name] = {"steps_at_arm_limit": float(at_limit.any(axis=1).mean()),
                     "steps_at_limit_by_joint": {model.joint(j).name: float(at_limit[:, i].mean())
                                                 for i, j in enumerate(recorder.arm_joints) if at_limit[:, i].any()},
                     "object_displacement": summary["object_displacement_mean"],
                     "object_lifted": summary["object_lifted"], "object_fell": summary["object_fell"],
                     "grip_height_max": float(paths[name][:, 2].max()),
                     "grip_tilt_max_degrees": float(tilt(recorder).max()),
                     "steps_tilted_over_10_degrees": float((tilt(recorder) > 10.0).mean())}
    out["grip_distance_max"] = float(np.linalg.norm(paths[MODELS[0]] - paths[MODELS[1]], axis=1).max())
    return out


def model_line(model: str, figures: dict) -> str:
    return (f"{model}: at a limit in {figures['steps_at_arm_limit']:.4f} of steps "
            f"{figures['steps_at_limit_by_joint']}, "
            f"displacement {figures['object_displacement']:.4f} m, lifted {figures['object_lifted']:.2f}, highest "
            f"gripper {figures['grip_height_max']:.3f} m, tilted up to {figures['grip_tilt_max_degrees']:.1f} deg, "
            f"over 10 deg in {figures['steps_tilted_over_10_degrees']:.4f} of steps")


def main(argv: list[str] | None = None) -> int:
    from music.campaign import default_root
    from music.experiment import weights_digest
    from music.save_weight import load_policy

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--policy", type=Path, default=None,
                   help="default: the newest policy_<epoch>.npz of the paper campaign's seed 0")
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=REPO / "experiments" / "results" / "paper_eval" / "joint_limits.json")
    args = p.parse_args(argv)
    if args.policy is None:
        base = default_root("paper") / "runs" / "paper" / TASK / "SAC+MUSIC" / "seed0"
        run = base if base.is_dir() else base.with_name("seed0.partial")
        kept = sorted(run.glob("policy_[0-9]*.npz"), key=lambda path: int(path.stem.split("_")[1]))
        if not kept:
            raise SystemExit(f"no kept policy in {run}; give --policy")
        args.policy = kept[-1]
    policy = load_policy(args.policy)
    errors = {name: reach(unlimited) for name, unlimited in zip(MODELS, (False, True), strict=True)}
    # which weights were measured, so that a run trained again can be checked to be the same bits
    result = {"policy": args.policy.name, "weights_sha256": weights_digest(policy),
              "episodes": args.episodes, "seed": args.seed,
              "reach": {name: {"targets": len(e), "reached": int((e <= REACHED).sum()), "error_max": float(e.max()),
                               "error_median": float(np.median(e))} for name, e in errors.items()}}
    print("reach of 125 targets above the table: " + "; ".join(
        f"{name}: {r['reached']} within {REACHED * 100:.0f} cm, error median {r['error_median']:.4f} m, "
        f"max {r['error_max']:.4f} m" for name, r in result["reach"].items()), flush=True)
    result["scripted picks"] = {name: scripted_picks(unlimited, args.episodes, args.seed)
                                for name, unlimited in zip(MODELS, (False, True), strict=True)}
    print("scripted picks: " + "; ".join(f"{name}: lifted 5 cm in {r['lifted']} of {r['episodes']}, tilted up to "
                                         f"{r['grip_tilt_max_degrees']:.1f} deg"
                                         for name, r in result["scripted picks"].items()), flush=True)
    trained = policy.params
    # random_eps 1: evaluate_policy's exploration replaces every action with a uniform one
    for name, params in ((args.policy.name, trained), ("uniform random actions", replace(trained, random_eps=1.0))):
        policy.params = params
        figures = exploring(policy, args.episodes, args.seed)
        result[name] = figures
        print(f"{name}: " + "; ".join(model_line(model, figures[model]) for model in MODELS)
              + f"; grippers apart by up to {figures['grip_distance_max']:.4f} m", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
