"""Components save and restore their own state: a restored agent continues exactly as the original."""

import numpy as np
import pytest

from conftest import make_agent, random_episodes


def train_a_little(agent, rng, steps=3):
    agent.store_episode(random_episodes(rng, n=4))
    for _ in range(steps):
        agent.train(epoch=0)
        agent.train_mi(agent.buffer.buffers["o"][rng.integers(0, agent.buffer.current_size, 8)])
    agent.update_target_net()


@pytest.mark.bitexact
def test_agent_state_round_trip_continues_bit_exactly():
    a = make_agent(hidden=16, batch_size=16)
    train_a_little(a, np.random.default_rng(0))
    state = a.state_dict()
    b = make_agent(hidden=16, batch_size=16, seed=99)  # other weights and streams until loaded
    b.load_state_dict(state)
    assert b.buffer.current_size == a.buffer.current_size == 4
    for agent in (a, b):  # the same further training on both
        train_a_little(agent, np.random.default_rng(1))
    for name, value in a.save_weight().items():
        np.testing.assert_array_equal(b.variables[name].numpy(), value, err_msg=name)
    assert a.learner.Q_adam.t == b.learner.Q_adam.t and a.reward_histories.values == b.reward_histories.values


def test_agent_state_without_buffer_restores_an_empty_one():
    a = make_agent(hidden=16, batch_size=16)
    train_a_little(a, np.random.default_rng(0))
    b = make_agent(hidden=16, batch_size=16)
    b.load_state_dict(a.state_dict(with_buffer=False))
    assert b.buffer.current_size == 0 and b.learner.Q_adam.t == a.learner.Q_adam.t


def test_a_state_of_another_architecture_is_refused_by_name():
    state = make_agent(hidden=16).state_dict()
    with pytest.raises(ValueError, match="hidden is 16 there, 32 here"):
        make_agent(hidden=32).load_state_dict(state)


def test_optimizer_and_normalizer_states_are_copies():
    agent = make_agent(hidden=16)
    adam_state = agent.learner.Q_adam.state_dict()
    agent.learner.Q_adam.m[...] = 1.0
    assert not np.any(adam_state["m"])  # a copy, not a view that later steps change
    norm_state = agent.learner.o_stats.state_dict()
    agent.learner.o_stats.update(np.ones((3, 25)))
    assert norm_state["local_count"][0] == 0 and agent.learner.o_stats.state_dict()["local_count"][0] == 3
    with pytest.raises(ValueError, match="Adam state 'm' has shape"):
        agent.learner.Q_adam.load_state_dict({"m": np.zeros(3), "v": np.zeros(3), "t": 0})
