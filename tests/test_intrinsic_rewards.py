"""The intrinsic rewards, MINE (music.mine) and the skill discriminator (music.skill), against
numpy, learning, and bad input."""

import numpy as np
import pytest

import np_reference as ref
from conftest import make_agent


def randomize(agent, scope, rng, scale=0.5):
    for name, var in agent.variables.items():
        if scope in name:
            var.assign(rng.normal(scale=scale, size=var.shape).astype(np.float32))


@pytest.fixture(scope="module")
def agent():
    return make_agent(hidden=32, sk_r_scale=1.0, input_dims=dict(o=25, z=3, g=3, u=4, info_is_success=1))


def test_mine_estimate_equals_numpy_with_fixed_permutation(agent):
    rng = np.random.default_rng(0)
    randomize(agent, "state_mi", rng)
    o_tau = rng.normal(size=(5, 4, 25)).astype(np.float32)
    perm = np.array([2, 0, 3, 1])
    got = agent.run_mi(o_tau, perm=perm)
    expected = ref.mine_neg_mi(agent.save_weight(), o_tau.astype(np.float64), perm)
    assert got.shape == (5, 1)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_mine_identity_permutation_gives_at_most_zero_mi(agent):
    # With y not shuffled, both halves are equal and Jensen gives mean T - log mean exp T <= 0.
    rng = np.random.default_rng(1)
    randomize(agent, "state_mi", rng)
    o_tau = rng.normal(size=(8, 6, 25)).astype(np.float32)
    mi = -agent.run_mi(o_tau, perm=np.arange(6))
    assert np.all(mi <= 1e-6)


def test_mine_default_permutation_is_one_random_draw_shared_by_the_batch(agent):
    # Each call must match the numpy estimate for one single permutation applied to every
    # sequence of the batch, and different calls must use different permutations.
    import itertools

    rng = np.random.default_rng(2)
    randomize(agent, "state_mi", rng)
    o_tau = rng.normal(size=(6, 3, 25)).astype(np.float32)
    w = agent.save_weight()
    o64 = o_tau.astype(np.float64)
    candidates = {p: ref.mine_neg_mi(w, o64, np.array(p)) for p in itertools.permutations(range(3))}
    seen = set()
    for _ in range(60):
        out = agent.run_mi(o_tau)
        matches = [p for p, expected in candidates.items() if np.allclose(out, expected, atol=1e-5)]
        assert matches, "no single permutation explains the whole batch"
        seen.add(matches[0])
    assert len(seen) >= 4, seen


def _synthetic(rng, correlated, B=64, tau=10):
    o = rng.normal(size=(B, tau, 25)).astype(np.float32)
    if correlated:  # object_pos follows grip_pos
        o[..., 3:6] = o[..., 0:3] + 0.1 * rng.normal(size=(B, tau, 3))
    return o


@pytest.mark.slow
def test_mine_learns_higher_mi_for_correlated_states():
    estimates = {}
    for correlated in (True, False):
        agent = make_agent(hidden=64, seed=3)
        rng = np.random.default_rng(4)
        for _ in range(200):
            agent.train_mi(_synthetic(rng, correlated))
        estimates[correlated] = np.mean([-agent.run_mi(_synthetic(rng, correlated)).mean() for _ in range(20)])
    assert estimates[True] > 0.5, estimates
    assert abs(estimates[False]) < 0.1, estimates
    assert estimates[True] > estimates[False] + 0.5


def test_mine_nan_input_raises_clear_error(agent):
    from music.ddpg import MineNaNError

    o_tau = np.zeros((2, 3, 25), np.float32)
    o_tau[1, 2, 4] = np.nan
    with pytest.raises(MineNaNError, match="NaN"):
        agent.run_mi(o_tau)
    with pytest.raises(MineNaNError, match="NaN"):
        agent.train_mi(o_tau)


def test_mine_nan_weights_raise_clear_error():
    from music.ddpg import MineNaNError

    agent = make_agent(hidden=16)
    agent.variables["ir/state_mi/out/bias"].assign([np.nan])
    with pytest.raises(MineNaNError, match="NaN or Inf"):
        agent.run_mi(np.zeros((2, 3, 25), np.float32))


