"""experiments/evaluate_campaign.py on a campaign folder of tiny finished runs."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, experiment_script

evaluate_campaign, finetune_start = experiment_script("evaluate_campaign"), experiment_script("finetune_start")

# Default network sizes: the untrained policy is built from the variant's params file.
TINY = ["--env_name", "FetchPush-v1", "--note", "SAC+MUSIC", "--n_epochs", "1", "--n_cycles", "1",
        "--param", "n_batches=1", "--param", "n_test_rollouts=1"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A finished one-epoch SAC+MUSIC run on FetchPush, with its final weights extracted (as the campaign exports)."""
    run = tmp_path_factory.mktemp("evaluate") / "tiny"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for cmd in (["music.train", *TINY, "--logdir", str(run)],
                ["music.save_weight", str(run / "policy_0.pkl")]):
        proc = subprocess.run([sys.executable, "-m", *cmd], capture_output=True, text=True, cwd=REPO, timeout=600,
                              env=env)
        assert proc.returncode == 0, proc.stderr
    return run


@pytest.mark.slow
def test_music_runs_get_untrained_comparisons_and_task_runs_a_final_success(tmp_path, monkeypatch, tiny_run):
    run = tiny_run
    runs = tmp_path / "runs_root" / "t" / "runs" / "t" / "FetchPush-v1"
    for variant in ("SAC+MUSIC", "SAC"):  # the same policy stands in for a run with task reward
        shutil.copytree(run, runs / variant / "seed0")
        (runs / variant / "seed0" / "sweep.json").write_text("{}")
    shutil.copytree(run, runs / "SAC+MUSIC-r" / "seed1.partial")  # not finished: not measured, even with a
    (runs / "SAC+MUSIC-r" / "seed1.partial" / "sweep.json").write_text("{}")  # sweep.json left by a crash
    monkeypatch.setenv("MUSIC_RUNS", str(tmp_path / "runs_root"))
    out = tmp_path / "eval"
    assert evaluate_campaign.main(["--campaign", "t", "--episodes", "2", "--out", str(out)]) == 0

    music = json.loads((out / "FetchPush-v1/SAC+MUSIC/seed0/motion.json").read_text())
    assert music["episodes"] == 2 and music["seed"] == 0
    for kind in ("trained", "untrained"):
        assert sorted(music[kind]) == ["test", "train"]
        for mode in ("test", "train"):
            assert set(music[kind][mode]) == set(evaluate_campaign.KEYS)
            assert music[kind][mode]["success_rate"] in (0.0, 0.5, 1.0)
            assert music[kind][mode]["object_lifted"] in (0.0, 0.5, 1.0)
            assert -1.0 <= music[kind][mode]["mi_reward_mean"] <= 0.0
    task = json.loads((out / "FetchPush-v1/SAC/seed0/motion.json").read_text())
    assert sorted(task["trained"]) == ["test"] and task["untrained"] == {}
    # same policy, seed and mode: the same episodes
    assert task["trained"]["test"]["success_rate"] == music["trained"]["test"]["success_rate"]
    assert task["trained"]["test"]["object_displacement"] == music["trained"]["test"]["object_displacement"]
    assert not (out / "FetchPush-v1/SAC+MUSIC-r").exists()

    # fell == 0: every episode ended on the table, so its displacement is the displacement
    for row in (*music["trained"].values(), *music["untrained"].values()):
        if row["object_fell"] == 0.0:
            assert row["object_displacement_on_table"] == pytest.approx(row["object_displacement"])

    task_file = out / "FetchPush-v1/SAC/seed0/motion.json"
    task_file.write_text(task_file.read_text().replace('"episodes": 2', '"episodes": 2, "marker": 1'))
    assert evaluate_campaign.main(["--campaign", "t", "--episodes", "2", "--out", str(out)]) == 0
    assert '"marker": 1' in task_file.read_text()  # measured already: skipped
    assert evaluate_campaign.main(["--campaign", "t", "--episodes", "2", "--out", str(out), "--again",
                                   "--variants", "SAC"]) == 0
    assert json.loads(task_file.read_text()) == task  # measured again: the same episodes, the same numbers


