"""Behaviours of the original that a line-by-line comparison showed we had not matched.

Each test pins one of them (see docs/deviations.md): the MI term after mi_end_epoch,
float32 actions, float64 MI priorities, independent seed streams, the training video
name, play's exploration settings and all-skills summary, and a per-dimension max_u.
"""

import subprocess
import sys
from collections import deque
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from test_ddpg import B, hand_batch, numpy_terms, set_stats, tf_terms

from conftest import REPO, make_agent, random_episodes


# ---------------------------------------------------------------- MI term after mi_end_epoch
def _batch_after_mi_end(mi_end_mode):
    agent = make_agent(hidden=16, mi_end_mode=mi_end_mode)
    agent.store_episode(random_episodes(np.random.default_rng(0), n=4))
    return agent, agent.sample_batch(epoch=60, mi_r_scale=0)  # the loop's scale from mi_end_epoch on


def test_after_mi_end_the_original_target_keeps_a_constant_minus_m_w():
    agent, (batch, weights) = _batch_after_mi_end("original")
    # the sampler no longer asks MINE: m is 0; the target still uses the built-in scale 5000
    assert np.all(batch["m"] == 0) and weights["mi_r_scale"] == 5000
    terms = tf_terms(agent, batch, weights, *np.zeros((2, len(batch["o"]), 4), np.float32))
    expected = numpy_terms(agent, batch, weights, *np.zeros((2, len(batch["o"]), 4)))
    # (clip(5000 * 0, 0, 1) - 1) * m_w = -m_w for every transition (m_w = 1 at epoch 60)
    np.testing.assert_allclose(expected["reward"], -1.0)
    np.testing.assert_allclose(terms["target"], expected["target"], atol=1e-4)
    # while the logged MI reward reads 0, as the original's log
    assert set(agent.reward_histories.values["mi_reward"]) == {0.0}


def test_after_mi_end_the_drop_mode_removes_the_mi_term():
    agent, (batch, weights) = _batch_after_mi_end("drop")
    assert weights["mi_r_scale"] == 0
    expected = numpy_terms(agent, batch, weights, *np.zeros((2, len(batch["o"]), 4)))
    np.testing.assert_allclose(expected["reward"], 0.0)


def test_before_mi_end_both_modes_feed_the_current_scale():
    for mode in ("original", "drop"):
        agent = make_agent(hidden=16, mi_end_mode=mode)
        agent.store_episode(random_episodes(np.random.default_rng(0), n=4))
        assert agent.sample_batch(epoch=0)[1]["mi_r_scale"] == 5000


def test_unknown_mi_end_mode_is_refused():
    with pytest.raises(ValueError, match="mi_end_mode"):
        make_agent(mi_end_mode="sometimes")


# ---------------------------------------------------------------- float32 actions
@pytest.mark.parametrize("sac", [True, False])
def test_actions_stay_float32_and_round_like_the_original(sac):
    agent = make_agent(sac=sac, hidden=16)
    rng = np.random.default_rng(1)
    n = 64
    o, ag, g = rng.normal(size=(n, 25)), rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
    z = np.ones((n, 1))
    state = agent.rng.bit_generator.state
    u = agent.get_actions(o, z, ag, g, noise_eps=0.2, random_eps=0.5)
    assert u.dtype == np.float32
    # numpy reference: the float32 greedy action, each float64 term added and rounded back
    mu = agent.get_actions(o, z, ag, g)
    draws = np.random.default_rng()
    draws.bit_generator.state = state
    expected = (mu.astype(np.float64) + 0.2 * draws.standard_normal(mu.shape)).astype(np.float32)
    expected = np.clip(expected, -1.0, 1.0)
    explore = draws.binomial(1, 0.5, n).reshape(-1, 1)
    random_u = draws.uniform(-1.0, 1.0, size=(n, 4))
    expected = (expected.astype(np.float64) + explore * (random_u - expected)).astype(np.float32)
    np.testing.assert_array_equal(u, expected)
    assert 0 < explore.sum() < n


# ---------------------------------------------------------------- float64 priorities
class _FixedMI:
    """A stand-in agent whose MI estimate of episode i is 1e-5 + i * 1e-13 at every step."""

    def run_mi(self, o_pair):
        index = o_pair[:, 0, 0]
        return -(1e-5 + index * 1e-13).reshape(-1, 1)


def test_priorities_are_float64_so_close_priorities_keep_their_rank():
    from music.her import dense_rank_minus_one
    from music.replay_buffer import ReplayBuffer, mi_priorities

    T = 50
    shapes = {"o": (T + 1, 25), "u": (T, 4)}
    buffer = ReplayBuffer(shapes, 10 * T, T, None, mi_prioritization=True, dtype=np.float32)
    episodes = {"o": np.zeros((2, T + 1, 25)), "u": np.zeros((2, T, 4))}
    episodes["o"][1, :, 0] = 1.0
    buffer.store_episode({**episodes, "p": mi_priorities(_FixedMI().run_mi, episodes["o"])})
    assert buffer.buffers["p"].dtype == np.float64 and buffer.buffers["o"].dtype == np.float32
    # 50 steps: 5e-4 and 5e-4 + 5e-12, equal in float32, distinct in float64
    p = buffer.buffers["p"][:2, 0]
    assert np.float32(p[0]) == np.float32(p[1])
    np.testing.assert_array_equal(dense_rank_minus_one(p), [0, 1])


# ---------------------------------------------------------------- seed streams
def test_sampling_draws_do_not_repeat_the_initial_weights_draws():
    agent = make_agent(hidden=16, seed=5)
    kernel = agent.variables["main/pi/_0/kernel"].numpy()
    limit = np.sqrt(6.0 / sum(kernel.shape))
    # had the sampling generator the weights' seed, these draws would equal the kernel
    draws = agent.rng.uniform(-limit, limit, size=kernel.shape).astype(np.float32)
    assert not np.allclose(draws, kernel)
    assert abs(np.corrcoef(draws.ravel(), kernel.ravel())[0, 1]) < 0.1


