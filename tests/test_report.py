"""experiments/report_task_reward.py: RESULTS.md numbers from fake run folders, checked by hand."""

import csv
import json
from pathlib import Path

import numpy as np

from conftest import experiment_script

ROOT = Path(__file__).resolve().parent.parent
report = experiment_script("report_task_reward")


def fake_run(results: Path, task: str, variant: str, seed: int, success: list[float], seconds: float,
             finished: str, motion: dict | None = None, scale: str = "small") -> None:
    folder = results / task / variant / f"seed{seed}"
    folder.mkdir(parents=True)
    (folder / "params.json").write_text(json.dumps({"env_name": task, "note": variant, "seed": seed, "num_cpu": 2,
                                                    "n_cycles": 8, "n_batches": 5}))
    with open(folder / "progress.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "test/success_rate", "train/episode", "train/object_displacement",
                         "train/object_lift", "mi_reward/mean", "time/epoch"])
        for epoch, s in enumerate(success):
            writer.writerow([epoch, s, 16 * (epoch + 1), 0.01 * epoch, 0.001 * epoch, -1 + 0.001 * epoch,
                             [30.0, 2.0, 40.0][epoch % 3] + seed])
    (folder / "sweep.json").write_text(json.dumps({"scale": scale, "ranks": 2, "n_epochs": len(success),
                                                   "n_cycles": 8, "seconds": seconds, "finished": finished,
                                                   "commit": "abcdef1234"}))
    for kind, rows in (motion or {}).items():
        with open(folder / f"motion_{kind}.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["mode", "object_displacement", "object_lift", "mi_reward_mean",
                                                   "success_rate"])
            writer.writeheader()
            writer.writerows(rows)


def motion(displacement: float, lift: float, test_success: float = 0.0) -> list[dict]:
    return [{"mode": "train", "object_displacement": displacement, "object_lift": lift, "mi_reward_mean": -0.99,
             "success_rate": 0.0},
            {"mode": "test", "object_displacement": displacement / 2, "object_lift": lift / 2,
             "mi_reward_mean": -0.99, "success_rate": test_success}]


