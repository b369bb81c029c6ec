"""How often a FetchPickAndPlace policy's exploring episodes touch, pinch, grasp and lift the block.

    .venv/bin/python experiments/grasp_rate.py [--run DIR] [--epochs 0 5 10 ...] [--episodes 100]
        [--untrained] [--scripted] [--mode train|play] [--again]
        [--out experiments/results/paper_eval/grasp.json]

Issue 25 asks, if the paper-scale run does not lift the block: is lifting never tried, or
tried and not reinforced? For each kept policy ``policy_<epoch>.npz`` of a run (default: the
paper campaign's FetchPickAndPlace SAC+MUSIC seed 0, every epoch it kept), and with
``--untrained`` the fresh agent of the run's params and seed (and with ``--scripted`` a
scripted pick, ``scripted_pick``: what the simulator allows), this runs ``--episodes``
exploring episodes as training does (``music.evaluate.evaluate_policy`` in train mode: the
exploration noise, random actions and Zero goals of training; ``--mode play``: greedy with
Zero goals, as the original's play.py) and reads the simulator's contacts after every step.
Per episode:

- touched: a finger touches the block at some step;
- pinched: both fingers touch it at the same step;
- grasped: both fingers touch it while its centre is at least GRASP_RISE above where it
  started (held off the table, not pushed along it);
- lifted: its centre rises LIFT_THRESHOLD (5 cm) above where it started (as ``music.evaluate``).

A policy of epoch k is the one that explores during epoch k + 1, so the curve over epochs is
the grasping that training saw. Prints one line per policy and writes the fractions, their
95 % Wilson intervals, the mean number of grasped steps per episode and, per kind of episode
(the furthest it got: grasped, pinched, touched, untouched), the mean MI reward under the
policy's own MINE, as JSON. A policy whose row in ``--out`` measured the same weights with the
same seed and number of episodes is not measured again (``--again`` does), so that measuring
the epochs of a run while it trains spares the gate after it that work.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# A block tipped onto an edge raises its centre 1.0 cm (music/evaluate.py), but not with both
# fingers on it; the definition of a grasp: both fingers on the block, 1 cm up.
GRASP_RISE = 0.01  # m
FINGER_BODIES = ("robot0:l_gripper_finger_link", "robot0:r_gripper_finger_link")
OBJECT_BODY = "object0"
FIGURES = ("touched", "pinched", "grasped", "lifted")


class ContactRecorder:
    """Wraps a Fetch env; after every step records which fingers touch the object and its height.

    ``episodes`` holds one (T, 3) array per finished episode: left touching, right touching,
    object centre height (m); ``starts`` the object's height after each reset.
    """

    def __init__(self, env):
        import mujoco

        self.env = env
        model = env.unwrapped.model
        body_geoms = {}
        for name in (*FINGER_BODIES, OBJECT_BODY):
            body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)
            if body < 0:
                raise SystemExit(f"{env.spec.id if env.spec else env} has no body {name}: grasp_rate.py measures the "
                                 "Fetch tasks with a block")
            body_geoms[name] = {g for g in range(model.ngeom) if model.geom_bodyid[g] == body}
        self.finger_geoms = [body_geoms[name] for name in FINGER_BODIES]
        self.object_geoms = body_geoms[OBJECT_BODY]
        self.object_body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, OBJECT_BODY)
        self.episodes: list[np.ndarray] = []
        self.starts: list[float] = []
        self.observations: list[np.ndarray] = []  # per finished episode, (T+1, dimo)
        self._steps: list[tuple[float, float, float]] = []
        self._observations: list[np.ndarray] = []

    def __getattr__(self, name):  # everything else is the wrapped env's (spec, unwrapped, compute_reward, ...)
        return getattr(self.env, name)

    def _object_height(self) -> float:
        return float(self.env.unwrapped.data.xpos[self.object_body][2])

    def reset(self, **kwargs):
        self.finish()
        result = self.env.reset(**kwargs)
        self.starts.append(self._object_height())
        self._observations = [np.array(result[0]["observation"])]
        return result

    def step(self, action):
        result = self.env.step(action)
        data = self.env.unwrapped.data
        touching = [False, False]
        for contact in data.contact[:data.ncon]:
            pair = {int(contact.geom1), int(contact.geom2)}
            if pair & self.object_geoms:
                for i, geoms in enumerate(self.finger_geoms):
                    touching[i] |= bool(pair & geoms)
        self._steps.append((float(touching[0]), float(touching[1]), self._object_height()))
        self._observations.append(np.array(result[0]["observation"]))
        return result

    def finish(self) -> None:
        """Close the last episode (the next reset does too)."""
        if self._steps:
            self.episodes.append(np.asarray(self._steps))
            self.observations.append(np.asarray(self._observations))
            self._steps, self._observations = [], []


def pinched_steps(steps: np.ndarray) -> np.ndarray:
    """Per step of a ``ContactRecorder`` record (T, 3): whether both fingers touch the block."""
    return (steps[:, 0] > 0) & (steps[:, 1] > 0)


def episode_figures(steps: np.ndarray, start_height: float) -> dict[str, float]:
    """touched / pinched / grasped / lifted (0 or 1) and grasped_steps of one episode's (T, 3) record."""
    from music.evaluate import LIFT_THRESHOLD

    left, right, height = steps[:, 0] > 0, steps[:, 1] > 0, steps[:, 2]
    both = pinched_steps(steps)
    held = both & (height - start_height >= GRASP_RISE)
    return {"touched": float((left | right).any()), "pinched": float(both.any()), "grasped": float(held.any()),
            "lifted": float(np.max(height - start_height) >= LIFT_THRESHOLD), "grasped_steps": float(held.sum())}


