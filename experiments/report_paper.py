"""The paper-scale section of experiments/RESULTS.md: does MUSIC alone pick up the block with 16 workers?

``experiments/report_task_reward.py`` calls ``paper_section`` when it writes the medium
campaign's report, so that the two scales sit side by side in one generated file. Nothing
here trains or measures: it reads

- ``experiments/results/paper``: the paper campaign's exported runs (``experiments/campaign_paper.py``);
- ``experiments/results/paper_eval/gate.json``: the lift fraction of each kept policy against the
  untrained one and the medium campaign's (``experiments/paper_gate.py``);
- ``.../grasp.json``: touched / pinched / grasped / lifted per kept epoch
  (``experiments/grasp_rate.py``), drawn here as ``figures/paper/grasp_by_epoch``;
- ``.../joint_limits.json``: gymnasium-robotics v4's enforced joint ranges against gym v1's
  unlimited ones (``experiments/fetch_joint_limits.py``);
- ``.../mi_by_behaviour.json`` and ``.../mine_with_carries.json``: the MI reward of scripted
  behaviours under the kept MINEs, and under copies of one trained with carries in their data
  (``experiments/mi_by_behaviour.py``, ``experiments/mine_with_carries.py``);
- ``.../mi_by_speed.json``: one MINE's reward per window by the block's speed and place
  (``experiments/mi_by_speed.py``);

and draws the training curves of both scales with ``python -m music.plot``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from music.evaluate import MI_R_SCALE

TASK, VARIANT = "FetchPickAndPlace-v1", "SAC+MUSIC"
PAPER_HEADLINE = ("MUSIC is \"able to complete the pick-and-place task for the first time without using any task "
                  "reward\" (abstract); the authors' demo `demos/pick.gif` shows the block held between the fingers "
                  "and raised off the table. 16 workers, 50 epochs.")
CRITICS_MI_REWARD = f"clip({MI_R_SCALE:g} MI, 0, 1) - 1"
GRASP_FIGURES = (("touched", "a finger touches the block"), ("pinched", "both fingers touch it"),
                 ("grasped", "both fingers on it, 1 cm up"), ("lifted", "it rises 5 cm"))


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def finished_runs(paper: Path) -> list[tuple[int, dict]]:
    """(seed, sweep.json) of the exported MUSIC runs, by seed."""
    found = []
    for record in sorted((paper / TASK / VARIANT).glob("seed*/sweep.json")):
        found.append((int(record.parent.name.removeprefix("seed")), json.loads(record.read_text())))
    return sorted(found, key=lambda item: item[0])


# "still rising" needs the lift not to fall over this many last epochs, not one high last epoch
RISING_EPOCHS = 5


@dataclass(frozen=True)
class LiftTrend:
    """A run's ``train/object_lift`` by epoch (the highest the block rose above its start, averaged
    over the recent exploring episodes): its peak, its last epoch, the low of its second half and
    whether it was still rising at the end (highest at the last epoch, above that low, and never
    falling over the last ``RISING_EPOCHS`` epochs)."""

    peak_epoch: int
    peak: float
    last_epoch: int
    last: float
    low_epoch: int
    low: float
    rising_at_the_end: bool


def lift_trends(paper: Path) -> list[tuple[int, LiftTrend]]:
    """(seed, LiftTrend) of each exported MUSIC run with a lift logged (its progress.csv)."""
    from music.plot import load_run

    trends = []
    for seed, _ in finished_runs(paper):
        columns = load_run(paper / TASK / VARIANT / f"seed{seed}").columns
        lift, epochs = columns.get("train/object_lift"), columns.get("epoch")
        if lift is None or epochs is None or not np.isfinite(lift).any():
            continue
        half = len(lift) // 2
        peak, low = int(np.nanargmax(lift)), half + int(np.nanargmin(lift[half:]))
        tail = lift[-RISING_EPOCHS:]
        rising = (peak == len(lift) - 1 and lift[low] < lift[-1] and len(tail) == RISING_EPOCHS
                  and bool(np.all(np.diff(tail) >= 0)))
        trends.append((seed, LiftTrend(int(epochs[peak]), float(lift[peak]), int(epochs[-1]), float(lift[-1]),
                                       int(epochs[low]), float(lift[low]), rising)))
    return trends


def lift_trend_fact(trend: LiftTrend) -> str:
    if trend.rising_at_the_end:
        return (f"the mean lift of the exploring episodes is highest at the last epoch, {trend.last:.4f} m, up from "
                f"{trend.low:.4f} m at epoch {trend.low_epoch}: the run ended while it rose")
    return (f"the mean lift of the exploring episodes peaked at epoch {trend.peak_epoch} ({trend.peak:.4f} m) and "
            f"was {trend.last:.4f} m at the last epoch")


def epoch_spans(epochs: list[int]) -> str:
    """Epochs as runs of consecutive ones: [0, 1, 2, 5, 7, 8] -> "0-2, 5, 7-8" (a gap is a policy
    not measured, e.g. lost with a run folder before it was)."""
    spans, start = [], None
    for i, epoch in enumerate(epochs):
        start = epoch if start is None else start
        if i + 1 == len(epochs) or epochs[i + 1] != epoch + 1:
            spans.append(str(epoch) if start == epoch else f"{start}-{epoch}")
            start = None
    return ", ".join(spans)


def fraction_cell(count: int, episodes: int, ci95: list[float]) -> str:
    return f"{count} of {episodes} ({ci95[0]:.3f}-{ci95[1]:.3f})"


def gate_table(gate: dict) -> list[str]:
    """The lift fraction of every measured policy in each mode, the untrained one's and medium's."""
    out = ["| policy | mode | lifted 5 cm (95 % CI) | displacement (m) | off the table | MI reward |",
           "|---|---|---|---|---|---|"]
    for mode, rows in (("train", gate["rows"]), ("play", gate.get("play_rows", []))):
        for row in rows:
            out.append(f"| {row['policy']} | {mode} | {fraction_cell(row['lifted'], row['episodes'], row['ci95'])} | "
                       f"{row['object_displacement']:.3f} | {row['object_fell']:.2f} | {row['mi_reward_mean']:.3f} |")
    medium = gate["medium"]
    out.append(f"| medium (2 workers), final policies of 3 seeds pooled | train | "
               f"{fraction_cell(medium['lifted'], medium['episodes'], medium['ci95'])} | - | - | - |")
    return out + [""]


def draw_grasp_curve(grasp: dict, out: Path) -> None:
    """Each grasp figure's fraction of exploring episodes per epoch, with its 95 % Wilson band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from music.plot import save_reproducibly

    rows = [row for row in grasp["rows"] if row["epoch"] is not None]
    epochs = np.array([row["epoch"] for row in rows])
    fig, ax = plt.subplots(figsize=(7, 4))
    for (name, meaning), marker in zip(GRASP_FIGURES, "os^D", strict=True):
        fraction = np.array([row[name]["fraction"] for row in rows])
        low, high = (np.array([row[name]["ci95"][i] for row in rows]) for i in (0, 1))
        ax.plot(epochs, fraction, marker=marker, markerfacecolor="none", label=f"{name}: {meaning}")
        ax.fill_between(epochs, low, high, alpha=0.15)
    untrained = next((row for row in grasp["rows"] if row["policy"] == "untrained"), None)
    if untrained is not None:
        ax.axhline(untrained["touched"]["fraction"], color="0.4", linestyle="-.", linewidth=1.2,
                   label=f"untrained, touched: {untrained['touched']['fraction']:.2f}")
    ax.set_xlabel("epoch of the policy (it explores during the next epoch)")
    ax.set_ylabel(f"fraction of {rows[0]['episodes']} exploring episodes")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{TASK} {VARIANT}, 16 workers, seed 0: grasping by epoch", fontsize="medium")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    save_reproducibly(fig, out)
    plt.close(fig)