def test_report_numbers_match_a_hand_computation(tmp_path):
    results = tmp_path / "task_reward"
    task = "FetchPush-v1"
    # SAC: success reaches 0.2 at epoch 2 (seed 0) and never (seed 1).
    fake_run(results, task, "SAC", 0, [0.0, 0.1, 0.2], 100, "2026-01-01T00:10:00")
    fake_run(results, task, "SAC", 1, [0.0, 0.0, 0.1], 100, "2026-01-01T00:12:00")
    # -r: reaches 0.2 at epoch 0 on both seeds.
    fake_run(results, task, "SAC+MUSIC-r", 0, [0.2, 0.4, 0.6], 50, "2026-01-01T00:20:00")
    fake_run(results, task, "SAC+MUSIC-r", 1, [0.3, 0.5, 0.7], 50, "2026-01-01T00:30:00")
    fake_run(results, task, "SAC+MUSIC", 0, [0.0, 0.0, 0.0], 300, "2026-01-01T00:05:00",
             {"untrained": motion(0.01, 0.001, 0.1), "trained": motion(0.03, 0.002)})
    fake_run(results, task, "SAC+MUSIC", 1, [0.0, 0.0, 0.0], 300, "2026-01-01T00:07:00",
             {"untrained": motion(0.02, 0.001, 0.3), "trained": motion(0.01, 0.004)})
    out = tmp_path / "RESULTS.md"
    assert report.main(["--results", str(results), "--out", str(out), "--figures", str(tmp_path / "fig")]) == 0
    text = out.read_text()

    # 6 runs: 100+100+50+50+300+300 s = 900 s; first start 00:05:00 - 300 s = 00:00:00, last finish 00:30:00.
    assert "sum of run times 0.25 h, first start to last finish 0.50 h" in text
    # final success: SAC (0.2, 0.1) -> 0.15 ± 0.05; -r (0.6, 0.7) -> 0.65 ± 0.05
    # mean over epochs: SAC (0.1, 0.0333) -> 0.0667 ± 0.0333; episodes = 16 * (epoch + 1) * 2 ranks
    # train displacement 0.01 * epoch -> mean over 3 epochs 0.01 on every run
    # no final policy measured again (a sweep, not a campaign): "-"
    assert "| FetchPush-v1 | SAC | 2 | 0.15 ± 0.05 | - | 0.0667 ± 0.033 | 0.01 ± 0 | 80 (2/2) | 96 (1/2) |" in text
    assert "| FetchPush-v1 | SAC+MUSIC-r | 2 | 0.65 ± 0.05 | - | 0.45 ± 0.05 | 0.01 ± 0 | 32 (2/2) | 32 (2/2) |" \
        in text
    assert "train object displacement: SAC+MUSIC-r: within the noise (+0, std 0)" in text
    # SAC and -r differ at every (seed, epoch): 0 of 2 seeds x 3 epochs
    assert "- FetchPush-v1: in 0 of 6 (seed, epoch) pairs all variants have exactly the same test success" in text
    # chance level: test-mode success of the untrained policies (0.1, 0.3) -> 0.200
    assert "Chance level, FetchPush-v1: an untrained policy's test success is 0.200 (2 x 100 episodes" in text
    # -r is better than SAC in area (0.45 - 0.0667 = +0.383 > spread 0.05); at 0.2 SAC has a seed that never
    # reached it, so the mean episode count is not comparable.
    # 2 binomial SE: 120 test episodes per seed (3 epochs of 40), 2 seeds each:
    # 2 sqrt(0.45 x 0.55 / 240 + 0.0667 x 0.9333 / 240) = 0.0718
    assert "SAC+MUSIC-r: better than SAC (+0.383, std 0.05, 2 SE 0.0718)" in text
    assert "episodes to 0.2: SAC+MUSIC-r: not comparable" in text
    # episodes to 0.1: SAC (64, 96) -> 80 vs -r (32, 32) -> 32: -48, spread max(16, 0) = 16 -> better
    assert "episodes to 0.1: SAC+MUSIC-r: better than SAC (-48, std 16)" in text
    # motion: train mode displacement trained (0.03, 0.01) -> 0.02 ± 0.01 vs untrained (0.01, 0.02) -> 0.015
    # on table, lifted and fell: not in these (older) motion CSVs -> "-"
    assert ("| FetchPush-v1 | train | trained | 2 | 0.0200 ± 0.0100 | - | 0.0030 ± 0.0010 | - | - | -0.9900 ± 0.0000 "
            "|") in text
    assert "train mode, displacement: trained 0.0200 m vs untrained 0.0150 m (1.3x); trained > untrained in " \
           "1 of 2 seeds" in text
    # summary: 1 of 2 seeds moved it more -> not reproduced; -r better than SAC in area and episodes to 0.1
    assert "- MUSIC alone, FetchPush-v1: not reproduced at this scale" in text
    # episodes to 0.1 in one epoch is information only (reached by luck): the verdict rests on the mean
    assert "episodes to 0.1: SAC+MUSIC-r: better than SAC (-48, std 16) (information)" in text
    assert ("- With task reward, FetchPush-v1: SAC+MUSIC-r: learns faster (mean success over epochs), final "
            "policies not measured again: agrees with the paper on what was measured; final test success (last epoch) "
            "SAC 0.150, "
            "SAC+MUSIC-r 0.650 (chance level 0.200)") in text
    assert "**Verdict, FetchPush-v1:** not reproduced at this scale: the trained policy does not move" in text
    assert "**Verdict, FetchPush-v1:** SAC+MUSIC-r: learns faster" in text
    assert "Interim" not in text  # not a campaign: nothing planned is missing
    # the untrained policy's train-mode level on the displacement figure: (0.01, 0.02) -> 0.015
    assert "--untrained=FetchPush-v1=0.0150" in text
    # test-mode lift: untrained (0.0005, 0.0005) is below a millimetre, so no ratio is given
    assert "test mode, lift: trained 0.0015 m vs untrained 0.0005 m (ratio n/a: untrained < 1 mm)" in text
    for name in ("task_reward_success", "intrinsic_displacement", "intrinsic_lift", "intrinsic_mi_reward"):
        assert (tmp_path / "fig" / f"{name}.png").stat().st_size > 0
        assert f"--out {tmp_path}/fig/{name}" in text


def test_episodes_to_reach_uses_all_ranks_and_never_is_inf(tmp_path):
    fake_run(tmp_path, "FetchPush-v1", "SAC", 0, [0.0, 0.3], 10, "2026-01-01T00:00:10")
    run = report.plot.load_run(tmp_path / "FetchPush-v1/SAC/seed0")
    assert report.episodes_to_reach(run, 0.3) == 2 * 16 * 2
    assert report.episodes_to_reach(run, 0.31) == np.inf
    assert report.episodes_to_reach(run, 0.1, window=5) == np.inf  # fewer epochs than the window


