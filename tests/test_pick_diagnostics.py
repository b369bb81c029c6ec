"""The paper-scale gate's diagnostics: grasp counting from contacts (experiments/grasp_rate.py) and the
Fetch joint limits of gymnasium-robotics v4 against gym v1's (experiments/fetch_joint_limits.py)."""

import numpy as np
import pytest

from music.envs import make_env

from conftest import REPO, experiment_script, make_agent

grasp_rate, fetch_joint_limits = experiment_script("grasp_rate"), experiment_script("fetch_joint_limits")
mi_by_behaviour = experiment_script("mi_by_behaviour")
mine_with_carries = experiment_script("mine_with_carries")
mi_by_speed = experiment_script("mi_by_speed")


MEDIUM_RUN = REPO / "experiments" / "results" / "medium" / "FetchPickAndPlace-v1" / "SAC+MUSIC"


def run_of_one_policy(tmp_path):
    """A run folder holding one kept policy, epoch 0: the medium campaign's final policy of seed 0."""
    import shutil

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(MEDIUM_RUN / "seed0" / "params.json", run / "params.json")
    shutil.copy(MEDIUM_RUN / "seed0" / "policy_49_weight.npz", run / "policy_0_weight.npz")
    return run


def test_episode_figures_count_touch_pinch_grasp_and_lift_as_defined():
    start = 0.425
    # columns: left finger on the block, right finger on it, block height
    steps = np.array([[0, 0, start], [1, 0, start], [1, 1, start + 0.005], [1, 1, start + 0.012],
                      [1, 1, start + 0.03], [0, 0, start + 0.02]], dtype=float)
    figures = grasp_rate.episode_figures(steps, start)
    # a pinch at step 2, held 1 cm up at steps 3 and 4, never 5 cm up
    assert figures == {"touched": 1.0, "pinched": 1.0, "grasped": 1.0, "lifted": 0.0, "grasped_steps": 2.0}
    # one finger only, the block tipped 1.2 cm: touched, not pinched, not grasped
    one_finger = steps.copy()
    one_finger[:, 1] = 0
    assert grasp_rate.episode_figures(one_finger, start) == {"touched": 1.0, "pinched": 0.0, "grasped": 0.0,
                                                              "lifted": 0.0, "grasped_steps": 0.0}
    # thrown 6 cm up without a finger on it at the time: lifted, not grasped
    thrown = np.array([[1, 1, start], [0, 0, start + 0.06]], dtype=float)
    assert grasp_rate.episode_figures(thrown, start) == {"touched": 1.0, "pinched": 1.0, "grasped": 0.0,
                                                          "lifted": 1.0, "grasped_steps": 0.0}


def test_earlier_rows_are_kept_only_for_the_run_whose_policies_are_held():
    def rows(*digests):
        return [{"policy": "scripted pick", "epoch": None}] + [
            {"policy": f"epoch {e}", "epoch": e, **({"weights_sha256": d} if d else {})} for e, d in enumerate(digests)]

    # the run trained again: epoch 0 came out the same bits, epoch 1 did not, so every row not held
    # (epoch 3) may be the other run's and goes too; epoch 2 has no digest to check
    kept, dropped = grasp_rate.rows_of_these_weights(rows("a", "b", None, "d"), {"epoch 0": "a", "epoch 1": "B",
                                                                                  "epoch 2": "c"})
    assert list(kept) == ["scripted pick", "epoch 0"]
    assert dropped == ["epoch 1: it measured other weights than the run folder's (a run trained again?)",
                       "epoch 2: no weights digest was recorded with it; measure it again",
                       "epoch 3: the run folder holds no such policy now, and no policy it holds shows the "
                       "earlier rows to be of this run"]
    # a committed export holds epochs 1 and 3 of the same run: the other epochs' rows stay
    kept, dropped = grasp_rate.rows_of_these_weights(rows("a", "b", "c", "d"), {"epoch 1": "b", "epoch 3": "d"})
    assert list(kept) == ["scripted pick", "epoch 0", "epoch 1", "epoch 2", "epoch 3"] and dropped == []
    # a run trained again that has not reached the earlier rows' epochs shows nothing: they go
    kept, dropped = grasp_rate.rows_of_these_weights(rows("a", "b"), {})
    assert list(kept) == ["scripted pick"] and len(dropped) == 2


