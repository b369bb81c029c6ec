"""The agent: critic target and losses against docs/algorithm.md §3 in numpy, updates, acting, weights, pickling."""

import subprocess
import sys

import cloudpickle
import numpy as np
import pytest

import np_reference as ref
from conftest import REPO, agent_args, make_agent, random_episodes

B = 5


def hand_batch(rng, dimz=1):
    return {
        "o": rng.normal(size=(B, 25)).astype(np.float32),
        "z": np.eye(dimz)[np.zeros(B, int)].astype(np.float32),
        "g": rng.normal(size=(B, 3)).astype(np.float32),
        "u": rng.uniform(-1, 1, size=(B, 4)).astype(np.float32),
        "o_2": rng.normal(size=(B, 25)).astype(np.float32),
        "g_2": rng.normal(size=(B, 3)).astype(np.float32),
        "r": np.array([0, -1, -1, 0, -1], np.float32),
        # with mi_r_scale 5000: 5000 m = [-0.5, 0, 0.5, 1, 5]
        "m": np.array([-1e-4, 0, 1e-4, 2e-4, 1e-3], np.float32),
        # with sk_r_scale 1: clip(s, -1, 0) = [-1, -0.5, 0, -1, 0]
        "s": np.array([-3, -0.5, 0.2, -1, 0], np.float32),
    }


def hand_weights(mi_r_scale, m_w=1.0, e_w=0.2):
    return {"m_w": np.float32(m_w), "s_w": np.float32(1), "r_w": np.float32(1), "e_w": np.float32(e_w),
            "mi_r_scale": np.float32(mi_r_scale)}


def set_stats(agent, rng):
    agent.learner.o_stats.mean.assign(rng.normal(size=25).astype(np.float32))
    agent.learner.o_stats.std.assign(rng.uniform(0.5, 2, size=25).astype(np.float32))
    agent.learner.g_stats.mean.assign(rng.normal(size=3).astype(np.float32))
    for name, var in agent.variables.items():  # targets differ from main, biases non-zero
        if name.startswith("target") or name.endswith("bias"):
            var.assign(var.numpy() + rng.normal(scale=0.1, size=var.shape).astype(np.float32))


def numpy_terms(agent, batch, weights, noise, noise_2):
    """docs/algorithm.md §3 computed in numpy from the agent's weights."""
    w = {k: v.astype(np.float64) for k, v in agent.save_weight().items()}
    b = {k: v.astype(np.float64) for k, v in batch.items()}
    L, mu, p = agent.params.layers, agent.max_u, agent.params
    x = ref.actor_input(w, b["o"], b["z"], b["g"], agent.learner.o_stats.default_clip_range)
    x2 = ref.actor_input(w, b["o_2"], b["z"], b["g_2"], agent.learner.o_stats.default_clip_range)
    if p.sac:
        _, pi, neg_logp = ref.sac_actor(w, "main", x, L, mu, noise.astype(np.float64))
        _, pi2, _ = ref.sac_actor(w, "target", x2, L, mu, noise_2.astype(np.float64))
    else:
        pi, pi2 = ref.ddpg_actor(w, "main", x, L, mu), ref.ddpg_actor(w, "target", x2, L, mu)
        neg_logp = np.zeros(len(pi))
    q2 = ref.critic(w, "target", x2, pi2, L, mu)[:, 0]
    mi_scale = float(weights["mi_r_scale"])
    reward = (p.r_scale * b["r"] * weights["r_w"]
              + (np.clip(mi_scale * b["m"], 0, 1) - (1 if mi_scale != 0 else 0)) * weights["m_w"]
              + np.clip(p.sk_r_scale * b["s"], -1, 0) * weights["s_w"])
    entropy = np.clip(p.et_r_scale * neg_logp, -1, 0) * weights["e_w"] if p.sac else np.zeros_like(reward)
    if p.sac and p.entropy_reward_mode == "original":
        target = reward[:, None] + entropy[None, :] + agent.gamma * q2[:, None]  # (B, B), as the original
    else:
        target = (reward + entropy + agent.gamma * q2)[:, None]
    target = np.clip(target, -agent.clip_return, agent.clip_return)
    q = ref.critic(w, "main", x, b["u"], L, mu)
    q_pi = ref.critic(w, "main", x, pi, L, mu)
    return {"target": target, "Q_loss": np.mean((target - q) ** 2),
            "pi_loss": -np.mean(q_pi) + p.action_l2 * np.mean((pi / mu) ** 2), "reward": reward,
            "entropy": entropy, "q2": q2}