def test_the_smoothed_episodes_to_reach_ignores_a_lucky_epoch(tmp_path):
    fake_run(tmp_path, "FetchPush-v1", "SAC", 0, [0.5, 0.0, 0.0, 0.0, 0.0, 0.2, 0.2, 0.2], 10, "2026-01-01T00:00:10")
    run = report.plot.load_run(tmp_path / "FetchPush-v1/SAC/seed0")
    assert report.WINDOW == 5
    # 5-epoch means: epochs 0-4 0.1, 1-5 0.04, 2-6 0.08, 3-7 0.12; episodes: 16 per epoch per rank, 2 ranks
    assert report.episodes_to_reach(run, 0.12) == 1 * 16 * 2  # the lucky first epoch
    assert report.episodes_to_reach(run, 0.12, window=5) == 8 * 16 * 2  # epochs 3-7
    assert report.episodes_to_reach(run, 0.1, window=5) == 5 * 16 * 2  # epochs 0-4
    assert report.episodes_to_reach(run, 0.13, window=5) == np.inf


def test_chance_of_reaching_a_threshold_by_luck():
    # two episodes at p = 0.5: P(rate >= 0.5) = P(k >= 1) = 0.75; P(rate >= 1) = 0.25
    assert report.chance_to_reach(0.5, 2, 0.5) == 0.75
    assert report.chance_to_reach(0.5, 2, 1.0) == 0.25
    # 20 episodes, rate >= 0.1 means k >= 2: 1 - 0.9^20 - 20 * 0.1 * 0.9^19
    assert np.isclose(report.chance_to_reach(0.1, 20, 0.1), 1 - 0.9**20 - 20 * 0.1 * 0.9**19)
    assert report.chance_to_reach(0.0, 20, 0.1) == 0.0
    text = report.luck_sentence(0.0, 20, 50, [0.1])
    assert "0.1 with probability 0.000 in one epoch and < 1e-05 in some epoch of 50, < 1e-05 as the mean" in text
    # p = 1: every epoch and every window reaches any threshold
    assert "1.000 in some epoch of 50, 1.000 as the mean of some 5 epochs" in report.luck_sentence(1.0, 20, 50, [0.2])
    assert "as the mean" not in report.luck_sentence(0.5, 20, 3, [0.2])  # fewer epochs than the window


def test_no_runs_is_a_clear_error(tmp_path, capsys):
    assert report.main(["--results", str(tmp_path), "--out", str(tmp_path / "R.md")]) == 2
    assert "no finished runs under" in capsys.readouterr().err
    assert not (tmp_path / "R.md").exists()