def test_seed_streams_are_deterministic_per_seed():
    a, b, c = make_agent(hidden=16, seed=5), make_agent(hidden=16, seed=5), make_agent(hidden=16, seed=6)
    for name in a.variables:
        np.testing.assert_array_equal(a.variables[name].numpy(), b.variables[name].numpy())
    assert not np.array_equal(a.variables["main/pi/_0/kernel"].numpy(), c.variables["main/pi/_0/kernel"].numpy())
    assert a.rng.integers(0, 2**31, 4).tolist() == b.rng.integers(0, 2**31, 4).tolist()
    assert a.tf_rng.normal([3]).numpy().tolist() == b.tf_rng.normal([3]).numpy().tolist()


# ---------------------------------------------------------------- training videos
def test_training_video_name_is_the_originals_with_the_skill():
    from music.training import video_name

    assert video_name(3, 0, 7, 1, 4) == "video_epoch_3_rank_0_cycle_7_rollout_1_skill_4.mp4"


# ---------------------------------------------------------------- play
def test_play_takes_exploration_from_the_note_else_the_policy_else_the_defaults():
    from music.config import Params
    from music.play import exploration_settings
    from music.policy_files import load_safe_policy

    trained = SimpleNamespace(params=Params(noise_eps=0.1, random_eps=0.05, test_with_polyak=True))
    old = load_safe_policy(Path(__file__).parent / "data" / "policy_format1.npz")  # recorded none of them
    assert exploration_settings(trained, None) == {"noise_eps": 0.1, "random_eps": 0.05, "test_with_polyak": True}
    assert exploration_settings(old, None) == {"noise_eps": 0.2, "random_eps": 0.3, "test_with_polyak": False}
    assert exploration_settings(trained, {"noise_eps": 0.4})["noise_eps"] == 0.4


def test_play_summary_covers_the_last_100_episodes_of_all_skills():
    from music.play import summarize

    worker = SimpleNamespace(success_history=deque([1.0] * 50 + [0.0] * 100), Q_history=deque(range(150)),
                             displacement_history=deque([0.5] * 150), lift_history=deque(), n_episodes=150)
    out = summarize(worker)
    assert out == {"test/success_rate": 0.0, "test/mean_Q": np.mean(range(50, 150)), "test/episode": 100,
                   "test/object_displacement": 0.5}
    assert summarize(worker, last=150)["test/success_rate"] == pytest.approx(1 / 3)


# ---------------------------------------------------------------- max_u per dimension
BOUNDS = [1.0, 0.5, 0.25, 2.0]


@pytest.mark.parametrize("sac", [True, False])
def test_losses_with_a_per_dimension_max_u_equal_numpy(sac):
    agent = make_agent(sac=sac, hidden=16, r_scale=1.0, max_u=BOUNDS)
    rng = np.random.default_rng(12)
    set_stats(agent, rng)
    batch = hand_batch(rng)
    batch["u"] = (batch["u"] * np.float32(BOUNDS)).astype(np.float32)
    weights = {"m_w": np.float32(1), "s_w": np.float32(1), "r_w": np.float32(1), "e_w": np.float32(0.2),
               "mi_r_scale": np.float32(5000)}
    noise, noise_2 = rng.normal(size=(2, B, 4)).astype(np.float32)
    got = tf_terms(agent, batch, weights, noise, noise_2)
    expected = numpy_terms(agent, batch, weights, noise, noise_2)
    np.testing.assert_allclose(got["target"], expected["target"], atol=1e-4)
    np.testing.assert_allclose(got["Q_loss"], expected["Q_loss"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got["pi_loss"], expected["pi_loss"], rtol=1e-4, atol=1e-5)
    # the actor's action is bounded per dimension
    assert np.all(np.abs(got["pi"]) <= np.float32(BOUNDS))


def test_exploration_with_a_per_dimension_max_u_stays_in_each_bound():
    agent = make_agent(hidden=16, max_u=BOUNDS)
    rng = np.random.default_rng(2)
    n = 2000
    u = agent.get_actions(rng.normal(size=(n, 25)), np.ones((n, 1)), rng.normal(size=(n, 3)),
                          rng.normal(size=(n, 3)), noise_eps=0.2, random_eps=1.0)
    bound = np.float32(BOUNDS)
    assert np.all(np.abs(u) <= bound)
    # uniform random actions fill each dimension's own range
    np.testing.assert_allclose(np.abs(u).max(axis=0), bound, rtol=0.01)


def test_max_u_list_is_checked():
    from music.config import ParamsError, check_params

    assert check_params({"max_u": [1, 0.5, 0.5, 1]}, "f")["max_u"] == [1, 0.5, 0.5, 1]
    for bad in ([1, -1, 1, 1], ["a"], [], True):
        with pytest.raises(ParamsError, match="max_u"):
            check_params({"max_u": bad}, "f")
    with pytest.raises(ValueError, match="max_u has 3 bounds but actions have 4 dimensions"):
        make_agent(max_u=[1, 1, 1])


def test_train_refuses_a_max_u_list_of_the_wrong_length(tmp_path):
    logdir = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "music.train", "--env_name", "FetchPush-v1", "--note", "SAC",
                           "--param", "max_u=[1, 1]", "--logdir", str(logdir)],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 2
    assert "max_u lists 2 bounds but FetchPush-v1 has 4 action dimensions" in proc.stderr
    assert "Traceback" not in proc.stderr and not logdir.exists()
