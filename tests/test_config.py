"""DEFAULT_PARAMS, every params file, and refusal of malformed parameters."""

import json
from pathlib import Path

import pytest

from music.config import (
    DEFAULT_PARAMS,
    PARAMS_DIR,
    ParamsError,
    check_consistency,
    check_params,
    default_params,
    load_params_file,
    params_file,
    parse_override,
)

from conftest import REPO

REFERENCE = REPO.parent / "shared" / "reference" / "params"

# The original's DEFAULT_PARAMS (baselines/her/experiment/config.py), minus its class-path
# and TF-scope strings, which have no meaning here.
ORIGINAL_DEFAULTS = {
    "max_u": 1.0, "layers": 3, "hidden": 256, "Q_lr": 0.001, "pi_lr": 0.001, "mi_lr": 0.001, "sk_lr": 0.001,
    "buffer_size": 1_000_000, "polyak": 0.95, "action_l2": 1.0, "clip_obs": 200.0, "relative_goals": False,
    "n_cycles": 50, "rollout_batch_size": 2, "n_batches": 40, "batch_size": 256, "n_test_rollouts": 10,
    "test_with_polyak": False, "random_eps": 0.3, "noise_eps": 0.2, "norm_eps": 0.01, "norm_clip": 5,
    "replay_strategy": "future", "collect_data": False, "collect_video": False, "num_objective": 4,
    "note": "SAC+MUSIC", "sac": True, "replay_k": 0, "r_scale": 0, "mi_r_scale": 5000, "sk_r_scale": 0,
    "et_r_scale": 0.02, "mi_w_schedule": [[0, 1], [50, 1], [200, 1]], "mi_end_epoch": 200,
    "goal_generation": "Zero", "num_skills": 1, "use_skill_n": None,
    "et_w_schedule": [[0, 0.2], [24, 0.2], [200, 0.2]], "finetune_pi": False, "no_train_mi": False,
    "mi_prioritization": False, "load_weight": None,
}


def test_default_params_equal_the_original():
    ours_only = ("entropy_reward_mode", "replay_dtype", "mi_end_mode", "agent_obs", "surrounding_obs",
                 "finetune_normalizers")
    ours = {k: v for k, v in DEFAULT_PARAMS.items() if k not in ours_only}
    assert ours == ORIGINAL_DEFAULTS
    assert DEFAULT_PARAMS["agent_obs"] is None and DEFAULT_PARAMS["surrounding_obs"] is None  # the registered split
    assert DEFAULT_PARAMS["entropy_reward_mode"] == "original"
    assert DEFAULT_PARAMS["replay_dtype"] == "float32"  # deliberate change, docs/deviations.md
    assert DEFAULT_PARAMS["finetune_normalizers"] is False  # -f loads no normalizers, as the original


ALL_FILES = sorted(PARAMS_DIR.glob("*/*.json"))


def test_every_reference_params_file_has_ours():
    if not REFERENCE.is_dir():
        pytest.skip("shared/reference/params not beside the repository")
    reference = {p.relative_to(REFERENCE) for p in REFERENCE.glob("*/*.json")}
    ours = {p.relative_to(PARAMS_DIR) for p in ALL_FILES}
    assert len(reference) == 40 and reference <= ours


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_params_file_loads_and_matches_the_authors_hyperparameters(path):
    params = load_params_file(path)
    merged = {**default_params(), **params}
    check_consistency(merged, str(path))
    ref = REFERENCE / path.parent.name / path.name
    if ref.exists():
        original = json.loads(ref.read_text())
        for key, value in original.items():
            if key != "load_weight":
                assert params[key] == value, key
        if original["load_weight"]:
            assert len(params["load_weight"]) == len(original["load_weight"])
            for k, ours in enumerate(params["load_weight"]):
                assert ours.startswith("logs/") and f"/seed{k}/" in ours
                assert Path(ours).name == Path(original["load_weight"][k]).name  # same epoch
        else:
            assert params["load_weight"] is None


@pytest.mark.parametrize("content, message", [
    ('{"sac": tru', r"malformed JSON at line 1"),
    ('{"sac": 1}', r"key 'sac': expected true or false, got 1"),
    ('{"n_cycles": "ten"}', r"key 'n_cycles': expected an integer"),
    ('{"colour": "red"}', r"unknown key 'colour'"),
    ('[1, 2]', r"expected a JSON object"),
    ('{"mi_w_schedule": [[50, 1], [0, 1]]}', r"key 'mi_w_schedule': .*increasing order"),
    ('{"replay_strategy": "past"}', r"key 'replay_strategy': expected one of future, final, none"),
    ('{"batch_size": 0}', r"key 'batch_size': must be > 0"),
    ('{"load_weight": 3}', r"key 'load_weight': expected null, a policy path"),
])
def test_malformed_params_files_are_refused_with_file_key_and_reason(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ParamsError, match=message) as info:
        load_params_file(path)
    assert str(path) in str(info.value)


def test_cross_key_checks():
    with pytest.raises(ParamsError, match=r"use_skill_n': must be in 1..num_skills=5, got 6"):
        check_consistency({**default_params(), "num_skills": 5, "use_skill_n": 6})


def test_unknown_note_lists_available_ones():
    with pytest.raises(ParamsError, match=r"no params file for note 'SAC\+MAGIC'.*available: .*SAC\+MUSIC"):
        params_file("FetchPush-v1", "SAC+MAGIC")
    assert params_file("FetchPush-v4", "SAC") == PARAMS_DIR / "FetchPush-v1" / "SAC.json"