def test_a_committed_exports_weights_are_kept_policies_with_the_run_folders_digests(tmp_path):
    from music.experiment import weights_digest
    from music.policy_files import policy_weights_sha256, save_safe_policy
    from music.save_weight import write_weights

    agent = make_agent(hidden=16, seed=5)
    save_safe_policy(agent, tmp_path / "policy_3.npz")
    write_weights(agent.save_weight(), tmp_path / "policy_7_weight.npz")
    (tmp_path / "policy_best.npz").touch()
    assert grasp_rate.kept_epochs(tmp_path) == [3, 7]
    assert grasp_rate.policy_file(tmp_path, 7) == tmp_path / "policy_7_weight.npz"
    assert grasp_rate.policy_file(tmp_path, 5) is None
    assert policy_weights_sha256(tmp_path / "policy_7_weight.npz") == policy_weights_sha256(
        tmp_path / "policy_3.npz") == weights_digest(agent)


def run_episode(recorder, act, seed):
    obs, _ = recorder.reset(seed=seed)
    for t in range(50):
        obs, *_ = recorder.step(act(obs["observation"], t))
    recorder.finish()
    return grasp_rate.episode_figures(recorder.episodes[-1], recorder.starts[-1])


def test_contacts_tell_a_scripted_pick_from_a_push_and_from_no_touch():
    recorder = grasp_rate.ContactRecorder(make_env("FetchPickAndPlace-v1", quiet=True))
    for seed in (0, 1):
        pick = run_episode(recorder, grasp_rate.scripted_pick, seed)
        assert pick["touched"] == pick["pinched"] == pick["grasped"] == pick["lifted"] == 1.0
        assert pick["grasped_steps"] >= 15  # held from the lift to the end

    def push(observation, t):  # fingers closed, down beside the block, then through it
        grip, block = observation[0:3], observation[3:6]
        target = block + ([-0.08, 0.0, 0.06] if t < 10 else [-0.08, 0.0, 0.0] if t < 20 else [0.15, 0.0, 0.0])
        return np.concatenate([np.clip((target - grip) / 0.05, -1.0, 1.0), [-1.0]])

    pushed = run_episode(recorder, push, 2)
    assert pushed["touched"] == 1.0 and pushed["grasped"] == 0.0 and pushed["lifted"] == 0.0
    still = run_episode(recorder, lambda observation, t: np.zeros(4), 3)
    assert still == {"touched": 0.0, "pinched": 0.0, "grasped": 0.0, "lifted": 0.0, "grasped_steps": 0.0}
    assert len(recorder.episodes) == len(recorder.starts) == 4


def test_the_recorder_does_not_change_what_evaluate_measures():
    from music.evaluate import evaluate_policy

    agent = make_agent(hidden=16, env_name="FetchPickAndPlace-v1", random_eps=0.3, noise_eps=0.2)
    plain = evaluate_policy(agent, 3, seed=4, mode="train")
    measured = grasp_rate.measure(agent, 3, seed=4)
    assert measured["object_displacement"] == plain["object_displacement_mean"]
    assert measured["episodes"] == 3 and set(grasp_rate.FIGURES) <= set(measured)


def test_v4_enforces_the_torso_and_arm_ranges_and_the_unlimited_model_does_not():
    limited = fetch_joint_limits.LimitRecorder(make_env("FetchPickAndPlace-v1", quiet=True), unlimited=False)
    unlimited = fetch_joint_limits.LimitRecorder(make_env("FetchPickAndPlace-v1", quiet=True), unlimited=True)
    names = {limited.env.unwrapped.model.joint(j).name for j in limited.arm_joints}
    assert {"robot0:torso_lift_joint", "robot0:shoulder_lift_joint", "robot0:elbow_flex_joint"} <= names
    assert not names & set(fetch_joint_limits.FINGER_JOINTS)
    model = unlimited.env.unwrapped.model
    assert not any(model.jnt_limited[j] for j in unlimited.arm_joints)
    assert all(model.jnt_limited[model.joint(name).id] for name in fetch_joint_limits.FINGER_JOINTS)
    for recorder in (limited, unlimited):
        recorder.reset(seed=0)
        recorder.step(np.zeros(4))
    # v4's torso starts below its range (0.0386-0.3861 m), so its limit acts from the first step on
    torso = [model.joint(j).name for j in limited.arm_joints].index("robot0:torso_lift_joint")
    assert limited.at_limit[-1][torso] and not unlimited.at_limit[-1].any()