@pytest.mark.slow
def test_finetune_start_measures_the_exported_weights_as_minus_f_loads_them(tmp_path, tiny_run):
    results = tmp_path / "medium"
    folder = results / "FetchPush-v1" / "SAC+MUSIC" / "seed0"
    folder.mkdir(parents=True)
    # the -f params load policy_49 (the last epoch of 50): the tiny run's weights stand in for it
    shutil.copy(tiny_run / "policy_0_weight.npz", folder / "policy_49_weight.npz")
    shutil.copy(tiny_run / "policy_0_weight.npz", folder / "policy_latest_weight.npz")  # not an epoch: ignored
    (results / "FetchPush-v1" / "SAC+MUSIC" / "seed1").mkdir()  # no weights: listed, not measured
    assert finetune_start.main(["--results", str(results), "--episodes", "2"]) == 0
    start = json.loads((tmp_path / "medium_eval/FetchPush-v1/SAC+MUSIC-f/start.json").read_text())
    assert start["episodes"] == 2 and list(start["seeds"]) == ["0"] and start["seeds_without_weights"] == ["seed1"]
    assert start["conditions"]["as -f starts"] == {"variant": "SAC+MUSIC-f", "loaded": ["main", "target"]}
    assert start["conditions"]["untrained, -f's goals"]["loaded"] == []
    seed = start["seeds"]["0"]
    assert seed["weights"].endswith("policy_49_weight.npz")

    # an independent path: music.evaluate on the run's own policy file gives the same episodes
    expected = {}
    for mode in ("train", "test"):
        out = tmp_path / f"{mode}.json"
        proc = subprocess.run([sys.executable, "-m", "music.evaluate", str(tiny_run / "policy_0.npz"), "--episodes",
                               "2", "--seed", "0", "--mode", mode, "--json", str(out)], capture_output=True,
                              text=True, cwd=REPO, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert proc.returncode == 0, proc.stderr
        expected[mode] = json.loads(out.read_text())
    for mode in ("train", "test"):
        assert seed["as trained"][mode]["object_displacement"] == expected[mode]["object_displacement_mean"]
        assert seed["as trained"][mode]["mi_reward_mean"] == expected[mode]["mi_reward_mean"]
    # test mode is greedy with env goals whatever the variant: only the goals of train mode differ
    assert seed["with -f's goals"]["test"] == seed["as trained"]["test"]
    # fresh normalizers feed the same networks other inputs: other actions, other states, another MI
    assert seed["as -f starts"]["test"]["mi_reward_mean"] != seed["with -f's goals"]["test"]["mi_reward_mean"]


def test_finetune_start_without_exported_weights_is_a_clear_error(tmp_path, capsys):
    assert finetune_start.main(["--results", str(tmp_path / "medium")]) == 2
    assert "no exported MUSIC weights of the epoch -f loads" in capsys.readouterr().err


def test_the_evaluate_line_leaves_out_object_figures_a_task_does_not_have():
    from music.evaluate import summary_line

    nan = float("nan")
    summary = {"env_name": "MusicPointPush-v0", "goals": "Zero", "success_rate": 0.5, "success_ci95_low": 0.2,
               "success_ci95_high": 0.8, "object_displacement_mean": 0.31, "object_lift_mean": nan,
               "object_lifted": nan, "object_fell": nan, "object_displacement_on_table": nan, "mi_reward_mean": -0.9}
    line = summary_line(summary, "train", 10)
    assert line == ("MusicPointPush-v0, train mode, 10 episodes, goals Zero: success 0.500 (95% CI 0.200-0.800), "
                    "object displacement 0.3100 m, MI reward -0.9000")
    summary.update(object_lift_mean=0.01, object_lifted=0.1, object_fell=0.2, object_displacement_on_table=0.25)
    assert "lifted 0.10, off the table 0.20 (displacement of the others 0.2500 m)" in summary_line(summary, "test", 10)


def test_the_paper_gate_compares_each_kept_policy_with_mediums_pooled_lifting():
    gate = experiment_script("paper_gate")
    medium = gate.medium_baseline(REPO / "experiments" / "results" / "medium_eval")
    # the committed medium measurements: 1, 1 and 2 of 100 exploring episodes lifted the block 5 cm
    assert (medium["episodes"], medium["lifted"]) == (300, 4)
    assert medium["ci95"][0] == pytest.approx(0.00520, abs=1e-4) and medium["ci95"][1] == pytest.approx(0.0338,
                                                                                                           abs=1e-4)

    def row(epoch, lifted):
        from music.evaluate import wilson_interval

        return {"policy": f"epoch {epoch}", "epoch": epoch, "episodes": 100, "lifted": lifted,
                "fraction": lifted / 100, "ci95": list(wilson_interval(lifted, 100))}

    untrained = {**row(None, 0), "policy": "untrained"}
    # 5 of 100 (CI 0.022-0.112) overlaps medium's interval: not clearly more
    passed, sentence = gate.verdict([untrained, row(10, 2), row(49, 5)], medium)
    assert not passed and "the most, epoch 49: 5 of 100" in sentence
    # 9 of 100 (CI 0.048-0.162) is above medium's upper bound 0.034: clearly more, at any kept epoch
    passed, sentence = gate.verdict([untrained, row(20, 9), row(49, 1)], medium)
    assert passed and sentence.startswith("passed: the policy of epoch 20 lifts the block 5 cm in 9 of 100")
