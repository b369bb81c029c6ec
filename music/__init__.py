"""MUSIC (Mutual Information State Intrinsic Control) in TensorFlow 2.

A port of the authors' TF1 code (github ruizhaogit/music, itself built on OpenAI
Baselines' ``her``). The library modules map one to one onto the original:

==================  ==========================================================
``normalizer``      running mean/std of observations and goals (``Normalizer``)
``mpi_util``        rank/size helpers, ``mpi_moments``, ``mpi_average``
``mpi_adam``        Adam in numpy on MPI-summed gradients (``MpiAdam``)
``networks``        dense layers and MLPs as ``tf.Module``
``actor_critic``    DDPG and SAC actor + critic (``ActorCritic``)
``discriminator``   MINE and skill discriminator, with their optimizers and steps
``her``             HER sampler: a pure function returning typed ``Transitions``
``replay_buffer``   episode replay buffer with MI prioritization
``ddpg``            the agent (``DDPG``): acting, storing, training
``envs``            Fetch tasks and the agent/surrounding split of observations
==================  ==========================================================
"""

__version__ = "0.1.0"

import os as _os

# TensorFlow's C++ start-up lines (CPU features, absl), printed by every rank, drown the
# run's own output; set before any module imports TensorFlow. Users who want them set
# TF_CPP_MIN_LOG_LEVEL themselves.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