@pytest.mark.slow
@pytest.mark.parametrize("unlimited", [False, True])
def test_the_gripper_reaches_most_targets_above_the_table(unlimited):
    errors = fetch_joint_limits.reach(unlimited)
    assert errors.shape == (125,)
    assert np.median(errors) < fetch_joint_limits.REACHED


class ConstantMine:
    """A stand-in policy whose MINE says MI = 1e-4 for windows where the object (3:6) moves, else 0."""

    mine = True

    def run_mi(self, pairs, perm=None):  # the MI does not depend on the permutation here
        moved = np.abs(pairs[:, 1, 3:6] - pairs[:, 0, 3:6]).sum(axis=1) > 1e-6  # a resting block settles by ~1e-8
        return -(1e-4 * moved).reshape(-1, 1)  # run_mi gives the negative estimate, as the original's tensor


def test_the_mi_reward_per_kind_of_episode_is_the_critics_clipped_reward_of_its_windows():
    from music.evaluate import episode_mi_reward

    still = np.zeros((51, 25))
    moving = np.zeros((51, 25))
    moving[:, 3] = np.arange(51) * (np.arange(51) >= 26)  # still for 26 steps, then moving: 25 of 50 windows
    # clip(5000 x 1e-4, 0, 1) - 1 = -0.5 where it moves, -1 elsewhere
    assert episode_mi_reward(ConstantMine(), still) == -1.0
    assert episode_mi_reward(ConstantMine(), moving) == pytest.approx((25 * -0.5 + 25 * -1.0) / 50)

    recorder = grasp_rate.ContactRecorder(make_env("FetchPickAndPlace-v1", quiet=True))
    run_episode(recorder, grasp_rate.scripted_pick, 0)
    run_episode(recorder, lambda observation, t: np.zeros(4), 1)
    assert [o.shape for o in recorder.observations] == [(51, 25), (51, 25)]  # the reset's and every step's
    by_kind = grasp_rate.mi_reward_by_kind(ConstantMine(), recorder)
    assert sorted(by_kind) == ["grasped", "untouched"] and by_kind["untouched"]["mi_reward_mean"] == -1.0
    assert by_kind["grasped"]["mi_reward_mean"] > -1.0 and by_kind["grasped"]["episodes"] == 1


