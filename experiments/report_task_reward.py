"""Write experiments/RESULTS.md and its figures from a sweep's or campaign's committed files.

    python experiments/report_task_reward.py      # the medium campaign: experiments/RESULTS.md, figures/medium
    python experiments/report_task_reward.py --results experiments/results/task_reward \
        --out experiments/RESULTS_small.md --figures experiments/figures          # the small sweep
    python experiments/report_task_reward.py --results DIR --out RESULTS.md --figures FIGDIR [--eval DIR]

Every figure is drawn by ``python -m music.plot`` with the command printed in RESULTS.md;
every number comes from the runs' progress.csv and sweep.json, and the object motion of the
MUSIC runs against their untrained policies from motion_*.csv files in the run folders
(``experiments/measure_object_motion.sh``, the small sweep) or from ``--eval``'s
``<task>/<variant>/seed<k>/motion.json`` (``experiments/evaluate_campaign.py``, the campaign;
default: ``<results>_eval`` beside the results). Nothing here trains or measures anything.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import os
import shlex
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from music import plot  # noqa: E402
from music.campaign import CAMPAIGNS  # noqa: E402

TASK_VARIANTS = ["SAC", "SAC+MUSIC-r", "SAC+MUSIC-p", "SAC+MUSIC-f"]
INTRINSIC = "SAC+MUSIC"

# The paper's statements we test, in our words, with where they are in the paper (ICLR 2021, OthEq8I5v1).
PAPER_INTRINSIC = ("Without any task reward, the MUSIC agent learns to push the object and, on PickAndPlace, to "
                   "pick it up and lift it (\"able to complete the pick-and-place task for the first time without "
                   "using any task reward\", abstract); 16 workers, 50 epochs, 5 seeds.")
PAPER_TASK = ("With task reward, MUSIC-r (MI as an extra reward), -p (MI-prioritized replay) and -f (fine-tuning "
              "a MUSIC policy) learn faster and end higher than SAC alone on Push, PickAndPlace and Slide "
              "(experiments section); 16 workers, 50 epochs, 5 seeds.")


def rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def mean_std(values, spec: str = ".3g") -> str:
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return "-"
    return f"{values.mean():{spec}} ± {values.std():{spec if spec != '.3g' else '.2g'}}"


def ratio(trained: float, untrained: float) -> str:
    # below a millimetre the untrained figure is simulator noise and a ratio means nothing
    return f"{trained / untrained:.1f}x" if untrained >= 1e-3 else "ratio n/a: untrained < 1 mm"


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


MOTION_COLUMNS = ("success_rate", "object_displacement", "object_lift", "mi_reward_mean")
# Measured by newer versions of the evaluation only: read where present.
OPTIONAL_MOTION_COLUMNS = ("object_lifted", "object_fell")


def motion_row(row: dict) -> dict[str, float]:
    return {c: float(row[c]) for c in (*MOTION_COLUMNS, *OPTIONAL_MOTION_COLUMNS) if row.get(c) not in (None, "")}


def load_motion(run: plot.Run, eval_root: Path | None) -> dict[tuple[str, str], dict[str, float]]:
    """{(mode, "trained" | "untrained"): {column: value}} of a MUSIC run, from its motion_*.csv or
    else from ``eval_root/<task>/<variant>/seed<k>/motion.json``; empty if measured by neither."""
    motion = {}
    for kind in ("untrained", "trained"):
        path = run.folder / f"motion_{kind}.csv"
        if path.exists():
            for row in read_csv(path):
                motion[(row["mode"], kind)] = motion_row(row)
    if motion or eval_root is None:
        return motion
    path = eval_root / run.task / run.variant / f"seed{run.seed}" / "motion.json"
    if path.exists():
        data = json.loads(path.read_text())
        for kind in ("untrained", "trained"):
            for mode, row in data.get(kind, {}).items():
                motion[(mode, kind)] = motion_row(row)
    return motion


# Epochs averaged by the smoothed episodes-to-threshold measure: 5 x 20 = 100 test episodes at 2 ranks.
WINDOW = 5


def episodes_to_reach(run: plot.Run, threshold: float, window: int = 1) -> float:
    """Training episodes (all ranks) until test/success_rate, averaged over the last ``window``
    epochs, first reaches ``threshold``; inf if never."""
    success = run.columns["test/success_rate"]
    if success.size < window:
        return float("inf")
    mean = np.convolve(success, np.ones(window) / window, mode="valid")  # mean[i]: epochs i .. i + window - 1
    reached = np.flatnonzero(mean >= threshold - 1e-9)
    return float(plot.x_values(run, "episodes")[reached[0] + window - 1]) if reached.size else float("inf")


def test_episodes_per_epoch(run: plot.Run) -> int:
    """Test episodes behind one test/success_rate value: n_test_rollouts on every rank."""
    params = json.loads((run.folder / "params.json").read_text())
    return int(params.get("n_test_rollouts", 10)) * run.ranks


def chance_to_reach(p: float, n: int, threshold: float) -> float:
    """P(a success rate of n episodes, each a success with probability p, is at least ``threshold``)."""
    k_min = math.ceil(threshold * n - 1e-9)
    return float(sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(k_min, n + 1)))


def luck(p: float, n: int, epochs: int, thresholds: list[float], runs: int = 100_000) -> str:
    """How often a policy at the chance level ``p`` reaches each threshold by luck within a run, in words.

    One epoch: exact binomial; a run's epochs and its overlapping WINDOW-epoch means: ``runs``
    simulated runs (fixed seed, so the text is the same each time).
    """
    rng = np.random.default_rng(0)
    rates = rng.binomial(n, p, size=(runs, epochs)) / n
    means = (np.lib.stride_tricks.sliding_window_view(rates, WINDOW, axis=1).mean(axis=-1) if epochs >= WINDOW
             else np.zeros((runs, 0)))
    parts = []
    for t in thresholds:
        any_epoch = np.mean(np.any(rates >= t - 1e-9, axis=1))
        any_window = np.mean(np.any(means >= t - 1e-9, axis=1))
        parts.append(f"{t} with probability {chance_to_reach(p, n, t):.3f} in one epoch, {any_epoch:.2f} in some "
                     f"epoch of {epochs} and {any_window:.3f} as the mean of some {WINDOW} epochs in a row")
    return (f"A policy at that level, scored on {n} test episodes an epoch, reaches {'; '.join(parts)} "
            f"({runs:,} simulated runs).")


def figure(argv: list[str], out_md: Path, alt: str) -> list[str]:
    """Draw one figure with music.plot; markdown lines showing it with the command that drew it."""
    if plot.main(argv) != 0:
        raise SystemExit(f"music.plot failed: {argv}")
    png = Path(argv[argv.index("--out") + 1]).with_suffix(".png")
    link = os.path.relpath(ROOT / png, out_md.resolve().parent)
    command = ".venv/bin/python -m music.plot " + " ".join(shlex.quote(a) for a in argv)
    return [f"![{alt}]({link})", "", f"`{command}`", ""]


def clips(videos: Path, out_md: Path) -> list[str]:
    """Markdown showing each clip of experiments/policy_clip.py in ``videos`` with what its JSON says."""
    lines = []
    for meta_path in sorted(videos.glob("*.json")):
        meta = json.loads(meta_path.read_text())
        clip = meta_path.with_suffix(".gif")
        if not clip.exists():
            continue
        link = os.path.relpath(clip.resolve(), out_md.resolve().parent)
        moved = ", ".join(f"{m:.2f}" for m in meta["object_moved"])
        lines += [f"![{meta_path.stem}]({link})", "",
                  f"`{meta_path.stem}`: the first {meta['episodes']} {meta['mode']}-mode episodes of the final policy "
                  f"from seed {meta['seed']}, none left out; the object moved {moved} m "
                  "(`experiments/policy_clip.py`).", ""]
    return lines


def compare_to_sac(values: dict[str, np.ndarray], better: str) -> list[str]:
    """Each variant against SAC: better or worse by more than the seeds' spread, else indistinguishable.

    ``values`` maps a variant to one number per seed; ``better`` is "higher" or "lower".
    """
    if "SAC" not in values:
        return []
    base = values["SAC"]
    out = []
    for variant, v in values.items():
        if variant == "SAC":
            continue
        if not (np.all(np.isfinite(v)) and np.all(np.isfinite(base))):
            out.append(f"{variant}: not comparable (a run never reached it)")
            continue
        diff = v.mean() - base.mean()
        if min(v.size, base.size) < 2:  # one seed has no spread: a difference says nothing yet
            out.append(f"{variant}: {diff:+.3g} on one seed: no verdict before more seeds are in")
            continue
        spread = max(v.std(), base.std())
        if abs(diff) <= spread:
            verdict = f"within the seeds' spread ({diff:+.3g}, std {spread:.2g}): no difference shown"
        else:
            good = diff > 0 if better == "higher" else diff < 0
            verdict = f"{'better' if good else 'worse'} than SAC ({diff:+.3g}, std {spread:.2g})"
        out.append(f"{variant}: {verdict}")
    return out


def intrinsic_verdict(task: str, moved: bool, lifted: tuple[bool, float, float] | None) -> str:
    """Claim 1 on ``task`` from the train-mode comparisons: moving on every seed, and (PickAndPlace) lifting."""
    text = ("the trained policy moves the object more than the untrained one on every seed (agrees with the paper)"
            if moved else "not reproduced at this scale: the trained policy does not move the object more than "
            "the untrained one on every seed")
    if lifted is not None and "PickAndPlace" in task:  # the paper's lifting claim is PickAndPlace's
        every, t, u = lifted
        text += ("; it lifts the object 5 cm in more episodes than the untrained policy on every seed "
                 f"({t:.2f} vs {u:.2f} of the episodes; agrees with the paper)" if every else
                 "; lifting not reproduced at this scale: the trained policy does not lift the object 5 cm in more "
                 f"episodes than the untrained one on every seed ({t:.2f} vs {u:.2f})")
    return text


def still_to_run(jobs) -> str:
    """'FetchPush-v1 SAC seeds 1, 2; ...' in the campaign's order."""
    seeds: dict[tuple[str, str], list[int]] = {}
    for job in jobs:
        seeds.setdefault((job.task, job.variant), []).append(job.seed)
    return "; ".join(f"{task} {variant} seed{'s' * (len(k) > 1)} {', '.join(map(str, k))}"
                     for (task, variant), k in seeds.items())


