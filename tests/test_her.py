"""HER sampler: relabelling statistics, future goals, rewards, MI prioritization, schedules."""

import numpy as np
import pytest

from music.her import dense_rank_minus_one, make_sample_her_transitions

from conftest import ET_SCHEDULE, MI_SCHEDULE, sparse_reward

T = 10


def tagged_episodes(n=6):
    """o[e, t] = (e, t, ...), ag[e, t] = (e, t, 0), g far from every ag."""
    o = np.zeros((n, T + 1, 25))
    ag = np.zeros((n, T + 1, 3))
    for e in range(n):
        for t in range(T + 1):
            o[e, t, :2] = e, t
            ag[e, t, :2] = e, t
    return dict(o=o, ag=ag, g=np.full((n, T, 3), 100.0), u=np.zeros((n, T, 4)), z=np.ones((n, T, 1)),
                info_is_success=np.zeros((n, T, 1)), o_2=o[:, 1:], ag_2=ag[:, 1:])


def sampler(strategy="future", replay_k=4, prioritized=False):
    return make_sample_her_transitions(strategy, replay_k, sparse_reward, MI_SCHEDULE, ET_SCHEDULE, prioritized)


@pytest.mark.parametrize("strategy", ["future", "final"])
def test_relabelled_goals_are_later_achieved_goals_of_the_same_episode(strategy):
    n = 20_000
    tr = sampler(strategy)(tagged_episodes(), n, 0, np.random.default_rng(0))
    relabelled = tr.g[:, 0] != 100
    # Binomial(n, 0.8): std 0.0028, so 0.8 +- 0.015 is a 5-sigma bound.
    assert abs(relabelled.mean() - 0.8) < 0.015
    episode, t = tr.o[:, 0], tr.o[:, 1]
    g_episode, g_t = tr.g[relabelled, 0], tr.g[relabelled, 1]
    np.testing.assert_array_equal(g_episode, episode[relabelled])
    if strategy == "future":
        assert np.all(g_t > t[relabelled]) and np.all(g_t <= T)
        # each later step is reachable: from t = 0 all of 1..T occur
        assert set(g_t[t[relabelled] == 0].astype(int)) == set(range(1, T + 1))
    else:
        assert np.all(g_t == T)
    # o_2 is the next observation of the same episode
    np.testing.assert_array_equal(tr.o_2[:, 1], t + 1)
    np.testing.assert_array_equal(tr.o_2[:, 0], episode)


def test_sampling_and_relabelling_leave_the_stored_episodes_unchanged():
    episodes = tagged_episodes()
    before = {k: v.copy() for k, v in episodes.items()}
    tr = sampler("future")(episodes, 5000, 0, np.random.default_rng(1), intrinsic=True, with_mi=True)
    assert (tr.g[:, 0] != 100).any()  # goals were relabelled in the batch ...
    for key, value in before.items():  # ... not in the buffer
        np.testing.assert_array_equal(episodes[key], value, err_msg=key)
    tr.o[:] = -1  # and the batch is the caller's own: writing it leaves the buffer alone
    np.testing.assert_array_equal(episodes["o"], before["o"])


def test_replay_k_zero_or_strategy_none_relabels_nothing():
    for s in (sampler("future", replay_k=0), sampler("none", replay_k=4)):
        tr = s(tagged_episodes(), 5000, 0, np.random.default_rng(1))
        assert np.all(tr.g == 100)
        assert np.all(tr.r == -1)


def test_reward_is_recomputed_for_relabelled_goals():
    tr = sampler()(tagged_episodes(), 5000, 0, np.random.default_rng(2))
    np.testing.assert_array_equal(tr.r, sparse_reward(tr.ag_2, tr.g))
    # a goal relabelled with the very next achieved goal is reached: reward 0
    hit = tr.g[:, 1] == tr.o[:, 1] + 1
    assert hit.any() and np.all(tr.r[hit] == 0) and np.all(tr.r[tr.g[:, 0] == 100] == -1)


