"""The MI reward a MUSIC policy's MINE gives to scripted behaviours: does it pay more for lifting than for pushing?

    .venv/bin/python experiments/mi_by_behaviour.py [--run DIR] [--epochs 10 20 ...] [--episodes 100]
        [--again] [--out experiments/results/paper_eval/mi_by_behaviour.json]

The critic of MUSIC sees, for every two-step window, clip(5000 MI, 0, 1) - 1 under the
MINE trained so far (``music.evaluate.window_mi_rewards``). The reward saturates at an MI of
0.0002: any motion of the block that goes with the gripper's may earn as much as carrying
it. If pushing earns the reward that lifting earns, nothing in the reward draws the agent
from the pushes it finds first to a grasp. This runs the same scripted episodes on
FetchPickAndPlace (the same resets for every behaviour) and scores them under the MINE of
each kept policy of a run (default: the paper campaign's seed 0, every kept epoch):

- ``pick and carry, slow`` / ``fast``: open above the block, down around it, close, lift
  10 cm, then carry it around a circle at that height: of 8 cm once in 20 steps (about 2.5 cm a
  step), or of 10 cm once in 10 steps (the arm's 5 cm a step at most);
- ``push``: fingers closed, down behind the block, then along the table through it at 1 cm
  a step;
- ``reach without touching``: the gripper moves around a circle 15 cm above the block;
- ``still``: the gripper holds still (zero actions).

Each episode's windows are scored in one MINE call, so they share one random time permutation
as a training batch's do (the identity half of the time: then every window is paid about -1).
Per behaviour and MINE: the mean MI reward per episode, over the steps where the script moves
the block (carrying: from step 36; pushing: from step 16) and the fraction of windows at the
reward's ceiling (0), with what the script did to the block (touched, lifted 5 cm,
displacement; from ``experiments/grasp_rate.py``'s contacts), so a behaviour that failed to
do what it says is seen. Writes JSON (after every MINE) and prints one line per behaviour and
MINE. A MINE scored before, in ``--out``, with the same weights, seed and episodes is not
scored again (``--again`` does).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "experiments"))

import grasp_rate  # noqa: E402
from grasp_rate import toward  # noqa: E402

TASK = "FetchPickAndPlace-v1"
CARRY_HEIGHT, REACH_HEIGHT, REACH_RADIUS = 0.10, 0.15, 0.10  # m
CARRY_FROM, PUSH_FROM = 36, 16  # the step from which the script moves the block


def circle(t: int, radius: float, period: int) -> np.ndarray:
    """The offset at step t of a circle of ``radius`` run once in ``period`` steps, from its point 0."""
    angle = 2 * np.pi * t / period
    return radius * np.array([np.cos(angle) - 1.0, np.sin(angle), 0.0])


def pick_and_carry(radius: float, period: int):
    def behaviour(grip: np.ndarray, block: np.ndarray, start: np.ndarray, t: int) -> np.ndarray:
        if t < 28:  # the scripted pick's approach, descent and close (grasp_rate.scripted_pick)
            return grasp_rate.scripted_pick(np.concatenate([grip, block]), t)
        lifted = start + [0.0, 0.0, CARRY_HEIGHT]
        return toward(grip, lifted if t < CARRY_FROM else lifted + circle(t - CARRY_FROM, radius, period), -1.0)
    return behaviour


def push(grip: np.ndarray, block: np.ndarray, start: np.ndarray, t: int) -> np.ndarray:
    behind = block + [-0.06, 0.0, 0.0]
    if t < 10:  # above the point behind the block
        return toward(grip, behind + [0.0, 0.0, 0.05], -1.0)
    if t < PUSH_FROM:  # down to the table behind it
        return toward(grip, behind, -1.0)
    return toward(grip, np.array([grip[0] + 0.01, block[1], block[2]]), -1.0)


def reach_without_touching(grip: np.ndarray, block: np.ndarray, start: np.ndarray, t: int) -> np.ndarray:
    return toward(grip, start + [0.0, 0.0, REACH_HEIGHT] + circle(t, REACH_RADIUS, 20), 1.0)


def still(grip: np.ndarray, block: np.ndarray, start: np.ndarray, t: int) -> np.ndarray:
    return np.zeros(4)


# name: (the script, the first step at which it moves the block, or None)
BEHAVIOURS = {"pick and carry, slow": (pick_and_carry(0.08, 20), CARRY_FROM),
              "pick and carry, fast": (pick_and_carry(0.10, 10), CARRY_FROM),
              "push": (push, PUSH_FROM), "reach without touching": (reach_without_touching, None),
              "still": (still, None)}


def scripted_episodes(behaviour, episodes: int, seed: int) -> grasp_rate.ContactRecorder:
    """``episodes`` episodes of ``behaviour`` (observation 0:3 the gripper, 3:6 the block), recorded."""
    from music.envs import make_env

    recorder = grasp_rate.ContactRecorder(make_env(TASK, quiet=True))
    for i in range(episodes):
        obs, _ = recorder.reset(seed=seed if i == 0 else None)
        start = np.array(obs["observation"][3:6])
        for t in range(recorder.env.spec.max_episode_steps):
            o = obs["observation"]
            obs, *_ = recorder.step(behaviour(o[0:3], o[3:6], start, t))
    recorder.finish()
    return recorder


def what_it_did(recorder: grasp_rate.ContactRecorder) -> dict:
    """touched / lifted (counts of episodes) and the block's mean displacement (m)."""
    figures = grasp_rate.recorded_figures(recorder)
    moved = [np.linalg.norm(o[-1, 3:6] - o[0, 3:6]) for o in recorder.observations]
    return {"episodes": len(recorder.episodes), "touched": figures["touched"]["count"],
            "lifted": figures["lifted"]["count"], "object_displacement": float(np.mean(moved))}