def sweep_time(records: list[dict]) -> tuple[float, float]:
    """(sum of the runs' seconds, first start to last finish in seconds)."""
    ends = [datetime.datetime.fromisoformat(r["finished"]) for r in records]
    starts = [end - datetime.timedelta(seconds=r["seconds"]) for end, r in zip(ends, records, strict=True)]
    return sum(r["seconds"] for r in records), (max(ends) - min(starts)).total_seconds()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=ROOT / "experiments/results/medium")
    p.add_argument("--out", type=Path, default=ROOT / "experiments/RESULTS.md")
    p.add_argument("--figures", type=Path, default=ROOT / "experiments/figures/medium")
    p.add_argument("--thresholds", type=float, nargs="+", default=[0.1, 0.2],
                   help="test success rates for the episodes-to-reach comparison (fixed before the sweep)")
    p.add_argument("--eval", type=Path, default=None,
                   help="object motion files (motion.json) of the MUSIC runs; default <results>_eval if present")
    args = p.parse_args(argv)
    eval_root = args.eval or args.results.with_name(args.results.name + "_eval")
    eval_root = eval_root if eval_root.is_dir() else None

    folders = plot.find_run_folders([str(args.results)])
    if not folders:
        print(f"report: error: no finished runs under {args.results}", file=sys.stderr)
        return 2
    runs = [plot.load_run(f) for f in folders]
    records = [json.loads((f / "sweep.json").read_text()) for f in folders if (f / "sweep.json").exists()]
    tasks = sorted({r.task for r in runs})
    by = {(r.task, r.variant): sorted((x for x in runs if (x.task, x.variant) == (r.task, r.variant)),
                                      key=lambda x: x.seed) for r in runs}
    scales = sorted({(r["scale"], r["ranks"], r["n_epochs"], r["n_cycles"]) for r in records})
    seeds = sorted({r.seed for r in runs})
    total_s, span_s = sweep_time(records)
    headline: list[str] = []

    scale_names = sorted({r["scale"] for r in records}) or ["small"]
    # A campaign's results folder is named after it: what it plans and what is not in yet.
    campaign = CAMPAIGNS.get(args.results.name)
    planned = campaign.jobs(sorted(campaign.stages)) if campaign else []
    done = {(r.task, r.variant, r.seed) for r in runs}
    missing = [job for job in planned if job.key not in done]
    interim = f" (interim: {len(planned) - len(missing)} of {len(planned)} runs)" if missing else ""
    out: list[str] = [f"# Reproduction at {' and '.join(scale_names)} scale{interim}: MUSIC alone, and SAC with "
                      "-r/-p/-f", ""]
    out += [f"Generated by `.venv/bin/python {rel(Path(__file__))}` from the files under `{rel(args.results)}` "
            f"({datetime.date.today().isoformat()}). Do not edit by hand.", ""]
    if missing:
        out += [f"**Interim report.** {len(planned) - len(missing)} of the {campaign.name} campaign's "
                f"{len(planned)} runs are in; still to run: {still_to_run(missing)}. Every table, figure and "
                "verdict below is about the runs that are in.", ""]
    out += ["## Set-up", ""]
    for name, ranks, n_epochs, n_cycles in scales:
        episodes = n_epochs * n_cycles * 2 * ranks  # rollout_batch_size 2 in every params file used
        out.append(f"- scale `{name}`: {ranks} MPI ranks, {n_epochs} epochs of {n_cycles} cycles "
                   f"= {episodes} training episodes per run (the paper: 16 ranks x 50 epochs x 50 cycles x 2 "
                   f"= 80,000), seeds {seeds}, tasks {', '.join(tasks)}.")
    progress_log = "`sweep.log`" if eval_root is None else "the campaign's `campaign.log`, outside the clone,"
    out.append(f"- {len(records)} runs; sum of run times {total_s / 3600:.2f} h, first start to last finish "
               f"{span_s / 3600:.2f} h on a 2-core machine ({progress_log} has the runner's progress lines).")
    if eval_root is None:
        out += ["- Sweep: `.venv/bin/python experiments/task_reward.py --scale small` (trains the SAC+MUSIC "
                "pretraining run of each seed first; -r/-p/-f load its final policy). Object motion: "
                "`bash experiments/measure_object_motion.sh`."]
    else:
        commits = sorted({str(r.get("commit", "?"))[:7] for r in records})
        out += [f"- Campaign: `.venv/bin/python experiments/campaign_medium.py start` (a background runner "
                "across sessions; the SAC+MUSIC pretraining run of each seed first, -r/-p/-f load its final "
                f"weights), at commits {', '.join(commits)} (each run's sweep.json names its own). Object "
                f"motion: `.venv/bin/python experiments/evaluate_campaign.py` into `{rel(eval_root)}`."]
    out += [f"- This file: `.venv/bin/python {rel(Path(__file__))} --results {rel(args.results)} "
            f"--out {rel(args.out)} --figures {rel(args.figures)}`. Optimizer steps: the agent's critic and "
            "actor steps, (epoch + 1) x cycles x batches per cycle (gradients are summed over ranks: one step "
            "per batch).", ""]
    out += ["What a run costs here (wall time per epoch: the median over the run's epochs, so resumed and "
            "interrupted epochs do not count; wall time of the whole run from its sweep.json; the machine often "
            "did other work beside the runs), mean ± std over seeds:", "",
            "| task | variant | runs | s per epoch | h per run |", "|---|---|---|---|---|"]
    for (task, variant), group in sorted(by.items()):
        per_epoch = [np.nanmedian(r.columns["time/epoch"]) for r in group if "time/epoch" in r.columns]
        hours = [json.loads((r.folder / "sweep.json").read_text())["seconds"] / 3600 for r in group
                 if (r.folder / "sweep.json").exists()]
        out.append(f"| {task} | {variant} | {len(group)} | {mean_std(per_epoch, '.1f')} | {mean_std(hours, '.2f')} |")
    out.append("")

    # Claim 1: MUSIC alone moves (and lifts) the object.
    out += ["## 1. Does MUSIC alone (no task reward) make the robot move the object?", "",
            f"Paper: {PAPER_INTRINSIC}", "",
            "Ours: each seed's final SAC+MUSIC policy against the untrained policy it started from (same seed, "
            "fresh weights), 100 episodes per seed and mode, with `experiments/measure_untrained.py`. "
            "`train` mode is how MUSIC trains (exploration noise, zero goal), `test` is greedy. Displacement: "
            "distance between the object's first and last position (m); lift: the object's highest point "
            "above its start (m); lifted: the fraction of episodes whose object rises at least "
            "5 cm (a block that is pushed or tipped rises less than 2 cm); fell: the fraction that end with the "
            "object off the table; MI reward: clip(5000 MI, 0, 1) - 1 under the run's own trained MINE. "
            "Mean ± std over seeds; `-` where not measured.", ""]
    columns = {"object_displacement": ".4f", "object_lift": ".4f", "object_lifted": ".2f", "object_fell": ".2f",
               "mi_reward_mean": ".4f"}
    out += ["| task | mode | policy | seeds | " + " | ".join(columns) + " |",
            "|---|---|---|---|" + "---|" * len(columns)]
    motion: dict[tuple, dict[str, list[float]]] = {}
    motions = {run.folder: load_motion(run, eval_root) for run in runs if run.variant == INTRINSIC}
    for task in tasks:
        for run in by.get((task, INTRINSIC), []):
            for (mode, kind), row in sorted(motions[run.folder].items()):
                cell = motion.setdefault((task, mode, kind), {c: [] for c in columns})
                for c in columns:
                    if c in row:
                        cell[c].append(row[c])
    for (task, mode, kind), cell in sorted(motion.items()):
        out.append(f"| {task} | {mode} | {kind} | {len(cell['object_displacement'])} | "
                   + " | ".join(mean_std(cell[c], spec) for c, spec in columns.items()) + " |")
    if not motion:
        out.append("| (no object motion measured yet: experiments/measure_object_motion.sh or "
                   "experiments/evaluate_campaign.py) | | | | | | |")
    out.append("")
    verdicts = []
    moved_more = {}  # task -> trained displaced the object more than untrained on every seed (train mode)
    lifted_more = {}  # task -> (on every seed, trained lifted it in more episodes; trained mean; untrained mean)
    for task in tasks:
        for mode in ("train", "test"):
            trained, untrained = motion.get((task, mode, "trained")), motion.get((task, mode, "untrained"))
            if not trained or not untrained:
                continue
            for c, what in (("object_displacement", "displacement"), ("object_lift", "lift")):
                t, u = np.asarray(trained[c]), np.asarray(untrained[c])
                line = (f"{task}, {mode} mode, {what}: trained {t.mean():.4f} m vs untrained {u.mean():.4f} m "
                        f"({ratio(t.mean(), u.mean())}); trained > untrained in "
                        f"{int((t > u).sum())} of {len(t)} seeds")
                verdicts.append(f"- {line}")
                headline.append(line)
                if mode == "train" and c == "object_displacement":
                    moved_more[task] = bool(np.all(t > u))
            t, u = np.asarray(trained["object_lifted"]), np.asarray(untrained["object_lifted"])
            if t.size and t.size == u.size:
                line = (f"{task}, {mode} mode, lifted 5 cm: trained in {t.mean():.2f} of the episodes vs untrained "
                        f"{u.mean():.2f}; trained > untrained in {int((t > u).sum())} of {len(t)} seeds")
                verdicts.append(f"- {line}")
                headline.append(line)
                if mode == "train":
                    lifted_more[task] = (bool(np.all(t > u)), t.mean(), u.mean())
    out += verdicts + [""]
    out += clips(args.results.with_name(args.results.name + "_videos"), args.out)
    intrinsic_verdicts = {task: intrinsic_verdict(task, moved_more[task], lifted_more.get(task))
                          for task in tasks if task in moved_more}
    for task, text in intrinsic_verdicts.items():  # a paragraph each
        out += [f"**Verdict, {task}:** {text}.", ""]
    longer = ROOT / "experiments/runs/pipeline"
    pipeline_files = (longer / "trained_push_sac_music_10ep.csv", longer / "untrained_push_sac_music.csv")
    if eval_root is None and all(path.exists() for path in pipeline_files):
        trained = {r["mode"]: r for r in read_csv(longer / "trained_push_sac_music_10ep.csv")}
        untrained = {r["mode"]: r for r in read_csv(longer / "untrained_push_sac_music.csv")}
        t, u = (float(d["train"]["object_displacement"]) for d in (trained, untrained))
        out += ["For comparison, the one longer SAC+MUSIC run made so far (`experiments/runs/pipeline/"
                "push_sac_music_10ep`: FetchPush, 2 ranks, 10 epochs of 50 cycles = 2,000 training episodes, "
                "seed 0; commands in `run_checks.sh`), measured the same way (train mode, 100 episodes): "
                f"displacement {t:.4f} m vs {u:.4f} m untrained ({ratio(t, u)}).", ""]
    metrics = [("train/object_displacement", "intrinsic_displacement"), ("train/object_lift", "intrinsic_lift"),
               ("mi_reward/mean", "intrinsic_mi_reward")]
    axes = [("episodes", ""), ("steps", "_steps")] if eval_root is not None else [("episodes", "")]
    for metric, name in metrics if any(INTRINSIC == r.variant for r in runs) else []:
        # The untrained policy's train-mode level (same measure as the training logs); MI rewards are not
        # drawn: during training each epoch's MINE scores them, the untrained figure uses the final one.
        column = metric.removeprefix("train/")
        levels = [f"--untrained={task}={np.mean(cell[column]):.4f}"
                  for (task, mode, kind), cell in sorted(motion.items())
                  if mode == "train" and kind == "untrained" and column in columns and cell[column]]
        for x, suffix in axes:
            out += figure([str(rel(args.results)), "--variants", INTRINSIC, "--metric", metric, "--x", x,
                           "--out", f"{rel(args.figures)}/{name}{suffix}", *levels,
                           "--title", f"{INTRINSIC}, no task reward: {metric} during training"], args.out, metric)

    # Claim 2: with task reward, -r/-p/-f learn faster than SAC.
    out += ["## 2. With task reward: do -r, -p, -f reach a success rate in fewer episodes than SAC?", "",
            f"Paper: {PAPER_TASK}", "",
            "Ours: test/success_rate (10 test episodes per rank per epoch, greedy) at the last epoch, the final "
            "policy's test success measured again over 100 episodes per seed (`experiments/evaluate_campaign.py`, "
            "campaign only: 20 episodes of a last epoch leave ± 0.1 of noise), the mean of test/success_rate "
            "over all epochs (area under the learning curve), and the training episodes (all ranks) until a "
            f"run's test success first reaches {' / '.join(map(str, args.thresholds))} (thresholds fixed before "
            f"the small sweep; `never` if not within the run), in one epoch and as the mean of {WINDOW} epochs "
            "in a row (added when the medium campaign's first runs were in: with 20 test episodes an epoch, a "
            "policy that learned nothing reaches these thresholds in one epoch by luck, see the chance level "
            "below). Mean ± std over seeds; episodes are the mean over the seeds that reached it, with how many "
            "did.", ""]
    chance = {}
    for task in tasks:
        rows = [motions[r.folder][("test", "untrained")] for r in by.get((task, INTRINSIC), [])
                if ("test", "untrained") in motions[r.folder]]
        if rows:
            chance[task] = np.mean([row["success_rate"] for row in rows])
            source = "motion_untrained.csv" if eval_root is None else "motion.json"
            out.append(f"Chance level, {task}: an untrained policy's test success is {chance[task]:.3f} "
                       f"({len(rows)} x 100 episodes, {source}): goals that start within 5 cm of "
                       "the object count as successes without touching it.")
            group = [r for v in TASK_VARIANTS for r in by.get((task, v), [])]
            if group:
                out.append(luck(chance[task], test_episodes_per_epoch(group[0]),
                                len(group[0].columns["test/success_rate"]), args.thresholds))
    out.append("")
    # The final policies measured again over many test episodes (evaluate_campaign.py), where they were.
    final_eval = {r.folder: load_motion(r, eval_root).get(("test", "trained")) for r in runs
                  if r.variant in TASK_VARIANTS}
    header = ["task", "variant", "seeds", "final success", "final policy's success, 100 test episodes",
              "mean success over epochs", "train object displacement, mean over epochs (m)"]
    header += [f"episodes to {t}" for t in args.thresholds]
    header += [f"episodes to {t}, {WINDOW}-epoch mean" for t in args.thresholds]
    out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for task in tasks:
        for variant in TASK_VARIANTS:
            group = by.get((task, variant), [])
            if not group:
                continue
            final = [r.columns["test/success_rate"][-1] for r in group]
            area = [np.mean(r.columns["test/success_rate"]) for r in group]
            moved = [np.mean(r.columns["train/object_displacement"]) for r in group]
            remeasured = [final_eval[r.folder]["success_rate"] for r in group if final_eval[r.folder]]
            cells = [task, variant, str(len(group)), mean_std(final),
                     f"{mean_std(remeasured)} ({len(remeasured)} seed{'s' * (len(remeasured) > 1)})"
                     if remeasured else "-",
                     mean_std(area), mean_std(moved)]
            for window, t in [(1, t) for t in args.thresholds] + [(WINDOW, t) for t in args.thresholds]:
                eps = np.array([episodes_to_reach(r, t, window) for r in group])
                ok = eps[np.isfinite(eps)]
                cells.append(f"{ok.mean():.0f} ({ok.size}/{eps.size})" if ok.size else f"never (0/{eps.size})")
            out.append("| " + " | ".join(cells) + " |")
            headline.append(f"{task} {variant}: final test success {mean_std(final)}, "
                            f"mean over epochs {mean_std(area)} ({len(group)} seed{'s' * (len(group) > 1)})")
    out.append("")
    for task in tasks:
        # With the same seed, every variant sees the same test goals and object positions; a policy that
        # never moves the object scores the same successes, so equal numbers say "nothing learned yet".
        per_seed = [[r.columns["test/success_rate"] for v in TASK_VARIANTS for r in by.get((task, v), [])
                     if r.seed == seed] for seed in seeds]
        per_seed = [np.stack(curves) for curves in per_seed if len(curves) > 1]
        if per_seed:
            same = sum(int(np.sum(np.all(c == c[0], axis=0))) for c in per_seed)
            total = sum(c.shape[1] for c in per_seed)
            out.append(f"- {task}: in {same} of {total} (seed, epoch) pairs all variants have exactly the same "
                       "test success: the same test episodes (same seed) are solved by all, i.e. the ones whose "
                       "goal needs no object motion.")
    out.append("")
    better: dict[str, list[str]] = {}  # task -> "variant (measure)" better than SAC beyond the seeds' spread
    worse: dict[str, list[str]] = {}
    one_seed: set[str] = set()  # tasks where a comparison waits for more seeds
    for task in tasks:
        groups = {v: by[(task, v)] for v in TASK_VARIANTS if (task, v) in by}
        if not groups:  # no run with task reward on this task (yet)
            continue
        area = {v: np.array([np.mean(r.columns["test/success_rate"]) for r in g]) for v, g in groups.items()}
        lines = [f"- {task}, mean success over epochs: {line}" for line in compare_to_sac(area, "higher")]
        remeasured = {v: np.array([final_eval[r.folder]["success_rate"] for r in g]) for v, g in groups.items()
                      if all(final_eval[r.folder] for r in g)}
        lines += [f"- {task}, final policy's success over 100 test episodes: {line}"
                  for line in compare_to_sac(remeasured, "higher")]
        moved = {v: np.array([np.mean(r.columns["train/object_displacement"]) for r in g]) for v, g in groups.items()}
        lines += [f"- {task}, train object displacement: {line}" for line in compare_to_sac(moved, "higher")]
        for window, t in [(1, t) for t in args.thresholds] + [(WINDOW, t) for t in args.thresholds]:
            eps = {v: np.array([episodes_to_reach(r, t, window) for r in g]) for v, g in groups.items()}
            measure = f"episodes to {t}" + (f" ({window}-epoch mean)" if window > 1 else "")
            lines += [f"- {task}, {measure}: {line}" for line in compare_to_sac(eps, "lower")]
        out += lines
        headline += [line[2:] for line in lines]
        # lines read "- <task>, <measure>: <variant>: better than SAC (...)"
        for verdict, found in (("better", better), ("worse", worse)):
            found[task] = sorted(f"{line.split(': ')[1]} ({line.split(': ')[0].split(', ', 1)[1]})"
                                 for line in lines if f"{verdict} than SAC" in line)
        if any("no verdict before more seeds" in line for line in lines):
            one_seed.add(task)
    out.append("")
    task_verdicts = {}
    for task in better:
        finals = ", ".join(f"{v} {np.mean([r.columns['test/success_rate'][-1] for r in by[(task, v)]]):.3f}"
                           for v in TASK_VARIANTS if (task, v) in by)
        measured = [v for v in TASK_VARIANTS if (task, v) in by and all(final_eval[r.folder] for r in by[(task, v)])]
        again = ", ".join(f"{v} {np.mean([final_eval[r.folder]['success_rate'] for r in by[(task, v)]]):.3f}"
                          for v in measured)
        if better[task]:
            text = f"better than SAC beyond the seeds' spread: {', '.join(better[task])}"
        elif task in one_seed:
            text = "no verdict yet: SAC or a variant has only one seed in"
        else:
            text = "not reproduced at this scale: no variant is better than SAC by more than the seeds' spread"
        text += f"; worse: {', '.join(worse[task])}" if worse[task] else ""
        text += f"; final test success (last epoch) {finals}"
        text += f"; final policy's success over 100 test episodes {again}" if again else ""
        task_verdicts[task] = text + (f" (chance level {chance[task]:.3f})" if task in chance else "")
    for task, text in task_verdicts.items():  # a paragraph each
        out += [f"**Verdict, {task}:** {text}.", ""]
    for x, suffix in axes if any(r.variant in TASK_VARIANTS for r in runs) else []:
        out += figure([str(rel(args.results)), "--variants", *TASK_VARIANTS, "--metric", "test/success_rate",
                       "--x", x, "--out", f"{rel(args.figures)}/task_reward_success{suffix}",
                       *[f"--chance={task}={value:.4f}" for task, value in sorted(chance.items())],
                       "--title", "test success rate with task reward"], args.out, "test/success_rate")

    # The short answer to each claim, from the verdicts above, after the set-up section.
    summary = ["## Summary", ""]
    for task in tasks:
        if task in intrinsic_verdicts:
            summary.append(f"- MUSIC alone, {task}: {intrinsic_verdicts[task]}")
        if task in task_verdicts:
            summary.append(f"- With task reward, {task}: {task_verdicts[task]}")
    summary.append("")
    at = out.index("## 1. Does MUSIC alone (no task reward) make the robot move the object?")
    out[at:at] = summary
    args.out.write_text("\n".join(out).rstrip() + "\n")
    print(f"wrote {rel(args.out)}")
    print("\n".join(headline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
