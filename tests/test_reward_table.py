"""The table of reward terms (music.rewards): one formula for the TF target and the numpy
histories, and the worked example of docs/architecture.md: a new intrinsic reward is one
module (tests/object_speed_reward.py) plus one table row and one Params field."""

import dataclasses

import numpy as np
import pytest

from conftest import agent_args, random_episodes


def test_the_table_is_the_original_s_four_terms_in_its_order():
    from music.rewards import REWARD_TERMS, WEIGHT_KEYS, log_order

    assert [row.log_name for row in REWARD_TERMS] == ["gl_reward", "mi_reward", "sk_reward", "et_reward"]
    assert [row.log_name for row in log_order()] == ["mi_reward", "sk_reward", "et_reward", "gl_reward"]
    assert WEIGHT_KEYS == ("r_w", "m_w", "s_w", "e_w", "mi_r_scale")


def test_a_term_by_hand_and_the_same_bits_in_numpy_and_tf():
    import tensorflow as tf

    from music.rewards import NUMPY, REWARD_TERMS, TF, term

    rows = {row.log_name: row for row in REWARD_TERMS}
    m = np.array([-1e-4, 0.0, 1e-4, 2e-4, 1e-3], np.float32)
    # MI: (clip(5000 m, 0, 1) - 1) * m_w, with m_w = 0.5
    np.testing.assert_allclose(term(rows["mi_reward"], m, 5000.0, 0.5, NUMPY), [-0.5, -0.5, -0.25, 0.0, 0.0],
                               atol=1e-6)
    # while the MI scale is 0 there is no offset: the term is 0
    assert np.all(term(rows["mi_reward"], m, 0.0, 0.5, NUMPY) == 0)
    # skill: clip(s, -1, 0); task: r_scale * r, unclipped
    s = np.array([-3.0, -0.5, 0.25], np.float32)
    np.testing.assert_array_equal(term(rows["sk_reward"], s, 1.0, 1.0, NUMPY), [-1.0, -0.5, 0.0])
    np.testing.assert_array_equal(term(rows["gl_reward"], s, 2.0, 1.0, NUMPY), [-6.0, -1.0, 0.5])
    rng = np.random.default_rng(0)
    for row in REWARD_TERMS:  # one formula: the graph's and the histories' values are the same floats
        value = rng.normal(scale=1e-3, size=64).astype(np.float32)
        scale, weight = np.float32(rng.uniform(0, 5000)), np.float32(rng.uniform(0, 1))
        ours = term(row, value, scale, weight, NUMPY)
        graph = term(row, tf.constant(value), tf.constant(scale), tf.constant(weight), TF).numpy()
        np.testing.assert_array_equal(ours, graph, err_msg=row.log_name)


# ---------------------------------------------------------------- the worked example
def _agents(speed_r_scale=50.0):
    """The same agent with and without the object-speed row (same seed: the row draws nothing)."""
    from object_speed_reward import SPEED_ROW, SpeedParams

    from music.ddpg import DDPG
    from music.rewards import REWARD_TERMS

    params, run = agent_args(hidden=16, sac=False)
    with_speed = DDPG(SpeedParams(**dataclasses.asdict(params), speed_r_scale=speed_r_scale), **run,
                      reward_terms=REWARD_TERMS + (SPEED_ROW,))
    plain = DDPG(params, **agent_args(hidden=16, sac=False)[1])
    for agent in (with_speed, plain):
        agent.store_episode(random_episodes(np.random.default_rng(3), n=4))
    return with_speed, plain


def test_a_new_intrinsic_reward_fills_its_column_history_and_target_term():
    agent, plain = _agents()
    batch, weights = agent.sample_batch(epoch=0)
    # its column: how far the object (entries 3:6) moved in each transition
    speed = np.linalg.norm(batch["o_2"][:, 3:6] - batch["o"][:, 3:6], axis=1)
    np.testing.assert_allclose(batch["v"], speed, rtol=1e-6)
    assert weights["v_w"] == 1.0 and agent.learner.weight_keys[-2:] == ("v_w", "mi_r_scale")
    # its history: clip(50 speed, 0, 1), logged as speed_reward/*
    np.testing.assert_allclose(list(agent.reward_histories.values["speed_reward"]), np.clip(50 * speed, 0, 1),
                               rtol=1e-6)
    logs = dict(agent.logs())
    assert logs["speed_reward/mean"] == pytest.approx(np.mean(np.clip(50 * speed, 0, 1)), rel=1e-6)
    assert list(logs)[-4:] == [f"speed_reward/{s}" for s in ("mean", "std", "max", "min")]  # after the original's
    # the critic target gains the term, and nothing else changes
    noise = np.zeros((len(batch["o"]), 4), np.float32)
    plain_batch = {k: v for k, v in batch.items() if k != "v"}
    plain_weights = {k: v for k, v in weights.items() if k != "v_w"}
    for name, var in plain.variables.items():
        np.testing.assert_array_equal(var.numpy(), agent.variables[name].numpy(), err_msg=name)
    target = agent.learner.loss_terms(batch, weights, noise, noise)["target"].numpy()
    before = plain.learner.loss_terms(plain_batch, plain_weights, noise, noise)["target"].numpy()
    np.testing.assert_allclose(target - before, np.clip(50 * speed, 0, 1)[:, None], atol=1e-5)
    assert np.abs(target - before).max() > 0.1


def test_a_new_intrinsic_reward_trains_checkpoints_and_adds_no_variables():
    agent, plain = _agents()
    assert set(agent.variables) == set(plain.variables) and "speed_reward" in agent.learner.intrinsic
    for _ in range(3):
        q_loss, pi_loss = agent.train(epoch=0)
        assert np.isfinite(q_loss) and np.isfinite(pi_loss)
    state = agent.state_dict()
    assert len(state["histories"]["speed_r_history"]) == 3 * agent.params.batch_size
    assert set(state["optimizers"]) == {"Q_adam", "pi_adam", "mi_adam", "sk_adam"}  # it has none
    again, _ = _agents()
    again.load_state_dict(state)
    assert again.reward_histories.values == agent.reward_histories.values


def test_a_new_term_at_scale_0_leaves_the_target_as_it_was():
    agent, plain = _agents(speed_r_scale=0.0)
    batch, weights = agent.sample_batch(epoch=0)
    assert np.all(batch["v"] == 0)  # not even scored while off
    noise = np.zeros((len(batch["o"]), 4), np.float32)
    target = agent.learner.loss_terms(batch, weights, noise, noise)["target"].numpy()
    before = plain.learner.loss_terms({k: v for k, v in batch.items() if k != "v"},
                                      {k: v for k, v in weights.items() if k != "v_w"}, noise, noise)["target"].numpy()
    np.testing.assert_array_equal(target, before)