def test_prioritized_sampling_follows_dense_rank_weights():
    episodes = tagged_episodes(n=5)
    episodes["p"] = np.array([[0.3], [0.1], [0.3], [0.5], [0.2]])
    # dense ranks - 1: [2, 0, 2, 3, 1] -> probabilities / 8
    np.testing.assert_array_equal(dense_rank_minus_one(episodes["p"]), [2, 0, 2, 3, 1])
    n = 40_000
    tr = sampler(prioritized=True)(episodes, n, 0, np.random.default_rng(3), intrinsic=True)
    counts = np.bincount(tr.o[:, 0].astype(int), minlength=5) / n
    expected = np.array([2, 0, 2, 3, 1]) / 8
    assert counts[1] == 0  # the lowest priority is never drawn
    np.testing.assert_allclose(counts, expected, atol=0.012)  # > 5 sigma of the binomial
    np.testing.assert_array_equal(tr.p[:, 0], episodes["p"][tr.o[:, 0].astype(int), 0])


def test_prioritization_is_off_without_intrinsic_sampling_or_priorities():
    episodes = tagged_episodes(n=4)
    episodes["p"] = np.array([[0.0], [0.0], [0.0], [1.0]])
    s = sampler(prioritized=True)
    draws = s(episodes, 8000, 0, np.random.default_rng(4)).o[:, 0]
    assert np.all(np.bincount(draws.astype(int)) > 1800)  # uniform for the normalizer (ir=False)
    draws = s(episodes, 8000, 0, np.random.default_rng(4), intrinsic=True).o[:, 0]
    assert np.all(draws == 3)  # only the one ranked above the others
    episodes["p"][:] = 0
    draws = s(episodes, 8000, 0, np.random.default_rng(4), intrinsic=True).o[:, 0]
    assert np.all(np.bincount(draws.astype(int)) > 1800)


def test_mi_pairs_and_permutation_come_in_the_originals_draw_order():
    episodes, n = tagged_episodes(), 300
    tr = sampler()(episodes, n, 10, np.random.default_rng(5), intrinsic=True, with_mi=True)
    # the original's order of draws: episodes, steps, MINE's permutation, HER coin, HER offset
    ref = np.random.default_rng(5)
    idx, t = ref.integers(0, 6, n), ref.integers(0, T, n)
    perm = ref.permutation(2)
    relabel = ref.uniform(size=n) < 0.8
    np.testing.assert_array_equal(tr.o[:, :2], np.stack([idx, t], axis=1))
    np.testing.assert_array_equal(tr.mi_perm, perm)
    np.testing.assert_array_equal(tr.g[:, 0] != 100, relabel)
    # the pairs are (o_t, o_t+1) of the sampled steps
    np.testing.assert_array_equal(tr.mi_pairs[:, 0], tr.o)
    np.testing.assert_array_equal(tr.mi_pairs[:, 1], tr.o_2)
    assert (tr.m_w, tr.e_w) == (1.0, 0.2)
    off = sampler()(episodes, n, 10, np.random.default_rng(5), intrinsic=True)
    assert off.mi_pairs is None and off.mi_perm is None


def test_schedule_weights_interpolate_and_refuse_epochs_outside():
    s = make_sample_her_transitions("future", 4, sparse_reward, [(0, 0.0), (10, 1.0), (20, 1.0)], ET_SCHEDULE, False)
    assert s(tagged_episodes(), 4, 5, np.random.default_rng(6)).m_w == 0.5
    with pytest.raises(ValueError, match=r"epoch 20 is outside mi_w_schedule"):
        s(tagged_episodes(), 4, 20, np.random.default_rng(6))


def test_bad_sampler_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown replay_strategy 'past'"):
        sampler("past")
    with pytest.raises(ValueError, match="increasing order"):
        make_sample_her_transitions("future", 4, sparse_reward, [(10, 1), (0, 1)], ET_SCHEDULE, False)
