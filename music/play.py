"""Run a trained policy: ``python -m music.play POLICY``.

For each skill, runs ``n_test_rollouts`` episodes, writes one mp4 per episode and the
episode's observations (JSON) beside the policy file (or in ``--outdir``), and prints
the success rate and how far the object moved. Rendering is headless (MUJOCO_GL=egl
unless already set).
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # before mujoco is imported

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from music.cli import fail, mpi_missing, parser, str2bool  # noqa: E402
from music.render import save_video  # noqa: E402


def build_parser():
    p = parser("python -m music.play", __doc__.split("\n\n")[0])
    p.add_argument("policy_file", help="policy_*.pkl or policy_*.npz (no pickle)")
    p.add_argument("--seed", type=int, default=0, help="seed of the env and the exploration")
    p.add_argument("--n_test_rollouts", type=int, default=20, help="episodes per skill")
    p.add_argument("--render", choices=["rgb_array", "none"], default="rgb_array", help="rgb_array: write mp4s")
    p.add_argument("--exploit", type=str2bool, default=True, help="act greedily")
    p.add_argument("--compute_q", type=str2bool, default=True, help="also record Q(o, pi(o)) (the mean_Q log)")
    p.add_argument("--collect_data", type=str2bool, default=True, help="write each episode's observations")
    p.add_argument("--goal_generation", choices=["Zero", "Env"], default=None,
                   help="default: the note's, else the policy's training setting")
    p.add_argument("--note", default=None, help="variant whose params file sets goal_generation")
    p.add_argument("--outdir", default=None, help="where to write videos and data (default: beside the policy)")
    return p


# The original's evaluator kept the last 100 episodes (of all skills together) for its summary.
SUMMARY_EPISODES = 100


def exploration_settings(policy, note_params: dict | None) -> dict:
    """noise_eps, random_eps and test_with_polyak: the note's params, else the policy's training run's.

    Policy files of format 1 that did not record them hold the original's defaults.
    """
    settings = {}
    for key in ("noise_eps", "random_eps", "test_with_polyak"):
        if note_params is not None and key in note_params:
            settings[key] = note_params[key]
        else:
            settings[key] = getattr(policy.params, key)
    return settings


def summarize(worker, last: int = SUMMARY_EPISODES) -> dict:
    """The original's play summary: means over the last ``last`` episodes, all skills together."""
    histories = {"success_rate": worker.success_history, "mean_Q": worker.Q_history,
                 "episode": None, "object_displacement": worker.displacement_history,
                 "object_lift": worker.lift_history}
    out = {}
    for key, history in histories.items():
        if key == "episode":
            out["test/episode"] = min(worker.n_episodes, last)
        elif history:
            out[f"test/{key}"] = float(np.mean(list(history)[-last:]))
    return out


def play(args) -> dict:
    """Run the policy per skill; returns {skill: logs, 'all': the all-skills summary}."""
    from music.envs import make_env
    from music.rollout import RolloutWorker
    from music.save_weight import load_policy

    policy = load_policy(args.policy_file)
    env_name = policy.env_name
    note_params = None
    if args.note:
        from music.config import load_params_file, params_file

        note_params = load_params_file(params_file(env_name, args.note))
    goal_generation, source = args.goal_generation, "--goal_generation"
    if goal_generation is None and note_params is not None and note_params.get("goal_generation"):
        goal_generation, source = note_params["goal_generation"], f"the params of --note {args.note}"
    if goal_generation is None:
        goal_generation, source = policy.params.goal_generation, "the policy's training setting"
    print(f"{env_name}: goals {goal_generation} ({source})", flush=True)
    settings = exploration_settings(policy, note_params)
    num_skills = policy.dimz
    np.random.seed(args.seed)
    policy.rng = np.random.default_rng(args.seed)

    render = args.render == "rgb_array"
    dims = {k: v for k, v in policy.input_dims.items()}
    worker = RolloutWorker(lambda: make_env(env_name), policy,
                           dims, T=policy.T, rollout_batch_size=1, exploit=args.exploit,
                           use_target_net=settings["test_with_polyak"], compute_Q=args.compute_q,
                           noise_eps=settings["noise_eps"], random_eps=settings["random_eps"], env_name=env_name,
                           history_len=10**6, render=render)
    worker.seed(args.seed)
    base = Path(args.policy_file)
    # beside a policy of a run folder; a shipped or weights-only file's folder is not the place
    shipped = str(args.policy_file).startswith("pretrained:") or base.name.endswith(("_weight.npz", "_weight.pkl"))
    outdir = Path(args.outdir) if args.outdir else (Path("logs") / "play" if shipped else base.parent)
    outdir.mkdir(parents=True, exist_ok=True)
    goal = np.zeros((1, dims["g"])) if goal_generation == "Zero" else None
    results = {}
    for z in range(num_skills):
        first_episode = worker.n_episodes
        z_onehot = np.eye(num_skills)[[z]]
        for i in range(args.n_test_rollouts):
            name = f"{base.stem}_test_{i:02d}_exploit_{args.exploit}_compute_q_{args.compute_q}_skill_{z}"
            if render:
                frames, episode = worker.generate_rollouts(generated_goal=goal, z_s_onehot=z_onehot)
                save_video(frames[0], outdir / f"{name}.mp4")
            else:
                episode = worker.generate_rollouts(generated_goal=goal, z_s_onehot=z_onehot)
            if args.collect_data:
                (outdir / f"{name}.txt").write_text(json.dumps(episode["o"].tolist()))
        logs = summarize(worker, last=worker.n_episodes - first_episode)
        results[z] = logs
        line = ", ".join(f"{k} {v:.4g}" for k, v in logs.items())
        print(f"skill {z}: {line}", flush=True)
    results["all"] = summarize(worker)
    line = ", ".join(f"{k} {v:.4g}" for k, v in results["all"].items())
    shown = min(worker.n_episodes, SUMMARY_EPISODES)
    print(f"all skills (last {shown} episodes, as the original): {line}", flush=True)
    print(f"{env_name}, goals {goal_generation}, {num_skills} skill(s) x {args.n_test_rollouts} episodes, "
          f"noise_eps {settings['noise_eps']}, random_eps {settings['random_eps']}, exploit {args.exploit}, "
          f"target networks {settings['test_with_polyak']}; outputs in {outdir}")
    return results


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    missing = mpi_missing()
    if missing:
        return fail("music.play", missing)
    from music.config import ParamsError
    from music.save_weight import PolicyFileError

    if args.n_test_rollouts < 1:
        return fail("music.play", "--n_test_rollouts must be >= 1")
    try:
        play(args)
    except (PolicyFileError, ParamsError) as err:
        return fail("music.play", err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