def grasp_lines(grasp: dict, source: Path, figures: Path, out_md: Path, rel: Callable[[Path], str]) -> list[str]:
    rows = [row for row in grasp["rows"] if row["epoch"] is not None]
    if not rows:
        return []
    png = figures / "grasp_by_epoch"
    draw_grasp_curve(grasp, png)
    link = os.path.relpath(png.with_suffix(".png").resolve(), out_md.resolve().parent)
    best = max(rows, key=lambda row: (row["grasped"]["fraction"], -row["epoch"]))
    untrained = next((row for row in grasp["rows"] if row["policy"] == "untrained"), None)
    scripted = next((row for row in grasp["rows"] if row["policy"] == "scripted pick"), None)
    out = ["### Is a grasp tried during training?", "",
           f"Each kept policy of seed 0 (epochs {epoch_spans([row['epoch'] for row in rows])} of the run "
           f"`{grasp['run']}`), {rows[0]['episodes']} exploring episodes (training's noise, random actions and zero "
           "goals), the simulator's contacts read after every step with `experiments/grasp_rate.py`: touched (a "
           "finger on the block), pinched (both fingers at once), grasped (both fingers while the block is 1 cm or "
           "more above where it started), lifted (5 cm).", "", f"![grasping by epoch]({link})", "",
           f"Drawn by `experiments/report_paper.py` from `{rel(source)}`.", ""]
    facts = [f"the most grasps: epoch {best['epoch']}, "
             f"{fraction_cell(best['grasped']['count'], best['episodes'], best['grasped']['ci95'])}, pinched in "
             f"{best['pinched']['count']}, lifted in {best['lifted']['count']}"]
    last = rows[-1]
    facts.append(f"the newest (epoch {last['epoch']}): touched in {last['touched']['count']}, pinched in "
                 f"{last['pinched']['count']}, grasped in {last['grasped']['count']}, lifted in "
                 f"{last['lifted']['count']} of {last['episodes']}")
    kinds = ("grasped", "pinched", "touched", "untouched")
    pooled = {kind: [(r["mi_reward_by_kind"][kind]["mi_reward_mean"], r["mi_reward_by_kind"][kind]["episodes"])
                     for r in rows if kind in r.get("mi_reward_by_kind", {})] for kind in kinds}
    if any(pooled.values()):
        facts.append(f"the MI reward the critic sees ({CRITICS_MI_REWARD}, each epoch's own MINE), by how far "
                     "the episode got, over all epochs: " + ", ".join(
                         f"{kind} {weighted_mean(pooled[kind]):.3f} ({sum(n for _, n in pooled[kind])} episodes)"
                         for kind in kinds if pooled[kind]))
    if untrained is not None:
        facts.append(f"untrained: touched in {untrained['touched']['count']}, grasped in "
                     f"{untrained['grasped']['count']} of {untrained['episodes']}")
    if scripted is not None:
        facts.append(f"a scripted pick (`grasp_rate.scripted_pick`): grasped in {scripted['grasped']['count']} and "
                     f"lifted in {scripted['lifted']['count']} of {scripted['episodes']} resets")
    return out + [f"- {fact}" for fact in facts] + [""]


