"""What an -f run starts from: the MUSIC policy it loads, measured as -f loads it, before any update.

    .venv/bin/python experiments/finetune_start.py [--results experiments/results/medium]
        [--task FetchPush-v1] [--episodes 100]

SAC+MUSIC-f fine-tunes the MUSIC policy of its seed with task reward. Its params file says
which epoch it loads, and ``music.config.pretrained_scopes`` what: as in the authors' code,
actor and critic (``main``, ``target``) and the MINE, but not the observation normalizers
(``o_stats``, ``g_stats``) unless ``finetune_normalizers``; and it samples goals from the
env where MUSIC used the Zero goal. For every seed whose MUSIC weights of that epoch were
exported (``<results>/<task>/SAC+MUSIC/seed<k>/policy_<epoch>_weight.npz``), this measures,
with ``experiments/measure_untrained.py`` (``--episodes`` episodes in train and in test
mode, the env seeded with the seed, MI scored by the MUSIC run's MINE):

- ``as trained``: the MUSIC agent (Zero goals in train mode), everything loaded;
- ``with -f's goals``: the -f agent (Env goals), everything loaded;
- ``as -f starts``: the -f agent with what it loads (the params' ``finetune_normalizers``);
- ``untrained, -f's goals``: the -f agent with fresh weights, the level to compare with.

Writes ``<results>_eval/<task>/SAC+MUSIC-f/start.json`` (read by
``experiments/report_task_reward.py``) and prints the train-mode displacements.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))
from evaluate_campaign import measure_with_script  # noqa: E402

from music.config import ParamsError, load_params_file, params_file, pretrained_scopes  # noqa: E402

MUSIC, FINETUNE = "SAC+MUSIC", "SAC+MUSIC-f"
EVERYTHING = ["o_stats", "g_stats", "main", "target"]  # all measure_untrained.py can take from a policy


def loaded_epoch(load_weight, seed: int) -> int | None:
    """The epoch of the MUSIC policy the -f params load for ``seed`` (None: the latest)."""
    value = load_weight[seed] if isinstance(load_weight, list) else load_weight
    match = re.fullmatch(r"policy_(\d+)\.pkl", Path(value).name) if value else None
    return int(match.group(1)) if match else None


def weights_of(folder: Path, epoch: int | None) -> Path | None:
    """The exported weights of ``epoch`` in a MUSIC run's export folder (the highest epoch for None)."""
    numbered = {int(m.group(1)): f for f in folder.glob("policy_*_weight.npz")
                if (m := re.fullmatch(r"policy_(\d+)_weight\.npz", f.name))}
    if epoch is None:
        return numbered[max(numbered)] if numbered else None
    return numbered.get(epoch)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=REPO / "experiments" / "results" / "medium")
    p.add_argument("--task", default="FetchPush-v1")
    p.add_argument("--episodes", type=int, default=100)
    args = p.parse_args(argv)
    try:
        finetune = load_params_file(params_file(args.task, FINETUNE))
    except ParamsError as err:
        print(f"finetune_start: error: {err}", file=sys.stderr)
        return 2
    # state_mi comes with --mine; the rest as the -f agent loads it
    starts = [s for s in pretrained_scopes(True, finetune.get("finetune_normalizers", False)) if s != "state_mi"]
    conditions = {"as trained": (MUSIC, EVERYTHING), "with -f's goals": (FINETUNE, EVERYTHING),
                  "as -f starts": (FINETUNE, starts), "untrained, -f's goals": (FINETUNE, None)}
    seeds, missing = {}, []
    for folder in sorted((args.results / args.task / MUSIC).glob("seed*")):
        if not folder.name.removeprefix("seed").isdigit():
            continue
        seed = int(folder.name.removeprefix("seed"))
        weights = weights_of(folder, loaded_epoch(finetune.get("load_weight"), seed))
        if weights is None:
            missing.append(folder.name)
            continue
        seeds[seed] = {"weights": str(weights.relative_to(REPO) if weights.is_relative_to(REPO) else weights)}
        for name, (variant, load) in conditions.items():
            options = ["--policy", str(weights), "--load", *load] if load else []
            seeds[seed][name] = measure_with_script(args.task, variant, seed, args.episodes, *options, "--mine",
                                                    str(weights))
            print(f"{args.task} seed {seed}, {name}: train-mode displacement "
                  f"{seeds[seed][name]['train']['object_displacement']:.4f} m", flush=True)
    if not seeds:
        print(f"finetune_start: error: no exported MUSIC weights of the epoch -f loads under "
              f"{args.results / args.task / MUSIC} (seed<k>/policy_<epoch>_weight.npz); run the campaign's "
              "pretraining stage first", file=sys.stderr)
        return 2
    dest = args.results.with_name(args.results.name + "_eval") / args.task / FINETUNE / "start.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    described = {name: {"variant": variant, "loaded": load or []} for name, (variant, load) in conditions.items()}
    dest.write_text(json.dumps({"task": args.task, "episodes": args.episodes, "seeds_without_weights": missing,
                                "conditions": described, "seeds": seeds}, indent=1) + "\n")
    print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
