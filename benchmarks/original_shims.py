"""Make the authors' TF1 MUSIC code (github.com/ruizhaogit/music) importable under TensorFlow 2 (benchmarks only).

``benchmarks/vs_original.py`` runs the authors' agent next to ours. Their code was written
for TensorFlow 1.x with ``tf.contrib`` and imports a few packages the training pieces never
use. ``load_original(path)`` imports their modules from a checkout at ``path`` with these
stand-ins, all ours:

* ``tensorflow`` as their modules see it: ``tf.compat.v1`` with the v2 behaviour switched off
  (graph mode, reference variables, as TF 1.x), plus
  - ``tf.layers.dense``: the TF1 layer from ``tf_keras`` (TF 2.16+ dropped ``tf.compat.v1.layers``
    with Keras 3);
  - ``tf.contrib.layers.xavier_initializer``: Glorot-uniform, which it was;
  - ``tf.contrib.layers.linear``: a dense layer without activation, variables
    ``fully_connected[_N]/weights`` and ``/biases`` (Glorot-uniform, zeros) as contrib named them;
  - ``tf.contrib.staging.StagingArea``: TensorFlow's own ``data_flow_ops.StagingArea``, the class
    ``tf.contrib.staging`` exported (the ops are still in TF 2).
* ``gym`` (``baselines.common.misc_util`` imports it; the training pieces never use it) and
  ``scipy`` (``baselines.common.math_util`` imports ``scipy.signal``, unused here;
  ``baselines.her.her`` imports ``scipy.stats.rankdata``, called only with MI prioritization):
  stubs, with a dense ``rankdata``, used only where the real package is not installed.
  ``mujoco_py`` is not needed: only their rollout worker imports it.

The stand-in modules are in ``sys.modules`` only while their modules import, so nothing else
in the process sees them; their modules keep the shimmed ``tf``. Call it in a process of its
own: it switches TensorFlow to graph mode for the whole process.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import types
from pathlib import Path

import numpy as np

# The authors' modules the benchmark uses.
MODULES = ("baselines.her.ddpg", "baselines.her.her", "baselines.her.actor_critic", "baselines.her.discriminator",
           "baselines.common.tf_util")


class _Namespace(types.ModuleType):
    """A module whose own attributes come first, then those of ``fallback``."""

    def __init__(self, name: str, fallback=None, **attrs):
        super().__init__(name)
        self._fallback = fallback
        self.__dict__.update(attrs)

    def __getattr__(self, attr):
        if self._fallback is None:
            raise AttributeError(f"module {self.__name__!r} (a benchmark stand-in) has no attribute {attr!r}")
        return getattr(self._fallback, attr)


def _legacy_dense():
    try:
        from tf_keras.src.legacy_tf_layers.core import dense
    except ImportError as err:
        raise ImportError("the authors' code needs tf.layers.dense, which TF 2 has only through tf_keras: "
                          "pip install --no-deps tf_keras==2.21.0 (see benchmarks/requirements.txt)") from err
    return dense


def _staging_area():
    try:
        from tensorflow.python.ops.data_flow_ops import StagingArea
    except ImportError as err:
        raise ImportError("this TensorFlow has no data_flow_ops.StagingArea (tf.contrib.staging's class)") from err
    return StagingArea


def make_tf1_module():
    """The ``tensorflow`` module the authors' code gets: tf.compat.v1 (graph mode) plus the stand-ins above."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    tf1.disable_v2_behavior()

    def xavier_initializer(uniform: bool = True, seed=None, dtype=tf.float32):
        if uniform:
            return tf1.glorot_uniform_initializer(seed=seed, dtype=dtype)
        return tf1.glorot_normal_initializer(seed=seed, dtype=dtype)

    def linear(inputs, num_outputs, scope=None, reuse=None):
        """x @ weights + biases over the last axis (contrib's fully_connected without activation)."""
        with tf1.variable_scope(scope, default_name="fully_connected", values=[inputs], reuse=reuse):
            rank = inputs.shape.ndims
            width = int(inputs.shape[-1])
            weights = tf1.get_variable("weights", [width, num_outputs], initializer=xavier_initializer())
            biases = tf1.get_variable("biases", [num_outputs], initializer=tf1.zeros_initializer())
            if rank == 2:
                out = tf1.matmul(inputs, weights)
            else:
                out = tf1.tensordot(inputs, weights, [[rank - 1], [0]])
            return tf1.nn.bias_add(out, biases)

    layers = _Namespace("tensorflow.contrib.layers", linear=linear, xavier_initializer=xavier_initializer)
    staging = _Namespace("tensorflow.contrib.staging", StagingArea=_staging_area())
    contrib = _Namespace("tensorflow.contrib", layers=layers, staging=staging)
    tf_layers = _Namespace("tensorflow.layers", tf1.layers, dense=_legacy_dense())
    module = _Namespace("tensorflow", tf1, layers=tf_layers, contrib=contrib)
    return module, {"tensorflow": module, "tensorflow.contrib": contrib, "tensorflow.contrib.layers": layers,
                    "tensorflow.contrib.staging": staging}


def _rankdata(a, method: str = "average"):
    if method != "dense":
        raise NotImplementedError("the benchmark's scipy stub ranks with method='dense' only")
    _, inverse = np.unique(np.asarray(a).ravel(), return_inverse=True)
    return inverse.reshape(np.shape(a)) + 1


def _stubs() -> dict[str, types.ModuleType]:
    gym = _Namespace("gym", Wrapper=type("Wrapper", (), {}), Env=type("Env", (), {}))
    signal = _Namespace("scipy.signal")
    stats = _Namespace("scipy.stats", rankdata=_rankdata)
    scipy = _Namespace("scipy", signal=signal, stats=stats)
    return {"gym": gym, "scipy": scipy, "scipy.signal": signal, "scipy.stats": stats}


@contextlib.contextmanager
def _modules_replaced(replacements: dict[str, types.ModuleType]):
    saved = {name: sys.modules.get(name) for name in replacements}
    sys.modules.update(replacements)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def check_checkout(path: Path | str) -> Path:
    """``path`` if it is a checkout of the authors' repository; else raises FileNotFoundError."""
    path = Path(path).expanduser().resolve()
    if not (path / "baselines" / "her" / "ddpg.py").is_file():
        raise FileNotFoundError(f"{path} is not a checkout of github.com/ruizhaogit/music "
                                "(no baselines/her/ddpg.py)")
    return path


def load_original(path: Path | str) -> types.SimpleNamespace:
    """Import the authors' modules from the checkout at ``path``.

    Returns a namespace with ``tf`` (the shimmed tf.compat.v1 their code uses) and the modules
    ``ddpg``, ``her``, ``actor_critic``, ``discriminator``, ``tf_util``.
    """
    path = check_checkout(path)
    tf_module, tf_replacements = make_tf1_module()
    stubs = {name: module for name, module in _stubs().items()
             if importlib.util.find_spec(name.split(".")[0]) is None}  # a real package is used if installed
    if "baselines" in sys.modules:
        raise RuntimeError("a module named baselines is already imported in this process")
    sys.path.insert(0, str(path))
    try:
        with _modules_replaced({**tf_replacements, **stubs}):
            modules = {name.rsplit(".", 1)[1]: importlib.import_module(name) for name in MODULES}
    finally:
        sys.path.remove(str(path))
    return types.SimpleNamespace(tf=tf_module, **modules)
