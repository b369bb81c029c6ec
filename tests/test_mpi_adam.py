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


@pytest.mark.bitexact
def test_steps_are_bit_identical_to_the_originals_float32_expressions():
    # baselines' MpiAdam: m and v updated in float32, the step (float64 step size) and
    # theta + step in float64, rounded to float32 when the variables are written.
    rng = np.random.default_rng(3)
    theta = rng.normal(size=1000).astype(np.float32)
    var = tf.Variable(theta)
    adam = MpiAdam([var], scale_grad_by_procs=False)
    m, v = np.zeros(1000, np.float32), np.zeros(1000, np.float32)
    for t in range(1, 21):
        g = (rng.normal(size=1000) * 10.0 ** rng.integers(-8, 2, 1000)).astype(np.float32)  # tiny to large
        adam.update(g, 1e-3)
        step_size = 1e-3 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        m = 0.9 * m + (1 - 0.9) * g
        v = 0.999 * v + (1 - 0.999) * (g * g)
        theta = (theta + (-step_size) * m / (np.sqrt(v) + 1e-8)).astype(np.float32)
        np.testing.assert_array_equal(var.numpy(), theta, err_msg=f"step {t}")
        np.testing.assert_array_equal(adam.m, m)
        np.testing.assert_array_equal(adam.v, v)


@pytest.mark.bitexact
def test_step_into_a_given_buffer_equals_the_returned_array_and_allocates_no_vector():
    # Training writes both networks' new parameters into one reused buffer: a fresh
    # parameter-sized vector per step costs page faults (docs/performance.md). numpy
    # reports its array memory to tracemalloc, so a step that allocated a vector of the
    # parameters' size (0.4 MB here) would show in the peak.
    import tracemalloc

    rng = np.random.default_rng(4)
    size = 100_000
    theta = rng.normal(size=size).astype(np.float32)
    reference, buffered = MpiAdam([tf.Variable(theta)]), MpiAdam([tf.Variable(theta)])
    out = np.zeros(2 * size, np.float32)
    grads = [rng.normal(size=size).astype(np.float32) for _ in range(3)]
    for g in grads[:2]:  # the first steps may allocate (lazy set-up of numpy and MPI)
        expected = reference.step(g, 1e-3, current=theta)
        assert buffered.step(g, 1e-3, current=theta, out=out[size:]) is not None
        np.testing.assert_array_equal(out[size:], expected)
    tracemalloc.start()
    try:
        buffered.step(grads[2], 1e-3, current=theta, out=out[size:])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(out[size:], reference.step(grads[2], 1e-3, current=theta))
    assert not out[:size].any()  # only its own part of the buffer is written
    assert peak < size * 4 / 4, f"a step allocated {peak} bytes"


def test_a_wrong_output_buffer_is_refused():
    adam = MpiAdam([tf.Variable(np.zeros(3, np.float32))])
    with pytest.raises(ValueError, match=r"out has shape \(4,\) and dtype float32, expected \(3,\) float32"):
        adam.step(np.zeros(3, np.float32), 0.1, out=np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="dtype float64"):
        adam.step(np.zeros(3, np.float32), 0.1, out=np.zeros(3))


def test_wrong_gradient_size_is_refused():
    adam = MpiAdam([tf.Variable(np.zeros(3, np.float32))])
    with pytest.raises(ValueError, match=r"gradient has shape \(4,\), expected \(3,\)"):
        adam.update(np.zeros(4), 0.1)


@pytest.mark.mpi
def test_gradients_are_summed_and_ranks_stay_identical():
    out = run_mpi("mpi_adam.py")
    assert out.count("OK") == 2
