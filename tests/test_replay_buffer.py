"""Replay buffer storage, overwrite order, shape checks and MI priorities."""

import numpy as np
import pytest

from music.replay_buffer import ReplayBuffer, mi_priorities

from conftest import random_episodes

T = 50
SHAPES = {"o": (T + 1, 25), "ag": (T + 1, 3), "g": (T, 3), "u": (T, 4), "z": (T, 1), "info_is_success": (T, 1)}


def test_fills_in_order_then_overwrites_random_slots():
    buf = ReplayBuffer(SHAPES, 5 * T, T, None, rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    batches = [random_episodes(rng) for _ in range(3)]
    buf.store_episode(batches[0])
    buf.store_episode(batches[1])
    assert buf.get_current_episode_size() == 4 and buf.get_current_size() == 4 * T
    np.testing.assert_array_equal(buf.buffers["o"][2:4], batches[1]["o"])
    buf.store_episode(batches[2])  # one fits in slot 4, the other overwrites a random slot in 0..3
    assert buf.full and buf.get_transitions_stored() == 6 * T
    np.testing.assert_array_equal(buf.buffers["o"][4], batches[2]["o"][0])
    assert any(np.array_equal(buf.buffers["o"][i], batches[2]["o"][1]) for i in range(4))


def test_shape_errors_name_the_key_and_shapes():
    buf = ReplayBuffer(SHAPES, 10 * T, T, None)
    episodes = random_episodes(np.random.default_rng(2))
    episodes["u"] = episodes["u"][:, :, :3]
    with pytest.raises(ValueError, match=r"'u' has shape \(2, 50, 3\), expected \(B, 50, 4\)"):
        buf.store_episode(episodes)
    with pytest.raises(ValueError, match="lacks 'g'"):
        buf.store_episode({k: v for k, v in random_episodes(np.random.default_rng(2)).items() if k != "g"})
    with pytest.raises(RuntimeError, match="empty replay buffer"):
        buf.sample(4, 0, intrinsic=True)


class StepMI:
    """run_mi returns -(o[t+1, 0] - o[t, 0]) so the MI of each step is the change of o[..., 0]."""

    def run_mi(self, o_pair):
        return -(o_pair[:, 1, 0] - o_pair[:, 0, 0])[:, None]


def test_priorities_sum_clipped_per_step_mi():
    buf = ReplayBuffer(SHAPES, 10 * T, T, None, mi_prioritization=True)
    rng = np.random.default_rng(3)
    episodes = random_episodes(rng)
    episodes["o"][..., 0] = np.cumsum(rng.normal(scale=3e-4, size=(2, T + 1)), axis=1)
    buf.store_episode({**episodes, "p": mi_priorities(StepMI().run_mi, episodes["o"])})
    steps = np.diff(episodes["o"][..., 0], axis=1)
    expected = np.clip(steps, 0, 0.0002).sum(axis=1)
    np.testing.assert_allclose(buf.buffers["p"][:2, 0], expected)
    assert 0 < expected.min() and expected.max() <= T * 0.0002


def test_float32_storage_changes_sampled_batches_only_by_rounding():
    # Same episodes, same seed: the float32 buffer's batches equal the float64 buffer's
    # to float32 precision, and so do the critic targets computed from them.
    from conftest import make_agent

    rng = np.random.default_rng(4)
    episodes = [random_episodes(rng) for _ in range(3)]
    agents = {dtype: make_agent(replay_dtype=np.dtype(dtype).name, mi_r_scale=5000.0, r_scale=1.0, seed=9)
              for dtype in (np.float32, np.float64)}
    batches = {}
    for dtype, agent in agents.items():
        for ep in episodes:
            agent.store_episode(ep)
        assert agent.buffer.buffers["o"].dtype == dtype
        agent.rng = np.random.default_rng(5)
        agent.buffer.rng = agent.rng
        batches[dtype] = agent.sample_batch(epoch=0)
    b32, w32 = batches[np.float32]
    b64, w64 = batches[np.float64]
    assert w32 == w64
    for key in b32:
        np.testing.assert_allclose(b32[key], b64[key], rtol=1e-6, atol=1e-6, err_msg=key)
    noise = np.zeros((64, 4), np.float32)
    t32 = agents[np.float32].learner.loss_terms(b32, w32, noise, noise)["target"].numpy()
    t64 = agents[np.float32].learner.loss_terms(b64, w64, noise, noise)["target"].numpy()
    np.testing.assert_allclose(t32, t64, atol=1e-5)
    assert agents[np.float32].buffer.buffers["o"].nbytes * 2 == agents[np.float64].buffer.buffers["o"].nbytes


def test_random_batches_for_mine_and_the_skill_discriminator_draw_as_the_loop_did():
    buf = ReplayBuffer(SHAPES, 10 * T, T, None)
    episodes = random_episodes(np.random.default_rng(7), n=4)
    buf.store_episode(episodes)
    ref = np.random.default_rng(8)
    idx = ref.integers(0, 4, 5)
    np.testing.assert_array_equal(buf.random_observations(5, np.random.default_rng(8)),
                                  episodes["o"][idx].astype(buf.buffers["o"].dtype))
    ref = np.random.default_rng(9)
    idx, t = ref.integers(0, 4, 6), ref.integers(0, T, 6)
    o, z = buf.random_steps(6, np.random.default_rng(9))
    np.testing.assert_array_equal(o, buf.buffers["o"][idx, t])
    np.testing.assert_array_equal(z, buf.buffers["z"][idx, t])