def test_command_line_overrides_parse_json_values():
    assert parse_override("n_batches=20") == ("n_batches", 20)
    assert parse_override('load_weight="a/b.pkl"') == ("load_weight", "a/b.pkl")
    assert parse_override("sac=False") == ("sac", False)
    assert parse_override("mi_w_schedule=[[0,1],[9,2]]") == ("mi_w_schedule", [[0, 1], [9, 2]])
    assert check_params({"hidden": 64.0}, "x") == {"hidden": 64}
    with pytest.raises(ParamsError, match="expected key=value"):
        parse_override("n_batches")


@pytest.mark.parametrize("overrides, message", [
    ({"n_cycles": -1}, "'n_cycles': must be > 0"),
    ({"rollout_batch_size": 0}, "'rollout_batch_size': must be > 0"),
    ({"num_skills": 0}, "'num_skills': must be > 0"),
    ({"n_test_rollouts": -2}, "'n_test_rollouts': must be >= 0"),
    ({"random_eps": 1.5}, "'random_eps': must be in \\[0, 1\\]"),
])
def test_hostile_counts_are_refused(overrides, message):
    with pytest.raises(ParamsError, match=message):
        check_params(overrides, "--param")


def test_batch_larger_than_the_buffer_is_refused():
    with pytest.raises(ParamsError, match=r"'batch_size': 512 transitions per batch is more than the replay buffer"):
        check_consistency({**default_params(), "batch_size": 512, "buffer_size": 500})


def test_normalizers_of_a_policy_that_is_not_fine_tuned_are_refused():
    with pytest.raises(ParamsError, match=r"'finetune_normalizers': .* finetune_pi is false"):
        check_consistency({**default_params(), "finetune_normalizers": True})
    check_consistency({**default_params(), "finetune_normalizers": True, "finetune_pi": True})


def test_shipped_weights_by_short_name(tmp_path):
    import pytest

    from music.config import ParamsError, shipped_weights

    folder = tmp_path / "medium" / "FetchPush-v1" / "SAC+MUSIC" / "seed1"
    folder.mkdir(parents=True)
    (folder / "policy_49_weight.npz").write_bytes(b"")
    expected = folder / "policy_49.pkl"  # its _weight.npz is what load_weight reads
    assert shipped_weights("pretrained:seed1", "FetchPush-v1", "SAC+MUSIC-r", root=tmp_path) == expected
    assert shipped_weights("pretrained:seed1", "FetchPush-v4", "SAC+MUSIC-f", root=tmp_path) == expected
    assert shipped_weights("pretrained:FetchPush-v1/SAC+MUSIC/seed1", "FetchSlide-v1", "SAC", root=tmp_path) == expected
    assert shipped_weights("pretrained:medium/seed1", "FetchPush-v1", "SAC+MUSIC-r", root=tmp_path) == expected
    # the paper campaign's runs: the same names after paper/, the highest epoch of those it ships
    paper = tmp_path / "paper" / "FetchPickAndPlace-v1" / "SAC+MUSIC" / "seed0"
    paper.mkdir(parents=True)
    for epoch in (10, 20, 49):
        (paper / f"policy_{epoch}_weight.npz").write_bytes(b"")
    assert shipped_weights("pretrained:paper/seed0", "FetchPickAndPlace-v1", "SAC+MUSIC-r", root=tmp_path) == \
        paper / "policy_49.pkl"
    assert shipped_weights("pretrained:paper/FetchPickAndPlace-v1/SAC+MUSIC/seed0", "", "", root=tmp_path) == \
        paper / "policy_49.pkl"
    # a name not shipped: the error lists what is, with each campaign's prefix
    with pytest.raises(ParamsError, match=r"no shipped weights for FetchPush-v1/SAC\+MUSIC/seed2 \(shipped: "
                                          r"pretrained:FetchPush-v1/SAC\+MUSIC/seed1, "
                                          r"pretrained:paper/FetchPickAndPlace-v1/SAC\+MUSIC/seed0\)"):
        shipped_weights("pretrained:seed2", "FetchPush-v1", "SAC+MUSIC-p", root=tmp_path)
    with pytest.raises(ParamsError, match=r"no shipped weights for paper/FetchPush-v1/SAC\+MUSIC/seed0"):
        shipped_weights("pretrained:paper/seed0", "FetchPush-v1", "SAC+MUSIC-r", root=tmp_path)
    # an installation without any
    with pytest.raises(ParamsError, match="this installation has no shipped weights"):
        shipped_weights("pretrained:seed1", "FetchPush-v1", "SAC+MUSIC-r", root=tmp_path / "nothing")
    with pytest.raises(ParamsError, match="note 'SAC' loads no pretrained run"):
        shipped_weights("pretrained:seed1", "FetchPush-v1", "SAC", root=tmp_path)
    with pytest.raises(ParamsError, match="expected pretrained:seed<k>"):
        shipped_weights("pretrained:a/b", "FetchPush-v1", "SAC+MUSIC-r", root=tmp_path)


def test_a_clone_reads_the_shipped_weights_from_the_campaign_exports_an_install_from_its_copy(monkeypatch, tmp_path):
    import music.config as config

    assert not config.PACKAGED_WEIGHTS_DIR.exists()  # a clone: setup.py makes the copy in a wheel only
    assert config.shipped_weights_dir() == REPO / "experiments" / "results"
    assert config.shipped_weights("pretrained:FetchPush-v1/SAC+MUSIC/seed0", "", "").parent == \
        REPO / "experiments" / "results" / "medium" / "FetchPush-v1" / "SAC+MUSIC" / "seed0"
    monkeypatch.setattr(config, "PACKAGED_WEIGHTS_DIR", tmp_path)
    assert config.shipped_weights_dir() == tmp_path
