"""Paper-style figures from run folders: ``python -m music.plot RUN_DIRS... --metric test/success_rate``.

One panel per task, one line per variant (and worker count: MPI ranks x virtual workers
per rank): the mean over runs (seeds) with a shaded band of one standard deviation, against
the epoch, the number of episodes (all workers) or the agent's optimizer steps (``--x
steps``), the worker counts in the title. Writes PNG and PDF. ``--skills POLICY`` instead
runs a skill policy and draws where each skill leaves the object, one colour a skill.
"""

from __future__ import annotations

import csv
import json
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from music.checkpoint_pack import FILES as PACK_FILES
from music.checkpoint_pack import PACK_JSON
from music.cli import fail, parser


@dataclass
class Run:
    folder: Path
    task: str
    variant: str
    seed: int
    workers: int  # MPI ranks x virtual workers per rank (params.json's total_workers)
    columns: dict[str, np.ndarray]  # progress.csv, one array per column (NaN where empty)
    steps_per_epoch: int = 0  # optimizer steps of the agent per epoch: n_cycles x n_batches


def find_run_folders(paths: list[str]) -> list[Path]:
    """Run folders (holding progress.csv and params.json) at or below the given paths; not a
    half-way run (``.partial``), nor the copy of a run's files in its checkpoint pack (the pack's
    ``files/``, beside its pack.json: it would count the run twice)."""
    folders = []
    for path in map(Path, paths):
        if (path / "progress.csv").exists():
            folders.append(path)
        elif path.is_dir():
            folders += sorted(p.parent for p in path.rglob("progress.csv")
                              if (p.parent / "params.json").exists() and not p.parent.name.endswith(".partial")
                              and not (p.parent.name == PACK_FILES and (p.parent.parent / PACK_JSON).exists()))
    return folders


