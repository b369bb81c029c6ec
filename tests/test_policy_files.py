"""Policy files: today's format round-trips; files of format 1 (flat constructor arguments,
written before the agent took Params, e.g. by the campaign's runs) still load and act as
the code that wrote them did (tests/data/README.md)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import make_agent

DATA = Path(__file__).parent / "data"


def greedy_action(policy):
    recorded = json.loads((DATA / "policy_format1_actions.json").read_text())
    o = np.linspace(-1, 1, 25, dtype=np.float32)[None]
    u = policy.get_actions(o, np.array([recorded["z"]]), np.array([recorded["ag"]]), np.array([recorded["g"]]))
    return u, np.array(recorded["greedy_action"], dtype=np.float32)


@pytest.mark.bitexact
@pytest.mark.parametrize("name", ["policy_format1.pkl", "policy_format1.npz"])
def test_format1_policy_files_load_and_act_as_written(name, tmp_path):
    from music.policy_files import load_policy

    path = tmp_path / name
    shutil.copy(DATA / name, path)
    shutil.copy(DATA / "policy_format1.npz", tmp_path / "policy_format1.npz")  # the pickle's digest twin
    policy = load_policy(path)
    u, recorded = greedy_action(policy)
    # Recorded on another machine: float32 rounding differs between CPU kinds (1.3e-7 here),
    # while weights loaded wrongly would change the action in its first digits.
    np.testing.assert_allclose(u, recorded, rtol=1e-5, atol=1e-6)
    assert (policy.params.hidden, policy.params.layers, policy.params.buffer_size) == (8, 1, 10_000)
    assert (policy.T, policy.gamma, policy.clip_return, policy.env_name) == (50, 0.98, np.inf, "FetchPush-v1")
    assert policy.params.replay_dtype == "float32" and policy.params.note == "SAC+MUSIC"
    assert policy.params.noise_eps == 0.2  # not recorded in format 1 files: the default


@pytest.mark.bitexact
def test_format2_round_trip_keeps_params_run_facts_and_actions(tmp_path):
    import cloudpickle

    from music.files import file_sha256
    from music.policy_files import load_policy, save_safe_policy

    agent = make_agent(hidden=16, seed=7, note="SAC+MUSIC-p", noise_eps=0.1, clip_return=3.0)
    with open(tmp_path / "policy_0.pkl", "wb") as f:
        cloudpickle.dump(agent, f)
    save_safe_policy(agent, tmp_path / "policy_0.npz", file_sha256(tmp_path / "policy_0.pkl"))
    o = np.random.default_rng(0).normal(size=(3, 25))
    z, ag, g = np.ones((3, 1)), np.zeros((3, 3)), np.full((3, 3), 0.2)
    expected = agent.get_actions(o, z, ag, g)
    for name in ("policy_0.npz", "policy_0.pkl"):
        policy = load_policy(tmp_path / name)
        assert policy.params == agent.params and policy.run_facts == agent.run_facts
        assert policy.params.note == "SAC+MUSIC-p" and policy.params.noise_eps == 0.1
        np.testing.assert_array_equal(policy.get_actions(o, z, ag, g), expected)


def test_a_policy_files_weights_digest_is_the_loaded_agents_and_moves_with_one_weight(tmp_path):
    import hashlib
    import time

    from music.experiment import weights_digest
    from music.policy_files import load_policy, policy_weights_sha256, save_safe_policy

    agent = make_agent(hidden=16, seed=3)
    save_safe_policy(agent, tmp_path / "policy_0.npz")
    time.sleep(2.1)  # an .npz records when it was written: the file's own sha256 changes, the digest must not
    save_safe_policy(agent, tmp_path / "policy_1.npz")
    digest = policy_weights_sha256(tmp_path / "policy_0.npz")
    loaded = load_policy(tmp_path / "policy_0.npz")
    assert digest == policy_weights_sha256(tmp_path / "policy_1.npz") == weights_digest(loaded)
    # by hand: names and bytes in name order
    by_hand = hashlib.sha256()
    for name, value in sorted(agent.save_weight().items()):
        by_hand.update(name.encode() + np.ascontiguousarray(value).tobytes())
    assert digest == by_hand.hexdigest()
    weights = agent.save_weight()
    name = "main/pi/_0/kernel"
    weights[name] = weights[name].copy()
    weights[name].flat[0] = np.nextafter(weights[name].flat[0], np.float32(1))
    agent.load_weight(weights, include=[""], verbose=False)
    save_safe_policy(agent, tmp_path / "policy_2.npz")
    assert policy_weights_sha256(tmp_path / "policy_2.npz") != digest


def test_a_policy_file_with_an_unknown_parameter_is_refused_in_one_line(tmp_path):
    from music.policy_files import PolicyFileError, load_safe_policy, save_safe_policy

    agent = make_agent(hidden=16)
    save_safe_policy(agent, tmp_path / "policy_0.npz")
    with np.load(tmp_path / "policy_0.npz") as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(arrays["__policy__"].tobytes().decode())
    meta["agent"]["params"]["warp_drive"] = True
    arrays["__policy__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(tmp_path / "policy_1.npz", **arrays)
    with pytest.raises(PolicyFileError, match="cannot rebuild the agent.*unknown key 'warp_drive'"):
        load_safe_policy(tmp_path / "policy_1.npz")


SHIPPED = Path(__file__).parent.parent / "experiments" / "results" / "medium" / "FetchPush-v1" / "SAC+MUSIC" / "seed0"


@pytest.mark.parametrize("name", [str(SHIPPED / "policy_49_weight.npz"), "pretrained:FetchPush-v1/SAC+MUSIC/seed0"])
def test_a_shipped_weights_file_loads_as_the_agent_of_its_runs_params(name):
    # what `python -m music.evaluate` and `music.play` are given: the weights file the README names
    from music.policy_files import load_policy, read_weights

    policy = load_policy(name)
    run = json.loads((SHIPPED / "params.json").read_text())
    weights = read_weights(SHIPPED / "policy_49_weight.npz")
    assert policy.env_name == run["env_name"] and policy.params.hidden == run["hidden"] and policy.params.sac
    saved = policy.save_weight()
    assert saved.keys() == weights.keys() and len(weights) == 64
    for key, value in weights.items():
        np.testing.assert_array_equal(saved[key], value, err_msg=key)


@pytest.mark.parametrize("file_name, text, message", [
    ("policy_49_weight.npz", None, "holds weights only, and no params.json of its run is beside it"),
    ("policy_1.npz", "not a zip", "is not an .npz archive \\(a zip file\\); give a policy_\\*.npz"),
    ("notes.txt", "hello", "is neither a policy_\\*.npz nor a policy_\\*.pkl file"),
    ("pretrained:seed0", None, "name the shipped run fully, e.g. pretrained:FetchPush-v1/SAC\\+MUSIC/seed0"),
    ("pretrained:paper/seed0", None, "or pretrained:paper/FetchPickAndPlace-v1/SAC\\+MUSIC/seed0"),
])
def test_files_that_are_not_policies_are_refused_by_name(tmp_path, file_name, text, message):
    from music.policy_files import PolicyFileError, load_policy

    path = tmp_path / file_name
    if file_name.endswith("_weight.npz"):
        shutil.copy(SHIPPED / file_name, path)  # weights without their run's params.json
    elif text is not None:
        path.write_text(text)
    with pytest.raises(PolicyFileError, match=message) as raised:
        load_policy(file_name if file_name.startswith("pretrained:") else path)
    assert "allow_pickle" not in str(raised.value)