def tf_terms(agent, batch, weights, noise, noise_2):
    return {k: v.numpy() for k, v in agent.learner.loss_terms(batch, weights, noise, noise_2).items()}


SCALES = {  # (r_scale, mi_r_scale, sk_r_scale, et_r_scale): one reward term on at a time
    "task": (1.0, 0.0, 0.0, 0.0),
    "mi": (0.0, 5000.0, 0.0, 0.0),
    "skill": (0.0, 0.0, 1.0, 0.0),
    "entropy": (0.0, 0.0, 0.0, 0.02),
}
HAND_REWARD = {  # the reward term of hand_batch by hand, for gamma = 0
    "task": [0, -1, -1, 0, -1],
    "mi": [-1, -1, -0.5, 0, 0],
    "skill": [-1, -0.5, 0, -1, 0],
}


@pytest.mark.parametrize("sac", [True, False])
@pytest.mark.parametrize("term", list(SCALES))
@pytest.mark.parametrize("gamma", [0.0, 0.98])
def test_critic_target_and_losses_equal_numpy_for_each_reward_term(term, sac, gamma):
    r_scale, mi_r_scale, sk_r_scale, et_r_scale = SCALES[term]
    agent = make_agent(sac=sac, r_scale=r_scale, mi_r_scale=mi_r_scale, sk_r_scale=sk_r_scale,
                       et_r_scale=et_r_scale, gamma=gamma, hidden=16, max_u=1.5)
    rng = np.random.default_rng(10)
    set_stats(agent, rng)
    batch, weights = hand_batch(rng), hand_weights(mi_r_scale)
    noise, noise_2 = rng.normal(size=(2, B, 4)).astype(np.float32)
    got, expected = tf_terms(agent, batch, weights, noise, noise_2), numpy_terms(agent, batch, weights, noise, noise_2)
    np.testing.assert_allclose(got["target"], expected["target"], atol=1e-4)
    np.testing.assert_allclose(got["Q_loss"], expected["Q_loss"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got["pi_loss"], expected["pi_loss"], rtol=1e-4, atol=1e-5)
    if term in HAND_REWARD:
        np.testing.assert_allclose(expected["reward"], HAND_REWARD[term], atol=1e-6)
        if gamma == 0:
            for column in got["target"].T:
                np.testing.assert_allclose(column, HAND_REWARD[term], atol=1e-5)
    # SAC's (B,) entropy reward broadcasts against (B, 1) into (B, B), as in the original.
    assert got["target"].shape == ((B, B) if sac else (B, 1))
    if term == "entropy" and sac:
        assert np.all(expected["entropy"] <= 0) and np.any(expected["entropy"] < 0)


def test_entropy_per_transition_mode_and_its_relation_to_the_original():
    kwargs = dict(sac=True, r_scale=1.0, mi_r_scale=0.0, et_r_scale=0.02, hidden=16)
    rng = np.random.default_rng(11)
    original = make_agent(**kwargs)
    per_transition = make_agent(entropy_reward_mode="per_transition", **kwargs)
    set_stats(original, rng)
    per_transition.load_weight(original.save_weight(), verbose=False)
    batch, weights = hand_batch(rng), hand_weights(0.0)
    noise, noise_2 = rng.normal(size=(2, B, 4)).astype(np.float32)
    a = tf_terms(original, batch, weights, noise, noise_2)
    b = tf_terms(per_transition, batch, weights, noise, noise_2)
    expected = numpy_terms(per_transition, batch, weights, noise, noise_2)
    assert b["target"].shape == (B, 1)
    np.testing.assert_allclose(b["target"], expected["target"], atol=1e-4)
    # Row i of the original's (B, B) target holds every transition's entropy reward; its
    # row mean is the per-transition target with the batch-mean entropy reward.
    shift = expected["entropy"].mean() - expected["entropy"]
    np.testing.assert_allclose(a["target"].mean(axis=1), b["target"][:, 0] + shift, atol=1e-4)


def test_clip_return_clips_targets_both_ways():
    agent = make_agent(sac=False, r_scale=30.0, mi_r_scale=0.0, gamma=0.98, clip_return=5.0, hidden=16)
    rng = np.random.default_rng(12)
    batch, weights = hand_batch(rng), hand_weights(0.0)
    batch["r"] = np.array([-1, 1, 0.01, -0.01, 0.3], np.float32)  # scaled: -30, 30, 0.3, -0.3, 9
    noise = np.zeros((B, 4), np.float32)
    got, expected = tf_terms(agent, batch, weights, noise, noise), numpy_terms(agent, batch, weights, noise, noise)
    np.testing.assert_allclose(got["target"], expected["target"], atol=1e-4)
    assert got["target"][0, 0] == -5.0 and got["target"][1, 0] == 5.0 and got["target"][4, 0] == 5.0
    assert -5 < got["target"][2, 0] < 5


def test_train_step_moves_only_main_networks_and_polyak_update_is_exact():
    agent = make_agent(sac=True, mi_r_scale=5000.0, r_scale=1.0)
    rng = np.random.default_rng(13)
    agent.store_episode(random_episodes(rng))
    before = agent.save_weight()
    for name in before:
        if name.startswith("target/"):
            np.testing.assert_array_equal(before[name], before["main/" + name[len("target/"):]])
    q_loss, pi_loss = agent.train(epoch=0)
    assert np.isfinite(q_loss) and np.isfinite(pi_loss)
    after = agent.save_weight()
    changed = {name for name in before if not np.array_equal(before[name], after[name])}
    assert changed == {n for n in before if n.startswith(("main/Q", "main/pi"))}
    agent.update_target_net()
    polyak = agent.save_weight()
    for name in before:
        if name.startswith("target/"):
            main = after["main/" + name[len("target/"):]]
            np.testing.assert_allclose(polyak[name], 0.95 * after[name] + 0.05 * main, rtol=1e-6, atol=1e-7)


def test_graphs_are_traced_once():
    agent = make_agent(sac=True, sk_r_scale=1.0, mi_prioritization=True)
    rng = np.random.default_rng(14)
    for _ in range(3):
        agent.store_episode(random_episodes(rng))
        agent.train(epoch=0)
        agent.train_mi(agent.buffer.buffers["o"][: agent.buffer.current_size])
        agent.train_sk(rng.normal(size=(7, 25)), np.ones((7, 1)))
        agent.update_target_net()
        agent.get_actions(rng.normal(size=(2, 25)), np.ones((2, 1)), np.zeros((2, 3)), np.zeros((2, 3)))
        agent.get_actions(rng.normal(size=25), np.ones(1), np.zeros(3), np.zeros(3), compute_Q=True)
    graphs = {**agent.acting.graphs(), "train": agent.learner.gradient_graph([agent.tf_rng]),
              "polyak": agent.learner.polyak_graph}
    for name in ("act_main", "act_main_q", "train", "polyak"):
        assert graphs[name].experimental_get_tracing_count() == 1, name
    for reward in (agent.mine, agent.skill):  # the intrinsic rewards' own graphs
        for name, fn in reward.graphs().items():
            assert fn.experimental_get_tracing_count() == 1, name


@pytest.mark.parametrize("sac", [True, False])
def test_get_actions_exploration_and_shapes(sac):
    agent = make_agent(sac=sac, max_u=0.5)
    rng = np.random.default_rng(15)
    o, z, ag, g = rng.normal(size=(6, 25)), np.ones((6, 1)), rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    greedy = agent.get_actions(o, z, ag, g)
    assert greedy.shape == (6, 4) and np.all(np.abs(greedy) <= 0.5)
    np.testing.assert_array_equal(greedy, agent.get_actions(o, z, ag, g))  # deterministic
    assert agent.get_actions(o[0], z[0], ag[0], g[0]).shape == (4,)
    u, q = agent.get_actions(o, z, ag, g, compute_Q=True)
    assert q.shape == (6, 1)
    noisy = agent.get_actions(o, z, ag, g, noise_eps=0.2)
    assert np.all(np.abs(noisy) <= 0.5) and not np.allclose(noisy, greedy)
    randoms = np.concatenate([agent.get_actions(o, z, ag, g, random_eps=1.0) for _ in range(50)])
    assert np.all(np.abs(randoms) <= 0.5) and abs(randoms.mean()) < 0.05 and randoms.std() > 0.25


def test_get_actions_wrong_width_names_env_and_shapes():
    agent = make_agent()
    with pytest.raises(ValueError, match=r"FetchPush-v1: o has shape \(2, 24\), expected \(\.\.\., 25\)"):
        agent.get_actions(np.zeros((2, 24)), np.ones((2, 1)), np.zeros((2, 3)), np.zeros((2, 3)))


def test_store_episode_updates_normalizers_with_every_transition():
    agent = make_agent()
    rng = np.random.default_rng(16)
    episodes = random_episodes(rng, n=4)
    episodes["o"] = episodes["o"] * 2 + 3
    agent.store_episode(episodes)
    assert agent.learner.o_stats.count.numpy()[0] == 1 + 4 * 50
    assert abs(agent.learner.o_stats.mean.numpy().mean() - 3) < 0.2
    assert abs(agent.learner.o_stats.std.numpy().mean() - 2) < 0.2
    assert agent.get_current_buffer_size() == 4 * 50


def test_env_without_object_has_no_intrinsic_reward():
    dims = dict(o=10, z=1, g=3, u=4, info_is_success=1)
    with pytest.raises(ValueError, match="FetchReach-v4 has no agent/surrounding split"):
        make_agent(env_name="FetchReach-v4", input_dims=dims, mi_r_scale=5000.0)
    agent = make_agent(env_name="FetchReach-v4", input_dims=dims, mi_r_scale=0.0, sk_r_scale=0.0)
    with pytest.raises(ValueError, match="FetchReach-v4"):
        agent.run_mi(np.zeros((2, 2, 10)))


def test_wrong_observation_size_and_unknown_env_are_named():
    from music.envs import SplitError

    with pytest.raises(ValueError, match=r"FetchSlide-v1: observations have 24 floats, expected 25"):
        make_agent(env_name="FetchSlide-v1", input_dims=dict(o=24, z=1, g=3, u=4))
    with pytest.raises(SplitError, match=r"FetchPull-v1 has no registered agent/surrounding split: declare"):
        make_agent(env_name="FetchPull-v1")


def test_save_and_load_weight_by_scope():
    a, b = make_agent(seed=1, sk_r_scale=1.0), make_agent(seed=2, sk_r_scale=1.0)
    wa, wb = a.save_weight(), b.save_weight()
    assert {n.split("/")[0] for n in wa} == {"o_stats", "g_stats", "main", "target", "ir"}
    report = b.load_weight(wa, ["state_mi"])
    after = b.save_weight()
    mi_names = [n for n in wa if "state_mi" in n]
    assert sorted(report["loaded"]) == sorted(mi_names) and len(mi_names) == 6
    for name in wa:
        np.testing.assert_array_equal(after[name], wa[name] if "state_mi" in name else wb[name])
    report = b.load_weight(wa, ["main"])
    assert {n.split("/")[0] for n in report["loaded"]} == {"main"}
    np.testing.assert_array_equal(b.save_weight()["main/Q/_0/kernel"], wa["main/Q/_0/kernel"])
    np.testing.assert_array_equal(b.save_weight()["target/Q/_0/kernel"], wb["target/Q/_0/kernel"])


def test_load_weight_reports_shape_mismatch(capsys):
    small, big = make_agent(hidden=16), make_agent(hidden=32)
    report = big.load_weight(small.save_weight(), ["main", "state_mi"])
    # Only the output biases do not depend on the hidden width.
    assert sorted(report["loaded"]) == ["ir/state_mi/out/bias", "main/Q/_3/bias", "main/pi/log_std/bias",
                                        "main/pi/mu/bias"]
    mismatched = {name: (ours, theirs) for name, ours, theirs in report["shape_mismatch"]}
    assert mismatched["main/pi/_0/kernel"] == ((29, 32), (29, 16))
    assert len(mismatched) + len(report["loaded"]) == len([n for n in big.variables if "main" in n or "state_mi" in n])
    out = capsys.readouterr().out
    assert "NOT loaded main/pi/_0/kernel: shape (29, 16) in the weights, (29, 32) in this policy" in out


def test_pretrain_weights_load_mine_and_finetune_loads_networks():
    donor = make_agent(seed=5)
    weights = donor.save_weight()
    weights["target/Q/_0/bias"] = weights["target/Q/_0/bias"] + 1.0  # tell targets from main
    plain = make_agent(seed=6, pretrain_weights=weights)
    got = plain.save_weight()
    np.testing.assert_array_equal(got["ir/state_mi/x/kernel"], weights["ir/state_mi/x/kernel"])
    assert not np.array_equal(got["main/Q/_0/kernel"], weights["main/Q/_0/kernel"])
    np.testing.assert_array_equal(got["target/Q/_0/kernel"], got["main/Q/_0/kernel"])
    tuned = make_agent(seed=6, pretrain_weights=weights, finetune_pi=True).save_weight()
    for name in ("main/Q/_0/kernel", "main/pi/mu/kernel", "target/Q/_0/bias", "ir/state_mi/y/kernel"):
        np.testing.assert_array_equal(tuned[name], weights[name])


def test_only_finetune_normalizers_loads_the_statistics_the_original_leaves_fresh():
    from music.config import pretrained_scopes

    donor = make_agent(seed=5)
    donor.store_episode(random_episodes(np.random.default_rng(3)))  # statistics of its episodes
    weights = donor.save_weight()
    stats = [n for n in weights if n.startswith(("o_stats/", "g_stats/"))]
    assert len(stats) == 10 and not np.all(weights["o_stats/mean"] == 0) and weights["o_stats/count"][0] > 1
    fresh = {"mean": 0.0, "std": 1.0, "count": 1.0, "sum": 0.0, "sumsq": 0.0}
    got = make_agent(seed=6, pretrain_weights=weights, finetune_pi=True).save_weight()  # the original -f
    for name in stats:
        assert np.all(got[name] == fresh[name.split("/")[1]]), name
    tuned = make_agent(seed=6, pretrain_weights=weights, finetune_pi=True, finetune_normalizers=True).save_weight()
    for name in (*stats, "main/pi/mu/kernel", "target/Q/_0/bias", "ir/state_mi/y/kernel"):
        np.testing.assert_array_equal(tuned[name], weights[name])
    assert pretrained_scopes(False, False) == ["state_mi"]
    assert pretrained_scopes(True, True) == ["state_mi", "main", "o_stats", "g_stats", "target"]
    assert pretrained_scopes(True, False) == ["state_mi", "main", "target"]  # the original's -f, in its order


@pytest.mark.bitexact
@pytest.mark.parametrize("sac", [True, False])
def test_pickle_round_trip_in_a_fresh_process_acts_identically(tmp_path, sac):
    agent = make_agent(sac=sac)
    rng = np.random.default_rng(17)
    agent.store_episode(random_episodes(rng))
    for _ in range(3):
        agent.train(epoch=0)
    inputs = dict(o=rng.normal(size=(5, 25)), z=np.ones((5, 1)), ag=rng.normal(size=(5, 3)), g=rng.normal(size=(5, 3)))
    expected = agent.get_actions(**inputs)
    (tmp_path / "policy.pkl").write_bytes(cloudpickle.dumps(agent))
    np.savez(tmp_path / "inputs.npz", **inputs)
    script = (
        "import pickle, numpy as np\n"
        f"policy = pickle.load(open({str(tmp_path / 'policy.pkl')!r}, 'rb'))\n"
        f"x = dict(np.load({str(tmp_path / 'inputs.npz')!r}))\n"
        "assert policy.buffer.current_size == 0 and policy.sample_transitions is None\n"
        f"np.save({str(tmp_path / 'actions.npy')!r}, policy.get_actions(**x))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "actions.npy"), expected)
    # No replay buffer in the pickle: far smaller than the buffer's o array alone.
    assert (tmp_path / "policy.pkl").stat().st_size < agent.buffer.buffers["o"].nbytes / 10


def test_unknown_entropy_mode_is_refused():
    with pytest.raises(ValueError, match="entropy_reward_mode"):
        make_agent(entropy_reward_mode="mean")


def test_description_covers_every_constructor_argument_and_rebuilds_the_agent():
    # Pickles and .npz policies rebuild the agent from description(): every constructor
    # argument but those of training (the sampler, the pretrained weights, the communicator
    # and the virtual workers) and the reward table (code, not data: docs/architecture.md) must be in it.
    import inspect
    import json

    from music.ddpg import DDPG, RUN_FACTS

    arguments = set(inspect.signature(DDPG.__init__).parameters) - {"self", "params"}
    assert set(RUN_FACTS) == arguments - {"sample_transitions", "pretrain_weights", "comm", "workers_per_rank",
                                           "shared", "reward_terms"}
    agent = make_agent(hidden=16, layers=2, gamma=0.9, clip_return=7.0, seed=4, max_u=[1.0, 0.5, 1.0, 0.5])
    description = json.loads(json.dumps(agent.description()))  # JSON-able as it is
    rebuilt = DDPG.from_description(description)
    assert rebuilt.params == agent.params and rebuilt.run_facts == agent.run_facts
    assert (rebuilt.gamma, rebuilt.clip_return, rebuilt.T) == (0.9, 7.0, 50)
    assert rebuilt.buffer.size == agent.params.rollout_batch_size  # play only: one rollout batch
    assert rebuilt.params.note == agent.params.note and rebuilt.T == 50


def test_the_agent_keeps_its_own_copy_of_the_params():
    from music.config import Params
    from music.ddpg import DDPG

    params, run = agent_args(hidden=16)
    agent = DDPG(params, **run)
    params.polyak = 0.5  # the caller's object changes; the agent's does not
    assert agent.params.polyak == 0.95
    with pytest.raises(TypeError, match="music.config.Params"):
        DDPG(dict(vars(Params())), **run)


@pytest.mark.mpi
def test_two_ranks_with_different_seeds_and_data_keep_identical_weights():
    from conftest import run_mpi

    assert run_mpi("agent_two_ranks.py").count("OK") == 2