def recorded_figures(recorder: ContactRecorder) -> dict:
    """Over the recorder's episodes: each figure's count, fraction and 95 % Wilson interval, and the
    mean number of grasped steps per episode."""
    from music.evaluate import wilson_interval

    per_episode = [episode_figures(steps, start) for steps, start in zip(recorder.episodes, recorder.starts,
                                                                         strict=True)]
    n = len(per_episode)
    result = {"grasped_steps_mean": float(np.mean([e["grasped_steps"] for e in per_episode]))}
    for name in FIGURES:
        count = int(sum(e[name] for e in per_episode))
        result[name] = {"count": count, "fraction": count / n, "ci95": list(wilson_interval(count, n))}
    return result


def scripted_pick(observation: np.ndarray, t: int) -> np.ndarray:
    """The action at step t of a scripted pick (Fetch observation: gripper 0:3, block 3:6): fingers
    open above the block for 12 steps, down around it for 10, closed for 6, then up 20 cm."""
    grip, block = observation[0:3], observation[3:6]
    if t < 12:
        target, fingers = block + [0.0, 0.0, 0.06], 1.0
    elif t < 22:
        target, fingers = block, 1.0
    elif t < 28:
        target, fingers = grip, -1.0
    else:
        target, fingers = block + [0.0, 0.0, 0.2], -1.0
    return toward(grip, target, fingers)


def toward(grip: np.ndarray, target: np.ndarray, fingers: float) -> np.ndarray:
    """The action that moves the gripper at ``grip`` toward ``target`` as fast as the arm allows
    (an action of 1 moves it 5 cm a step), with the finger command ``fingers``."""
    return np.concatenate([np.clip((target - grip) / 0.05, -1.0, 1.0), [fingers]])


def measure_scripted(episodes: int, seed: int) -> dict:
    """The figures of ``episodes`` scripted picks: that the simulator lets the gripper pick the block."""
    from music.envs import make_env

    recorder = ContactRecorder(make_env("FetchPickAndPlace-v1", quiet=True))
    for i in range(episodes):
        obs, _ = recorder.reset(seed=seed if i == 0 else None)
        for t in range(recorder.env.spec.max_episode_steps):
            obs, *_ = recorder.step(scripted_pick(obs["observation"], t))
    recorder.finish()
    return {"episodes": episodes, "seed": seed, **recorded_figures(recorder)}


def recorded_run(policy, episodes: int, seed: int, mode: str = "train") -> tuple[dict, ContactRecorder]:
    """``music.evaluate.evaluate_policy``'s summary of ``episodes`` episodes of ``policy`` in ``mode``
    (train: exploring) and the recorder of their contacts, heights and observations."""
    from music.envs import make_env
    from music.evaluate import evaluate_policy

    recorders: list[ContactRecorder] = []

    def recorded_env(env_name, quiet=False):
        recorders.append(ContactRecorder(make_env(env_name, quiet=quiet)))
        return recorders[-1]

    summary = evaluate_policy(policy, episodes, seed, mode, make_env=recorded_env)
    (recorder,) = recorders
    recorder.finish()
    if len(recorder.episodes) != episodes:
        raise RuntimeError(f"recorded {len(recorder.episodes)} episodes of {episodes} (NaN retries?)")
    return summary, recorder


def measure(policy, episodes: int, seed: int, mode: str = "train") -> dict:
    """The figures of ``episodes`` episodes of ``policy`` in ``mode`` (music.evaluate's; train: exploring)."""
    summary, recorder = recorded_run(policy, episodes, seed, mode)
    result = {"episodes": episodes, "seed": seed, "object_displacement": summary["object_displacement_mean"],
              "object_lifted_evaluate": summary["object_lifted"], **recorded_figures(recorder)}
    if policy.mine is not None:
        result["mi_reward_by_kind"] = mi_reward_by_kind(policy, recorder)
    return result


