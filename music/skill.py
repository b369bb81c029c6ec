"""The skill discriminator of DIAYN (Eysenbach et al. 2018), whole: network, reward, training.

A classifier q(z | y) of the skill z from the surrounding state y (object_pos), under the
scope ``ir/skill_ds``. The reward of a transition is log q(z | y), i.e. minus the softmax
cross-entropy against its one-hot skill; the discriminator trains to lower that
cross-entropy on random steps of each worker's buffer.

``SkillDiscriminator`` is one of the two intrinsic rewards
(rows of ``music.rewards.REWARD_TERMS``; the other is ``music.mine``).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from music.envs import ObservationSplit, take
from music.mpi_adam import MpiAdam
from music.mpi_util import tree_sum
from music.networks import MLP
from music.tf_util import flatten, graph


class SkillDiscriminator(tf.Module):
    """The skill discriminator with its optimizer and graphs (traced once each).

    Args:
        split: which observation entries are the surrounding state it reads.
        dimz: number of skills (width of the one-hot z).
        hidden: the agent's hidden width; the discriminator uses hidden // 2.
        layers: its hidden layers.
        rng: numpy generator for the initial weights.
        lr: learning rate.
        comm: MPI communicator of the optimizer (Adam on gradients summed over ranks).
    """

    optimizer_name = "sk_adam"  # its optimizer's name in checkpoints

    def __init__(self, split: ObservationSplit, dimz: int, hidden: int, layers: int, rng: np.random.Generator,
                 lr: float = 1e-3, comm=None):
        super().__init__(name="skill_ds")
        self.split = split
        self.skill_net = MLP(split.dim_surrounding, [hidden // 2] * layers + [dimz], "ir/skill_ds", rng)
        self.lr = lr
        self.trainable = list(self.named_variables.values())
        self.adam = MpiAdam(self.trainable, scale_grad_by_procs=False, comm=comm)
        o, z = tf.TensorSpec([None, split.dimo], tf.float32), tf.TensorSpec([None, dimz], tf.float32)
        self.reward_graph = graph(lambda o, z: -self.skill_loss(o, z), [o, z])
        self.gradient_graph = graph(self._gradient, [o, z])

    @property
    def named_variables(self) -> dict[str, tf.Variable]:
        return self.skill_net.named_variables

    # ------------------------------------------------------------------ the intrinsic-reward interface
    def reward(self, transitions, rng: np.random.Generator) -> np.ndarray:
        """The skill reward's raw value (B,) of sampled transitions: log q(z | surrounding state of o)."""
        return self.skill_reward(transitions.o, transitions.z)

    @staticmethod
    def wants_training(params, scale: float) -> bool:
        return scale > 0

    def training_inputs(self, buffer, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Observations (n, dimo) and skills (n, dimz) of ``batch_size`` random steps of a worker's buffer."""
        o, z = buffer.random_steps(batch_size, rng)
        return np.asarray(o, np.float32), np.asarray(z, np.float32)

    def gradients(self, inputs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[list[float], np.ndarray, np.ndarray]:
        """K workers' (``inputs``) -mean cross-entropies before the step, their gradients summed
        in MPI's order (one graph call each) and the flat parameters."""
        steps = [self.gradient(o, z) for o, z in inputs]
        return ([-float(np.mean(sk_loss)) for sk_loss, _, _ in steps], tree_sum([grad for _, grad, _ in steps]),
                steps[0][2])

    def apply(self, gradients: list[np.ndarray], params: np.ndarray | None = None) -> None:
        """One Adam step on the summed gradients of this process's workers (``params`` as in ``Mine.apply``)."""
        self.adam.update(tree_sum(gradients), self.lr, current=params)

    # ------------------------------------------------------------------ numpy in, numpy out
    def skill_reward(self, o: np.ndarray, z: np.ndarray) -> np.ndarray:
        """-cross_entropy(discriminator(surrounding state of o), z) for o (B, dimo), z (B, dimz); shape (B,)."""
        return self.reward_graph(np.asarray(o, np.float32), np.asarray(z, np.float32)).numpy()

    def gradient(self, o: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The cross-entropies (B,), the flat gradient and the flat parameters it was taken at (for ``apply``)."""
        sk_loss, grad, params = self.gradient_graph(np.asarray(o, np.float32), np.asarray(z, np.float32))
        return sk_loss.numpy(), grad.numpy(), params.numpy()

    def graphs(self) -> dict:
        """Its graphs by name (benchmarks and tests count their tracings)."""
        return {"reward": self.reward_graph, "gradient": self.gradient_graph}

    # ------------------------------------------------------------------ graphs
    def _gradient(self, o, z):
        with tf.GradientTape() as tape:
            sk_loss = self.skill_loss(o, z)
            loss = tf.reduce_mean(sk_loss)
        return sk_loss, flatten(tape.gradient(loss, self.trainable)), flatten([v.read_value() for v in self.trainable])

    def skill_logits(self, o: tf.Tensor) -> tf.Tensor:
        """Skill logits from the surrounding state of o (B, dimo); shape (B, dimz)."""
        return self.skill_net(take(o, self.split.surrounding))

    def skill_loss(self, o: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
        """Softmax cross-entropy of the skill discriminator against one-hot z; shape (B,)."""
        return tf.nn.softmax_cross_entropy_with_logits(labels=z, logits=self.skill_logits(o))


def build(split: ObservationSplit, dimz: int, params, rng: np.random.Generator, comm=None) -> SkillDiscriminator:
    """The skill reward's network for a run (the factory of its row in ``music.rewards.REWARD_TERMS``)."""
    return SkillDiscriminator(split, dimz, params.hidden, params.layers, rng, params.sk_lr, comm)