def load_run(folder: Path) -> Run:
    params = json.loads((folder / "params.json").read_text())
    with open(folder / "progress.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    columns = {}
    for key in rows[0] if rows else []:
        values = []
        for row in rows:
            try:
                values.append(float(row[key]))
            except (TypeError, ValueError):
                values.append(np.nan)
        columns[key] = np.asarray(values)
    return Run(folder, params["env_name"], params.get("note") or "default", int(params.get("seed", 0)),
               int(params.get("total_workers", params.get("num_cpu", 1))), columns,
               int(params.get("n_cycles", 0)) * int(params.get("n_batches", 0)))


def x_values(run: Run, x: str) -> np.ndarray:
    if x == "epoch":
        return run.columns["epoch"]
    if x == "episodes":  # train/episode is per rank or virtual worker (averaged over them)
        return run.columns["train/episode"] * run.workers
    if x == "steps":  # gradients are summed over ranks: one optimizer step per batch, whatever the ranks
        if not run.steps_per_epoch:
            raise ValueError(f"{run.folder}/params.json lacks n_cycles or n_batches: cannot count optimizer steps")
        return (run.columns["epoch"] + 1) * run.steps_per_epoch
    raise ValueError(f"unknown x axis {x!r}; use epoch, episodes or steps")


def aggregate(runs: list[Run], metric: str, x: str):
    """(x, mean, std, n_seeds) over runs, truncated to the shortest run."""
    length = min(len(r.columns[metric]) for r in runs)
    ys = np.stack([r.columns[metric][:length] for r in runs])
    return x_values(runs[0], x)[:length], ys.mean(axis=0), ys.std(axis=0), len(runs)


# Variants with identical curves would hide each other: each gets its own line style and
# marker, and larger markers are drawn first so that every one stays visible.
STYLES = [("-", "o", 7), ("--", "s", 6), (":", "^", 5), ("-.", "D", 4), ("-", "v", 3), ("--", "x", 3)]


def metric_label(metric: str) -> str:
    """The y label with its unit."""
    if "displacement" in metric or "lift" in metric:
        return f"{metric} (m)"
    if "success_rate" in metric:
        return f"{metric} (fraction of episodes)"
    if metric.startswith("time/"):
        return f"{metric} (s)"
    return metric


def save_reproducibly(fig, out: Path) -> list[Path]:
    """out.png and out.pdf, byte for byte the same for the same figure (no creation date)."""
    paths = [out.with_suffix(".png"), out.with_suffix(".pdf")]
    fig.savefig(paths[0], dpi=120, metadata={"Software": None})
    fig.savefig(paths[1], metadata={"CreationDate": None, "Producer": None, "Creator": None})
    return paths


def reference_levels(task: str, chance: dict[str, float] | None = None,
                     untrained: dict[str, float] | None = None) -> list[tuple[float, str, str]]:
    """The horizontal lines of ``task``'s panel: (value, legend label, line style)."""
    levels = []
    if chance and task in chance:
        levels.append((chance[task], f"chance (untrained): {chance[task]:.3g}", ":"))
    if untrained and task in untrained:
        levels.append((untrained[task], f"untrained policy: {untrained[task]:.3g}", "-."))
    return levels


def plot_metric(runs: list[Run], metric: str, x: str, out: Path, title: str | None = None,
                chance: dict[str, float] | None = None, untrained: dict[str, float] | None = None) -> list[Path]:
    """Draw ``metric`` of ``runs`` (mean +- std over seeds); writes out.png and out.pdf.

    ``chance`` {task: value} draws the chance level (e.g. an untrained policy's success rate),
    ``untrained`` {task: value} the level of an untrained policy on any other metric.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    missing = sorted({str(r.folder) for r in runs if metric not in r.columns})
    if missing:
        raise ValueError(f"metric {metric!r} is not a column of {missing[0]}/progress.csv")
    tasks = sorted({r.task for r in runs})
    variants = sorted({r.variant for r in runs})
    colours = {v: plt.get_cmap("tab10")(i % 10) for i, v in enumerate(variants)}
    styles = {v: STYLES[i % len(STYLES)] for i, v in enumerate(variants)}
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        workers = sorted({r.workers for r in runs if r.task == task})
        for variant in variants:
            for n_workers in workers:
                # runs with different worker counts are never averaged together
                group = [r for r in runs if r.task == task and r.variant == variant and r.workers == n_workers]
                if not group:
                    continue
                xs, mean, std, n = aggregate(group, metric, x)
                label = variant + (f", {n_workers} workers" if len(workers) > 1 else "") + f" ({n} run{'s' * (n > 1)})"
                line, marker, size = styles[variant]
                if n_workers != workers[-1]:
                    line = "--"
                ax.plot(xs, mean, linestyle=line, color=colours[variant], label=label, marker=marker,
                        markersize=size, markerfacecolor="none", linewidth=1.4)
                ax.fill_between(xs, mean - std, mean + std, color=colours[variant], alpha=0.15)
        for value, label, line in reference_levels(task, chance, untrained):
            ax.axhline(value, color="0.4", linestyle=line, linewidth=1.2, label=label)
        ax.set_title(f"{task} ({'/'.join(map(str, workers))} worker{'s' if workers != [1] else ''})")
        ax.set_xlabel({"epoch": "epoch", "episodes": "episodes (all workers)", "steps": "optimizer steps"}[x])
        # at most 6 labels: five-digit episode counts ran into each other on a 5-inch panel
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        ax.set_ylabel(metric_label(metric))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:  # wrapped to the figure's width (about 55 characters per panel), else it is cut off
        fig.suptitle(textwrap.fill(title, width=55 * len(tasks)), fontsize="medium")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = save_reproducibly(fig, out)
    plt.close(fig)
    return paths


def skill_final_positions(policy_file: Path, n_rollouts: int, seed: int = 0) -> dict[int, np.ndarray]:
    """Final object positions (n_rollouts, 3) reached by each skill of a policy (greedy, Zero goals)."""
    from music.envs import make_env, take
    from music.rollout import RolloutWorker
    from music.save_weight import load_policy

    policy = load_policy(policy_file)
    env_name = policy.env_name
    if policy.split is None:
        raise ValueError(f"{env_name} has no object whose positions could be drawn")
    dims = dict(policy.input_dims)
    worker = RolloutWorker(lambda: make_env(env_name), policy, dims, T=policy.T, rollout_batch_size=1,
                           exploit=True, env_name=env_name)
    worker.seed(seed)
    goal = np.zeros((1, dims["g"])) if policy.params.goal_generation == "Zero" else None
    out = {}
    for z in range(policy.dimz):
        finals = [take(worker.generate_rollouts(goal, np.eye(policy.dimz)[[z]])["o"][0, -1], policy.split.surrounding)
                  for _ in range(n_rollouts)]
        out[z] = np.asarray(finals)
    return out


def plot_skills(positions: dict[int, np.ndarray], out: Path, title: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for z, finals in positions.items():
        colour = plt.get_cmap("tab10")(z % 10)
        axes[0].scatter(finals[:, 0], finals[:, 1], color=colour, label=f"skill {z}", s=18)
        axes[1].scatter(finals[:, 0], finals[:, 2], color=colour, s=18)
    axes[0].set_xlabel("object x (m)")
    axes[0].set_ylabel("object y (m)")
    axes[1].set_xlabel("object x (m)")
    axes[1].set_ylabel("object height z (m)")
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    paths = save_reproducibly(fig, out)
    plt.close(fig)
    return paths


def task_values(flag: str, items: list[str]) -> dict[str, float]:
    """{task: value} of repeated ``flag TASK=VALUE`` options; ValueError names the bad one."""
    values = {}
    for item in items:
        task, _, value = item.partition("=")
        try:
            values[task] = float(value)
        except ValueError:
            raise ValueError(f"{flag} {item!r}: expected TASK=VALUE, e.g. FetchPush-v1=0.064") from None
    return values


def main(argv: list[str] | None = None) -> int:
    p = parser("python -m music.plot", __doc__.split("\n\n")[0])
    p.add_argument("paths", nargs="*", help="run folders, or folders to search for runs")
    p.add_argument("--metric", default="test/success_rate", help="a progress.csv column")
    p.add_argument("--x", choices=["epoch", "episodes", "steps"], default="epoch",
                   help="steps: the agent's optimizer steps, (epoch + 1) x n_cycles x n_batches")
    p.add_argument("--variants", nargs="+", help="only these variants (notes)")
    p.add_argument("--out", default=None,
                   help="output path without extension (.png and .pdf); default: <first folder>/<metric>")
    p.add_argument("--chance", action="append", default=[], metavar="TASK=VALUE",
                   help="draw a chance level on TASK's panel (repeatable)")
    p.add_argument("--untrained", action="append", default=[], metavar="TASK=VALUE",
                   help="draw an untrained policy's level on TASK's panel (repeatable)")
    p.add_argument("--title", default=None, help="a title above the figure")
    p.add_argument("--skills", default=None, metavar="POLICY", help="draw final object positions per skill")
    p.add_argument("--n_rollouts", type=int, default=10, help="episodes per skill with --skills")
    args = p.parse_args(argv)
    try:
        chance, untrained = task_values("--chance", args.chance), task_values("--untrained", args.untrained)
        if args.skills:
            positions = skill_final_positions(Path(args.skills), args.n_rollouts)
            out = Path(args.out) if args.out else Path(args.skills).with_name(Path(args.skills).stem + "_skills")
            paths = plot_skills(positions, out, args.title or f"final object positions: {args.skills}")
        else:
            folders = find_run_folders(args.paths)
            if not folders:
                raise ValueError(f"no run folders (with progress.csv and params.json) under {args.paths}")
            runs = [load_run(f) for f in folders]
            if args.variants:
                runs = [r for r in runs if r.variant in args.variants]
                if not runs:
                    raise ValueError(f"none of the runs is of variants {args.variants}")
            out = Path(args.out) if args.out else Path(args.paths[0]) / args.metric.replace("/", "_")
            paths = plot_metric(runs, args.metric, args.x, out, args.title, chance, untrained)
    except (ValueError, OSError) as err:
        return fail("music.plot", err)
    print("wrote", " ".join(map(str, paths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