def episode_kind(figures: dict[str, float]) -> str:
    """The furthest an episode got: grasped, pinched, touched or untouched."""
    return next((name for name in ("grasped", "pinched", "touched") if figures[name]), "untouched")


def mi_reward_by_kind(policy, recorder: ContactRecorder) -> dict[str, dict]:
    """The episodes' mean MI reward (``music.evaluate.episode_mi_reward``, the policy's own MINE) for
    each kind of episode: does the reward the critic sees favour the grasps?"""
    from music.evaluate import episode_mi_reward

    by_kind: dict[str, list[float]] = {}
    for steps, start, observations in zip(recorder.episodes, recorder.starts, recorder.observations, strict=True):
        kind = episode_kind(episode_figures(steps, start))
        by_kind.setdefault(kind, []).append(episode_mi_reward(policy, observations))
    return {kind: {"episodes": len(values), "mi_reward_mean": float(np.mean(values))}
            for kind, values in sorted(by_kind.items())}


def policy_file(run: Path, epoch: int) -> Path | None:
    """The kept policy of ``epoch``: ``policy_<epoch>.npz`` of a run folder, else the
    ``policy_<epoch>_weight.npz`` of a committed export (its params.json beside it)."""
    for path in (run / f"policy_{epoch}.npz", run / f"policy_{epoch}_weight.npz"):
        if path.is_file():
            return path
    return None


def kept_mine(run: Path, epoch: int | None):
    """(epoch, policy file, loaded policy) of the run's kept policy of ``epoch`` (None: the newest),
    refused in one line if the run does not keep it or it has no MINE."""
    from music.save_weight import load_policy

    kept = kept_epochs(run)
    epoch = epoch if epoch is not None else (kept[-1] if kept else None)
    path = None if epoch is None else policy_file(run, epoch)
    if path is None:
        raise SystemExit(f"{run} has no policy for epoch {epoch}; it keeps {kept or 'none'}")
    policy = load_policy(path)
    if policy.mine is None:
        raise SystemExit(f"{path} has no MINE: give a MUSIC run")
    return epoch, path, policy


def kept_epochs(run: Path) -> list[int]:
    found = (re.fullmatch(r"policy_(\d+)(_weight)?\.npz", path.name) for path in run.glob("policy_*.npz"))
    return sorted({int(match.group(1)) for match in found if match})


def default_run() -> Path:
    """The paper campaign's seed 0: its run folder, finished or partial, else its committed export."""
    from music.campaign import default_root

    base = default_root("paper") / "runs" / "paper" / "FetchPickAndPlace-v1" / "SAC+MUSIC" / "seed0"
    export = REPO / "experiments" / "results" / "paper" / "FetchPickAndPlace-v1" / "SAC+MUSIC" / "seed0"
    return next((path for path in (base, base.with_name("seed0.partial"), export) if path.is_dir()), base)


def rows_of_these_weights(rows: list[dict], held: dict[str, str]) -> tuple[dict[str, dict], list[str]]:
    """The earlier rows (by policy name) that measured the run whose policies are here, and a line
    for each one dropped. ``held``: policy name -> weights digest of what the folder holds now.

    A run trained again from the start (its folder lost with a machine) writes new policy files
    under the old names, and a committed export holds only some epochs of a run. A row is kept if
    it measured the weights held now; a row of a policy not held now is kept only if the earlier
    rows are of this same run: some held policy has the weights its row measured, and none has
    other ones (training is deterministic, so the same bits at one epoch are the same run). So one
    file never mixes measurements of two runs."""
    verdicts = {}
    for row in rows:
        name, recorded = row["policy"], row.get("weights_sha256")
        now = held.get(name)
        verdicts[name] = ("kept" if name == "scripted pick" or (now is not None and recorded == now) else
                          "not held" if now is None else "no digest" if recorded is None else "other weights")
    same_run = "kept" in (verdicts[row["policy"]] for row in rows if row["policy"] in held) and \
        "other weights" not in verdicts.values()
    reasons = {"other weights": "it measured other weights than the run folder's (a run trained again?)",
               "no digest": "no weights digest was recorded with it; measure it again",
               "not held": "the run folder holds no such policy now, and no policy it holds shows the "
                           "earlier rows to be of this run"}
    kept, dropped = {}, []
    for row in rows:
        verdict = verdicts[row["policy"]]
        if verdict == "kept" or (verdict == "not held" and same_run and row.get("weights_sha256")):
            kept[row["policy"]] = row
        else:
            dropped.append(f"{row['policy']}: {reasons[verdict]}")
    return kept, dropped


