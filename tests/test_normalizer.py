"""Normalizer against numpy on one rank, and across two ranks under mpiexec."""

import numpy as np
import pytest
import tensorflow as tf

from music.normalizer import Normalizer

from conftest import run_mpi


def test_stats_equal_numpy_and_normalize_clips():
    rng = np.random.default_rng(0)
    norm = Normalizer(4, eps=0.01, default_clip_range=2.0, name="o_stats")
    first, second = rng.normal(3, 2, size=(100, 4)), rng.normal(3, 2, size=(7, 5, 4))
    norm.update(first)
    norm.recompute_stats()
    norm.update(second)
    norm.recompute_stats()
    data = np.concatenate([first, second.reshape(-1, 4)])
    count = 1 + len(data)  # the count variable starts at 1, as in the original
    mean = data.sum(0) / count
    std = np.sqrt(np.maximum(0.01**2, (data**2).sum(0) / count - mean**2))
    np.testing.assert_allclose(norm.count.numpy(), [count])
    np.testing.assert_allclose(norm.mean.numpy(), mean, rtol=1e-5)
    np.testing.assert_allclose(norm.std.numpy(), std, rtol=1e-5)
    v = rng.normal(3, 10, size=(50, 4)).astype(np.float32)
    expected = np.clip((v - mean) / std, -2, 2)
    np.testing.assert_allclose(norm.normalize(tf.constant(v)).numpy(), expected, rtol=1e-4, atol=1e-5)
    assert np.abs(expected).max() == 2.0
    assert not norm.local_sum.any() and norm.local_count[0] == 0


def test_std_has_a_floor_of_eps():
    norm = Normalizer(2, eps=0.01)
    # constant data: the variance is only that of the initial count of 1, n / (n + 1)^2 ~ 1e-6
    norm.update(np.ones((1_000_000, 2)))
    norm.recompute_stats()
    np.testing.assert_allclose(norm.std.numpy(), [0.01, 0.01], rtol=1e-4)


@pytest.mark.mpi
def test_normalizer_and_mpi_moments_agree_across_two_ranks():
    out = run_mpi("moments_and_normalizer.py")
    assert out.count("OK") == 2