def play_grasp_lines(grasp: dict, source: Path, rel: Callable[[Path], str]) -> list[str]:
    """The same counts for greedy episodes with zero goals (the demos' setting), summed over the epochs."""
    rows = [row for row in grasp["rows"] if row["epoch"] is not None]
    if not rows:
        return []
    totals = {name: sum(row[name]["count"] for row in rows) for name, _ in GRASP_FIGURES}
    episodes = sum(row["episodes"] for row in rows)
    most = max(rows, key=lambda row: (row["lifted"]["count"], row["grasped"]["count"], -row["epoch"]))
    return [f"Played greedily with zero goals (the setting of the authors' demos; `{rel(source)}`), the same "
            f"policies' {episodes} episodes over epochs {epoch_spans([row['epoch'] for row in rows])}: touched in "
            f"{totals['touched']}, pinched in {totals['pinched']}, grasped in {totals['grasped']}, lifted 5 cm in "
            f"{totals['lifted']}; the most lifts: epoch {most['epoch']}, {most['lifted']['count']} of "
            f"{most['episodes']}.", ""]


FAST_CARRY = "pick and carry, fast"
SLOW_CARRY = "pick and carry, slow"


def weighted_mean(pairs) -> float:
    """The mean of (mean, count) pairs, each weighted by its count."""
    pairs = list(pairs)
    return sum(value * n for value, n in pairs) / sum(n for _, n in pairs)


def own_episodes_mi_reward(row: dict) -> float:
    """The mean MI reward of a grasp.json row's exploring episodes, over every kind of episode."""
    return weighted_mean((k["mi_reward_mean"], k["episodes"]) for k in row["mi_reward_by_kind"].values())


def own_against_carry(mi: dict, grasp: dict | None) -> tuple[dict[str, float], list[dict], int]:
    """The policies' own exploring episodes' MI reward by weights digest; the rows of mi that
    have one; how many of those MINEs pay the own episodes more than a whole fast pick-and-carry."""
    own = {row["weights_sha256"]: own_episodes_mi_reward(row) for row in (grasp or {}).get("rows", [])
           if row.get("weights_sha256") and row.get("mi_reward_by_kind")}
    both = [row for row in mi["rows"] if row["weights_sha256"] in own]
    beaten = sum(own[row["weights_sha256"]] > row["scores"][FAST_CARRY]["mi_reward_mean"] for row in both)
    return own, both, beaten


def scripts_did_what_they_say(did: dict) -> bool:
    """Every carry lifted the block in every episode, the push touched it in every one and lifted
    it in none, and the reach and stillness never touched it."""
    carries = [d for name, d in did.items() if name.startswith("pick and carry")]
    return (all(d["lifted"] == d["episodes"] for d in carries) and did["push"]["touched"] == did["push"]["episodes"]
            and did["push"]["lifted"] == 0 and did["reach without touching"]["touched"] == 0
            and did["still"]["touched"] == 0)


def mi_behaviour_lines(mi: dict, grasp: dict | None, source: Path, rel: Callable[[Path], str]) -> list[str]:
    """The MI reward of scripted carrying, pushing and reaching under each kept MINE, beside the
    policy's own exploring episodes (grasp.json's row of the same weights)."""
    rows = mi["rows"]
    if not rows:
        return []
    own, both, beaten = own_against_carry(mi, grasp)
    did = mi["behaviours"]
    moving = (SLOW_CARRY, FAST_CARRY, "push")
    checked = ("The scripts did what they say" if scripts_did_what_they_say(did) else
               "**A script did not do what it says** (read its row before the table)")
    out = ["### Does the MI reward pay more for lifting than for pushing?", "",
           f"The same scripted episodes ({did['push']['episodes']} resets each; `experiments/mi_by_behaviour.py`) "
           f"scored by the MINE of each kept policy, as the critic sees them ({CRITICS_MI_REWARD} per two-step "
           "window): pick and carry (lifted 10 cm, then carried around a circle, slowly at about 2.5 cm a step or "
           "fast at up to 5 cm), push (along the table at 1 cm a step) and reach without touching, against the "
           "policy's own exploring episodes (`grasp.json`, the same weights). Each episode's windows share one "
           "random time permutation, as a training batch's do: the identity half of the time, which pays every "
           f"window about -1, so each mean carries that coin's noise as training's reward does. {checked}: "
           + "; ".join(f"{name}: touched in {d['touched']}, lifted 5 cm in {d['lifted']} of {d['episodes']}, "
                       f"moved {d['object_displacement']:.3f} m" for name, d in did.items()) + ".", "",
           "| MINE of epoch | carry, slow (while carrying) | carry, fast (while carrying) | push (while pushing) | "
           "reach without touching | own exploring episodes |", "|---|---|---|---|---|---|"]
    shown = [row for row in rows if row["epoch"] % 5 == 0 or row is rows[-1]]
    for row in shown:
        scores = row["scores"]
        cells = [f"{scores[name]['mi_reward_mean']:.3f} ({scores[name]['mi_reward_moving']:.3f})" for name in moving]
        own_reward = own.get(row["weights_sha256"])
        cells += [f"{scores['reach without touching']['mi_reward_mean']:.3f}",
                  "-" if own_reward is None else f"{own_reward:.3f}"]
        out.append(f"| {row['epoch']} | " + " | ".join(cells) + " |")
    carrying = [(row["scores"][SLOW_CARRY]["mi_reward_moving"], row["epoch"]) for row in rows]
    best, last = max(carrying), carrying[-1]
    out += ["", f"Every kept epoch is in `{rel(source)}`; the table shows every fifth and the last. The reward for "
            f"carrying slowly is highest under the MINE of epoch {best[1]} ({best[0]:.3f} while carrying) and "
            f"{last[0]:.3f} under the newest (epoch {last[1]}); the policy's own exploring episodes earn more than "
            f"a whole fast pick-and-carry episode under {beaten} of the {len(both)} MINEs measured with both.", ""]
    return out