def main(argv: list[str] | None = None) -> int:
    from music.experiment import weights_digest
    from music.policy_files import agent_of_run, policy_weights_sha256
    from music.save_weight import load_policy

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, default=None, help="the run folder (default: the paper campaign's seed 0, "
                                                          "finished or partial)")
    p.add_argument("--epochs", nargs="+", type=int, default=None, help="default: every policy_<epoch>.npz kept")
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--seed", type=int, default=0, help="the exploration's seed (the same for every policy)")
    p.add_argument("--untrained", action="store_true", help="measure the run's fresh agent first")
    p.add_argument("--scripted", action="store_true", help="measure a scripted pick first (what the simulator allows)")
    p.add_argument("--mode", choices=["train", "play"], default="train",
                   help="train: exploring, as training (default); play: greedy, zero goals (the original's play.py)")
    p.add_argument("--out", type=Path, default=None,
                   help="default experiments/results/paper_eval/grasp.json (train), grasp_play.json (play)")
    p.add_argument("--again", action="store_true",
                   help="measure every policy, also those whose rows were measured with the same weights and seed")
    args = p.parse_args(argv)
    args.out = args.out or REPO / "experiments" / "results" / "paper_eval" / (
        "grasp.json" if args.mode == "train" else f"grasp_{args.mode}.json")
    args.run = args.run or default_run()
    if not (args.run / "params.json").is_file():
        raise SystemExit(f"{args.run} is not a run folder (no params.json); give --run")
    epochs = args.epochs if args.epochs is not None else kept_epochs(args.run)
    missing = [e for e in epochs if policy_file(args.run, e) is None]
    if missing:
        raise SystemExit(f"{args.run} has no policy_<epoch>.npz (nor an exported policy_<epoch>_weight.npz) for "
                         f"epochs {missing}; it keeps {kept_epochs(args.run)}")
    policies = ([("scripted pick", None)] if args.scripted else []) + ([("untrained", None)] if args.untrained else [])
    policies += [(f"epoch {e}", e) for e in epochs]
    previous = json.loads(args.out.read_text()) if args.out.is_file() else {}
    # rows of another mode or grasp definition measured something else: none is kept
    same_measure = (previous.get("mode", args.mode), previous.get("grasp_rise", GRASP_RISE)) == (args.mode, GRASP_RISE)
    previous_rows = [row for row in previous.get("rows", []) if same_measure and row.get("episodes") == args.episodes]
    held = {f"epoch {e}": policy_weights_sha256(policy_file(args.run, e)) for e in kept_epochs(args.run)}
    if args.untrained or any(row["policy"] == "untrained" for row in previous_rows):
        held["untrained"] = weights_digest(agent_of_run(args.run / "params.json"))
    rows, dropped = rows_of_these_weights(previous_rows, held)
    for line in dropped:
        print(f"{args.out.name}: dropped {line}", flush=True)
    reusable = {} if args.again else {name: row for name, row in rows.items() if row.get("seed") == args.seed}
    for name, epoch in policies:
        if name in reusable:  # rows_of_these_weights kept only rows of the weights held now
            # the same weights, seed and episodes give the same episodes: the gate after a run
            # measures only the epochs that no session measured while it trained
            print(f"{name}: measured before (the same weights, seed and episodes); --again measures it again",
                  flush=True)
            continue
        if name == "scripted pick":
            row = {"policy": name, "epoch": None, **measure_scripted(args.episodes, args.seed)}
        else:
            policy = (agent_of_run(args.run / "params.json") if epoch is None  # the weights training started from
                      else load_policy(policy_file(args.run, epoch)))
            row = {"policy": name, "epoch": epoch, "weights_sha256": weights_digest(policy),
                   **measure(policy, args.episodes, args.seed, args.mode)}
        rows[name] = row
        write_rows(args.out, args.run.name, args.mode, rows)  # a stopped measurement keeps what it measured
        print(f"{name}: touched {row['touched']['count']}, pinched {row['pinched']['count']}, grasped "
              f"{row['grasped']['count']}, lifted 5 cm {row['lifted']['count']} of {args.episodes}; grasped "
              f"{row['grasped_steps_mean']:.2f} steps per episode"
              + (f"; displacement {row['object_displacement']:.3f} m" if "object_displacement" in row else "")
              + "".join(f"; MI reward {kind} {v['mi_reward_mean']:.3f} ({v['episodes']})"
                        for kind, v in row.get("mi_reward_by_kind", {}).items()), flush=True)
    write_rows(args.out, args.run.name, args.mode, rows)
    return 0


def write_rows(out: Path, run_name: str, mode: str, rows: dict[str, dict]) -> None:
    """The measurement file, rows in order (scripted, untrained, epochs), replaced whole: a
    measurement ended at any moment leaves the file before or after, never half of it."""
    from music.files import atomic_write_text

    first = {"scripted pick": -2, "untrained": -1}
    ordered = sorted(rows.values(), key=lambda row: first[row["policy"]] if row["epoch"] is None else row["epoch"])
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps({"run": run_name, "mode": mode, "grasp_rise": GRASP_RISE, "rows": ordered},
                                      indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