def test_a_campaign_report_reads_object_motion_from_its_eval_folder_and_draws_steps(tmp_path):
    # The campaign's layout: run exports without motion files, experiments/evaluate_campaign.py's
    # motion.json in <results>_eval/<task>/<variant>/seed<k>/.
    results, task, pick = tmp_path / "medium", "FetchPush-v1", "FetchPickAndPlace-v1"
    for seed, (trained, untrained, chance, lifted) in enumerate([(0.5, 0.01, 0.05, 0.2), (0.3, 0.02, 0.07, 0.1)]):
        for env_name in (task, pick):
            fake_run(results, env_name, "SAC+MUSIC", seed, [0.0, 0.0], 3600, f"2026-01-0{seed + 1}T01:00:00",
                     scale="medium")
            folder = tmp_path / "medium_eval" / env_name / "SAC+MUSIC" / f"seed{seed}"
            folder.mkdir(parents=True)
            row = {"object_lift": 0.01, "object_displacement_std": 0.1, "object_fell": 0.3, "mi_reward_mean": -0.8}
            motion_json = {"trained": {mode: {**row, "success_rate": 0.0, "object_displacement": trained / k,
                                              "object_lifted": lifted} for mode, k in (("train", 1), ("test", 4))},
                           "untrained": {mode: {**row, "success_rate": chance, "object_displacement": untrained,
                                                "object_lifted": 0.0} for mode in ("train", "test")}}
            (folder / "motion.json").write_text(json.dumps(motion_json))
        fake_run(results, task, "SAC", seed, [0.0, 0.1], 1800, f"2026-01-0{seed + 1}T02:00:00", scale="medium")
    fake_run(results, task, "SAC+MUSIC-r", 0, [0.1, 0.3], 1800, "2026-01-03T02:00:00", scale="medium")
    # -p: the same curves as SAC; only its final policies, measured again, are better
    for seed in (0, 1):
        fake_run(results, task, "SAC+MUSIC-p", seed, [0.0, 0.1], 1800, f"2026-01-0{seed + 1}T03:00:00", scale="medium")
    # evaluate_campaign.py measured the final policies of SAC and -p (seeds 0 and 1) over 100 test episodes
    remeasured = (("SAC", 0, 0.12), ("SAC", 1, 0.18), ("SAC+MUSIC-p", 0, 0.4), ("SAC+MUSIC-p", 1, 0.5))
    for variant, seed, success in remeasured:
        folder = tmp_path / "medium_eval" / task / variant / f"seed{seed}"
        folder.mkdir(parents=True)
        (folder / "motion.json").write_text(json.dumps({"trained": {"test": {
            "success_rate": success, "object_displacement": 0.1, "object_lift": 0.0, "mi_reward_mean": None}}}))
    videos = tmp_path / "medium_videos"  # experiments/policy_clip.py's clip and what it measured
    videos.mkdir()
    (videos / "FetchPush-v1_SAC+MUSIC_seed0.gif").write_bytes(b"GIF89a")
    (videos / "FetchPush-v1_SAC+MUSIC_seed0.json").write_text(json.dumps(
        {"seed": 0, "mode": "train", "episodes": 3, "object_moved": [0.4639, 0.6215, 0.0],
         "object_lift": [0.0112, 0.0, 0.0], "object_fell": [True, True, False]}))
    out = tmp_path / "RESULTS.md"
    assert report.main(["--results", str(results), "--out", str(out), "--figures", str(tmp_path / "fig")]) == 0
    text = out.read_text()
    assert "![FetchPush-v1_SAC+MUSIC_seed0](medium_videos/FetchPush-v1_SAC+MUSIC_seed0.gif)" in text
    assert ("`FetchPush-v1_SAC+MUSIC_seed0`: the first 3 train-mode episodes of the final policy from seed 0, none "
            "left out; the object moved 0.46, 0.62, 0.00 m in 3-D, ending off the table in 2 of them; its highest "
            "lifts 0.01, 0.00, 0.00 m") in text
    # the campaign's 48 runs: stages 1-3 (18) and the later figures' 30, all of which are still to run here
    assert text.startswith("# Reproduction at medium scale (interim: 9 of 48 runs)")
    assert ("**Interim report.** 9 of the medium campaign's 48 runs are in; still to run: FetchPush-v1 SAC+MUSIC "
            "seed 2; FetchPush-v1 SAC+MUSIC-f seeds 0, 1, 2; FetchPush-v1 SAC+MUSIC-r seeds 1, 2; FetchPush-v1 SAC "
            "seed 2; FetchPush-v1 SAC+MUSIC-p seed 2; FetchPickAndPlace-v1 SAC+MUSIC seed 2; ") in text
    assert "at commits abcdef1 (each run's sweep.json names its own)" in text
    # train mode: trained (0.5, 0.3) -> 0.4000 ± 0.1000 against untrained (0.01, 0.02) -> 0.015: 26.7x
    assert ("| FetchPush-v1 | train | trained | 2 | 0.4000 ± 0.1000 | - | 0.0100 ± 0.0000 | 0.15 ± 0.05 | 0.30 ± 0.00 "
            "| -0.8000 ± 0.0000 |") in text
    # lifted 5 cm, train mode: trained (0.2, 0.1) -> 0.15 against untrained 0.00 on both seeds
    assert "train mode, lifted 5 cm: trained in 0.15 of the episodes vs untrained 0.00; trained > untrained in " \
           "2 of 2 seeds" in text
    # the lifting verdict is PickAndPlace's claim only
    # lifted, pooled over seeds: trained 30 of 200 episodes, Wilson 95 % [0.107, 0.206]; untrained 0 of 200,
    # [0, 0.019]: apart. Fell: 0.3 both ways.
    # (seed 2 of both MUSIC runs is missing: verdicts so far)
    assert ("**Verdict, FetchPickAndPlace-v1:** the trained policy moves the object more than the untrained one on "
            "every seed (agrees with the paper so far); 0.30 of its exploring episodes end with the object off the "
            "table (untrained 0.30); it lifts the object 5 cm in 0.15 of its exploring episodes against 0.00 "
            "untrained, 95 % intervals apart (agrees with the paper so far).") in text
    assert "**Verdict, FetchPush-v1:** the trained policy moves the object more than the untrained one on every " \
           "seed (agrees with the paper so far); 0.30 of" in text  # lifting is PickAndPlace's claim only
    # -r has one seed: its difference from SAC gets no verdict; mean success over epochs 0.2 - 0.05 = +0.15
    assert "mean success over epochs: SAC+MUSIC-r: +0.15 on one seed: no verdict before more seeds are in" in text
    # final success: last epoch (0.1, 0.1); measured again (0.12, 0.18) -> 0.15 ± 0.03; -r not measured again
    assert "| FetchPush-v1 | SAC | 2 | 0.1 ± 0 | 0.15 ± 0.03 (2 seeds) | 0.05 ± 0 |" in text
    assert "| FetchPush-v1 | SAC+MUSIC-r | 1 | 0.3 | - | 0.2 |" in text  # one seed: no ±
    # measured again: -p (0.4, 0.5) -> 0.45 against SAC 0.15: +0.3, spread max(0.05, 0.03) -> better;
    # -r was not measured again: no comparison of that
    # 2 SE: 2 sqrt(0.45 x 0.55 / 200 + 0.15 x 0.85 / 200) = 0.0866
    assert ("final policy's success over 100 test episodes: SAC+MUSIC-p: better than SAC (+0.3, std 0.05, "
            "2 SE 0.0866)") in text
    assert "final policy's success over 100 test episodes: SAC+MUSIC-r" not in text
    assert "mean success over epochs: SAC+MUSIC-p: within the noise" in text
    assert ("- With task reward, FetchPush-v1: SAC+MUSIC-r: no verdict yet (one seed); SAC+MUSIC-p: does not learn "
            "faster beyond the noise, ends higher (final policy's success): agrees with the paper in part so far; "
            "final test success "
            "(last epoch) SAC 0.100, SAC+MUSIC-r 0.300, "
            "SAC+MUSIC-p 0.100; final policy's success over 100 test episodes SAC 0.150, SAC+MUSIC-p 0.450 "
            "(chance level 0.060)") in text
    assert "train mode, displacement: trained 0.4000 m vs untrained 0.0150 m (26.7x); trained > untrained in " \
           "2 of 2 seeds" in text
    assert "- MUSIC alone, FetchPush-v1: the trained policy moves the object more than the untrained one on every " \
           "seed" in text
    # chance: untrained test success (0.05, 0.07) -> 0.060, from motion.json
    assert "Chance level, FetchPush-v1: an untrained policy's test success is 0.060 (2 x 100 episodes, " \
           "motion.json)" in text
    # PickAndPlace has no run with task reward: no chance level to hold one against, on the page or the figure
    assert "Chance level, FetchPickAndPlace-v1" not in text and "--chance=FetchPickAndPlace-v1" not in text
    for name in ("intrinsic_displacement", "intrinsic_displacement_steps", "task_reward_success",
                 "task_reward_success_steps"):
        assert (tmp_path / "fig" / f"{name}.png").stat().st_size > 0, name
    assert "--x steps" in text
    # cost: time/epoch (30, 2) + seed -> medians 16 and 17 -> 16.5 ± 0.5 s; sweep.json 3600 s -> 1.00 h
    assert "| FetchPush-v1 | SAC+MUSIC | 2 | 16.5 ± 0.5 | 1.00 ± 0.00 |" in text


