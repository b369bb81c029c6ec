"""What the MI reward pays for, window by window: how fast the block moves, or that it is held up?

    .venv/bin/python experiments/mi_by_speed.py [--run DIR] [--epoch E] [--episodes 100] [--seed 0]
        [--out experiments/results/paper_eval/mi_by_speed.json]

``mi_by_behaviour.py`` and ``mine_with_carries.py`` found that the paper run's MINEs pay the
agent's own exploring episodes more, where the block moves, than a scripted pick-and-carry. A
window's reward compares the (gripper, block) pairs of its two steps with the pairs swapped in
time: if the block does not move, the swapped pairs are the true ones and the window is paid
-1. So the agent's pushes may earn more only because they move the block faster than the
carries do: then a carry at the same speed earns as much, and lifting is one way among others
to earn the reward. Or a carry earns less at every speed: then what the MINE pays is not the
speed but how the block moves, and a scripted push along the table, as unlike the agent's
pushes as a carry is, tells whether it pays the table or the agent's own way of moving it.

This sorts the windows of one MINE's episodes (default: the newest kept policy's): the
policy's own exploring episodes and ``mi_by_behaviour.py``'s carries and push (``--episodes``
resets each, the same resets), by the block's speed in the window (m per 0.04 s step, in the
bins of ``SPEED_EDGES``) and by where it is: on the table (within ``RAISED`` of its height at
the reset at both steps) or raised (``RAISED`` or more above it at both), held (both fingers
on it at both steps, the simulator's contacts) or not. Windows of neither place (lifting,
setting down, falling off the table) are counted apart. Every window is scored with the
marginal samples swapped in time (``SWAP``), the draw under which the critic's reward says
anything: under the other draw, the identity, every window is paid -1 up to float32 rounding
(training draws one of the two per batch, so the critic's mean is about this one's plus -1,
halved). Writes JSON and prints each set's table.
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
import mi_by_behaviour  # noqa: E402
import mine_with_carries  # noqa: E402

SCORED = ("own exploring episodes", "pick and carry, slow", "pick and carry, fast", "push")
# m per step; below the first the block is still, as mine_with_carries.py counts it
SPEED_EDGES = (mine_with_carries.BLOCK_MOVES, 0.005, 0.01, 0.02, 0.04)
RAISED = grasp_rate.GRASP_RISE  # m above the block's height at the reset: "raised, held" is grasp_rate's grasp
SWAP = (1, 0)  # the time permutation of a two-step window's marginal samples that is not the identity
PLACES = ("on the table, not held", "on the table, held", "raised, not held", "raised, held")


def speed_bins() -> list[str]:
    """The bins' names, in mm per step: "1-5", ..., ">= 40"."""
    mm = [f"{edge * 1000:g}" for edge in SPEED_EDGES]
    return [f"{low}-{high}" for low, high in zip(mm, mm[1:], strict=False)] + [f">= {mm[-1]}"]