CARRY_DATA_SETS = ("own exploring episodes", SLOW_CARRY, FAST_CARRY, "push")


def carry_rewards(row: dict, where: str = "mi_reward_block_moving") -> float:
    """A mine_with_carries.json row's MI reward of both scripted carries (their mean), per
    window where the block moves (or ``where``: another score, e.g. the whole episode's)."""
    return float(np.mean([row["scores"][name][where] for name in (SLOW_CARRY, FAST_CARRY)]))


def carry_data_lines(carried: dict, source: Path, rel: Callable[[Path], str]) -> list[str]:
    """Copies of one kept MINE trained on the agent's episodes with a share of carries: what the
    MI reward pays each behaviour, step for step where the block moves and per whole episode."""
    rows = carried["rows"]
    did = carried["what_the_held_out_did"]
    pools = carried["train_episodes"]
    out = ["### Would the MI reward pay for lifting if lifting were in the MINE's data?", "",
           f"The MINE of epoch {carried['epoch']} as trained, and copies of it trained {carried['steps']} steps more "
           f"on batches of whole episodes drawn from the policy's own exploring episodes ({pools['own']}) and, with "
           f"the probability of the row's share, from scripted pick-and-carry episodes ({pools['carry_resets']} "
           "resets, each carried slowly and fast), the same draws for every share "
           "(`experiments/mine_with_carries.py`). Share 0 is the control: as many steps on the agent's episodes "
           "alone. The copies are not trained as the run trains its MINE (there a step sums 16 workers' gradients "
           "on their buffers of every epoch so far, with Adam's moments carried on; here one batch a step from one "
           "policy's episodes, Adam from zero): compare a share with the control, not with the MINE as trained. "
           f"Every MINE scores the same held-out episodes (other resets, {carried['episodes']} of each: "
           + "; ".join(f"{name}: touched in {d['touched']}, lifted 5 cm in {d['lifted']}" for name, d in did.items())
           + "), each cell the mean MI reward per window over the whole episode and, in brackets, over the windows "
           "in which the block moves 1 mm or more: the agent's pushes against the scripts' carrying, step for "
           "step.", "",
           "| MINE | " + " | ".join(CARRY_DATA_SETS) + " |", "|---|" + "---|" * len(CARRY_DATA_SETS)]
    for row in rows:
        cells = []
        for name in CARRY_DATA_SETS:
            score = row["scores"][name]
            moving = score["mi_reward_block_moving"]
            cells.append(f"{score['mi_reward_mean']:.3f} ({'-' if moving is None else f'{moving:.3f}'})")
        share = "as trained" if row["carry_share"] is None else f"+{row['steps']} steps, carries {row['carry_share']:g}"
        out.append(f"| {share} | " + " | ".join(cells) + " |")
    return out + ["", f"From `{rel(source)}`.", ""]


def percent(share: float) -> str:
    return f"{100 * share:g}%"


def compared(value: float, other: float) -> str:
    return "more than" if value > other else "as much as" if value == other else "less than"


