"""experiments/report_paper.py: the paper-scale section of RESULTS.md from fake measurements, checked by hand."""

import csv
import json
from pathlib import Path

from conftest import experiment_script

report_paper = experiment_script("report_paper")


def gate_row(policy, epoch, lifted, episodes=100):
    from music.evaluate import wilson_interval

    return {"policy": policy, "epoch": epoch, "episodes": episodes, "lifted": lifted, "fraction": lifted / episodes,
            "ci95": list(wilson_interval(lifted, episodes)), "object_displacement": 0.4, "object_fell": 0.3,
            "mi_reward_mean": -0.9}


def grasp_row(policy, epoch, counts, episodes=100):
    from music.evaluate import wilson_interval

    row = {"policy": policy, "epoch": epoch, "episodes": episodes, "grasped_steps_mean": 0.1}
    for name, count in zip((name for name, _ in report_paper.GRASP_FIGURES), counts, strict=True):
        row[name] = {"count": count, "fraction": count / episodes, "ci95": list(wilson_interval(count, episodes))}
    return row


def fake_run(root: Path, seed: int, workers: int, displacement: list[float], lift: list[float] | None = None) -> None:
    folder = root / "FetchPickAndPlace-v1" / "SAC+MUSIC" / f"seed{seed}"
    folder.mkdir(parents=True)
    (folder / "params.json").write_text(json.dumps({"env_name": "FetchPickAndPlace-v1", "note": "SAC+MUSIC",
                                                    "seed": seed, "num_cpu": 2, "total_workers": workers,
                                                    "n_cycles": 50, "n_batches": 40}))
    with open(folder / "progress.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "train/episode", "train/object_displacement", "train/object_lift"])
        for epoch, value in enumerate(displacement):
            writer.writerow([epoch, 100 * (epoch + 1), value, value / 10 if lift is None else lift[epoch]])
    (folder / "sweep.json").write_text(json.dumps({"scale": "paper", "seconds": 36000.0,
                                                   "machines": ["Intel Xeon, 2 cores"]}))


def section(tmp_path, gate=None, grasp=None, limits=None, runs=0, grasp_play=None, mi=None, carried=None,
            speed=None, lift=None):
    paper, paper_eval, medium = tmp_path / "paper", tmp_path / "paper_eval", tmp_path / "medium"
    paper_eval.mkdir(parents=True, exist_ok=True)
    for name, data in (("gate.json", gate), ("grasp.json", grasp), ("joint_limits.json", limits),
                       ("grasp_play.json", grasp_play), ("mi_by_behaviour.json", mi),
                       ("mine_with_carries.json", carried), ("mi_by_speed.json", speed)):
        if data is not None:
            (paper_eval / name).write_text(json.dumps(data))
    for seed in range(runs):
        fake_run(paper, seed, 16, [0.0, 0.3, 0.5] if lift is None else [0.3] * len(lift), lift)
    if runs:
        fake_run(medium, 0, 2, [0.0, 0.1, 0.2])
    drawn = []

    def draw(argv, out_md, alt):
        drawn.append(argv)
        return [f"figure {alt}"]

    lines, verdict = report_paper.paper_section(paper, paper_eval, medium, tmp_path / "figures" / "paper",
                                                tmp_path / "RESULTS.md", 3, draw, str)
    return "\n".join(lines), verdict, drawn


MEDIUM = {"episodes": 300, "lifted": 4, "fraction": 4 / 300, "ci95": [0.0052, 0.0338]}


def test_a_failed_gate_says_not_reproduced_with_the_best_policy_and_medium(tmp_path):
    gate = {"rows": [gate_row("untrained", None, 0), gate_row("epoch 10", 10, 2), gate_row("epoch 49", 49, 3)],
            "play_rows": [gate_row("untrained", None, 0), gate_row("epoch 49", 49, 4)],
            "medium": MEDIUM, "passed": False, "verdict": "not passed: ..."}
    text, verdict, drawn = section(tmp_path, gate=gate, runs=1)
    # the most lifts: epoch 49, 3 of 100; Wilson 95 % of 3/100 = 0.010-0.085, of 4/100 = 0.016-0.098
    assert "| epoch 49 | train | 3 of 100 (0.010-0.085) | 0.400 | 0.30 | -0.900 |" in text
    assert "| epoch 49 | play | 4 of 100 (0.016-0.098) | 0.400 | 0.30 | -0.900 |" in text
    assert ("| medium (2 workers), final policies of 3 seeds pooled | train | 4 of 300 (0.005-0.034) | - | - | - |"
            in text)
    assert verdict.startswith("**not reproduced at the paper's scale either**")
    # 3 epochs: too few to call the lift still rising (RISING_EPOCHS), though the last is the highest
    assert verdict.endswith("the most: epoch 49, 3 of 100; medium 4 of 300); played greedily with zero goals (the "
                            "authors' demos), the most is epoch 49: 4 of 100")
    # the lift never falls over the last 5 epochs and is highest at the last: the verdict says so
    rising, rising_verdict, _ = section(tmp_path / "rising", gate=gate, runs=1,
                                        lift=[0.012, 0.01, 0.005, 0.006, 0.006, 0.009, 0.016])
    assert rising_verdict.endswith("the most is epoch 49: 4 of 100; but seed 0's mean lift per exploring episode was "
                                   "still rising when its training ended (0.0060 m at epoch 3, 0.0160 m at 6)")
    assert ("- seed 0: the mean lift of the exploring episodes is highest at the last epoch, 0.0160 m, up from "
            "0.0060 m at epoch 3: the run ended while it rose") in rising
    # a plateau with a dip and one high last epoch is not "still rising"
    blip, blip_verdict, _ = section(tmp_path / "blip", gate=gate, runs=1,
                                    lift=[0.01, 0.01, 0.01, 0.01, 0.009, 0.01, 0.02])
    assert blip_verdict.endswith("the most is epoch 49: 4 of 100")
    assert "- seed 0: the mean lift of the exploring episodes is highest at the last epoch" not in blip
    peaked, peaked_verdict, _ = section(tmp_path / "peaked", gate=gate, runs=1, lift=[0.0, 0.04, 0.02])
    assert peaked_verdict.endswith("the most is epoch 49: 4 of 100")
    assert ("- seed 0: the mean lift of the exploring episodes peaked at epoch 1 (0.0400 m) and was 0.0200 m at the "
            "last epoch") in peaked
    assert ("Runs in: 1 of 3 (seed 0), 10.0 h on Intel Xeon, 2 cores; the other 2 are not run: the gate did not "
            "pass (below), and only a passed gate runs more seeds.") in text
    # no kept policy lifts when played: the line says so instead of naming a "most" of 0
    gate["play_rows"] = [gate_row("untrained", None, 0), gate_row("epoch 10", 10, 0), gate_row("epoch 49", 49, 0)]
    _, verdict, _ = section(tmp_path / "none_played", gate=gate, runs=1)
    assert verdict.endswith("played greedily with zero goals (the authors' demos), none of the gate's policies "
                            "lifts it (0 of 100 each)")
    # both scales' training curves, the paper's run folder and medium's
    assert [argv[argv.index("--metric") + 1] for argv in drawn] == ["train/object_displacement", "train/object_lift"]
    assert all(argv[0].endswith("paper/FetchPickAndPlace-v1/SAC+MUSIC") for argv in drawn)


def test_a_passed_gate_names_the_policy_and_says_whether_the_seeds_are_in(tmp_path):
    gate = {"rows": [gate_row("untrained", None, 0), gate_row("epoch 30", 30, 12)], "medium": MEDIUM, "passed": True,
            "verdict": "passed: ..."}
    _, verdict, _ = section(tmp_path, gate=gate, runs=1)
    assert verdict == ("at 16 workers the seed-0 policy of epoch 30 lifts the block 5 cm in 12 of 100 exploring "
                       "episodes, more than medium's 4 of 300 beyond the 95 % intervals; the other seeds are still "
                       "to run")


def test_without_runs_or_gate_the_headline_is_not_answered_and_no_curve_is_drawn(tmp_path):
    grasp = {"run": "seed0.partial", "rows": [grasp_row("untrained", None, (0, 0, 0, 0)),
                                              grasp_row("epoch 0", 0, (5, 1, 0, 0)),
                                              grasp_row("epoch 1", 1, (40, 10, 4, 1))]}
    grasp["rows"][1]["mi_reward_by_kind"] = {"touched": {"episodes": 4, "mi_reward_mean": -0.9},
                                             "untouched": {"episodes": 96, "mi_reward_mean": -1.0}}
    grasp["rows"][2]["mi_reward_by_kind"] = {"grasped": {"episodes": 4, "mi_reward_mean": -0.4},
                                             "touched": {"episodes": 36, "mi_reward_mean": -0.7},
                                             "untouched": {"episodes": 60, "mi_reward_mean": -1.0}}
    text, verdict, drawn = section(tmp_path, grasp=grasp)
    assert verdict.startswith("not answered yet: 0 of 3 paper-scale runs are in")
    assert drawn == []
    assert "- the most grasps: epoch 1, 4 of 100 (0.016-0.098), pinched in 10, lifted in 1" in text
    # touched pooled over both epochs: (4 x -0.9 + 36 x -0.7) / 40 = -0.72
    assert ("over all epochs: grasped -0.400 (4 episodes), touched -0.720 (40 episodes), untouched -1.000 "
            "(156 episodes)") in text
    assert (tmp_path / "figures" / "paper" / "grasp_by_epoch.png").is_file()
    played = {"run": "seed0.partial", "rows": [grasp_row("epoch 0", 0, (50, 2, 0, 0)),
                                               grasp_row("epoch 1", 1, (90, 6, 1, 2))]}
    text, _, _ = section(tmp_path, grasp=grasp, grasp_play=played)
    assert ("the same policies' 200 episodes over epochs 0-1: touched in 140, pinched in 8, grasped in 1, lifted 5 cm "
            "in 2; the most lifts: epoch 1, 2 of 100.") in text


def test_the_joint_limits_paragraph_gives_both_models(tmp_path):
    model = {"steps_at_limit_by_joint": {"robot0:torso_lift_joint": 1.0}, "steps_tilted_over_10_degrees": 0.005,
             "object_displacement": 0.32, "object_lifted": 0.0}
    limits = {"policy": "policy_13.npz", "episodes": 100, "policy_13.npz": {"v4": model, "unlimited arm": model},
              "reach": {m: {"targets": 125, "reached": 114} for m in ("v4", "unlimited arm")},
              "scripted picks": {m: {"episodes": 100, "lifted": 100} for m in ("v4", "unlimited arm")}}
    text, _, _ = section(tmp_path, limits=limits)
    assert "within 1 cm of 114 (v4) and 114 (unlimited arm)" in text
    assert "lifted 5 cm in 100 of 100 (v4) and 100 of 100 (unlimited arm)" in text
    assert "torso_lift_joint 1.000" in text


def test_music_plot_keeps_16_and_2_workers_apart_and_counts_every_workers_episodes(tmp_path, monkeypatch):
    from music import plot

    fake_run(tmp_path / "paper", 0, 16, [0.0, 0.3, 0.5])
    fake_run(tmp_path / "medium", 0, 2, [0.0, 0.1, 0.2])
    runs = [plot.load_run(folder) for folder in plot.find_run_folders([str(tmp_path)])]
    assert sorted(run.workers for run in runs) == [2, 16]
    paper = next(run for run in runs if run.workers == 16)
    assert list(plot.x_values(paper, "episodes")) == [1600, 3200, 4800]  # train/episode is per worker
    drawn = {}
    monkeypatch.setattr(plot, "save_reproducibly", lambda fig, out: drawn.setdefault("fig", fig) and [])
    plot.plot_metric(runs, "train/object_displacement", "episodes", tmp_path / "fig")
    ax = drawn["fig"].axes[0]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["SAC+MUSIC, 2 workers (1 run)",
                                                                          "SAC+MUSIC, 16 workers (1 run)"]
    assert ax.get_title() == "FetchPickAndPlace-v1 (2/16 workers)"


def test_the_mi_by_behaviour_table_shows_every_fifth_epoch_and_the_last_beside_the_policys_own_episodes(tmp_path):
    names = ("pick and carry, slow", "pick and carry, fast", "push", "reach without touching", "still")

    def mi_row(epoch, carry_slow_moving, carry_fast):
        scores = {name: {"mi_reward_mean": -0.99, "at_ceiling": 0.0, "mi_reward_moving": -0.98} for name in names}
        scores["pick and carry, slow"]["mi_reward_moving"] = carry_slow_moving
        scores["pick and carry, fast"]["mi_reward_mean"] = carry_fast
        return {"epoch": epoch, "weights_sha256": f"w{epoch}", "scores": scores}

    did = {name: {"episodes": 100, "touched": 100, "lifted": 100 if "carry" in name else 0,
                  "object_displacement": 0.2} for name in names}
    mi = {"behaviours": did, "rows": [mi_row(e, -0.7 - 0.01 * e, -0.9) for e in range(7)]}
    # the policy's own exploring episodes of epochs 0-5 (epoch 6 not measured): 30 at -0.8 and 70 at -1.0 = -0.94,
    # except epoch 5: 100 at -0.8
    own = [{**grasp_row(f"epoch {e}", e, (100, 10, 1, 0)), "weights_sha256": f"w{e}", "mi_reward_by_kind": {
        "touched": {"episodes": 30 if e < 5 else 100, "mi_reward_mean": -0.8},
        "untouched": {"episodes": 70 if e < 5 else 0, "mi_reward_mean": -1.0}}} for e in range(6)]
    text, _, _ = section(tmp_path, grasp={"run": "seed0.partial", "rows": own}, mi=mi)
    assert "### Does the MI reward pay more for lifting than for pushing?" in text
    table = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| MINE")]
    assert [line.split(" | ")[0] for line in table] == ["| 0", "| 5", "| 6"]
    assert table[0] == "| 0 | -0.990 (-0.700) | -0.900 (-0.980) | -0.990 (-0.980) | -0.990 | -0.940 |"
    assert table[1].endswith("| -0.800 |") and table[2].endswith("| - |")
    # the slow carry is paid most under epoch 0's MINE; own episodes (-0.80) beat the fast carry (-0.90) only at epoch 5
    assert "highest under the MINE of epoch 0 (-0.700 while carrying) and -0.760 under the newest (epoch 6)" in text
    assert "under 1 of the 6 MINEs measured with both" in text


def test_the_cause_list_reads_the_grasp_trend_and_the_reward_comparison_from_the_measurements():
    def grasp_rows(grasped, touched=None):  # epoch 0 touches the block in 10 of 100; epochs 1.. as given (95)
        touched = touched or [95] * len(grasped)
        rows = [grasp_row("epoch 0", 0, (10, 1, 0, 0))] + [grasp_row(f"epoch {e}", e, (t, 10, g, 0)) for e, (g, t)
                                                             in enumerate(zip(grasped, touched, strict=True), start=1)]
        for row in rows:
            row["weights_sha256"] = f"w{row['epoch']}"
            row["mi_reward_by_kind"] = {"touched": {"episodes": 100, "mi_reward_mean": -0.8}}
        return {"rows": rows}

    def mi(fast_carry):  # the whole fast pick-and-carry episode's reward under the MINE of each epoch 0..
        return {"rows": [{"epoch": e, "weights_sha256": f"w{e}", "scores": {
            "pick and carry, fast": {"mi_reward_mean": value}}} for e, value in enumerate(fast_carry)]}

    # epoch 3 touches in only 50: it stays in the span from epoch 1, the first of 90 % or more
    falling = report_paper.cause_lines(None, grasp_rows([20, 15, 1, 0], touched=[95, 100, 50, 95]),
                                       mi([-0.9, -0.9, -0.9, -0.7, -0.7]), None)
    assert falling[0] == "### Why the block is not lifted, so far"
    # epochs 1-2: 35 of 200 (Wilson 0.128-0.233), epochs 3-4: 1 of 200 (0.001-0.028)
    assert falling[2] == ("- a grasp is tried: from epoch 1 on a finger touches the block in 50-100 of 100 exploring "
                          "episodes, and they grasp it (both fingers, 1 cm up) in 0-20, less often in the later "
                          "epochs (epochs 1-2: 35 of 200; epochs 3-4: 1 of 200)")
    # own episodes -0.8 beat the carry's -0.9 under 3 of the 5 MINEs
    assert falling[3] == ("- under 3 of the 5 MINEs, the agent's own exploring episodes earn more MI reward than a "
                          "scripted fast pick-and-carry: the reward does not pay more for lifting than for what the "
                          "agent already does")
    assert falling[-2].startswith("- not a measurement but a reading of both codes")
    rising = report_paper.cause_lines({"passed": False}, grasp_rows([1, 1, 20, 20]),
                                      mi([-0.9, -0.7, -0.7, -0.7, -0.7]), None)
    assert rising[0] == "### Why the block is not lifted"
    assert "more often in the later epochs (epochs 1-2: 2 of 200; epochs 3-4: 40 of 200)" in rising[2]
    assert "under 1 of the 5 MINEs" in rising[3] and "under most, lifting is paid more" in rising[3]
    level = report_paper.cause_lines(None, grasp_rows([2, 3, 3, 2]), mi([-0.9, -0.9, -0.7, -0.7]), None)
    assert "with no change between the earlier and the later epochs beyond the 95 % intervals" in level[2]
    assert "under 2 of the 4 MINEs" in level[3] and "under half of them, as many as not" in level[3]
    never = report_paper.cause_lines(None, grasp_rows([0, 0]), None, None)
    assert never[2].startswith("- no grasp is tried: from epoch 1 on")
    assert report_paper.cause_lines({"passed": True}, grasp_rows([1, 1, 2, 4]), None, None) == []


def test_a_script_that_did_not_do_what_it_says_is_flagged_before_the_table(tmp_path):
    names = ("pick and carry, slow", "pick and carry, fast", "push", "reach without touching", "still")
    did = {name: {"episodes": 10, "touched": 0 if name in ("reach without touching", "still") else 10,
                  "lifted": 10 if "carry" in name else 0, "object_displacement": 0.1} for name in names}
    assert report_paper.scripts_did_what_they_say(did)
    did["pick and carry, fast"]["lifted"] = 9  # dropped the block once
    assert not report_paper.scripts_did_what_they_say(did)
    scores = {name: {"mi_reward_mean": -0.9, "at_ceiling": 0.0, "mi_reward_moving": -0.9} for name in names}
    lines = report_paper.mi_behaviour_lines({"behaviours": did, "rows": [{"epoch": 0, "weights_sha256": "w",
                                                                          "scores": scores}]}, None, Path("m"), str)
    assert "**A script did not do what it says** (read its row before the table)" in lines[2]


def carried_rows(rows):
    """mine_with_carries.json from (share, own, carry slow, carry fast, push) rewards per window where the
    block moves; each whole episode's mean is 0.2 below it, except own episodes' (0.1 below)."""
    names = report_paper.CARRY_DATA_SETS
    did = {name: {"episodes": 10, "touched": 10, "lifted": 10 if "carry" in name else 0, "object_displacement": 0.1}
           for name in names}
    return {"epoch": 30, "steps": 2000, "episodes": 10, "carrying_from_step": 36,
            "train_episodes": {"own": 20, "carries": 20, "carry_resets": 10}, "what_the_held_out_did": did,
            "rows": [{"carry_share": share, "steps": 0 if share is None else 2000, "scores": {
                name: {"mi_reward_mean": value - (0.1 if name == names[0] else 0.2), "mi_reward_block_moving": value}
                for name, value in zip(names, values, strict=True)}} for share, *values in rows]}


def test_the_carries_in_the_mines_data_table_and_its_cause_line_come_from_the_copies_scores(tmp_path):
    carried = carried_rows([(None, -0.8, -0.9, -0.8, -0.95), (0.0, -0.8, -0.8, -0.7, -0.95),
                            (0.1, -0.8, -0.6, -0.5, -0.97), (0.3, -0.8, -0.5, -0.4, -0.99)])
    text, _, _ = section(tmp_path, carried=carried)
    assert "### Would the MI reward pay for lifting if lifting were in the MINE's data?" in text
    assert "| as trained | -0.900 (-0.800) | -1.100 (-0.900) | -1.000 (-0.800) | -1.150 (-0.950) |" in text
    assert ("| +2000 steps, carries 0.3 | -0.900 (-0.800) | -0.700 (-0.500) | -0.600 (-0.400) | -1.190 (-0.990) |"
            in text)
    fact = report_paper.carry_data_fact(carried)
    # carries paid per moving window: control (-0.8 - 0.7) / 2 = -0.75 > own -0.8; 10 %: -0.55; 30 %: -0.45.
    # whole episodes: carries -0.95, -0.75, -0.65 against own -0.9: beaten at 10 % and 30 %
    assert fact == ("what the MINE pays for a carry rises with carries in its data: per window where the block "
                    "moves, a carry earns -0.750 under the control MINE (trained 2000 steps more on the agent's "
                    "episodes alone), more than the agent's own pushes (-0.800), and with carries as a share of its "
                    "episodes 10%: -0.550, 30%: -0.450 (more than the agent's own pushes under the same MINE with "
                    "carries as 10%, 30% of its episodes); a whole carry episode, whose first 36 steps reach, close "
                    "and lift, earns more than the agent's own episodes with carries as 10%, 30% of the data")
    assert f"- {fact}" in text
    flat = carried_rows([(0.0, -0.7, -0.8, -0.8, -0.9), (0.3, -0.7, -0.85, -0.8, -0.9)])
    assert report_paper.carry_data_fact(flat) == (
        "carries in its data do not raise what the MINE pays for a carry: per window where the block moves, a "
        "carry earns -0.800 under the control MINE (trained 2000 steps more on the agent's episodes alone), less "
        "than the agent's own pushes (-0.700), and with carries as a share of its episodes 30%: -0.825 (never more "
        "than the agent's own pushes under the same MINE); a whole carry episode, whose first 36 steps reach, close "
        "and lift, earns less than the agent's own episodes at every share (-1.025 against -0.800 at 30%)")
    assert report_paper.carry_data_fact(carried_rows([(0.1, -0.8, -0.6, -0.5, -0.9)])) is None  # no control


def test_the_carry_data_line_says_when_the_rise_is_not_steady_or_partial_and_when_the_agent_never_moves_the_block():
    # carries paid -0.75 (control), -0.5 at 1 %, -0.6 at 3 %: both above the control, not in the shares' order
    uneven = report_paper.carry_data_fact(carried_rows([(0.0, -0.8, -0.8, -0.7, -0.9), (0.01, -0.8, -0.5, -0.5, -0.9),
                                                        (0.03, -0.8, -0.6, -0.6, -0.9)]))
    assert uneven.startswith("what the MINE pays for a carry rises with carries in its data (not steadily): ")
    assert "1%: -0.500, 3%: -0.600" in uneven
    partial = report_paper.carry_data_fact(carried_rows([(0.0, -0.8, -0.8, -0.7, -0.9), (0.01, -0.8, -0.8, -0.8, -0.9),
                                                         (0.1, -0.8, -0.6, -0.6, -0.9)]))
    assert partial.startswith("carries in its data raise what the MINE pays for a carry at some shares only: ")
    never_moved = carried_rows([(0.0, -0.8, -0.8, -0.7, -0.9), (0.1, -0.8, -0.6, -0.6, -0.9)])
    for row in never_moved["rows"]:
        row["scores"]["own exploring episodes"]["mi_reward_block_moving"] = None
    fact = report_paper.carry_data_fact(never_moved)
    assert ("a carry earns -0.750 under the control MINE (trained 2000 steps more on the agent's episodes alone), "
            "(the agent's own episodes never move the block 1 mm in a step), and with carries as a share of its "
            "episodes 10%: -0.600; ") in fact


def test_the_measured_epochs_are_named_as_runs_of_consecutive_epochs_so_a_gap_shows():
    assert report_paper.epoch_spans([0, 1, 2, 5, 7, 8]) == "0-2, 5, 7-8"
    assert report_paper.epoch_spans(list(range(28)) + [30, 31, 32]) == "0-27, 30-32"
    assert report_paper.epoch_spans([4]) == "4"


def speed_measurement(cells: dict) -> dict:
    """An mi_by_speed.json whose (set, place) pairs have the given (windows, reward) per speed bin; the
    other pairs no windows."""
    mi_by_speed = experiment_script("mi_by_speed")
    bins = mi_by_speed.speed_bins()
    sets = {}
    for name in mi_by_speed.SCORED:
        by_place = {}
        for place in mi_by_speed.PLACES:
            given = cells.get((name, place), [(0, None)] * len(bins))
            by_place[place] = [{"windows": w, "mi_reward_mean": r} for w, r in given]
        sets[name] = {"moving_windows": 0, "elsewhere_windows": 0, "by_place": by_place}
    did = {"episodes": 100, "touched": 100, "lifted": 0, "object_displacement": 0.2}
    return {"epoch": 49, "episodes": 100, "speed_bins_mm_per_step": bins, "raised_m": 0.01,
            "what_they_did": {name: did for name in mi_by_speed.SCORED}, "sets": sets}


def test_the_speed_table_and_its_cause_line_compare_the_agents_pushes_with_carries_and_a_push_bin_by_bin(tmp_path):
    none = (0, None)
    own = [(500, -0.4), (600, -0.25), (300, -0.24), (10, -0.1), none]
    slow = [(100, -0.94), none, (140, -0.78), (1400, -0.7), none]
    fast = [(100, -0.94), none, (40, -0.98), (800, -0.6), (700, -0.45)]
    push = [(100, -0.98), (1400, -0.98), none, none, none]
    push_held = [none, (1100, -0.97), none, none, none]
    stray = [none, (3, 0.0), none, none, none]  # too few windows for a column
    speed = speed_measurement({("own exploring episodes", "on the table, not held"): own,
                               ("own exploring episodes", "raised, not held"): stray,
                               ("pick and carry, slow", "raised, held"): slow,
                               ("pick and carry, fast", "raised, held"): fast,
                               ("push", "on the table, not held"): push, ("push", "on the table, held"): push_held})
    text, _, _ = section(tmp_path, speed=speed)
    assert "### Is it the block's speed, or its being held up, that the MI reward pays?" in text
    assert ("| block speed (mm a step) | own exploring episodes: on the table, not held | pick and carry, slow: "
            "raised, held | pick and carry, fast: raised, held | push: on the table, not held | push: on the table, "
            "held |") in text
    assert "| 5-10 | -0.250 (600) | - | - | -0.980 (1400) | -0.970 (1100) |" in text
    assert "raised, not held" not in text.split("| block speed")[1].split("\n")[0]
    # carries pooled per bin: 1-5: -0.94 (200); 10-20: (140 x -0.78 + 40 x -0.98) / 180 = -0.824; 20-40: own has
    # 10 windows only, too few; pushes pooled: 1-5 -0.98; 5-10: (1400 x -0.98 + 1100 x -0.97) / 2500 = -0.9756
    fact = report_paper.speed_fact(speed)
    assert fact == ("window by window under epoch 49's MINE (the swapped draw), where the block moves at the same "
                    "speed the agent's own pushes on the table earn more than a held carry in 2 of the 2 speed bins "
                    "both reach (1-5 mm a step: -0.400 against -0.940; 10-20 mm a step: -0.240 against -0.824), and "
                    "more than the scripted push along the table in 2 of 2 (1-5 mm a step: -0.400 against -0.980; "
                    "5-10 mm a step: -0.250 against -0.976): so the block's speed does not explain why the agent's "
                    "pushes earn more: at the same speed the MINE pays the agent's own way of moving the block more "
                    "than a held carry and more than another push along the table")
    assert f"- {fact}" in text

    paid_more = speed_measurement({("own exploring episodes", "on the table, not held"): own,
                                   ("pick and carry, fast", "raised, held"): [(100, -0.1), none, (40, -0.1), none,
                                                                              none]})
    assert report_paper.speed_fact(paid_more).endswith(
        "more than a held carry in 0 of the 2 speed bins both reach (1-5 mm a step: -0.400 against -0.100; 10-20 mm a "
        "step: -0.240 against -0.100): so at the same speed a held carry is paid more than what the agent does")
    mixed = speed_measurement({("own exploring episodes", "on the table, not held"): own,
                               ("pick and carry, fast", "raised, held"): [(100, -0.1), none, (40, -0.9), none, none]})
    assert report_paper.speed_fact(mixed).endswith(
        "so at some speeds the MINE pays the agent's own way of moving the block more than a held carry, and a held "
        "carry as much or more only at 1-5 mm a step")
    # the agent's pushes paid more at 2 of 3 speeds, a tie (as much) counted for the carry
    mostly = speed_measurement({("own exploring episodes", "on the table, not held"): own,
                                ("pick and carry, slow", "raised, held"): [(100, -0.9), (100, -0.9), (100, -0.24),
                                                                           none, none]})
    assert report_paper.speed_fact(mostly).endswith(
        "more than a held carry in 2 of the 3 speed bins both reach (1-5 mm a step: -0.400 against -0.900; 5-10 mm a "
        "step: -0.250 against -0.900; 10-20 mm a step: -0.240 against -0.240): so at most speeds the MINE pays the "
        "agent's own way of moving the block more than a held carry, and a held carry as much or more only at 10-20 "
        "mm a step")
    # the agent's pushes beat the carry at every shared speed: without the scripted push, and with one
    # that is not beaten at every speed, the line says only that much
    carry_only = speed_measurement({("own exploring episodes", "on the table, not held"): own,
                                    ("pick and carry, fast", "raised, held"): fast})
    assert report_paper.speed_fact(carry_only).endswith(
        "10-20 mm a step: -0.240 against -0.980): so the block's speed does not explain why the agent's pushes "
        "earn more than a carry")
    push_paid = speed_measurement({("own exploring episodes", "on the table, not held"): own,
                                   ("pick and carry, fast", "raised, held"): fast,
                                   ("push", "on the table, not held"): [(100, -0.1), none, none, none, none]})
    assert report_paper.speed_fact(push_paid).endswith(
        "more than the scripted push along the table in 0 of 1 (1-5 mm a step: -0.400 against -0.100): so the "
        "block's speed does not explain why the agent's pushes earn more than a carry, though the scripted push is "
        "not paid less at every speed")
    apart = speed_measurement({("own exploring episodes", "on the table, not held"): own,
                               ("pick and carry, fast", "raised, held"): [none, none, none, none, (700, -0.4)]})
    assert report_paper.speed_fact(apart) is None  # no speed both reach with 20 windows
    few = speed_measurement({("push", "on the table, not held"): [(10, -0.9), none, none, none, none]})
    assert report_paper.speed_lines(few, Path("s.json"), str)[-2:] == [
        "No set has 50 windows in one place (`s.json`).", ""]
