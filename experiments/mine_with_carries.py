"""Would the MI reward pay for lifting if lifting were in the MINE's data?

    .venv/bin/python experiments/mine_with_carries.py [--run DIR] [--epoch E] [--steps 2000]
        [--shares 0 0.01 0.03 0.1 0.3] [--train-episodes 200] [--episodes 100] [--seed 0]
        [--out experiments/results/paper_eval/mine_with_carries.json]

``mi_by_behaviour.py`` found that under most MINEs of the paper run the agent's own exploring
episodes earn more MI reward than a scripted pick-and-carry. MINE learns from the agent's
buffer: it learns to tell the (gripper, block) pairs of what the agent does from pairs shuffled
in time, and the agent grasps the block in 0-4 % of its episodes. So the reward may not pay for
carrying only because carrying is not in its data. This puts it there and compares with a
control that differs only in that: from the MINE of one kept policy (default: the newest), one
copy per ``--shares`` value is trained ``--steps`` steps on batches of ``batch_size`` whole
episodes (the run's 256), each episode drawn from the policy's own exploring episodes
(``--train-episodes``) or, with probability ``share``, from scripted pick-and-carry episodes
(``mi_by_behaviour.py``'s: ``--train-episodes`` / 2 resets, each carried slowly and fast).
Every copy sees the same draws: the same episode indices, coins and time permutations, so an
episode that is a carry at one share is one at every larger share. Share 0 is the control: the
same steps on the agent's episodes alone.

The copies are not trained as the run trains its MINE, and the control is there to measure
what that alone changes. The run's MINE step sums the gradients of its 16 workers, each on 256
episodes of its own buffer (episodes of every epoch so far) with its own permutation, and its
Adam moments carry on from the epochs before; here a step takes one batch with one
permutation, from the episodes of one policy, and Adam starts from zero moments (a policy file
does not keep the optimizer's state). ``--steps`` 2000 is the number of MINE steps an epoch of
training takes (n_cycles x n_batches), not the same training.

Each MINE (the kept one as trained, and every copy) then scores held-out episodes (other
resets than the training episodes', the same for every MINE, with the same permutations):
the policy's own exploring episodes and ``mi_by_behaviour.py``'s carries and push, each as
the mean MI reward the critic sees per episode and while the script moves the block
(``mi_by_behaviour.summary``), and over the windows in which the block moves 1 mm or more
(the agent's pushes and the scripts' carrying compared step for step). If the copies trained
with carries pay a carry more per such window than the control does, and more than the
agent's own pushes, what the MINE pays for depends on its data: a reward for lifting needs
lifts in the buffer, which only exploration puts there.
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

CARRIES = ("pick and carry, slow", "pick and carry, fast")
SCORED = ("own exploring episodes", *CARRIES, "push")
BLOCK_MOVES = 1e-3  # m in one step (0.04 s): the block is pushed or carried, not settling


def training_batch(rng: np.random.Generator, own: np.ndarray, carries: np.ndarray, share: float,
                   batch_size: int) -> np.ndarray:
    """``batch_size`` whole episodes (batch_size, T+1, dimo): each one of ``own`` or, where a coin
    falls below ``share``, one of ``carries``. The draws (coins, then both index rows) do not depend
    on ``share``: generators in the same state give batches that differ only where a coin lies
    between two shares."""
    coins = rng.random(batch_size)
    own_index = rng.integers(len(own), size=batch_size)
    carry_index = rng.integers(len(carries), size=batch_size)
    return np.where((coins < share)[:, None, None], carries[carry_index], own[own_index])


def train_copy(policy, own: np.ndarray, carries: np.ndarray, share: float, steps: int, seed: int) -> float:
    """Train ``policy``'s MINE ``steps`` steps on ``training_batch``es; returns the MI estimate
    (the training batches', before each step) averaged over the last 100 steps."""
    batches, permutations = np.random.SeedSequence(seed).spawn(2)
    rng = np.random.default_rng(batches)
    policy.rng = np.random.default_rng(permutations)  # ``DDPG.train_mi`` draws the time permutations from it
    estimates = [policy.train_mi(training_batch(rng, own, carries, share, policy.params.batch_size))
                 for _ in range(steps)]
    return float(np.mean(estimates[-100:]))


def block_moving(recorder) -> np.ndarray:
    """Per episode and two-step window (episodes, T): whether the block (observation 3:6) moves
    BLOCK_MOVES or more in that step."""
    blocks = np.stack(recorder.observations)[:, :, 3:6]
    return np.linalg.norm(np.diff(blocks, axis=1), axis=-1) >= BLOCK_MOVES


def score_all(policy, held_out: dict, seed: int) -> dict:
    """Each held-out set's scores under ``policy``'s MINE, with the permutations of ``seed``:
    ``mi_by_behaviour.summary``'s, and the mean over the windows in which the block moves
    (``mi_reward_block_moving``; None if it never does), which compares the agent's pushes with
    the scripts' carrying step for step."""
    policy.rng = np.random.default_rng(seed)
    scored = {}
    for name, recorder in held_out.items():
        rewards = mi_by_behaviour.window_rewards(policy, recorder)
        moves = block_moving(recorder)
        moving_from = mi_by_behaviour.BEHAVIOURS[name][1] if name in mi_by_behaviour.BEHAVIOURS else None
        scored[name] = {**mi_by_behaviour.summary(rewards, moving_from), "block_moving_windows": float(moves.mean()),
                        "mi_reward_block_moving": float(rewards[moves].mean()) if moves.any() else None}
    return scored


def main(argv: list[str] | None = None) -> int:
    from music.files import atomic_write_text
    from music.policy_files import policy_weights_sha256
    from music.save_weight import load_policy

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, default=None, help="the run folder (default: grasp_rate.py's)")
    p.add_argument("--epoch", type=int, default=None, help="the kept policy whose MINE to start from (default: the "
                                                           "newest)")
    p.add_argument("--steps", type=int, default=2000, help="MINE steps per copy (an epoch of training: 2000)")
    p.add_argument("--shares", nargs="+", type=float, default=[0.0, 0.01, 0.03, 0.1, 0.3],
                   help="the shares of carries in the training batches, one copy each")
    p.add_argument("--train-episodes", type=int, default=200, help="episodes of each training pool")
    p.add_argument("--episodes", type=int, default=100, help="held-out episodes of each scored set")
    p.add_argument("--seed", type=int, default=0, help="the held-out resets' seed (the training's: seed + 1)")
    p.add_argument("--out", type=Path, default=REPO / "experiments" / "results" / "paper_eval" /
                   "mine_with_carries.json")
    args = p.parse_args(argv)
    if any(not 0.0 <= share <= 1.0 for share in args.shares):
        raise SystemExit(f"--shares {args.shares}: a share is a probability, from 0 to 1")
    run = args.run or grasp_rate.default_run()
    epoch, path, policy = grasp_rate.kept_mine(run, args.epoch)

    def pool(recorder) -> np.ndarray:
        return np.stack(recorder.observations)

    train_seed = args.seed + 1
    own = pool(grasp_rate.recorded_run(policy, args.train_episodes, train_seed, "train")[1])
    carries = np.concatenate([pool(mi_by_behaviour.scripted_episodes(mi_by_behaviour.BEHAVIOURS[name][0],
                                                                     args.train_episodes // len(CARRIES), train_seed))
                              for name in CARRIES])
    held_out = {"own exploring episodes": grasp_rate.recorded_run(policy, args.episodes, args.seed, "train")[1]}
    held_out.update({name: mi_by_behaviour.scripted_episodes(mi_by_behaviour.BEHAVIOURS[name][0], args.episodes,
                                                             args.seed) for name in SCORED[1:]})
    result = {"run": run.name, "epoch": epoch, "weights_sha256": policy_weights_sha256(path), "seed": args.seed,
              "steps": args.steps, "carrying_from_step": mi_by_behaviour.CARRY_FROM,
              "train_episodes": {"own": len(own), "carries": len(carries),
                                 "carry_resets": args.train_episodes // len(CARRIES)},
              "episodes": args.episodes, "what_the_held_out_did": {name: mi_by_behaviour.what_it_did(recorder)
                                                                    for name, recorder in held_out.items()},
              "rows": []}

    def add(row: dict) -> None:  # the file is replaced whole after every MINE
        result["rows"].append(row)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
        print(f"{row['mine']}: " + "; ".join(
            f"{name} {s['mi_reward_mean']:.3f}" + ("" if s["mi_reward_block_moving"] is None else
                                                   f" ({s['mi_reward_block_moving']:.3f} where the block moves)")
            for name, s in row["scores"].items()), flush=True)

    add({"mine": f"epoch {epoch}, as trained", "carry_share": None, "steps": 0,
         "scores": score_all(policy, held_out, args.seed)})
    for share in args.shares:
        copy = load_policy(path)
        estimate = train_copy(copy, own, carries, share, args.steps, train_seed)
        add({"mine": f"epoch {epoch} + {args.steps} steps, carries {share:g}", "carry_share": share,
             "steps": args.steps, "mi_estimate_last_steps": estimate, "scores": score_all(copy, held_out, args.seed)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
