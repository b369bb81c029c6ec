"""Dense layers and MLPs as plain ``tf.Module``s with stable variable names.

Kernels are Xavier-uniform (Glorot), biases zero, as ``tf.layers.dense`` with
``xavier_initializer`` and ``tf.contrib.layers.linear`` in the original. Initial
values come from a numpy ``Generator`` so that a seed fixes them independently of
TensorFlow's global random state.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

import music.tf_util  # noqa: F401  (sets TF's thread counts before any op runs)


def xavier_uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32)


class Dense(tf.Module):
    """``y = x @ kernel + bias`` over the last axis of x. Variables ``<name>/kernel``, ``<name>/bias``."""

    def __init__(self, in_dim: int, out_dim: int, name: str, rng: np.random.Generator):
        super().__init__(name=name.replace("/", "_"))
        self.full_name = name
        self.kernel = tf.Variable(xavier_uniform(rng, in_dim, out_dim), name=f"{name}/kernel")
        self.bias = tf.Variable(tf.zeros([out_dim]), name=f"{name}/bias")

    @property
    def named_variables(self) -> dict[str, tf.Variable]:
        return {f"{self.full_name}/kernel": self.kernel, f"{self.full_name}/bias": self.bias}

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        # bias_add, as the original's tf.layers.dense and tf.contrib.layers.linear: its gradient
        # sums rows in the original's order (x @ kernel + bias was differentiated by a Sum op,
        # other bits), and TF's graph optimizer fuses matmul + bias (+ relu or tanh) into one op,
        # as in the original's graph (CHANGELOG.md, "Issue 17").
        # tensordot handles (batch, time, dim) inputs.
        if x.shape.rank == 2:
            return tf.nn.bias_add(tf.matmul(x, self.kernel), self.bias)
        return tf.nn.bias_add(tf.tensordot(x, self.kernel, axes=[[-1], [0]]), self.bias)


class MLP(tf.Module):
    """Dense layers of ``sizes`` with ReLU after every layer except the last.

    Layers are named ``<name>/_0``, ``<name>/_1``, ... as the original's ``nn``.
    """

    def __init__(self, in_dim: int, sizes: list[int], name: str, rng: np.random.Generator):
        super().__init__(name=name.replace("/", "_"))
        dims = [in_dim, *sizes]
        self.layers = [Dense(dims[i], dims[i + 1], f"{name}/_{i}", rng) for i in range(len(sizes))]

    @property
    def named_variables(self) -> dict[str, tf.Variable]:
        out: dict[str, tf.Variable] = {}
        for layer in self.layers:
            out.update(layer.named_variables)
        return out

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = tf.nn.relu(x)
        return x
