"""music.tf_util.Graph: the flat call gives what TensorFlow's own call gives, and checks its inputs."""

import numpy as np
import pytest
import tensorflow as tf

from music.tf_util import Graph, GraphInputError


def make_graph():
    weight = tf.Variable(np.arange(12, dtype=np.float32).reshape(3, 4) / 7.0)

    def affine(x, index):
        # a variable capture, a gather by an int32 input and two outputs
        return tf.matmul(x, weight), tf.gather(x, index, axis=1)

    return Graph(affine, [tf.TensorSpec([None, 3], tf.float32), tf.TensorSpec([None], tf.int32)]), weight


@pytest.mark.bitexact
def test_the_flat_call_equals_tensorflows_own_call_bit_for_bit():
    graph, weight = make_graph()
    x = np.random.default_rng(0).normal(size=(5, 3))  # float64: converted to float32 as TF converts it
    index = np.array([2, 0])
    ours = graph(x, index)
    theirs = graph.function(tf.constant(x, tf.float32), tf.constant(index, tf.int32))
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    weight.assign(weight * 2.0)  # the captured variable is read at each call, not frozen
    np.testing.assert_array_equal(graph(x, index)[0].numpy(), (tf.constant(x, tf.float32) @ weight).numpy())
    assert graph.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("args, message", [
    ((np.zeros((5, 4)), np.array([0])), r"input 0 has shape \(5, 4\), expected \(None, 3\)"),
    ((np.zeros(3), np.array([0])), r"input 0 has shape \(3,\), expected \(None, 3\)"),
    ((np.zeros((5, 3)), np.array(["a"])), "input 1 has dtype <U1, expected int32"),
    ((np.zeros((5, 3)),), "takes 2 inputs, got 1"),
])
def test_inputs_that_do_not_fit_the_signature_are_refused_by_name(args, message):
    graph, _ = make_graph()
    with pytest.raises(GraphInputError, match=message):
        graph(*args)