def window_places(observations: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per two-step window of one episode, the block's speed (m per step) and the index of its place
    in ``PLACES`` (-1: neither on the table nor raised at both steps).

    observations (T+1, dimo), the block at 3:6; steps (T, 3), ``ContactRecorder``'s record after
    each step: left finger touching, right finger touching, height. The reset's observation has
    no contacts recorded: the fingers are taken to be off the block there.
    """
    block = observations[:, 3:6]
    speed = np.linalg.norm(np.diff(block, axis=0), axis=-1)
    rise = block[:, 2] - block[0, 2]
    on_table = np.abs(rise) < RAISED
    raised = rise >= RAISED
    pinched = np.concatenate([[False], grasp_rate.pinched_steps(steps)])
    held = pinched[:-1] & pinched[1:]
    place = np.full(len(speed), -1)
    for where, at in ((0, on_table), (2, raised)):
        both = at[:-1] & at[1:]
        place[both & ~held] = where
        place[both & held] = where + 1
    return speed, place


def speed_bin(speed: np.ndarray) -> np.ndarray:
    """The index of each speed's bin (``speed_bins``); -1 below the first edge (the block still)."""
    return np.searchsorted(np.asarray(SPEED_EDGES), speed, side="right") - 1


def tabulate(rewards: list[np.ndarray], speeds: list[np.ndarray], places: list[np.ndarray]) -> dict:
    """Per place and speed bin, the number of windows and their mean reward (None without
    windows), and the windows where the block moves that are in neither place."""
    reward, speed, place = (np.concatenate(a) for a in (rewards, speeds, places))
    bins = speed_bin(speed)
    table = {}
    for p, name in enumerate(PLACES):
        cells = []
        for b in range(len(SPEED_EDGES)):
            here = (place == p) & (bins == b)
            cells.append({"windows": int(here.sum()), "mi_reward_mean": float(reward[here].mean()) if here.any()
                          else None})
        table[name] = cells
    moving = bins >= 0
    return {"moving_windows": int(moving.sum()), "elsewhere_windows": int((moving & (place < 0)).sum()),
            "by_place": table}


def measure(policy, recorders: dict) -> dict:
    """``tabulate`` of each recorded set under ``policy``'s MINE, every window with ``SWAP``."""
    result = {}
    for name, recorder in recorders.items():
        rewards = mi_by_behaviour.window_rewards(policy, recorder, perm=SWAP)
        speeds, places = zip(*(window_places(observations, steps) for observations, steps
                               in zip(recorder.observations, recorder.episodes, strict=True)), strict=True)
        result[name] = tabulate(list(rewards), list(speeds), list(places))
    return result


def print_table(sets: dict) -> None:
    """Each set's windows where the block moves, and per place the reward (windows) of each speed bin."""
    for name, scored in sets.items():
        print(f"{name}: {scored['moving_windows']} windows where the block moves, {scored['elsewhere_windows']} of "
              "them neither on the table nor raised", flush=True)
        for place, cells in scored["by_place"].items():
            row = [f"{b} mm {c['mi_reward_mean']:.3f} ({c['windows']})"
                   for b, c in zip(speed_bins(), cells, strict=True) if c["windows"]]
            if row:
                print(f"  {place}: " + "; ".join(row), flush=True)


def main(argv: list[str] | None = None) -> int:
    from music.files import atomic_write_text
    from music.policy_files import policy_weights_sha256

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, default=None, help="the run folder (default: grasp_rate.py's)")
    p.add_argument("--epoch", type=int, default=None, help="the kept policy whose MINE scores (default: the newest)")
    p.add_argument("--episodes", type=int, default=100, help="episodes of each set (1 or more)")
    p.add_argument("--seed", type=int, default=0, help="the first reset's seed (the same for every set)")
    p.add_argument("--out", type=Path, default=REPO / "experiments" / "results" / "paper_eval" / "mi_by_speed.json")
    args = p.parse_args(argv)
    if args.episodes < 1:
        raise SystemExit(f"--episodes {args.episodes}: give 1 or more episodes of each set")
    run = args.run or grasp_rate.default_run()
    epoch, path, policy = grasp_rate.kept_mine(run, args.epoch)
    recorders = {SCORED[0]: grasp_rate.recorded_run(policy, args.episodes, args.seed, "train")[1]}
    recorders.update({name: mi_by_behaviour.scripted_episodes(mi_by_behaviour.BEHAVIOURS[name][0], args.episodes,
                                                              args.seed) for name in SCORED[1:]})
    sets = measure(policy, recorders)
    print_table(sets)
    result = {"run": run.name, "epoch": epoch, "weights_sha256": policy_weights_sha256(path), "seed": args.seed,
              "episodes": args.episodes, "speed_bins_mm_per_step": speed_bins(), "raised_m": RAISED,
              "what_they_did": {name: mi_by_behaviour.what_it_did(r) for name, r in recorders.items()}, "sets": sets}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