def carry_data_fact(carried: dict) -> str | None:
    """What the copies say: whether carries in the MINE's data raise what it pays a carry per
    window where the block moves, against the control (share 0) and the agent's own pushes."""
    trained = sorted((row for row in carried["rows"] if row["carry_share"] is not None),
                     key=lambda row: row["carry_share"])
    if len(trained) < 2 or trained[0]["carry_share"] != 0:
        return None
    control, with_carries = trained[0], trained[1:]
    paid = {row["carry_share"]: carry_rewards(row) for row in trained}
    raised = [row["carry_share"] for row in with_carries if paid[row["carry_share"]] > paid[0]]
    verdict = ("what the MINE pays for a carry rises with carries in its data" if len(raised) == len(with_carries)
               else "carries in its data do not raise what the MINE pays for a carry" if not raised else
               "carries in its data raise what the MINE pays for a carry at some shares only")
    if raised and [paid[share] for share in raised] != sorted(paid[share] for share in raised):
        verdict += " (not steadily)"
    own = {row["carry_share"]: row["scores"]["own exploring episodes"]["mi_reward_block_moving"] for row in trained}
    if own[0] is None:
        against_own = "(the agent's own episodes never move the block 1 mm in a step)"
        beyond = ""
    else:
        against_own = f"{compared(paid[0], own[0])} the agent's own pushes ({own[0]:.3f})"
        above = [percent(row["carry_share"]) for row in with_carries
                 if own[row["carry_share"]] is not None and paid[row["carry_share"]] > own[row["carry_share"]]]
        beyond = (" (more than the agent's own pushes under the same MINE with carries as " + ", ".join(above)
                  + " of its episodes)" if above else " (never more than the agent's own pushes under the same MINE)")
    shares = ", ".join(f"{percent(row['carry_share'])}: {paid[row['carry_share']]:.3f}" for row in with_carries)
    whole = {row["carry_share"]: carry_rewards(row, "mi_reward_mean") for row in trained}
    own_whole = {row["carry_share"]: row["scores"]["own exploring episodes"]["mi_reward_mean"] for row in trained}
    beats = [percent(share) for share in whole if whole[share] > own_whole[share]]
    last = trained[-1]["carry_share"]
    before = f"a whole carry episode, whose first {carried['carrying_from_step']} steps reach, close and lift,"
    episodes = (f"{before} earns more than the agent's own episodes with carries as " + ", ".join(beats)
                + " of the data" if beats else f"{before} earns less than the agent's own episodes at every share "
                f"({whole[last]:.3f} against {own_whole[last]:.3f} at {percent(last)})")
    return (f"{verdict}: per window where the block moves, a carry earns {paid[0]:.3f} under the control MINE "
            f"(trained {control['steps']} steps more on the agent's episodes alone), {against_own}, and with "
            f"carries as a share of its episodes {shares}{beyond}; {episodes}")


# (set, place) pairs of mi_by_speed.json shown as columns when they hold this many windows
SPEED_COLUMN_WINDOWS = 50
# a speed bin counts in the comparison of two behaviours when each has this many windows in it (the
# slow and fast carries are one script until the carrying starts, so their windows before it are
# counted twice when pooled: their means are one behaviour's all the same)
SPEED_BIN_WINDOWS = 20
OWN_PUSHES = ("own exploring episodes", "on the table, not held")
HELD_CARRIES = ((SLOW_CARRY, "raised, held"), (FAST_CARRY, "raised, held"))
SCRIPTED_PUSH = (("push", "on the table, not held"), ("push", "on the table, held"))


def pooled_cells(speed: dict, pairs) -> list[dict]:
    """The cells of several (set, place) pairs of mi_by_speed.json pooled per speed bin: windows
    summed, rewards averaged over the windows."""
    cells = []
    for b in range(len(speed["speed_bins_mm_per_step"])):
        parts = [speed["sets"][name]["by_place"][place][b] for name, place in pairs]
        windows = sum(part["windows"] for part in parts)
        mean = (sum(part["windows"] * part["mi_reward_mean"] for part in parts if part["windows"]) / windows
                if windows else None)
        cells.append({"windows": windows, "mi_reward_mean": mean})
    return cells


def speed_lines(speed: dict, source: Path, rel: Callable[[Path], str]) -> list[str]:
    """The MI reward per window by the block's speed and place, one column per (set, place) with
    enough windows."""
    bins = speed["speed_bins_mm_per_step"]
    columns = [(name, place) for name, scored in speed["sets"].items() for place, cells in scored["by_place"].items()
               if sum(cell["windows"] for cell in cells) >= SPEED_COLUMN_WINDOWS]
    did = speed["what_they_did"]
    still_below = bins[0].split("-")[0]
    out = ["### Is it the block's speed, or its being held up, that the MI reward pays?", "",
           f"The windows in which the block moves {still_below} mm or more, of {speed['episodes']} episodes of each "
           "set (the "
           "same resets: " + "; ".join(f"{name}: touched in {d['touched']}, lifted 5 cm in {d['lifted']}"
                                        for name, d in did.items())
           + f"), under the MINE of epoch {speed['epoch']} (`experiments/mi_by_speed.py`), by the block's speed in "
           "the window and by where it is at both of its steps: on the table (within "
           f"{100 * speed['raised_m']:g} cm of its height at the reset) or raised, held (both fingers on it) or not. "
           "Each window is scored with its two steps' pairs swapped in time for the marginal samples, the draw under "
           f"which the reward ({CRITICS_MI_REWARD}) says anything; under the other, the identity, every window is "
           "paid -1 (up to float32 rounding), so the critic's mean is about the cell's plus -1, halved. Each cell: "
           "the mean reward (windows); columns with fewer than "
           f"{SPEED_COLUMN_WINDOWS} windows in all are left out.", "",
           "| block speed (mm a step) | " + " | ".join(f"{name}: {place}" for name, place in columns) + " |",
           "|---|" + "---|" * len(columns)]
    if not columns:
        return out[:-2] + [f"No set has {SPEED_COLUMN_WINDOWS} windows in one place (`{rel(source)}`).", ""]
    for b, label in enumerate(bins):
        cells = []
        for name, place in columns:
            cell = speed["sets"][name]["by_place"][place][b]
            cells.append(f"{cell['mi_reward_mean']:.3f} ({cell['windows']})" if cell["windows"] else "-")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return out + ["", f"From `{rel(source)}`.", ""]