def test_mine_wrong_observation_shape_names_env_and_shapes(agent):
    with pytest.raises(ValueError, match=r"FetchPush-v1.*\(4, 3, 24\).*\(B, tau, 25\)"):
        agent.run_mi(np.zeros((4, 3, 24)))


def test_skill_reward_is_negative_cross_entropy_on_object_pos(agent):
    rng = np.random.default_rng(5)
    randomize(agent, "skill_ds", rng, scale=0.3)
    o = rng.normal(size=(7, 25)).astype(np.float32)
    z = np.eye(3)[rng.integers(0, 3, 7)].astype(np.float32)
    w = agent.save_weight()
    logits = ref.mlp(o[:, 3:6].astype(np.float64), w, "ir/skill_ds", 4)
    expected = -ref.softmax_cross_entropy(logits, z)
    np.testing.assert_allclose(agent.run_sk(o, z), expected, atol=1e-5)
    # The discriminator only looks at the object: changing the gripper changes nothing.
    o2 = o.copy()
    o2[:, 0:3] += 10
    np.testing.assert_allclose(agent.run_sk(o2, z), agent.run_sk(o, z))


def test_skill_discriminator_training_lowers_cross_entropy():
    agent = make_agent(hidden=32, sk_r_scale=1.0, sk_lr=3e-3, input_dims=dict(o=25, z=3, g=3, u=4, info_is_success=1))
    rng = np.random.default_rng(6)
    z_idx = rng.integers(0, 3, 256)
    o = rng.normal(scale=0.05, size=(256, 25)).astype(np.float32)
    o[:, 3] += z_idx  # each skill puts the object somewhere else
    z = np.eye(3)[z_idx].astype(np.float32)
    before = -agent.run_sk(o, z).mean()
    for _ in range(100):
        agent.train_sk(o, z)
    after = -agent.run_sk(o, z).mean()
    assert before > 0.9 and after < 0.3, (before, after)


@pytest.mark.bitexact
def test_steps_with_the_parameters_from_the_gradient_graph_equal_steps_that_read_them():
    # The gradient graphs return the networks' current parameters so that the Adam step need
    # not read them: the same bits as an update that reads them itself.
    kwargs = dict(hidden=32, sk_r_scale=1.0, input_dims=dict(o=25, z=3, g=3, u=4, info_is_success=1))
    fast, reading = make_agent(**kwargs), make_agent(**kwargs)
    rng = np.random.default_rng(9)
    for _ in range(3):
        o_tau = rng.normal(size=(8, 6, 25)).astype(np.float32)
        o, z = rng.normal(size=(16, 25)).astype(np.float32), np.eye(3)[rng.integers(0, 3, 16)].astype(np.float32)
        perm = rng.permutation(6)
        fast.train_mi(o_tau, perm)
        fast.train_sk(o, z)
        reading.mine.apply([reading.mi_gradient(o_tau, perm)])  # no parameters given: read
        reading.skill.apply([reading.sk_gradient(o, z)[1]])
    for name, var in fast.variables.items():
        if "ir/" in name:
            np.testing.assert_array_equal(var.numpy(), reading.variables[name].numpy(), err_msg=name)
    _, _, params = fast.sk_gradient(o, z)
    np.testing.assert_array_equal(params, fast.skill.adam.params.get())


SHAPES = [(b, tau) for tau in (2, 51) for b in (1, 2, 3, 7, 31, 64, 256)]


@pytest.fixture(scope="module")
def mine_pair():
    """A MINE with random weights and the authors' graph of it written out op by op, both as graphs."""
    import tensorflow as tf

    from music.tf_util import flatten, graph

    agent = make_agent(hidden=32, mi_r_scale=5000.0)
    mine = agent.mine
    randomize(agent, "state_mi", np.random.default_rng(11))

    def dense(layer, v):  # tf.layers.dense on a 3-d input: tensordot, then bias_add
        return tf.nn.bias_add(tf.tensordot(v, layer.kernel, axes=[[-1], [0]]), layer.bias)

    def authors(xy, perm):  # the original's mi_tf: T on concat([x, x]), concat([y, y_perm])
        x, y = xy[..., :3], xy[..., 3:]
        x_in, y_in = tf.concat([x, x], axis=1), tf.concat([y, tf.gather(y, perm, axis=1)], axis=1)
        t_all = tf.tanh(dense(mine.mi_out, tf.nn.relu(dense(mine.mi_x, x_in) + dense(mine.mi_y, y_in))))
        tau = tf.shape(x)[1]
        return -(tf.reduce_mean(t_all[:, :tau], axis=1) - tf.math.log(tf.reduce_mean(tf.exp(t_all[:, tau:]), axis=1)))

    def run(xy, perm):
        with tf.GradientTape() as tape:
            neg_mi = authors(xy, perm)
            loss = tf.reduce_mean(neg_mi)
        return neg_mi, flatten(tape.gradient(loss, mine.trainable))

    return agent, graph(run, [tf.TensorSpec([None, None, 6], tf.float32), tf.TensorSpec([None], tf.int32)])