def window_rewards(policy, recorder: grasp_rate.ContactRecorder, perm=None) -> np.ndarray:
    """The MI reward of every two-step window of the recorded episodes under ``policy``'s MINE, one
    MINE call (one time permutation, ``perm`` or a drawn one) per episode; (episodes, T)."""
    from music.evaluate import window_mi_rewards

    return np.stack([window_mi_rewards(policy, o, perm) for o in recorder.observations])


def summary(rewards: np.ndarray, moving_from: int | None) -> dict:
    """The mean MI reward per episode of ``window_rewards``, and from step ``moving_from`` on, and
    the fraction of windows at the ceiling."""
    return {"mi_reward_mean": float(rewards.mean()), "at_ceiling": float(np.mean(rewards == 0.0)),
            "mi_reward_moving": None if moving_from is None else float(rewards[:, moving_from:].mean())}


def scores(policy, recorder: grasp_rate.ContactRecorder, moving_from: int | None) -> dict:
    """``summary`` of the recorded episodes' rewards under ``policy``'s MINE."""
    return summary(window_rewards(policy, recorder), moving_from)


def main(argv: list[str] | None = None) -> int:
    from music.files import atomic_write_text
    from music.policy_files import policy_weights_sha256
    from music.save_weight import load_policy

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, default=None, help="the run folder (default: grasp_rate.py's)")
    p.add_argument("--epochs", nargs="+", type=int, default=None, help="default: every policy_<epoch>.npz kept")
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--seed", type=int, default=0, help="the first reset's seed (the same for every behaviour)")
    p.add_argument("--again", action="store_true", help="score every MINE, also those scored before")
    p.add_argument("--out", type=Path, default=REPO / "experiments" / "results" / "paper_eval" / "mi_by_behaviour.json")
    args = p.parse_args(argv)
    run = args.run or grasp_rate.default_run()
    epochs = args.epochs if args.epochs is not None else grasp_rate.kept_epochs(run)
    missing = [e for e in epochs if grasp_rate.policy_file(run, e) is None]
    if not epochs or missing:
        raise SystemExit(f"{run} has no policy for epochs {missing or 'any'}; it keeps {grasp_rate.kept_epochs(run)}")
    held = {f"epoch {e}": policy_weights_sha256(grasp_rate.policy_file(run, e)) for e in grasp_rate.kept_epochs(run)}
    previous = json.loads(args.out.read_text()) if args.out.is_file() else {}
    same_episodes = (previous.get("seed"), previous.get("episodes"), sorted(previous.get("behaviours", {}))) == (
        args.seed, args.episodes, sorted(BEHAVIOURS))
    rows, dropped = grasp_rate.rows_of_these_weights(previous.get("rows", []) if same_episodes else [], held)
    for line in dropped:
        print(f"{args.out.name}: dropped {line}", flush=True)
    to_score = [e for e in epochs if args.again or f"epoch {e}" not in rows]
    behaviours, recorded = previous.get("behaviours", {}), {}
    if to_score:  # the same scripted episodes for every MINE
        recorded = {name: scripted_episodes(script, args.episodes, args.seed)
                    for name, (script, _) in BEHAVIOURS.items()}
        behaviours = {name: what_it_did(recorder) for name, recorder in recorded.items()}
    for name, did in behaviours.items():
        print(f"{name}: touched the block in {did['touched']}, lifted it 5 cm in {did['lifted']} of {did['episodes']}; "
              f"moved it {did['object_displacement']:.3f} m", flush=True)

    def write() -> None:  # replaced whole after every MINE: a stopped measurement keeps what it scored
        ordered = sorted(rows.values(), key=lambda row: row["epoch"])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.out, json.dumps({"run": run.name, "task": TASK, "seed": args.seed,
                                                "episodes": args.episodes, "behaviours": behaviours,
                                                "rows": ordered}, indent=1) + "\n")

    for epoch in epochs:
        if epoch not in to_score:
            print(f"MINE of epoch {epoch}: scored before (the same weights and episodes); --again scores it again")
            continue
        policy = load_policy(grasp_rate.policy_file(run, epoch))
        if policy.mine is None:
            raise SystemExit(f"{grasp_rate.policy_file(run, epoch)} has no MINE: give a MUSIC run")
        row = {"policy": f"epoch {epoch}", "epoch": epoch, "weights_sha256": held[f"epoch {epoch}"],
               "scores": {name: scores(policy, recorder, BEHAVIOURS[name][1]) for name, recorder in recorded.items()}}
        rows[row["policy"]] = row
        write()
        print(f"MINE of epoch {epoch}: " + "; ".join(
            f"{name} {s['mi_reward_mean']:.3f}" + ("" if s["mi_reward_moving"] is None else
                                                   f" (moving the block {s['mi_reward_moving']:.3f})")
            for name, s in row["scores"].items()), flush=True)
    write()
    return 0

if __name__ == "__main__":
    sys.exit(main())
