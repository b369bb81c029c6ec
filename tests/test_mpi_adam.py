"""MpiAdam against a numpy Adam on one rank; gradient summing and sync across two ranks."""

import numpy as np
import pytest
import tensorflow as tf

from music.mpi_adam import MpiAdam

from conftest import run_mpi


def numpy_adam(theta, grads, lr, b1=0.9, b2=0.999, eps=1e-8):
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta


def test_ten_steps_equal_numpy_adam():
    rng = np.random.default_rng(0)
    a = tf.Variable(rng.normal(size=3).astype(np.float32))
    b = tf.Variable(rng.normal(size=(2, 5)).astype(np.float32))
    theta0 = np.concatenate([a.numpy(), b.numpy().ravel()]).astype(np.float64)
    adam = MpiAdam([a, b], scale_grad_by_procs=False)
    grads = []
    for _ in range(10):
        with tf.GradientTape() as tape:  # the loss of baselines' own MpiAdam test
            loss = tf.reduce_sum(tf.square(a)) + tf.reduce_sum(tf.sin(b))
        ga, gb = tape.gradient(loss, [a, b])
        g = np.concatenate([ga.numpy(), gb.numpy().ravel()])
        grads.append(g.astype(np.float64))
        adam.update(g, 1e-2)
    theta = np.concatenate([a.numpy(), b.numpy().ravel()])
    # numpy Adam on the same gradient sequence (the form with bias-corrected moments)
    np.testing.assert_allclose(theta, numpy_adam(theta0, grads, 1e-2), rtol=1e-5, atol=1e-6)
    assert adam.t == 10 and not np.allclose(theta, theta0)


def test_wrong_gradient_size_is_refused():
    adam = MpiAdam([tf.Variable(np.zeros(3, np.float32))])
    with pytest.raises(ValueError, match=r"gradient has shape \(4,\), expected \(3,\)"):
        adam.update(np.zeros(4), 0.1)


@pytest.mark.mpi
def test_gradients_are_summed_and_ranks_stay_identical():
    out = run_mpi("mpi_adam.py")
    assert out.count("OK") == 2