def test_one_seed_gets_no_verdict_rather_than_not_reproduced(tmp_path):
    results, task = tmp_path / "task_reward", "FetchPush-v1"
    fake_run(results, task, "SAC", 0, [0.0, 0.1], 100, "2026-01-01T00:10:00")
    fake_run(results, task, "SAC+MUSIC-r", 0, [0.3, 0.6], 100, "2026-01-01T00:20:00")
    out = tmp_path / "RESULTS.md"
    assert report.main(["--results", str(results), "--out", str(out), "--figures", str(tmp_path / "fig")]) == 0
    text = out.read_text()
    # mean success over epochs 0.45 - 0.05 = +0.4 on one seed each: no spread to judge it by
    assert "mean success over epochs: SAC+MUSIC-r: +0.4 on one seed: no verdict before more seeds are in" in text
    assert ("**Verdict, FetchPush-v1:** SAC+MUSIC-r: no verdict yet (one seed); final test success "
            "(last epoch) SAC 0.100, SAC+MUSIC-r 0.600.") in text
    assert "not reproduced" not in text


def test_the_lifting_verdict_needs_the_pooled_intervals_apart():
    # 2 of 200 trained episodes lifted (Wilson 95 % [0.003, 0.036]) against 0 of 200 untrained ([0, 0.019]):
    # more on every seed, but the intervals overlap, so it is not shown
    trained, untrained = report.pooled_interval({0: 0.01, 1: 0.01}, {}), report.pooled_interval({0: 0.0, 1: 0.0}, {})
    assert trained[2] == untrained[2] == 200 and trained[0] < untrained[1]
    lifted = {"trained": trained, "untrained": untrained, "mean": 0.01, "untrained_mean": 0.0}
    text = report.intrinsic_verdict("FetchPickAndPlace-v1", True, None, lifted, interim=False)
    assert text.endswith("lifting not shown at this scale: it lifts the object 5 cm in 0.01 of its exploring "
                         "episodes against 0.00 untrained, 95 % intervals overlapping")
    # while seeds are missing, a verdict either way is a verdict so far
    text = report.intrinsic_verdict("FetchPickAndPlace-v1", True, None, lifted, interim=True)
    assert "on every seed (agrees with the paper so far); lifting not shown by the runs in so far: it lifts" in text
    assert report.intrinsic_verdict("FetchPickAndPlace-v1", True, None, None, False).endswith("; lifting not measured")
    assert "lifting" not in report.intrinsic_verdict("FetchPush-v1", True, None, lifted, False)
    # not moved: "not reproduced" once the campaign is complete, "not shown so far" while it runs
    assert report.intrinsic_verdict("FetchPush-v1", False, None, None, False).startswith("not reproduced at this")
    assert report.intrinsic_verdict("FetchPush-v1", False, None, None, True).startswith("not shown by the runs in")


