"""Dense layers: the bias enters as the original's ``tf.layers.dense`` adds it (``bias_add``)."""

import numpy as np
import pytest
import tensorflow as tf

from music.networks import Dense
from music.tf_util import graph


@pytest.mark.bitexact
@pytest.mark.parametrize("shape", [(256, 256), (64, 102, 128)], ids=["batch", "batch x time"])
def test_bias_gradient_is_the_row_by_row_sum_of_the_original(shape):
    # The original's layers add the bias with BiasAdd, whose gradient (BiasAddGrad) sums the
    # upstream gradient row after row; numpy's add.reduce over axis 0 of a C-ordered matrix
    # adds in that order. A plain `x @ kernel + bias` is differentiated by a Sum op, which
    # adds in another order and differs in the last bits (it did, for both shapes).
    rng = np.random.default_rng(0)
    layer = Dense(shape[-1], shape[-1], "test/dense", rng)
    x = rng.normal(size=shape).astype(np.float32)
    upstream = (rng.normal(size=shape) * rng.uniform(0, 3, size=(*shape[:-1], 1))).astype(np.float32)

    def bias_gradient(x, upstream):
        with tf.GradientTape() as tape:
            y = layer(x)
        return tape.gradient(y, layer.bias, output_gradients=upstream)

    spec = tf.TensorSpec([None] * (len(shape) - 1) + [shape[-1]], tf.float32)
    grad = graph(bias_gradient, [spec, spec])(x, upstream).numpy()
    np.testing.assert_array_equal(grad, np.add.reduce(upstream.reshape(-1, shape[-1]), axis=0))


def test_output_is_the_affine_map():
    rng = np.random.default_rng(1)
    layer = Dense(5, 3, "test/affine", rng)
    layer.bias.assign(rng.normal(size=3).astype(np.float32))
    x = rng.normal(size=(4, 7, 5)).astype(np.float32)
    expected = x.astype(np.float64) @ layer.kernel.numpy().astype(np.float64) + layer.bias.numpy()
    np.testing.assert_allclose(layer(tf.constant(x)).numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer(tf.constant(x[:, 0])).numpy(), expected[:, 0], rtol=1e-5, atol=1e-6)