def speed_fact(speed: dict) -> str | None:
    """Where the block moves at the same speed: do the agent's own pushes earn more than a held
    carry, and than a scripted push along the table? None without a speed both reach."""
    bins = speed["speed_bins_mm_per_step"]
    own = pooled_cells(speed, [OWN_PUSHES])

    def against(pairs) -> list[tuple[str, float, float]]:
        """(speed bin, the agent's pushes' mean, the other's) of each bin both reach."""
        other = pooled_cells(speed, pairs)
        return [(bins[b], own[b]["mi_reward_mean"], other[b]["mi_reward_mean"]) for b in range(len(bins))
                if min(own[b]["windows"], other[b]["windows"]) >= SPEED_BIN_WINDOWS]

    def listed(cells) -> str:
        return "; ".join(f"{label} mm a step: {mine:.3f} against {theirs:.3f}" for label, mine, theirs in cells)

    carried, pushed = against(HELD_CARRIES), against(SCRIPTED_PUSH)
    if not carried:
        return None
    over_carry = sum(mine > theirs for _, mine, theirs in carried)
    over_push = sum(mine > theirs for _, mine, theirs in pushed)
    parts = [f"more than a held carry in {over_carry} of the {len(carried)} speed bins both reach ({listed(carried)})"]
    if pushed:
        parts.append(f"more than the scripted push along the table in {over_push} of {len(pushed)} ({listed(pushed)})")
    if over_carry == len(carried) and pushed and over_push == len(pushed):
        so = ("so the block's speed does not explain why the agent's pushes earn more: at the same speed the MINE "
              "pays the agent's own way of moving the block more than a held carry and more than another push "
              "along the table")
    elif over_carry == len(carried):
        so = ("so the block's speed does not explain why the agent's pushes earn more than a carry" +
              (", though the scripted push is not paid less at every speed" if pushed else ""))
    elif over_carry == 0:
        so = "so at the same speed a held carry is paid more than what the agent does"
    else:
        carry_speeds = ", ".join(f"{label} mm a step" for label, mine, theirs in carried if mine <= theirs)
        so = (f"so at {'most' if 2 * over_carry > len(carried) else 'some'} speeds the MINE pays the agent's own "
              f"way of moving the block more than a held carry, and a held carry as much or more only at "
              f"{carry_speeds}")
    return (f"window by window under epoch {speed['epoch']}'s MINE (the swapped draw), where the block moves at the "
            f"same speed the agent's own pushes on the table earn " + ", and ".join(parts) + f": {so}")


def grasp_trend_fact(rows: list[dict]) -> str | None:
    """Whether grasps are tried once the policy touches the block, and whether more often later:
    the epochs from the first whose episodes touch it in 90 % or more, split in halves, their
    pooled grasp fractions compared by 95 % Wilson intervals."""
    from music.evaluate import wilson_interval

    first = next((i for i, row in enumerate(rows) if row["touched"]["fraction"] >= 0.9), None)
    touching = rows[first:] if first is not None else []
    if len(touching) < 2:
        return None
    half = len(touching) // 2
    parts = [touching[:half], touching[half:]]
    counts = [sum(row["grasped"]["count"] for row in part) for part in parts]
    episodes = [sum(row["episodes"] for row in part) for part in parts]
    (early_low, early_high), (late_low, late_high) = (wilson_interval(c, n) for c, n in zip(counts, episodes,
                                                                                            strict=True))
    trend = ("more often in the later epochs" if late_low > early_high else
             "less often in the later epochs" if late_high < early_low else
             "with no change between the earlier and the later epochs beyond the 95 % intervals")
    grasped = [row["grasped"]["count"] for row in touching]
    touched = [row["touched"]["count"] for row in touching]
    tried = "a grasp is tried" if max(grasped) else "no grasp is tried"
    return (f"{tried}: from epoch {touching[0]['epoch']} on a finger touches the block in {min(touched)}-"
            f"{max(touched)} of {touching[0]['episodes']} exploring episodes, and they grasp it (both fingers, 1 cm "
            f"up) in {min(grasped)}-{max(grasped)}, {trend} (epochs {epoch_spans([r['epoch'] for r in parts[0]])}: "
            f"{counts[0]} of {episodes[0]}; epochs {epoch_spans([r['epoch'] for r in parts[1]])}: {counts[1]} of "
            f"{episodes[1]})")