def test_measuring_a_run_trained_again_replaces_the_lost_runs_rows(tmp_path, capsys):
    import json

    from music.policy_files import policy_weights_sha256

    run = run_of_one_policy(tmp_path)
    out = tmp_path / "grasp.json"
    lost = [{"policy": f"epoch {e}", "epoch": e, "episodes": 1, "weights_sha256": "lost run"} for e in (0, 5)]
    out.write_text(json.dumps({"rows": lost}))
    assert grasp_rate.main(["--run", str(run), "--epochs", "0", "--episodes", "1", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [row["policy"] for row in rows] == ["epoch 0"]
    assert rows[0]["weights_sha256"] == policy_weights_sha256(run / "policy_0_weight.npz") and rows[0]["episodes"] == 1
    printed = capsys.readouterr().out
    assert "grasp.json: dropped epoch 0: it measured other weights" in printed and "dropped epoch 5" in printed


def test_a_policy_measured_before_with_the_same_weights_and_seed_is_not_measured_again(tmp_path, monkeypatch,
                                                                                       capsys):
    import json
    import shutil

    run = run_of_one_policy(tmp_path)
    out = tmp_path / "grasp.json"
    arguments = ["--run", str(run), "--epochs", "0", "--episodes", "1", "--untrained", "--out", str(out)]
    assert grasp_rate.main(arguments) == 0
    first = json.loads(out.read_text())["rows"]
    assert [row["policy"] for row in first] == ["untrained", "epoch 0"]

    measured = []
    real_measure = grasp_rate.measure
    monkeypatch.setattr(grasp_rate, "measure", lambda policy, *rest: measured.append(policy) or real_measure(
        policy, *rest))
    capsys.readouterr()
    assert grasp_rate.main(arguments) == 0
    assert measured == [] and json.loads(out.read_text())["rows"] == first
    assert "epoch 0: measured before (the same weights, seed and episodes)" in capsys.readouterr().out
    # another seed, or --again, measures both policies again
    assert grasp_rate.main([*arguments, "--seed", "1"]) == 0 and len(measured) == 2
    assert {row["seed"] for row in json.loads(out.read_text())["rows"]} == {1}
    assert grasp_rate.main([*arguments, "--seed", "1", "--again"]) == 0 and len(measured) == 4
    # other weights under the same name are measured, not reused
    shutil.copy(MEDIUM_RUN / "seed1" / "policy_49_weight.npz", run / "policy_0_weight.npz")
    assert grasp_rate.main([*arguments, "--seed", "1"]) == 0 and len(measured) == 5
    # rows of the other mode measured other episodes: none is reused, none is kept (not the untrained one's,
    # which this measurement leaves out)
    play = ["--run", str(run), "--epochs", "0", "--episodes", "1", "--seed", "1", "--mode", "play", "--out", str(out)]
    assert grasp_rate.main(play) == 0 and len(measured) == 6
    written = json.loads(out.read_text())
    assert written["mode"] == "play" and [row["policy"] for row in written["rows"]] == ["epoch 0"]


def test_each_scripted_behaviour_does_to_the_block_what_its_name_says():
    did = {name: mi_by_behaviour.what_it_did(mi_by_behaviour.scripted_episodes(script, 3, 0))
           for name, (script, _) in mi_by_behaviour.BEHAVIOURS.items()}
    for carry in ("pick and carry, slow", "pick and carry, fast"):
        assert did[carry]["lifted"] == did[carry]["touched"] == 3
    assert did["push"]["touched"] == 3 and did["push"]["lifted"] == 0 and did["push"]["object_displacement"] > 0.15
    for untouched in ("reach without touching", "still"):
        assert did[untouched]["touched"] == 0 and did[untouched]["object_displacement"] < 1e-3


def test_a_behaviours_mi_scores_are_the_clipped_rewards_of_its_windows_overall_and_while_it_moves_the_block():
    recorder = grasp_rate.ContactRecorder(make_env("FetchPickAndPlace-v1", quiet=True))
    recorder.observations = [np.zeros((51, 25)), np.zeros((51, 25))]
    recorder.observations[1][:, 3] = np.arange(51) * (np.arange(51) >= 41)  # moves in the last 10 windows
    scores = mi_by_behaviour.scores(ConstantMine(), recorder, moving_from=30)
    # windows: 100, of which 10 at -0.5 (MI 1e-4) and none at the ceiling; from step 30: 40, 10 of them at -0.5
    assert scores == {"mi_reward_mean": pytest.approx((10 * -0.5 + 90 * -1.0) / 100), "at_ceiling": 0.0,
                      "mi_reward_moving": pytest.approx((10 * -0.5 + 30 * -1.0) / 40)}
    assert mi_by_behaviour.scores(ConstantMine(), recorder, moving_from=None)["mi_reward_moving"] is None

    class StrongMine:  # MI 1e-3 where the block moves: clip(5000 x 1e-3, 0, 1) - 1 = 0, the ceiling
        mine = True

        def run_mi(self, pairs, perm=None):
            return 10 * ConstantMine().run_mi(pairs)

    assert mi_by_behaviour.scores(StrongMine(), recorder, moving_from=30)["at_ceiling"] == 10 / 100


def test_a_mine_scored_before_with_the_same_weights_and_episodes_is_not_scored_again(tmp_path, monkeypatch):
    import json

    run = run_of_one_policy(tmp_path)
    out = tmp_path / "mi.json"
    arguments = ["--run", str(run), "--episodes", "1", "--out", str(out)]
    assert mi_by_behaviour.main(arguments) == 0
    first = json.loads(out.read_text())
    assert [row["epoch"] for row in first["rows"]] == [0] and set(first["rows"][0]["scores"]) == set(
        mi_by_behaviour.BEHAVIOURS)

    simulated = []
    real = mi_by_behaviour.scripted_episodes
    monkeypatch.setattr(mi_by_behaviour, "scripted_episodes",
                        lambda *args: simulated.append(args) or real(*args))
    assert mi_by_behaviour.main(arguments) == 0
    assert simulated == [] and json.loads(out.read_text()) == first
    assert mi_by_behaviour.main([*arguments, "--again"]) == 0 and len(simulated) == len(mi_by_behaviour.BEHAVIOURS)
    assert json.loads(out.read_text()) == first  # the same episodes and MINE: the same scores


def test_a_training_batch_holds_a_carry_where_its_coin_is_below_the_share_the_same_draws_at_every_share():
    own = np.zeros((7, 51, 25))
    own[:, 0, 0] = np.arange(7)  # each episode marked by its index: own 0..6, carries 100..104
    carries = np.zeros((5, 51, 25))
    carries[:, 0, 0] = 100 + np.arange(5)
    batches = {share: mine_with_carries.training_batch(np.random.default_rng(4), own, carries, share, 1000)[:, 0, 0]
               for share in (0.0, 0.1, 0.3, 1.0)}
    coins = np.random.default_rng(4).random(1000)  # drawn first, then the two index rows
    for share, marks in batches.items():
        assert np.array_equal(marks >= 100, coins < share)
    assert set(batches[0.0]) <= set(range(7)) and set(batches[1.0]) == set(100 + np.arange(5))
    # the own episodes that stay own at a larger share are the same ones
    stays = batches[0.3] < 100
    assert np.array_equal(batches[0.1][stays], batches[0.3][stays])


def test_each_mines_copy_starts_from_the_kept_mine_whatever_copies_were_trained_before_it(tmp_path):
    import json

    run = run_of_one_policy(tmp_path)
    arguments = ["--run", str(run), "--steps", "3", "--train-episodes", "2", "--episodes", "2"]
    assert mine_with_carries.main([*arguments, "--shares", "0", "1", "--out", str(tmp_path / "both.json")]) == 0
    assert mine_with_carries.main([*arguments, "--shares", "1", "--out", str(tmp_path / "one.json")]) == 0
    both, one = (json.loads((tmp_path / name).read_text()) for name in ("both.json", "one.json"))
    assert [row["carry_share"] for row in both["rows"]] == [None, 0.0, 1.0]
    assert set(both["rows"][0]["scores"]) == set(mine_with_carries.SCORED)
    assert both["rows"][2] == one["rows"][1] and both["rows"][0] == one["rows"][0]
    # training moved the MINE: its copies score the held-out episodes otherwise than the kept one
    assert both["rows"][1]["scores"] != both["rows"][0]["scores"] != both["rows"][2]["scores"]
    assert both["what_the_held_out_did"]["pick and carry, fast"]["lifted"] == 2


def test_a_share_that_is_not_a_probability_is_refused_in_one_line(tmp_path):
    with pytest.raises(SystemExit, match=r"--shares \[0.1, 2.0\]: a share is a probability, from 0 to 1"):
        mine_with_carries.main(["--run", str(run_of_one_policy(tmp_path)), "--shares", "0.1", "2"])


def test_the_reward_where_the_block_moves_is_the_mean_over_the_windows_in_which_it_moves_a_millimetre():
    recorder = grasp_rate.ContactRecorder(make_env("FetchPickAndPlace-v1", quiet=True))
    recorder.observations = [np.zeros((51, 25)), np.zeros((51, 25))]
    recorder.observations[0][:, 4] = 0.002 * np.maximum(np.arange(51) - 40, 0)  # 2 mm a step from step 40
    recorder.observations[1][:, 4] = 0.0005 * np.arange(51)  # 0.5 mm a step: settling, not moved
    scored = mine_with_carries.score_all(ConstantMine(), {"push": recorder}, seed=0)["push"]
    # moved in 10 windows of episode 0 (steps 40-49), each at -0.5; episode 1's 50 windows at -0.5 too, not counted
    assert scored["block_moving_windows"] == 10 / 100
    assert scored["mi_reward_block_moving"] == pytest.approx(-0.5)
    assert scored["mi_reward_mean"] == pytest.approx((60 * -0.5 + 40 * -1.0) / 100)
    recorder.observations = [np.zeros((51, 25))]
    assert mine_with_carries.score_all(ConstantMine(), {"push": recorder}, seed=0)["push"][
        "mi_reward_block_moving"] is None


def test_the_copies_train_on_other_resets_than_the_ones_every_mine_is_scored_on(tmp_path, monkeypatch):
    seeds = {"recorded": [], "scripted": []}
    recorded, scripted = grasp_rate.recorded_run, mi_by_behaviour.scripted_episodes
    monkeypatch.setattr(grasp_rate, "recorded_run", lambda policy, episodes, seed, mode: seeds["recorded"].append(
        (episodes, seed)) or recorded(policy, episodes, seed, mode))
    monkeypatch.setattr(mi_by_behaviour, "scripted_episodes", lambda script, episodes, seed: seeds["scripted"].append(
        (episodes, seed)) or scripted(script, episodes, seed))
    assert mine_with_carries.main(["--run", str(run_of_one_policy(tmp_path)), "--steps", "1", "--train-episodes", "4",
                                   "--episodes", "3", "--shares", "0", "--seed", "7",
                                   "--out", str(tmp_path / "c.json")]) == 0
    # own exploring episodes: 4 to train on (seed 8), 3 held out (seed 7); carries: 2 resets each of slow and fast
    # (seed 8); the held-out carries and push: seed 7
    assert seeds["recorded"] == [(4, 8), (3, 7)]
    assert seeds["scripted"] == [(2, 8), (2, 8), (3, 7), (3, 7), (3, 7)]


def test_each_window_gets_the_blocks_speed_and_whether_it_is_on_the_table_or_raised_held_or_not():
    observations = np.zeros((7, 25))
    block = observations[:, 3:6]
    block[:, 2] = 0.425
    block[:, 0] = [0.0, 0.0, 0.003, 0.015, 0.015, 0.015, 0.015]  # pushed 3 mm, then 12 mm, then still
    block[4:, 2] += [0.006, 0.02, 0.045]  # lifted: 6 mm (neither place), 2 cm, 4.5 cm
    # after each step: left finger, right finger, height (unused here); both fingers on it from step 3
    steps = np.array([[1, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 0], [1, 1, 0], [0, 1, 0]], dtype=float)
    speed, place = mi_by_speed.window_places(observations, steps)
    assert speed == pytest.approx([0.0, 0.003, 0.012, 0.006, 0.014, 0.025])
    on_table, on_table_held, raised, raised_held = range(4)
    # windows 0-2 on the table, window 2 ending in a pinch but starting without one; window 3 pinched
    # at both steps, 6 mm up at its second: still within 1 cm of the table; window 4 from 6 mm to
    # 2 cm: neither place; window 5 raised, its last step one finger only
    assert place.tolist() == [on_table, on_table, on_table, on_table_held, -1, raised]
    assert mi_by_speed.PLACES[raised_held] == "raised, held"
    both = steps.copy()
    both[5, 0] = 1
    assert mi_by_speed.window_places(observations, both)[1][5] == raised_held
    still = observations.copy()
    still[:, 3:6] = block[3]
    assert mi_by_speed.window_places(still, both)[1].tolist() == [0, 0, 0, on_table_held, on_table_held,
                                                                    on_table_held]
    # bins of SPEED_EDGES, from 1 mm a step; 40 mm and more in the last
    assert mi_by_speed.speed_bin(np.array([0.0, 0.0009, 0.001, 0.0049, 0.005, 0.012, 0.039, 0.04, 0.3])).tolist() \
        == [-1, -1, 0, 0, 1, 2, 3, 4, 4]
    assert mi_by_speed.speed_bins() == ["1-5", "5-10", "10-20", "20-40", ">= 40"]


def test_the_table_counts_and_averages_the_windows_of_each_place_and_speed_and_leaves_out_the_still():
    rewards = [np.array([-1.0, -0.5, -0.2, 0.0]), np.array([-0.8, -0.4])]
    speeds = [np.array([0.0005, 0.002, 0.003, 0.05]), np.array([0.002, 0.007])]
    places = [np.array([0, 0, 0, -1]), np.array([3, 3])]
    table = mi_by_speed.tabulate(rewards, speeds, places)
    # moving: 5 of 6 windows (0.5 mm is still); the one at 50 mm is in neither place
    assert (table["moving_windows"], table["elsewhere_windows"]) == (5, 1)
    pushed, carried = table["by_place"]["on the table, not held"], table["by_place"]["raised, held"]
    assert pushed[0] == {"windows": 2, "mi_reward_mean": pytest.approx(-0.35)}
    assert carried[0] == {"windows": 1, "mi_reward_mean": -0.8} and carried[1] == {"windows": 1, "mi_reward_mean": -0.4}
    assert all(cell == {"windows": 0, "mi_reward_mean": None} for cell in pushed[1:])
    assert all(c["windows"] == 0 for c in table["by_place"]["raised, not held"])


def test_under_the_identity_permutation_every_window_is_paid_minus_one_and_a_random_draw_is_one_of_the_two(tmp_path):
    from music.evaluate import window_mi_rewards
    from music.save_weight import load_policy

    policy = load_policy(run_of_one_policy(tmp_path) / "policy_0_weight.npz")
    recorder = grasp_rate.ContactRecorder(make_env("FetchPickAndPlace-v1", quiet=True))
    run_episode(recorder, grasp_rate.scripted_pick, 0)
    observations = recorder.observations[0]
    identity = window_mi_rewards(policy, observations, perm=(0, 1))
    swapped = window_mi_rewards(policy, observations, perm=mi_by_speed.SWAP)
    # the identity's estimate is mean(T) - log(mean(exp(T))) on one set of pairs: 0 up to float32
    # rounding (a few 1e-8), which clip(5000 MI, 0, 1) - 1 turns into -1 up to a few 1e-4
    assert identity.max() <= -0.999
    assert swapped.max() > -0.9  # the pick moves the block with the gripper: some window is paid
    drawn = [window_mi_rewards(policy, observations) for _ in range(8)]
    assert all(np.array_equal(d, identity) or np.array_equal(d, swapped) for d in drawn)
    assert any(np.array_equal(d, swapped) for d in drawn)


def test_mi_by_speed_writes_each_sets_table_and_what_its_episodes_did(tmp_path):
    import json

    out = tmp_path / "speed.json"
    assert mi_by_speed.main(["--run", str(run_of_one_policy(tmp_path)), "--episodes", "2", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert (result["epoch"], result["episodes"], result["speed_bins_mm_per_step"]) == (0, 2, mi_by_speed.speed_bins())
    assert list(result["sets"]) == list(mi_by_speed.SCORED)
    carried = result["sets"]["pick and carry, fast"]["by_place"]["raised, held"]
    assert sum(c["windows"] for c in carried) > 0  # the carry's windows are raised and held
    assert result["what_they_did"]["pick and carry, fast"]["lifted"] == 2
    assert sum(c["windows"] for c in result["sets"]["push"]["by_place"]["raised, held"]) == 0


def test_mi_by_speed_refuses_no_episodes_in_one_line(tmp_path):
    with pytest.raises(SystemExit, match=r"^--episodes 0: give 1 or more episodes of each set$"):
        mi_by_speed.main(["--run", str(tmp_path), "--episodes", "0"])