def test_seeds_are_paired_by_seed_not_by_position():
    trained, untrained = report.paired({0: 0.5, 2: 0.3}, {1: 0.9, 2: 0.1, 0: 0.2})
    assert trained.tolist() == [0.5, 0.3] and untrained.tolist() == [0.2, 0.1]


def test_a_threshold_reached_by_every_seed_of_one_side_only_decides_the_comparison():
    inf = np.inf
    assert report.compare_one(np.array([800.0, 1200.0]), np.array([inf, inf]), "lower", ".0f") == (
        "better", "better than SAC (every seed reached it, no seed of SAC did)")
    assert report.compare_one(np.array([inf, inf]), np.array([800.0, 1200.0]), "lower", ".0f")[0] == "worse"
    assert report.compare_one(np.array([800.0, inf]), np.array([inf, inf]), "lower", ".0f")[0] == "not comparable"
    assert report.compare_one(np.array([inf, inf]), np.array([inf, inf, inf]), "lower", ".0f") == (
        "same", "no seed of either reached it: no difference shown")
    assert report.compare_one(np.array([800.0]), np.array([inf]), "lower", ".0f") == (
        "one seed", "a run never reached it on one seed: no verdict before more seeds are in")


def test_test_episodes_per_epoch_count_every_episode_of_every_rollout(tmp_path):
    fake_run(tmp_path, "FetchPush-v1", "SAC", 0, [0.0], 10, "2026-01-01T00:00:10")
    folder = tmp_path / "FetchPush-v1/SAC/seed0"
    params = json.loads((folder / "params.json").read_text())
    (folder / "params.json").write_text(json.dumps({**params, "n_test_rollouts": 3, "rollout_batch_size": 2}))
    assert report.test_episodes_per_epoch(report.plot.load_run(folder)) == 3 * 2 * 2  # rollouts x batch x ranks


def test_one_seed_shows_its_value_without_a_spread():
    assert report.mean_std([0.025]) == "0.025" and report.mean_std([0.1, 0.3]) == "0.2 ± 0.1"
    assert report.mean_std([]) == "-"


def test_the_task_verdict_rests_on_success_measures_only():
    def comparison(measure, outcome, decisive=True, variant="SAC+MUSIC-f"):
        return report.Comparison("FetchPush-v1", measure, variant, outcome, "...", decisive)

    displacement = comparison("train object displacement", "better", False)  # -f starts from a pushing policy
    same, final_same = comparison("mean success over epochs", "same"), comparison(report.FINAL_MEASURE, "same")
    assert report.task_verdict([displacement, same, final_same], interim=False) == (
        "SAC+MUSIC-f: does not learn faster beyond the noise, does not end higher beyond the noise: disagrees with "
        "the paper at this scale")
    assert report.task_verdict([displacement, same, final_same], interim=True).endswith(
        ": not shown by the runs in so far")
    worse = comparison("episodes to 0.2 as a 5-epoch mean", "worse")
    better = comparison("mean success over epochs", "better")
    assert report.task_verdict([better, worse, final_same], interim=False) == (
        "SAC+MUSIC-f: learns faster (mean success over epochs), does not end higher beyond the noise: agrees with "
        "the paper in part (worse than SAC: episodes to 0.2 as a 5-epoch mean)")
    waiting = comparison("mean success over epochs", "one seed", variant="SAC+MUSIC-p")
    final_better = comparison(report.FINAL_MEASURE, "better")
    assert report.task_verdict([better, final_better, waiting], interim=True) == (
        "SAC+MUSIC-f: learns faster (mean success over epochs), ends higher (final policy's success): agrees with "
        "the paper so far; SAC+MUSIC-p: no verdict yet (one seed)")
    assert report.task_verdict([better, final_better], interim=False).endswith(": agrees with the paper")
    # a final policy worse than SAC's ends lower; without a measured final, the speed alone is reported as such
    assert report.task_verdict([same, comparison(report.FINAL_MEASURE, "worse")], interim=False) == (
        "SAC+MUSIC-f: does not learn faster beyond the noise, ends lower (final policy's success): disagrees with "
        "the paper at this scale")
    assert report.task_verdict([better], interim=False) == (
        "SAC+MUSIC-f: learns faster (mean success over epochs), final policies not measured again: agrees with the "
        "paper on what was measured")
    assert report.task_verdict([same], interim=False).endswith("disagrees with the paper at this scale on what was "
                                                               "measured")
    assert report.task_verdict([], interim=False) == "nothing to compare: SAC or every variant has no finished run"
    assert report.task_verdict([displacement], interim=False) == "SAC+MUSIC-f: no success measure compared"


