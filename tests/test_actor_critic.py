"""Actor and critic networks against the numpy reference; SAC squashing and its log-probability."""

import numpy as np
import pytest
import tensorflow as tf

from music.actor_critic import ActorCritic, clip_but_pass_gradient, gaussian_log_likelihood
from music.normalizer import Normalizer

import np_reference as ref


def build(sac, rng, max_u=2.0, layers=2, hidden=16):
    o_stats, g_stats = Normalizer(5, name="o_stats", default_clip_range=5), Normalizer(3, name="g_stats",
                                                                                      default_clip_range=5)
    o_stats.mean.assign(rng.normal(size=5).astype(np.float32))
    o_stats.std.assign(rng.uniform(0.5, 2, size=5).astype(np.float32))
    g_stats.mean.assign(rng.normal(size=3).astype(np.float32))
    net = ActorCritic("main", dimo=5, dimz=2, dimg=3, dimu=4, max_u=max_u, o_stats=o_stats, g_stats=g_stats,
                      hidden=hidden, layers=layers, sac=sac, rng=np.random.default_rng(0))
    weights = {**o_stats.named_variables, **g_stats.named_variables, **net.pi_variables, **net.q_variables}
    for name, var in weights.items():  # non-zero biases too, so they are tested
        if name.endswith("bias"):
            var.assign(rng.normal(scale=0.3, size=var.shape).astype(np.float32))
    return net, {k: v.numpy().astype(np.float64) for k, v in weights.items()}


def inputs(rng, n=6):
    o = rng.normal(scale=3, size=(n, 5)).astype(np.float32)
    z = np.eye(2)[rng.integers(0, 2, n)].astype(np.float32)
    g = rng.normal(size=(n, 3)).astype(np.float32)
    return o, z, g


def test_variable_names_and_layer_sizes():
    net, w = build(sac=True, rng=np.random.default_rng(0), layers=3, hidden=8)
    assert [w[f"main/pi/_{i}/kernel"].shape for i in range(4)] == [(10, 8), (8, 8), (8, 8), (8, 8)]
    assert w["main/pi/mu/kernel"].shape == (8, 4) and w["main/pi/log_std/kernel"].shape == (8, 4)
    assert [w[f"main/Q/_{i}/kernel"].shape for i in range(4)] == [(14, 8), (8, 8), (8, 8), (8, 1)]
    net, w = build(sac=False, rng=np.random.default_rng(0), layers=3, hidden=8)
    assert [w[f"main/pi/_{i}/kernel"].shape for i in range(4)] == [(10, 8), (8, 8), (8, 8), (8, 4)]


def test_xavier_uniform_bounds_and_zero_bias():
    net = ActorCritic("main", dimo=25, dimz=1, dimg=3, dimu=4, max_u=1.0, o_stats=Normalizer(25), g_stats=Normalizer(3),
                      hidden=256, layers=3, sac=False, rng=np.random.default_rng(0))
    kernel = net.q_variables["main/Q/_1/kernel"].numpy()
    limit = np.sqrt(6 / (256 + 256))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.99 * limit
    assert abs(kernel.std() - limit / np.sqrt(3)) < 0.01 * limit  # std of U(-a, a) is a / sqrt(3)
    assert not net.q_variables["main/Q/_1/bias"].numpy().any()


def test_ddpg_actor_and_critic_equal_numpy():
    rng = np.random.default_rng(1)
    net, w = build(sac=False, rng=rng)
    o, z, g = inputs(rng)
    out = net.actor(o, z, g)
    x = ref.actor_input(w, o.astype(np.float64), z, g.astype(np.float64), clip=5)
    expected_pi = ref.ddpg_actor(w, "main", x, layers=2, max_u=2.0)
    np.testing.assert_allclose(out.pi.numpy(), expected_pi, atol=1e-5)
    np.testing.assert_allclose(out.mu.numpy(), expected_pi, atol=1e-5)
    assert np.all(np.abs(out.pi.numpy()) <= 2.0)
    u = rng.uniform(-2, 2, size=(6, 4)).astype(np.float32)
    np.testing.assert_allclose(net.critic(o, z, g, u).numpy(), ref.critic(w, "main", x, u, 2, 2.0), atol=1e-4)


def test_sac_squashed_gaussian_log_probability_equals_numpy():
    rng = np.random.default_rng(2)
    net, w = build(sac=True, rng=rng)
    o, z, g = inputs(rng, n=32)
    noise = rng.normal(size=(32, 4)).astype(np.float32)
    noise[0] = 4.0  # far in the tail: tanh saturates and the clip in the correction matters
    out = net.actor(o, z, g, noise)
    x = ref.actor_input(w, o.astype(np.float64), z, g.astype(np.float64), clip=5)
    mu, pi, neg_logp = ref.sac_actor(w, "main", x, layers=2, max_u=2.0, noise=noise.astype(np.float64))
    np.testing.assert_allclose(out.mu.numpy(), mu, atol=1e-5)
    np.testing.assert_allclose(out.pi.numpy(), pi, atol=1e-5)
    unsaturated = np.abs(pi).max(axis=1) < 0.99 * 2.0
    np.testing.assert_allclose(out.neg_logp_pi.numpy()[unsaturated], neg_logp[unsaturated], rtol=1e-4, atol=1e-4)
    # Where tanh saturates, log(1 - tanh(pi)^2 + 1e-6) is ill-conditioned in float32 (the
    # clip keeps it finite, at least log(1e-6) per dimension): only a loose match there.
    assert np.all(np.isfinite(out.neg_logp_pi.numpy()))
    np.testing.assert_allclose(out.neg_logp_pi.numpy(), neg_logp, atol=0.25)
    assert (~unsaturated).any() and unsaturated.sum() > 10
    assert out.neg_logp_pi.shape == (32,)


def test_gaussian_log_likelihood_of_standard_normal():
    x = np.array([[0.0, 1.0], [2.0, -1.0]], np.float32)
    got = gaussian_log_likelihood(x, tf.zeros_like(x), tf.zeros_like(x)).numpy()
    expected = (-0.5 * x**2 - 0.5 * np.log(2 * np.pi)).sum(axis=1)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_clip_but_pass_gradient_clips_value_and_keeps_gradient():
    x = tf.constant([-2.0, 0.5, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = clip_but_pass_gradient(x, 0.0, 1.0)
        total = tf.reduce_sum(y * [1.0, 2.0, 3.0])
    np.testing.assert_allclose(y.numpy(), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(tape.gradient(total, x).numpy(), [1.0, 2.0, 3.0])


@pytest.mark.parametrize("sac", [True, False])
def test_normalized_inputs_are_clipped(sac):
    rng = np.random.default_rng(3)
    net, w = build(sac=sac, rng=rng)
    o, z, g = inputs(rng)
    noise = np.zeros((6, 4), np.float32)
    big = o.copy()
    big[:, 0] = 1e4  # normalizes far beyond the clip range of 5
    bigger = o.copy()
    bigger[:, 0] = 1e6
    np.testing.assert_allclose(net.actor(big, z, g, noise).mu.numpy(), net.actor(bigger, z, g, noise).mu.numpy())
