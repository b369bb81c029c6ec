"""A short clip of a trained policy for the README: its first episodes from a fixed seed, as a small GIF.

    MUJOCO_GL=egl .venv/bin/python experiments/policy_clip.py POLICY --out DIR/NAME
        [--episodes 3] [--seed 0] [--mode train|test] [--shrink 2] [--every 2]

Plays ``--episodes`` episodes with ``music.play`` (``--mode train``: with the exploration
noise of training, as the campaign's train-mode measurements; ``test``: greedy), from
``--seed``, and keeps them all, in order: no episode is chosen. Writes ``NAME.gif`` (frames
shrunk by ``--shrink`` in each direction, every ``--every``-th frame, at the simulation's
pace) and ``NAME.json``: the policy, seed, mode and how far the object moved in each shown
episode (``object_moved``: the distance between the first and last position of the
surrounding part of the policy's observation split, in its units: metres for the Fetch
block, 3:6) and, for a 3-D object, its lift (highest point above the start) and whether it
ended off the table (``music.evaluate``'s measures), so that a caption can say what the clip
shows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
FPS = 25  # a Fetch step is 0.04 s of simulated time (20 substeps of 2 ms); the toy task draws at 25 too


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("policy", type=Path)
    p.add_argument("--out", type=Path, required=True, help="path without extension: writes .gif and .json")
    p.add_argument("--episodes", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mode", choices=["train", "test"], default="train")
    p.add_argument("--shrink", type=int, default=2, help="keep every n-th pixel in each direction")
    p.add_argument("--every", type=int, default=2, help="keep every n-th frame")
    args = p.parse_args()
    if not args.policy.exists():
        p.error(f"{args.policy} does not exist; give a policy_*.pkl or policy_*.npz of a finished run")

    import imageio.v3 as iio

    from music.envs import take
    from music.evaluate import ends_off_the_table
    from music.policy_files import load_policy
    from music.rollout import object_motion

    policy = load_policy(args.policy)
    if policy.split is None:
        p.error(f"{args.policy} has no agent/surrounding split (no MINE): nothing to measure the object by")
    surrounding = policy.split.surrounding
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "music.play", str(args.policy), "--n_test_rollouts", str(args.episodes),
               "--seed", str(args.seed), "--exploit", str(args.mode == "test"), "--render", "rgb_array",
               "--outdir", tmp]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)
        if proc.returncode != 0:
            sys.exit(f"music.play failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
        videos = sorted(Path(tmp).glob("*.mp4"))
        if len(videos) != args.episodes:
            sys.exit(f"music.play wrote {len(videos)} videos for {args.episodes} episodes")
        frames, moved, lift, fell = [], [], [], []
        for video in videos:
            frames += [frame[:: args.shrink, :: args.shrink] for frame in iio.imread(video)[:: args.every]]
            observations = np.asarray(json.loads(video.with_suffix(".txt").read_text()))[0]  # (T + 1, dimo)
            path = np.stack([take(o, surrounding) for o in observations])  # (T + 1, object dims)
            displacement, rise = object_motion(path[None])  # the training logs' measures
            moved.append(float(displacement[0]))
            if path.shape[1] == 3:  # an object in space: its height is the third coordinate
                lift.append(round(float(rise[0]), 4))
                fell.append(ends_off_the_table(path[:, 2]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    gif = args.out.with_suffix(".gif")
    iio.imwrite(gif, np.stack(frames), duration=1000 * args.every / FPS, loop=0)
    policy_path = args.policy.resolve()
    if policy_path.is_relative_to(Path.home()):  # no machine paths in committed files
        policy_path = Path("~") / policy_path.relative_to(Path.home())
    facts = {"policy": str(policy_path), "seed": args.seed, "mode": args.mode, "episodes": args.episodes,
             "object_moved": [round(m, 4) for m in moved], "frames": len(frames),
             "size": list(frames[0].shape[:2]), "bytes": gif.stat().st_size}
    if lift:
        facts.update(object_lift=lift, object_fell=fell)
    args.out.with_suffix(".json").write_text(json.dumps(facts, indent=1) + "\n")
    print(json.dumps(facts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