def cause_lines(gate: dict | None, grasp: dict | None, mi: dict | None, limits: dict | None,
                carried: dict | None = None, speed: dict | None = None) -> list[str]:
    """What the measurements say of why the block is not lifted: after a failed gate, or while
    the run trains (so far); nothing once the gate passed."""
    if gate is not None and gate["passed"]:
        return []
    facts = []
    trend = grasp_trend_fact([row for row in (grasp or {}).get("rows", []) if row["epoch"] is not None])
    if trend:
        facts.append(trend)
    if mi is not None and grasp is not None:
        _, both, beaten = own_against_carry(mi, grasp)
        if both:
            so = ("the reward does not pay more for lifting than for what the agent already does" if 2 * beaten >
                  len(both) else "under half of them, as many as not" if 2 * beaten == len(both) else
                  "under most, lifting is paid more than what the agent already does")
            facts.append(f"under {beaten} of the {len(both)} MINEs, the agent's own exploring episodes earn more MI "
                         f"reward than a scripted fast pick-and-carry: {so}")
    if carried is not None and carry_data_fact(carried):
        facts.append(carry_data_fact(carried))
    if speed is not None and (fact := speed_fact(speed)):
        facts.append(fact)
    if limits is not None:
        reach, policy = limits["reach"], limits[limits["policy"]]
        same = (reach["v4"]["reached"] == reach["unlimited arm"]["reached"]
                and policy["v4"]["object_lifted"] == policy["unlimited arm"]["object_lifted"])
        facts.append(f"v4's joint limits {'change nothing measured' if same else 'change what was measured'}: the "
                     f"gripper reaches {reach['v4']['reached']} of {reach['v4']['targets']} targets with them and "
                     f"{reach['unlimited arm']['reached']} without, and `{limits['policy']}` lifts in "
                     f"{policy['v4']['object_lifted']:.2f} and {policy['unlimited arm']['object_lifted']:.2f} of its "
                     "episodes")
    if not facts:
        return []
    facts.append("not a measurement but a reading of both codes: the exploration is the original's "
                 "(docs/reproducing.md)")
    title = "Why the block is not lifted" if gate is not None else "Why the block is not lifted, so far"
    return [f"### {title}", "", *(f"- {fact}" for fact in facts), ""]


def joint_limit_lines(limits: dict) -> list[str]:
    models = ("v4", "unlimited arm")
    policy = limits[limits["policy"]]
    reach = limits["reach"]
    picks = limits.get("scripted picks")
    out = ["### The arm's joint limits (gymnasium-robotics v4 against gym v1)", "",
           "gym v1's Fetch gave the torso, head and arm joints ranges that MuJoCo 1.5 did not enforce; v4 enforces "
           "them. Both models, the same seeds (`experiments/fetch_joint_limits.py`):", ""]
    out.append(f"- reach: of {reach['v4']['targets']} targets above the table, the gripper gets within 1 cm of "
               + " and ".join(f"{reach[m]['reached']} ({m})" for m in models))
    if picks:
        out.append("- scripted picks: the block lifted 5 cm in "
                   + " and ".join(f"{picks[m]['lifted']} of {picks[m]['episodes']} ({m})" for m in models))
    at_limit = ", ".join(f"{name.removeprefix('robot0:')} {share:.3f}"
                         for name, share in policy["v4"]["steps_at_limit_by_joint"].items())
    out.append(f"- the policy `{limits['policy']}`, {limits['episodes']} exploring episodes: in v4 a joint is at its "
               f"limit in a share of the steps of: {at_limit or 'none'} (the torso starts below its range, so its "
               "limit acts throughout); the gripper tilts more than 10 degrees in "
               + " and ".join(f"{policy[m]['steps_tilted_over_10_degrees']:.4f} of the steps ({m})" for m in models)
               + "; the block moves " + " and ".join(f"{policy[m]['object_displacement']:.3f} m ({m})" for m in models)
               + ", lifted 5 cm in " + " and ".join(f"{policy[m]['object_lifted']:.2f} ({m})" for m in models))
    return out + [""]


def headline_verdict(gate: dict | None, runs: list[tuple[int, dict]], planned_seeds: int,
                     trends: Sequence[tuple[int, LiftTrend]] = ()) -> str:
    """The answer to the headline, in plain words, from what is in."""
    if gate is None:
        return (f"not answered yet: {len(runs)} of {planned_seeds} paper-scale runs are in and the gate "
                "(`experiments/paper_gate.py`) has not run")
    best = max((row for row in gate["rows"] if row["policy"] != "untrained"), key=lambda row: row["fraction"])
    medium = gate["medium"]
    played = [row for row in gate.get("play_rows", []) if row["policy"] != "untrained"]
    play = ""
    if played:
        most = max(played, key=lambda row: row["fraction"])
        play = (f"; played greedily with zero goals (the authors' demos), the most is epoch {most['epoch']}: "
                f"{most['lifted']} of {most['episodes']}" if most["lifted"] else
                "; played greedily with zero goals (the authors' demos), none of the gate's policies lifts it "
                f"(0 of {most['episodes']} each)")
    if gate["passed"]:
        seeds = "; the other seeds are " + ("in" if len(runs) >= planned_seeds else "still to run")
        return (f"at 16 workers the seed-0 policy of epoch {best['epoch']} lifts the block 5 cm in {best['lifted']} "
                f"of {best['episodes']} exploring episodes, more than medium's {medium['lifted']} of "
                f"{medium['episodes']} beyond the 95 % intervals{play}{seeds}")
    rising = "".join(f"; but seed {seed}'s mean lift per exploring episode was still rising when its training "
                     f"ended ({trend.low:.4f} m at epoch {trend.low_epoch}, {trend.last:.4f} m at "
                     f"{trend.last_epoch})" for seed, trend in trends if trend.rising_at_the_end)
    return (f"**not reproduced at the paper's scale either**: with 16 workers no kept policy of seed 0 lifts the block "
            f"5 cm in more exploring episodes than the medium runs (the most: epoch {best['epoch']}, {best['lifted']} "
            f"of {best['episodes']}; medium {medium['lifted']} of {medium['episodes']}){play}{rising}")


