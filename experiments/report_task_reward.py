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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "experiments"))
import report_paper  # noqa: E402

from music import plot  # noqa: E402
from music.campaign import CAMPAIGNS, MEDIUM, PAPER  # noqa: E402
from music.evaluate import wilson_interval  # noqa: E402

TASK_VARIANTS = ["SAC", "SAC+MUSIC-r", "SAC+MUSIC-p", "SAC+MUSIC-f", "SAC+MUSIC-f-with-normalizers"]
# Variants of ours (not the paper's): their verdict says whether they beat SAC, not whether they agree with the paper.
OURS = {"SAC+MUSIC-f-with-normalizers"}
INTRINSIC = "SAC+MUSIC"
FINAL_MEASURE = "final policy's success over 100 test episodes"  # the comparison that says "ends higher"

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


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def mean_std(values, spec: str = ".3g") -> str:
    """'mean ± std' over seeds (population std); the value alone for one seed, '-' for none."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return "-"
    if values.size == 1:
        return f"{values[0]:{spec}}"
    return f"{values.mean():{spec}} ± {values.std():{spec if spec != '.3g' else '.2g'}}"


def ratio(trained: float, untrained: float) -> str:
    # below a millimetre the untrained figure is simulator noise and a ratio means nothing
    return f"{trained / untrained:.1f}x" if untrained >= 1e-3 else "ratio n/a: untrained < 1 mm"


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


MOTION_COLUMNS = ("success_rate", "object_displacement", "object_lift", "mi_reward_mean")
# Measured by newer versions of the evaluation only: read where present.
OPTIONAL_MOTION_COLUMNS = ("object_lifted", "object_fell", "object_displacement_on_table", "episodes")


def motion_row(row: dict) -> dict[str, float]:
    return {c: float(row[c]) for c in (*MOTION_COLUMNS, *OPTIONAL_MOTION_COLUMNS) if row.get(c) not in (None, "")}


def load_motion(run: plot.Run, eval_root: Path | None) -> dict[tuple[str, str], dict[str, float]]:
    """{(mode, "trained" | "untrained"): {column: value}} of a run, from its motion_*.csv or else
    from ``eval_root/<task>/<variant>/seed<k>/motion.json``; empty if measured by neither."""
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
                motion[(mode, kind)] = motion_row({"episodes": data.get("episodes"), **row})
    return motion


# Epochs averaged by the smoothed episodes-to-threshold measure (5 x 40 = 200 test episodes at 2 ranks).
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
    """Test episodes behind one test/success_rate value: n_test_rollouts rollouts of
    rollout_batch_size episodes on every rank."""
    params = json.loads((run.folder / "params.json").read_text())
    return int(params.get("n_test_rollouts", 10)) * int(params.get("rollout_batch_size", 2)) * run.workers


def chance_to_reach(p: float, n: int, threshold: float) -> float:
    """P(a success rate of n episodes, each a success with probability p, is at least ``threshold``)."""
    k_min = math.ceil(threshold * n - 1e-9)
    return float(sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(k_min, n + 1)))


# A threshold decides the verdict only if a policy at the chance level reaches it within a run less often.
LUCK_LIMIT = 0.05


def luck_in_a_run(p: float, n: int, epochs: int, thresholds: list[float], runs: int = 100_000) -> dict:
    """{(window, threshold): P(a policy at the chance level ``p`` reaches it in some epoch (window 1) or as
    the mean of some WINDOW epochs in a row)}, from ``runs`` simulated runs of ``epochs`` epochs of ``n``
    test episodes (fixed seed, so the numbers are the same each time)."""
    rng = np.random.default_rng(0)
    rates = rng.binomial(n, p, size=(runs, epochs)) / n
    means = np.lib.stride_tricks.sliding_window_view(rates, WINDOW, axis=1).mean(axis=-1) if epochs >= WINDOW else None
    out = {}
    for threshold in thresholds:
        out[(1, threshold)] = float(np.mean(np.any(rates >= threshold - 1e-9, axis=1)))
        if means is not None:
            out[(WINDOW, threshold)] = float(np.mean(np.any(means >= threshold - 1e-9, axis=1)))
    return out


def luck_sentence(p: float, n: int, epochs: int, thresholds: list[float], runs: int = 100_000,
                  luck: dict | None = None) -> str:
    """How often a policy at the chance level ``p`` reaches each threshold by luck, in words
    (``luck``: ``luck_in_a_run``'s result for the same arguments, if already computed)."""
    luck = luck if luck is not None else luck_in_a_run(p, n, epochs, thresholds, runs)

    def probability(value: float) -> str:
        return f"{value:.3f}" if value > 0 else f"< {1 / runs:.0e}"

    parts = []
    for threshold in thresholds:
        text = (f"{threshold} with probability {chance_to_reach(p, n, threshold):.3f} in one epoch and "
                f"{probability(luck[(1, threshold)])} in some epoch of {epochs}")
        if (WINDOW, threshold) in luck:
            text += f", {probability(luck[(WINDOW, threshold)])} as the mean of some {WINDOW} epochs in a row"
        parts.append(text)
    return (f"A policy at that level, scored on {n} test episodes an epoch, reaches {'; '.join(parts)} "
            f"({runs:,} simulated runs). Only the episodes-to-threshold measures it reaches within a run with "
            f"probability below {LUCK_LIMIT} count for the verdict.")


def figure(argv: list[str], out_md: Path, alt: str) -> list[str]:
    """Draw one figure with music.plot; markdown lines showing it with the command that drew it.

    The command's paths are the repository's (the report shows it to be run from there), so
    it runs there, wherever this script was started from."""
    started_in = os.getcwd()
    os.chdir(ROOT)
    try:
        failed = plot.main(argv) != 0
    finally:
        os.chdir(started_in)
    if failed:
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
        what = f"the object moved {moved} m in 3-D"
        if "object_fell" in meta:  # a block that falls off the table counts its drop as displacement
            what += (f", ending off the table in {sum(meta['object_fell'])} of them; its highest lifts "
                     + ", ".join(f"{h:.2f}" for h in meta["object_lift"]) + " m")
        lines += [f"![{meta_path.stem}]({link})", "",
                  f"`{meta_path.stem}`: the first {meta['episodes']} {meta['mode']}-mode episodes of the final policy "
                  f"from seed {meta['seed']}, none left out; {what} (`experiments/policy_clip.py`).", ""]
    return lines


@dataclass(frozen=True)
class Comparison:
    """One variant against SAC on one measure (one number per seed each)."""

    task: str
    measure: str
    variant: str
    outcome: str  # "better", "worse", "same", "one seed" or "not comparable"
    detail: str  # e.g. "better than SAC (+0.3, std 0.05)"
    decisive: bool  # a success measure: it decides the verdict; the others inform

    def line(self) -> str:
        return f"{self.task}, {self.measure}: {self.variant}: {self.detail}"


def binomial_noise(v: np.ndarray, base: np.ndarray, episodes: int) -> float:
    """Two standard errors of the difference of two success rates, each the mean of its seeds' rates of
    ``episodes`` episodes per seed, as if every episode were independent."""
    pv, pb = v.mean(), base.mean()
    return 2 * math.sqrt(pv * (1 - pv) / (episodes * v.size) + pb * (1 - pb) / (episodes * base.size))


def compare_one(v: np.ndarray, base: np.ndarray, better: str, spec: str,
                episodes: int | None = None) -> tuple[str, str]:
    """(outcome, detail) of one variant's numbers per seed against SAC's; see ``compare_to_sac``."""
    if min(v.size, base.size) < 2:  # one seed has no spread: a difference says nothing yet
        finite = np.all(np.isfinite(v)) and np.all(np.isfinite(base))
        # rounded: two means of the same successes differ by float noise (-1.39e-17 was printed)
        shown = f"{round(v.mean() - base.mean(), 12) + 0.0:+{spec}}" if finite else "a run never reached it"
        return "one seed", f"{shown} on one seed: no verdict before more seeds are in"
    if np.all(np.isfinite(v)) and np.all(np.isfinite(base)):
        diff, spread = v.mean() - base.mean(), max(v.std(), base.std())
        noise = binomial_noise(v, base, episodes) if episodes else 0.0
        margin = f"std {spread:{spec}}" + (f", 2 SE {noise:{spec}}" if episodes else "")
        if abs(diff) <= max(spread, noise):
            return "same", f"within the noise ({diff:+{spec}}, {margin}): no difference shown"
        outcome = "better" if (diff > 0 if better == "higher" else diff < 0) else "worse"
        return outcome, f"{outcome} than SAC ({diff:+{spec}}, {margin})"
    if np.all(np.isfinite(v)) and not np.any(np.isfinite(base)):
        return "better", "better than SAC (every seed reached it, no seed of SAC did)"
    if np.all(np.isfinite(base)) and not np.any(np.isfinite(v)):
        return "worse", "worse than SAC (no seed reached it, every seed of SAC did)"
    if not np.any(np.isfinite(v)) and not np.any(np.isfinite(base)):
        return "same", "no seed of either reached it: no difference shown"
    return "not comparable", "not comparable (some runs never reached it)"


def compare_to_sac(task: str, measure: str, values: dict[str, np.ndarray], better: str, decisive: bool,
                   spec: str = ".3g", episodes: int | None = None) -> list[Comparison]:
    """Each variant against SAC: better or worse by more than the noise, else no difference shown; no
    verdict while either has one seed. The noise: the seeds' spread (the larger of the two population
    stds) and, for a success rate of ``episodes`` episodes per seed, two binomial standard errors of
    the difference (seeds with few runs can agree by chance far more closely than episodes allow).

    ``values`` maps a variant to one number per seed (inf: never reached, for "lower" measures);
    ``better`` is "higher" or "lower". When every seed of one side reached a threshold and no seed
    of the other did, that side is better whatever the spread.
    """
    if "SAC" not in values:
        return []
    return [Comparison(task, measure, variant, *compare_one(v, values["SAC"], better, spec, episodes), decisive)
            for variant, v in values.items() if variant != "SAC"]


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


def paired(trained: dict[int, float], untrained: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
    """The values of the seeds measured both ways, seed by seed."""
    seeds = sorted(set(trained) & set(untrained))
    return np.array([trained[k] for k in seeds]), np.array([untrained[k] for k in seeds])


def pooled_interval(fractions: dict[int, float], episodes: dict[int, float]) -> tuple[float, float, int]:
    """95 % Wilson interval of a fraction pooled over seeds (each seed's fraction of its episodes)."""
    n = int(sum(episodes.get(seed, 100) for seed in fractions))
    hits = int(round(sum(f * episodes.get(seed, 100) for seed, f in fractions.items())))
    low, high = wilson_interval(hits, n)
    return low, high, n


def intrinsic_verdict(task: str, moved: bool, fell: tuple[float, float] | None, lifted: dict | None,
                      interim: bool) -> str:
    """Claim 1 on ``task`` from the train-mode comparisons: moving on every seed, and (PickAndPlace) lifting
    with the pooled intervals of trained and untrained apart."""
    so_far = " so far" if interim else ""
    if moved:
        text = ("the trained policy moves the object more than the untrained one on every seed (agrees with the "
                f"paper{so_far})")
    else:
        text = (("not shown by the runs in so far" if interim else "not reproduced at this scale")
                + ": the trained policy does not move the object more than the untrained one on every seed")
    if fell is not None:
        text += f"; {fell[0]:.2f} of its exploring episodes end with the object off the table (untrained {fell[1]:.2f})"
    if "PickAndPlace" in task:  # the paper's lifting claim is PickAndPlace's
        if lifted is None:
            text += "; lifting not measured"
        elif lifted["trained"][0] > lifted["untrained"][1]:
            text += (f"; it lifts the object 5 cm in {lifted['mean']:.2f} of its exploring episodes against "
                     f"{lifted['untrained_mean']:.2f} untrained, 95 % intervals apart (agrees with the paper{so_far})")
        else:
            text += (f"; lifting not shown{' by the runs in so far' if interim else ' at this scale'}: it lifts the "
                     f"object 5 cm in {lifted['mean']:.2f} of its exploring episodes against "
                     f"{lifted['untrained_mean']:.2f} untrained, 95 % intervals overlapping")
    return text


def task_verdict(comparisons: list[Comparison], interim) -> str:
    """Claim 2, variant by variant, against the paper's words "learn faster and end higher than SAC".

    ``interim``: True or False for every variant, or the variants whose runs (or SAC's) are not all
    in. A variant of ours (``OURS``) is not the paper's: its verdict says whether it beats SAC.

    Only success measures decide (the others are information): the final policy measured again says
    whether a variant ends higher, the others (mean over epochs, episodes to a threshold that luck
    rarely reaches) whether it learns faster. Both shown: agrees; one: agrees in part (or on what
    was measured, when the other was not); neither: disagrees, or while the claim's runs are not all
    in, not shown so far.
    """
    parts = []
    for variant in dict.fromkeys(c.variant for c in comparisons):
        decisive = [c for c in comparisons if c.variant == variant and c.decisive]
        if any(c.outcome == "one seed" for c in decisive):
            parts.append(f"{variant}: no verdict yet (one seed)")
            continue
        if not decisive:
            parts.append(f"{variant}: no success measure compared")
            continue
        speed = [c for c in decisive if c.measure != FINAL_MEASURE]
        final = next((c for c in decisive if c.measure == FINAL_MEASURE), None)
        faster = [c.measure for c in speed if c.outcome == "better"]
        slower = [c.measure for c in speed if c.outcome == "worse"]
        learns = (f"learns faster ({', '.join(faster)})" if faster
                  else "does not learn faster beyond the noise" if speed else "learning speed not compared")
        ends = ("final policies not measured again" if final is None
                else f"ends {'higher' if final.outcome == 'better' else 'lower'} (final policy's success)"
                if final.outcome in ("better", "worse") else "does not end higher beyond the noise")
        shown = [bool(faster), final is not None and final.outcome == "better"]
        complete = bool(speed) and final is not None
        waiting = interim if isinstance(interim, bool) else variant in interim
        if variant in OURS:
            agreement = ("ours, not the paper's: " + ("beats SAC" if all(shown) else "beats SAC in part" if any(shown)
                                                       else "not shown by the runs in so far" if waiting
                                                       else "does not beat SAC at this scale"))
        elif all(shown):
            agreement = "agrees with the paper"
        elif any(shown):
            agreement = "agrees with the paper in part" if complete else "agrees with the paper on what was measured"
        elif waiting:
            agreement = "not shown by the runs in so far"
        else:
            agreement = "disagrees with the paper at this scale" + ("" if complete else " on what was measured")
        if waiting and any(shown):
            agreement += " so far"
        parts.append(f"{variant}: {learns}, {ends}: {agreement}"
                     + (f" (worse than SAC: {', '.join(slower)})" if slower else ""))
    return "; ".join(parts) if parts else "nothing to compare: SAC or every variant has no finished run"


MOTION_TABLE = {"object_displacement": ".4f", "object_displacement_on_table": ".4f", "object_lift": ".4f",
                "object_lifted": ".2f", "object_fell": ".2f", "mi_reward_mean": ".4f"}
Cells = dict[tuple[str, str, str], dict[str, dict[int, float]]]  # (task, mode, kind) -> column -> seed -> value


def motion_cells(runs: list[plot.Run], eval_root: Path | None) -> Cells:
    """The object motion of the MUSIC runs, by task, mode, trained/untrained, column and seed."""
    cells: Cells = {}
    for run in runs:
        if run.variant != INTRINSIC:
            continue
        for (mode, kind), row in load_motion(run, eval_root).items():
            cell = cells.setdefault((run.task, mode, kind), {})
            for column, value in row.items():
                cell.setdefault(column, {})[run.seed] = value
    return cells


def setup_section(args, runs, records, by, tasks, eval_root) -> list[str]:
    scales = sorted({(r["scale"], r["ranks"], r["n_epochs"], r["n_cycles"]) for r in records})
    seeds = sorted({r.seed for r in runs})
    total_s, span_s = sweep_time(records)
    out = ["## Set-up", ""]
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
                f"weights), at commits {', '.join(commits)} (each run's sweep.json names its own). Final "
                f"policies measured again: `.venv/bin/python experiments/evaluate_campaign.py` into "
                f"`{rel(eval_root)}`."]
    out += [f"- This file: `.venv/bin/python {rel(Path(__file__))} --results {rel(args.results)} "
            f"--out {rel(args.out)} --figures {rel(args.figures)}`. Optimizer steps: the agent's critic and "
            "actor steps, (epoch + 1) x cycles x batches per cycle (gradients are summed over ranks: one step "
            "per batch). ± is the population standard deviation over seeds; one seed shows its value alone.", ""]
    out += ["What a run costs here (wall time per epoch: the median over the run's epochs, so resumed and "
            "interrupted epochs do not count; wall time of the whole run from its sweep.json; the machine often "
            "did other work beside the runs), over seeds:", "",
            "| task | variant | runs | s per epoch | h per run |", "|---|---|---|---|---|"]
    for (task, variant), group in sorted(by.items()):
        per_epoch = [np.nanmedian(r.columns["time/epoch"]) for r in group if "time/epoch" in r.columns]
        hours = [json.loads((r.folder / "sweep.json").read_text())["seconds"] / 3600 for r in group
                 if (r.folder / "sweep.json").exists()]
        out.append(f"| {task} | {variant} | {len(group)} | {mean_std(per_epoch, '.1f')} | {mean_std(hours, '.2f')} |")
    return out + [""]


def intrinsic_section(args, runs, tasks, cells: Cells, axes,
                      waiting: set[tuple[str, str]]) -> tuple[list[str], dict, list[str]]:
    """Claim 1: MUSIC alone moves (and lifts) the object. Returns the lines, {task: verdict}, headline lines."""
    out = ["## 1. Does MUSIC alone (no task reward) make the robot move the object?", "",
           f"Paper: {PAPER_INTRINSIC}", "",
           "Ours: each seed's final SAC+MUSIC policy against the untrained policy it started from (same seed, "
           "fresh weights), 100 episodes per seed and mode, with `experiments/measure_untrained.py`. "
           "`train` mode is how MUSIC trains (exploration noise, zero goal), `test` is greedy. Displacement: "
           "distance in 3-D between the object's first and last position (m; a fall off the 0.4 m table counts); "
           "on table: the displacement of the episodes that end with the object on the table; lift: the "
           "object's highest point above its start (m); lifted: the fraction of episodes whose object rises at "
           "least 5 cm (a block that is pushed or tipped rises less than 2 cm); fell: the fraction that end with "
           "the object off the table; MI reward: clip(5000 MI, 0, 1) - 1 under the run's own trained MINE. "
           "Over seeds; `-` where not measured.", ""]
    out += ["| task | mode | policy | seeds | " + " | ".join(MOTION_TABLE) + " |",
            "|---|---|---|---|" + "---|" * len(MOTION_TABLE)]
    for (task, mode, kind), cell in sorted(cells.items()):
        out.append(f"| {task} | {mode} | {kind} | {len(cell.get('object_displacement', {}))} | "
                   + " | ".join(mean_std(list(cell.get(c, {}).values()), spec) for c, spec in MOTION_TABLE.items())
                   + " |")
    if not cells:
        out.append("| (no object motion measured yet: experiments/measure_object_motion.sh or "
                   "experiments/evaluate_campaign.py) |" + " |" * (3 + len(MOTION_TABLE)))
    out.append("")
    headline, verdicts = [], {}
    for task in tasks:
        moved = None
        for mode in ("train", "test"):
            trained, untrained = cells.get((task, mode, "trained")), cells.get((task, mode, "untrained"))
            if not trained or not untrained:
                continue
            for column, what in (("object_displacement", "displacement"), ("object_lift", "lift")):
                t, u = paired(trained[column], untrained[column])
                line = (f"{task}, {mode} mode, {what}: trained {t.mean():.4f} m vs untrained {u.mean():.4f} m "
                        f"({ratio(t.mean(), u.mean())}); trained > untrained in "
                        f"{int((t > u).sum())} of {len(t)} seeds")
                out.append(f"- {line}")
                headline.append(line)
                if mode == "train" and column == "object_displacement":
                    moved = bool(np.all(t > u))
            t, u = paired(trained.get("object_lifted", {}), untrained.get("object_lifted", {}))
            if t.size:
                line = (f"{task}, {mode} mode, lifted 5 cm: trained in {t.mean():.2f} of the episodes vs untrained "
                        f"{u.mean():.2f}; trained > untrained in {int((t > u).sum())} of {len(t)} seeds")
                out.append(f"- {line}")
                headline.append(line)
        if moved is None:
            continue
        trained, untrained = cells[(task, "train", "trained")], cells[(task, "train", "untrained")]
        fell = (tuple(np.mean(list(c["object_fell"].values())) for c in (trained, untrained))
                if "object_fell" in trained and "object_fell" in untrained else None)
        lifted = None
        if trained.get("object_lifted") and untrained.get("object_lifted"):
            episodes = {kind: c.get("episodes", {}) for kind, c in (("trained", trained), ("untrained", untrained))}
            lifted = {"trained": pooled_interval(trained["object_lifted"], episodes["trained"]),
                      "untrained": pooled_interval(untrained["object_lifted"], episodes["untrained"]),
                      "mean": np.mean(list(trained["object_lifted"].values())),
                      "untrained_mean": np.mean(list(untrained["object_lifted"].values()))}
        verdicts[task] = intrinsic_verdict(task, moved, fell, lifted, (task, INTRINSIC) in waiting)
    out.append("")
    out += clips(args.results.with_name(args.results.name + "_videos"), args.out)
    for task, text in verdicts.items():  # a paragraph each
        out += [f"**Verdict, {task}:** {text}.", ""]
    longer = ROOT / "experiments/runs/pipeline"
    pipeline_files = (longer / "trained_push_sac_music_10ep.csv", longer / "untrained_push_sac_music.csv")
    if args.results.name not in CAMPAIGNS and all(path.exists() for path in pipeline_files):
        trained = {r["mode"]: r for r in read_csv(longer / "trained_push_sac_music_10ep.csv")}
        untrained = {r["mode"]: r for r in read_csv(longer / "untrained_push_sac_music.csv")}
        t, u = (float(d["train"]["object_displacement"]) for d in (trained, untrained))
        out += ["For comparison, the one longer SAC+MUSIC run made so far (`experiments/runs/pipeline/"
                "push_sac_music_10ep`: FetchPush, 2 ranks, 10 epochs of 50 cycles = 2,000 training episodes, "
                "seed 0; commands in `run_checks.sh`), measured the same way (train mode, 100 episodes): "
                f"displacement {t:.4f} m vs {u:.4f} m untrained ({ratio(t, u)}).", ""]
    metrics = [("train/object_displacement", "intrinsic_displacement"), ("train/object_lift", "intrinsic_lift"),
               ("mi_reward/mean", "intrinsic_mi_reward")]
    for metric, name in metrics if any(INTRINSIC == r.variant for r in runs) else []:
        # The untrained policy's train-mode level (same measure as the training logs); MI rewards are not
        # drawn: during training each epoch's MINE scores them, the untrained figure uses the final one.
        column = metric.removeprefix("train/")
        levels = [f"--untrained={task}={np.mean(list(cell[column].values())):.4f}"
                  for (task, mode, kind), cell in sorted(cells.items())
                  if mode == "train" and kind == "untrained" and cell.get(column)]
        for x, suffix in axes:
            out += figure([str(rel(args.results)), "--variants", INTRINSIC, "--metric", metric, "--x", x,
                           "--out", f"{rel(args.figures)}/{name}{suffix}", *levels,
                           "--title", f"{INTRINSIC}, no task reward: {metric} during training"], args.out, metric)
    return out, verdicts, headline


def finetune_start(task: str, eval_root: Path | None, by: dict) -> list[str]:
    """What -f starts from, from ``experiments/finetune_start.py``'s start.json (nothing if absent)."""
    path = eval_root / task / "SAC+MUSIC-f" / "start.json" if eval_root is not None else None
    if path is None or not path.exists():
        return []
    start = json.loads(path.read_text())
    moved = {name: np.array([s[name]["train"]["object_displacement"] for s in start["seeds"].values()])
             for name in start["conditions"]}
    shown = {name: mean_std(values) for name, values in moved.items()}
    loaded = start["conditions"]["as -f starts"]["loaded"]
    normalizers = "with" if "o_stats" in loaded else "without"
    env_goals, untrained_level = shown["with -f's goals"], shown["untrained, -f's goals"]
    text = (f"What SAC+MUSIC-f starts from, {task} (`experiments/finetune_start.py`, {start['episodes']} exploring "
            f"episodes per seed, {len(start['seeds'])} seeds, before any update): the MUSIC policy it loads moves "
            f"the object {shown['as trained']} m as trained (its own observation normalizers, Zero goals), "
            f"{env_goals} m with -f's Env goals, and {shown['as -f starts']} m as -f starts it, "
            f"loading {', '.join(f'`{s}`' for s in loaded)} and the MINE, {normalizers} the observation "
            f"normalizers; an untrained policy with -f's goals moves it {untrained_level} m.")
    started, untrained = moved["as -f starts"], moved["untrained, -f's goals"]
    if abs(started.mean() - untrained.mean()) <= max(started.std(), untrained.std()):
        text += (" So loaded, the MUSIC policy moves the object no further than an untrained one (within the "
                 "seeds' spread): -f fine-tunes a policy that no longer pushes.")
    during = {v: [np.mean(r.columns["train/object_displacement"]) for r in by.get((task, v), [])]
              for v in ("SAC+MUSIC-f", "SAC")}
    if during["SAC+MUSIC-f"] and during["SAC"]:
        text += (f" Over training, -f's exploring episodes move the object {mean_std(during['SAC+MUSIC-f'])} m "
                 f"on average, SAC's {mean_std(during['SAC'])} m.")
    return [text, ""]


def task_section(args, runs, by, tasks, cells: Cells, eval_root, axes, waiting: set[tuple[str, str]]):
    """Claim 2: with task reward, -r/-p/-f learn faster and end higher than SAC. Returns the lines, {task:
    verdict}, headline."""
    task_runs = [r for r in runs if r.variant in TASK_VARIANTS]
    n_test = test_episodes_per_epoch(task_runs[0]) if task_runs else 40
    out = ["## 2. With task reward: do -r, -p, -f learn faster and end higher than SAC?", "",
           f"Paper: {PAPER_TASK}", "",
           f"Ours: test/success_rate ({n_test} greedy test episodes an epoch over all ranks) at the last epoch; "
           "the final policy's test success measured again over 100 episodes per seed "
           "(`experiments/evaluate_campaign.py`, campaign only: the last epoch's episodes leave a binomial "
           f"standard error of up to {0.5 / math.sqrt(n_test):.2f}); the mean of test/success_rate over all "
           "epochs (area under the learning curve); and the training episodes (all ranks) until a run's test "
           f"success first reaches {' / '.join(map(str, args.thresholds))} (thresholds fixed before the small "
           f"sweep; `never` if not within the run), in one epoch and as the mean of {WINDOW} epochs in a row "
           "(added when the medium campaign's first runs were in: a policy that learned nothing can reach a "
           "threshold in some epoch by luck, how often is below). Episodes: the mean over the seeds that "
           "reached it, with how many did. The verdict rests on the success measures (mean over epochs, final "
           "policy measured again, and the episodes-to-threshold measures that luck rarely reaches); the others "
           "inform. A variant differs from SAC only by more than the noise: the larger of the two seeds' "
           "population stds and, for success rates, two binomial standard errors of the difference (two or "
           "three seeds can agree by chance far more closely than their episodes allow). Per variant, it "
           "\"learns faster\" when a success measure of the learning curve (mean over epochs, or an "
           "episodes-to-threshold measure that luck rarely reaches) is better than SAC's beyond the noise, and "
           "\"ends higher\" when the final policy's success over 100 test episodes is. Both: it agrees with the "
           "paper; one: in part; neither: it disagrees at this scale (while runs of the claim are missing: not "
           "shown so far).", ""]
    chance, luck = {}, {}  # task -> chance level; task -> (window, threshold) -> P(reached by luck in a run)
    for task in tasks:
        untrained_test = cells.get((task, "test", "untrained"), {}).get("success_rate", {})
        group = [r for r in task_runs if r.task == task]
        if not untrained_test or not group:  # no chance level, or no run with task reward to hold against it
            continue
        chance[task] = float(np.mean(list(untrained_test.values())))
        source = "motion_untrained.csv" if eval_root is None else "motion.json"
        out.append(f"Chance level, {task}: an untrained policy's test success is {chance[task]:.3f} "
                   f"({len(untrained_test)} x 100 episodes, {source}): goals that start within 5 cm of "
                   "the object count as successes without touching it.")
        scored = (chance[task], test_episodes_per_epoch(group[0]), len(group[0].columns["test/success_rate"]))
        luck[task] = luck_in_a_run(*scored, args.thresholds)
        out.append(luck_sentence(*scored, args.thresholds, luck=luck[task]))
    out.append("")
    # The final policies measured again over many test episodes (evaluate_campaign.py), where they were.
    remeasured = {r.folder: load_motion(r, eval_root).get(("test", "trained"), {}).get("success_rate")
                  for r in task_runs}
    reach = [(1, t) for t in args.thresholds] + [(WINDOW, t) for t in args.thresholds]
    header = ["task", "variant", "seeds", "final success", "final policy's success, 100 test episodes",
              "mean success over epochs", "train object displacement, mean over epochs (m)"]
    header += [f"episodes to {t}" + (f", {window}-epoch mean" if window > 1 else "") for window, t in reach]
    out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    headline = []
    for task in tasks:
        for variant in TASK_VARIANTS:
            group = by.get((task, variant), [])
            if not group:
                continue
            final = [r.columns["test/success_rate"][-1] for r in group]
            area = [np.mean(r.columns["test/success_rate"]) for r in group]
            moved = [np.mean(r.columns["train/object_displacement"]) for r in group]
            measured = [remeasured[r.folder] for r in group if remeasured[r.folder] is not None]
            cells_row = [task, variant, str(len(group)), mean_std(final),
                         f"{mean_std(measured)} ({plural(len(measured), 'seed')})" if measured else "-",
                         mean_std(area), mean_std(moved)]
            for window, threshold in reach:
                eps = np.array([episodes_to_reach(r, threshold, window) for r in group])
                ok = eps[np.isfinite(eps)]
                cells_row.append(f"{ok.mean():.0f} ({ok.size}/{eps.size})" if ok.size else f"never (0/{eps.size})")
            out.append("| " + " | ".join(cells_row) + " |")
            headline.append(f"{task} {variant}: final test success {mean_std(final)}, "
                            f"mean over epochs {mean_std(area)} ({plural(len(group), 'seed')})")
    out.append("")
    for task in tasks:
        # With the same seed, every variant sees the same test goals and object positions, so equal
        # success rates are what policies that solve the same (easy) episodes would show.
        per_seed = [[r.columns["test/success_rate"] for r in task_runs if r.task == task and r.seed == seed]
                    for seed in sorted({r.seed for r in task_runs})]
        per_seed = [np.stack(curves) for curves in per_seed if len(curves) > 1 and
                    len({c.size for c in curves}) == 1]
        if per_seed:
            same = sum(int(np.sum(np.all(c == c[0], axis=0))) for c in per_seed)
            total = sum(c.shape[1] for c in per_seed)
            out.append(f"- {task}: in {same} of {total} (seed, epoch) pairs all variants have exactly the same "
                       "test success, consistent with all of them solving the same test episodes of that seed "
                       "(those whose goal starts near the object).")
    out.append("")
    verdicts = {}
    for task in tasks:
        groups = {v: by[(task, v)] for v in TASK_VARIANTS if (task, v) in by}
        if not groups:  # no run with task reward on this task (yet)
            continue
        first_run = next(iter(groups.values()))[0]
        comparisons = compare_to_sac(task, "mean success over epochs", {
            v: np.array([np.mean(r.columns["test/success_rate"]) for r in g]) for v, g in groups.items()},
            "higher", decisive=True,
            episodes=test_episodes_per_epoch(first_run) * len(first_run.columns["test/success_rate"]))
        comparisons += compare_to_sac(task, FINAL_MEASURE, {
            v: np.array([remeasured[r.folder] for r in g]) for v, g in groups.items()
            if all(remeasured[r.folder] is not None for r in g)}, "higher", decisive=True, episodes=100)
        comparisons += compare_to_sac(task, "train object displacement", {
            v: np.array([np.mean(r.columns["train/object_displacement"]) for r in g]) for v, g in groups.items()},
            "higher", decisive=False)
        for window, threshold in reach:
            measure = f"episodes to {threshold}" + (f" as a {window}-epoch mean" if window > 1 else "")
            # without a chance level (no untrained policy measured), only the smoothed measures decide
            lucky = luck.get(task, {}).get((window, threshold), 0.0 if window > 1 else 1.0)
            comparisons += compare_to_sac(task, measure, {
                v: np.array([episodes_to_reach(r, threshold, window) for r in g]) for v, g in groups.items()},
                "lower", decisive=lucky < LUCK_LIMIT, spec=".0f")
        out += [f"- {c.line()}" + ("" if c.decisive else " (information)") for c in comparisons]
        headline += [c.line() for c in comparisons]
        finals = ", ".join(f"{v} {np.mean([r.columns['test/success_rate'][-1] for r in g]):.3f}"
                           for v, g in groups.items())
        measured = ", ".join(f"{v} {np.mean([remeasured[r.folder] for r in g]):.3f}" for v, g in groups.items()
                             if all(remeasured[r.folder] is not None for r in g))
        # a variant's verdict is interim while its runs or SAC's are not all in
        interim = (set(TASK_VARIANTS) if (task, "SAC") in waiting
                   else {v for v in TASK_VARIANTS if (task, v) in waiting})
        verdicts[task] = (task_verdict(comparisons, interim) + f"; final test success (last epoch) {finals}"
                          + (f"; final policy's success over 100 test episodes {measured}" if measured else "")
                          + (f" (chance level {chance[task]:.3f})" if task in chance else ""))
    out.append("")
    for task, text in verdicts.items():  # a paragraph each
        out += [f"**Verdict, {task}:** {text}.", ""]
        out += finetune_start(task, eval_root, by)
    for x, suffix in axes if task_runs else []:
        out += figure([str(rel(args.results)), "--variants", *TASK_VARIANTS, "--metric", "test/success_rate",
                       "--x", x, "--out", f"{rel(args.figures)}/task_reward_success{suffix}",
                       *[f"--chance={task}={value:.4f}" for task, value in sorted(chance.items())],
                       "--title", "test success rate with task reward"], args.out, "test/success_rate")
    return out, verdicts, headline


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=ROOT / "experiments/results/medium")
    p.add_argument("--out", type=Path, default=ROOT / "experiments/RESULTS.md")
    p.add_argument("--figures", type=Path, default=ROOT / "experiments/figures/medium")
    p.add_argument("--thresholds", type=float, nargs="+", default=[0.1, 0.2],
                   help="test success rates for the episodes-to-reach comparison (fixed before the sweep)")
    p.add_argument("--eval", type=Path, default=None,
                   help="motion.json files of evaluate_campaign.py; default <results>_eval if present")
    p.add_argument("--paper", type=Path, default=ROOT / "experiments/results/paper",
                   help="the paper campaign's exports; its section (experiments/report_paper.py) joins the medium "
                        "campaign's report when they or their <paper>_eval measurements exist")
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
    # A campaign's results folder is named after it: what it plans and what is not in yet.
    campaign = CAMPAIGNS.get(args.results.name)
    planned = campaign.jobs(sorted(campaign.stages)) if campaign else []
    done = {(r.task, r.variant, r.seed) for r in runs}
    missing = [job for job in planned if job.key not in done]
    axes = [("episodes", ""), ("steps", "_steps")] if eval_root is not None else [("episodes", "")]
    cells = motion_cells(runs, eval_root)

    scale_names = sorted({r["scale"] for r in records}) or ["small"]
    interim = f" (interim: {len(planned) - len(missing)} of {len(planned)} runs)" if missing else ""
    out: list[str] = [f"# Reproduction at {' and '.join(scale_names)} scale{interim}: MUSIC alone, and SAC with "
                      "-r/-p/-f", ""]
    out += [f"Generated by `.venv/bin/python {rel(Path(__file__))}` from the files under `{rel(args.results)}` "
            f"({datetime.date.today().isoformat()}). Do not edit by hand.", ""]
    if missing:
        out += [f"**Interim report.** {len(planned) - len(missing)} of the {campaign.name} campaign's "
                f"{len(planned)} runs are in; still to run: {still_to_run(missing)}. Every table, figure and "
                "verdict below is about the runs that are in; a verdict is final once the runs of its own claim "
                "and task are in.", ""]
    out += setup_section(args, runs, records, by, tasks, eval_root)
    # A verdict is interim while runs of its own claim and task are missing.
    waiting = {(job.task, job.variant) for job in missing}
    intrinsic, intrinsic_verdicts, headline = intrinsic_section(args, runs, tasks, cells, axes, waiting)
    task, task_verdicts, task_headline = task_section(args, runs, by, tasks, cells, eval_root, axes, waiting)
    summary = ["## Summary", ""]  # the short answer to each claim, from the verdicts of the sections
    for name in tasks:
        if name in intrinsic_verdicts:
            summary.append(f"- MUSIC alone, {name}: {intrinsic_verdicts[name]}")
        if name in task_verdicts:
            summary.append(f"- With task reward, {name}: {task_verdicts[name]}")
    paper_eval = args.paper.with_name(args.paper.name + "_eval")
    if args.results.name == MEDIUM.name and (args.paper.is_dir() or paper_eval.is_dir()):
        paper, verdict = report_paper.paper_section(args.paper, paper_eval, args.results,
                                                    args.figures.with_name("paper"), args.out,
                                                    len(PAPER.scale.seeds), figure, rel)
        summary.append(f"- MUSIC alone at the paper's scale, {report_paper.TASK}: {verdict}")
        task += paper
    out += summary + [""] + intrinsic + task
    args.out.write_text("\n".join(out).rstrip() + "\n")
    print(f"wrote {rel(args.out)}")
    print("\n".join(headline + task_headline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