def test_our_variant_gets_a_verdict_against_sac_of_its_own_and_waits_only_for_its_own_runs():
    def comparison(measure, outcome, variant):
        return report.Comparison("FetchPush-v1", measure, variant, outcome, "...", True)

    ours = "SAC+MUSIC-f-with-normalizers"
    authors = [comparison("mean success over epochs", "same", "SAC+MUSIC-f"),
               comparison(report.FINAL_MEASURE, "same", "SAC+MUSIC-f")]
    beats = [comparison("mean success over epochs", "better", ours), comparison(report.FINAL_MEASURE, "better", ours)]
    # the authors' -f is in, ours is still running: -f's verdict is final, ours is "so far"
    assert report.task_verdict(authors + beats, interim={ours}) == (
        "SAC+MUSIC-f: does not learn faster beyond the noise, does not end higher beyond the noise: disagrees with "
        f"the paper at this scale; {ours}: learns faster (mean success over epochs), ends higher (final policy's "
        "success): ours, not the paper's: beats SAC so far")
    same = [comparison("mean success over epochs", "same", ours), comparison(report.FINAL_MEASURE, "same", ours)]
    assert report.task_verdict(same, interim=set()).endswith("ours, not the paper's: does not beat SAC at this scale")
    assert report.task_verdict(same, interim={ours}).endswith("ours, not the paper's: not shown by the runs in so far")


def test_the_simulated_luck_matches_the_binomial_for_independent_epochs():
    luck = report.luck_in_a_run(0.0567, 40, 50, [0.1, 0.2])
    for threshold in (0.1, 0.2):
        one_epoch = report.chance_to_reach(0.0567, 40, threshold)
        assert abs(luck[(1, threshold)] - (1 - (1 - one_epoch) ** 50)) < 0.01
    # a 5-epoch mean of 200 episodes at 0.0567 practically never reaches 0.2 (k >= 40 of 200)
    assert luck[(5, 0.2)] < 1e-4 and luck[(5, 0.1)] > luck[(5, 0.2)]
    assert set(report.luck_in_a_run(0.5, 40, 3, [0.1])) == {(1, 0.1)}  # no 5-epoch window in 3 epochs


def test_two_seeds_that_agree_by_chance_do_not_beat_the_binomial_noise():
    # -f and SAC at the chance level: mean success over 50 epochs of 40 episodes, 2 seeds each; the seeds
    # agree to 0.00075 but 2000 episodes per seed leave 2 SE = 2 sqrt(2 x 0.0708 x 0.9292 / 4000) = 0.0115
    outcome, detail = report.compare_one(np.array([0.0705, 0.072]), np.array([0.0695, 0.071]), "higher", ".3g",
                                         episodes=2000)
    assert outcome == "same" and detail == "within the noise (+0.001, std 0.00075, 2 SE 0.0115): no difference shown"
    assert report.compare_one(np.array([0.0705, 0.072]), np.array([0.0695, 0.071]), "higher", ".3g")[0] == "better"