def paper_section(paper: Path, paper_eval: Path, medium: Path, figures: Path, out_md: Path, planned_seeds: int,
                  draw: Callable[[list[str], Path, str], list[str]], rel: Callable[[Path], str]
                  ) -> tuple[list[str], str]:
    """The section's lines and its one-line verdict (for the summary)."""
    runs = finished_runs(paper)
    gate, grasp, grasp_play, limits, mi, carried, speed = (read_json(paper_eval / name) for name in (
        "gate.json", "grasp.json", "grasp_play.json", "joint_limits.json", "mi_by_behaviour.json",
        "mine_with_carries.json", "mi_by_speed.json"))
    trends = lift_trends(paper)
    verdict = headline_verdict(gate, runs, planned_seeds, trends)
    out = ["## 3. At the paper's scale (16 workers): does MUSIC alone pick up the block?", "",
           f"Paper: {PAPER_HEADLINE}", "",
           f"Ours: {TASK} {VARIANT}, every paper default, 16 workers as 2 MPI processes x 8 virtual workers "
           "(`--workers_per_rank 8`: the paper's batch of 16 x 256 transitions per update and its 16 x 2 episodes "
           "per cycle, 8 times the medium runs'), 50 epochs of 50 cycles (`experiments/campaign_paper.py`).", ""]
    if runs:
        hours = [record["seconds"] / 3600 for _, record in runs]
        seeds = [str(seed) for seed, _ in runs]
        rest = (f"; the other {planned_seeds - len(runs)} are not run: the gate did not pass (below), and only a "
                "passed gate runs more seeds" if gate is not None and not gate["passed"]
                and len(runs) < planned_seeds else "")
        out += [f"Runs in: {len(runs)} of {planned_seeds} (seed{'s' * (len(seeds) > 1)} {', '.join(seeds)}), "
                f"{np.mean(hours):.1f} h {'each ' * (len(runs) > 1)}on "
                f"{', '.join(sorted({m for _, r in runs for m in r['machines']}))}{rest}.", ""]
    else:
        out += [f"Runs in: 0 of {planned_seeds}; seed 0 is training. What follows was measured on the policies "
                "seed 0's training had kept when it was measured. Each row names the weights it measured "
                "(`weights_sha256` in the JSON files): a training done again on another CPU kind gives other "
                "weights, whose epochs `grasp_rate.py` and the gate measure again, dropping the rows they replace.",
                ""]
    if gate is not None:
        out += ["### Lifting, per kept policy (the gate)", "",
                f"{gate['rows'][0]['episodes']} episodes per policy and mode (`experiments/paper_gate.py`; each "
                "policy's episodes scored by its own MINE, the untrained one's by the final MINE). train: exploring "
                "as in training (the gate decides on these); play: greedy with zero goals, as the original's "
                "play.py that recorded the authors' demos (information).", ""]
        out += gate_table(gate) + [f"Gate: {gate['verdict']}.", ""]
    if runs:
        out += ["### Training curves, 16 workers against 2", "",
                "The mean over each epoch's exploring episodes (`progress.csv`), against the episodes of all "
                "workers: the 16-worker run has 8 times the medium runs' episodes per epoch.", ""]
        task_runs = [rel(paper / TASK / VARIANT), rel(medium / TASK / VARIANT)]
        for metric in ("train/object_displacement", "train/object_lift"):
            out += draw([*task_runs, "--variants", VARIANT, "--metric", metric, "--x", "episodes", "--out",
                         f"{rel(figures)}/{metric.split('/')[1]}_16_vs_2_workers", "--title",
                         f"{VARIANT}, no task reward, 16 workers (paper) and 2 (medium): {metric}"], out_md, metric)
        out += [f"- seed {seed}: {lift_trend_fact(trend)}" for seed, trend in trends] + [""]
    if grasp is not None:
        out += grasp_lines(grasp, paper_eval / "grasp.json", figures, out_md, rel)
    if grasp_play is not None:
        out += play_grasp_lines(grasp_play, paper_eval / "grasp_play.json", rel)
    if mi is not None:
        out += mi_behaviour_lines(mi, grasp, paper_eval / "mi_by_behaviour.json", rel)
    if carried is not None:
        out += carry_data_lines(carried, paper_eval / "mine_with_carries.json", rel)
    if speed is not None:
        out += speed_lines(speed, paper_eval / "mi_by_speed.json", rel)
    if limits is not None:
        out += joint_limit_lines(limits)
    out += cause_lines(gate, grasp, mi, limits, carried, speed)
    out += [f"**Verdict, the headline at the paper's scale:** {verdict}.", ""]
    return out, verdict