@pytest.mark.bitexact
@pytest.mark.parametrize("batch,tau", SHAPES)
def test_mine_estimate_and_gradient_equal_the_authors_graph_bit_for_bit_at_every_shape(mine_pair, batch, tau):
    # Both run the same ops on the same shapes in the same order (T over all 2 tau rows, as
    # the original), so they agree bit for bit whatever kernels the CPU's oneDNN picks. A
    # shortcut that computes the agent half of the first layer once (tau rows instead of
    # 2 tau) does not: its matmul sums in another blocking on some CPUs and shapes.
    agent, authors = mine_pair
    rng = np.random.default_rng(batch * 100 + tau)
    xy = rng.normal(size=(batch, tau, 6)).astype(np.float32)
    perm = rng.permutation(tau).astype(np.int32)
    theirs = [t.numpy() for t in authors(xy, perm)]
    neg_mi, grad, _ = agent.mine.gradient(xy, perm)  # the training step's graph
    np.testing.assert_array_equal(neg_mi, theirs[0])
    np.testing.assert_array_equal(grad, theirs[1])
    np.testing.assert_array_equal(agent.mine.estimate(xy, perm), theirs[0])  # the reward's graph
    assert np.abs(grad).max() > 0
    # and both are MINE: an independent numpy computation in float64
    expected = ref.mine_neg_mi(agent.save_weight(), xy.astype(np.float64), perm)
    np.testing.assert_allclose(neg_mi, expected, atol=1e-5)


def test_a_declared_split_of_scattered_entries_feeds_mine_and_the_skill_net_those_entries():
    # agent (gripper-like) entries 0, 2, 4 and surrounding entries 7, 5, 9 (in that order), declared as data
    agent = make_agent(hidden=32, sk_r_scale=1.0, agent_obs=[0, 2, 4], surrounding_obs="7,5,9",
                       input_dims=dict(o=12, z=3, g=3, u=4, info_is_success=1), env_name="SomeGoalEnv-v0")
    assert agent.split.agent == (0, 2, 4) and agent.split.surrounding == (7, 5, 9)
    assert agent.mine.mi_x.kernel.shape == (3, 16) and agent.skill.skill_net.layers[0].kernel.shape == (3, 16)
    rng = np.random.default_rng(5)
    randomize(agent, "state_mi", rng)
    o_tau = rng.normal(size=(4, 3, 12)).astype(np.float32)
    perm = np.array([1, 2, 0])
    expected = ref.mine_neg_mi(agent.save_weight(), o_tau.astype(np.float64), perm, agent=[0, 2, 4],
                               surrounding=[7, 5, 9])
    np.testing.assert_allclose(agent.run_mi(o_tau, perm=perm), expected, atol=1e-5)
    randomize(agent, "skill_ds", rng)
    o, z = rng.normal(size=(6, 12)).astype(np.float32), np.eye(3)[rng.integers(0, 3, 6)]
    logits = ref.mlp(o[:, [7, 5, 9]].astype(np.float64), agent.save_weight(), "ir/skill_ds", 4)
    np.testing.assert_allclose(agent.run_sk(o, z), -ref.softmax_cross_entropy(logits, z), atol=1e-5)


def test_a_contiguous_declared_split_is_the_registered_one():
    declared = make_agent(hidden=32, agent_obs="0:3", surrounding_obs=[3, 4, 5])
    registered = make_agent(hidden=32)
    assert declared.split == registered.split and declared.split.agent == slice(0, 3)