def test_a_verdict_is_final_once_its_own_runs_are_in_and_says_what_minus_f_starts_from(tmp_path):
    # FetchPush's stages 1 and 2 are in (3 seeds each), PickAndPlace's stage 3 is not: the report is interim,
    # but the FetchPush verdicts are final, so a variant no better than SAC disagrees with the paper.
    results, task = tmp_path / "medium", "FetchPush-v1"
    curves = {"SAC+MUSIC": [0.0, 0.0], "SAC": [0.0, 0.1], "SAC+MUSIC-r": [0.4, 0.6], "SAC+MUSIC-p": [0.0, 0.1],
              "SAC+MUSIC-f": [0.0, 0.1]}
    for seed in range(3):
        for variant, success in curves.items():
            fake_run(results, task, variant, seed, success, 1800, f"2026-01-0{seed + 1}T01:00:00", scale="medium")
        folder = tmp_path / "medium_eval" / task / "SAC+MUSIC" / f"seed{seed}"
        folder.mkdir(parents=True)
        row = {"success_rate": 0.05, "object_lift": 0.0, "mi_reward_mean": -0.9}
        (folder / "motion.json").write_text(json.dumps({
            "trained": {mode: {**row, "object_displacement": 0.4} for mode in ("train", "test")},
            "untrained": {mode: {**row, "object_displacement": [0.006, 0.007, 0.008][seed]}
                          for mode in ("train", "test")}}))
    # experiments/finetune_start.py's measurement of the MUSIC weights as -f loads them (train-mode displacement)
    levels = {"as trained": 0.5, "with -f's goals": 0.2, "as -f starts": 0.01, "untrained, -f's goals": 0.012}
    start = {"task": task, "episodes": 100,
             "conditions": {name: {"loaded": ["main", "target"] if name == "as -f starts" else []} for name in levels},
             "seeds": {str(seed): {name: {"train": {"object_displacement": value + 0.01 * seed}}
                                   for name, value in levels.items()} for seed in range(3)}}
    (tmp_path / "medium_eval" / task / "SAC+MUSIC-f" / "start.json").parent.mkdir(parents=True)
    (tmp_path / "medium_eval" / task / "SAC+MUSIC-f" / "start.json").write_text(json.dumps(start))
    out = tmp_path / "RESULTS.md"
    assert report.main(["--results", str(results), "--out", str(out), "--figures", str(tmp_path / "fig")]) == 0
    text = out.read_text()
    assert text.startswith("# Reproduction at medium scale (interim: 15 of 48 runs)")
    # -r: mean over epochs 0.5 against 0.05 on every seed, and 0.2 reached where no SAC seed did (luck 0.001 at
    # chance level 0.05 over 2 epochs of 40 episodes); no final policy measured again
    assert ("**Verdict, FetchPush-v1:** SAC+MUSIC-r: learns faster (mean success over epochs, episodes to 0.2), "
            "final policies not measured again: agrees with the paper on what was measured; SAC+MUSIC-p: does not "
            "learn faster beyond the noise, final policies not measured again: disagrees with the paper at this "
            "scale on what was measured; SAC+MUSIC-f: does not learn faster beyond the noise, final policies not "
            "measured again: disagrees with the paper at this scale on what was measured;") in text
    assert "not shown by the runs in so far" not in text
    # start.json: (0.5, 0.51, 0.52) -> 0.51 ± 0.0082 (population std); as -f starts 0.02, untrained 0.022, both
    # ± 0.0082: 0.002 apart, within the spread. train/object_displacement of the fake runs is 0.01 x epoch ->
    # 0.005 per run, for -f and SAC alike
    assert ("What SAC+MUSIC-f starts from, FetchPush-v1 (`experiments/finetune_start.py`, 100 exploring episodes "
            "per seed, 3 seeds, before any update): the MUSIC policy it loads moves the object 0.51 ± 0.0082 m as "
            "trained (its own observation normalizers, Zero goals), 0.21 ± 0.0082 m with -f's Env goals, and "
            "0.02 ± 0.0082 m as -f starts it, loading `main`, `target` and the MINE, without the observation "
            "normalizers; an untrained policy with -f's goals moves it 0.022 ± 0.0082 m. So loaded, the MUSIC "
            "policy moves the object no further than an untrained one (within the seeds' spread): -f fine-tunes a "
            "policy that no longer pushes.") in text
    assert "Over training, -f's exploring episodes move the object 0.005 ± 0 m on average, SAC's 0.005 ± 0 m." in text


def test_the_minus_f_start_paragraph_follows_the_measurement(tmp_path):
    # -f with finetune_normalizers: it starts pushing, so no "no longer pushes"
    levels = {"as trained": 0.5, "with -f's goals": 0.2, "as -f starts": 0.2, "untrained, -f's goals": 0.01}
    loaded = ["main", "o_stats", "g_stats", "target"]
    start = {"task": "FetchPush-v1", "episodes": 100,
             "conditions": {name: {"loaded": loaded if name == "as -f starts" else []} for name in levels},
             "seeds": {str(seed): {name: {"train": {"object_displacement": value}} for name, value in levels.items()}
                       for seed in range(2)}}
    path = tmp_path / "FetchPush-v1" / "SAC+MUSIC-f" / "start.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(start))
    text = report.finetune_start("FetchPush-v1", tmp_path, {})[0]
    assert "0.2 ± 0 m as -f starts it, loading `main`, `o_stats`, `g_stats`, `target` and the MINE, with the " \
           "observation normalizers; an untrained policy with -f's goals moves it 0.01 ± 0 m." in text
    assert "no longer pushes" not in text and "Over training" not in text  # no runs given
    assert report.finetune_start("FetchPickAndPlace-v1", tmp_path, {}) == []  # not measured there


def test_a_one_seed_difference_of_equal_means_prints_as_zero_not_float_noise():
    # 0.1 + 0.2 and 0.3: equal successes whose float means differ by 5.6e-17
    _, detail = report.compare_one(np.array([0.1 + 0.2]), np.array([0.3]), "higher", ".3g")
    assert detail == "+0 on one seed: no verdict before more seeds are in"
