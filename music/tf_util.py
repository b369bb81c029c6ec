"""Small TensorFlow helpers shared by the library: thread set-up and flat parameter vectors."""

from __future__ import annotations

import functools
import os
import warnings

import numpy as np
import tensorflow as tf

_THREADS_CONFIGURED = False


def configure_threads(n_threads: int | None = None, inter_op_threads: int | None = None) -> None:
    """Use ``n_threads`` intra-op threads (default 1, or ``$MUSIC_TF_THREADS``) and
    ``inter_op_threads`` inter-op threads (default the same, or ``$MUSIC_TF_INTER_THREADS``).

    Under MPI we run one process per core, so TF's own thread pools would only
    oversubscribe the cores. Inter-op threads run independent ops at once, e.g. the
    graphs of a process's virtual workers (``--workers_per_rank``), without changing any
    result; more intra-op threads split single ops and can change float32 rounding. Must
    run before TensorFlow executes its first op; later calls are ignored with a warning.
    """
    global _THREADS_CONFIGURED
    if _THREADS_CONFIGURED:
        return
    if n_threads is None:
        n_threads = int(os.environ.get("MUSIC_TF_THREADS", "1"))
    if inter_op_threads is None:
        inter_op_threads = int(os.environ.get("MUSIC_TF_INTER_THREADS", n_threads))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n_threads)
        tf.config.threading.set_inter_op_parallelism_threads(inter_op_threads)
    except RuntimeError:
        warnings.warn(
            "TensorFlow was already initialized before music set its thread count; "
            "it keeps its own. Import music before running any TF op.",
            stacklevel=2,
        )
    _THREADS_CONFIGURED = True


configure_threads()


class GraphInputError(ValueError):
    """An input does not fit a graph's fixed signature (wrong rank, size or kind)."""


class Graph:
    """A ``tf.function`` with a fixed input signature, called through its one concrete function.

    The signature is fixed, so there is only ever one concrete function; it is traced on
    the first call. Calls skip TensorFlow's Python-side argument handling, which costs
    more than many of these graphs take to run (measured on a 2-core machine: acting on
    2 observations took 0.23 ms through ``ConcreteFunction.__call__`` and 0.08 ms
    through its flat call). So inputs are checked here, in a few microseconds, against
    the signature (rank, fixed sizes, numeric kind) and converted to its dtypes, and the
    concrete function's flat call runs with the variables it captured. Signatures that
    are not a flat list of ``tf.TensorSpec`` (e.g. dicts) take TensorFlow's own path.
    """

    def __init__(self, fn, input_signature):
        # TF keys its "frequent retracing" warning on the function's code object, so many
        # agents in one process (tests) would each trace once and still trigger it; a
        # functools.partial gives every wrapped object its own key.
        self.function = tf.function(functools.partial(fn), input_signature=input_signature)
        self.name = getattr(fn, "__name__", None) or getattr(getattr(fn, "func", None), "__name__", "graph")
        self.specs = list(input_signature)
        self._flat = all(isinstance(spec, tf.TensorSpec) for spec in self.specs)
        self._dtypes = [spec.dtype.as_numpy_dtype for spec in self.specs] if self._flat else []
        self._concrete = None
        self._captures = None

    def _convert(self, args) -> list:
        if len(args) != len(self.specs):
            raise GraphInputError(f"{self.name} takes {len(self.specs)} inputs, got {len(args)}")
        tensors = []
        for i, (arg, spec, dtype) in enumerate(zip(args, self.specs, self._dtypes, strict=True)):
            array = arg if isinstance(arg, tf.Tensor) else np.asarray(arg)
            shape = tuple(array.shape)
            if len(shape) != spec.shape.rank or any(want is not None and want != got
                                                    for want, got in zip(spec.shape.as_list(), shape, strict=True)):
                raise GraphInputError(f"{self.name}: input {i} has shape {shape}, expected {spec.shape}")
            if isinstance(arg, tf.Tensor):
                tensors.append(arg if arg.dtype == spec.dtype else tf.cast(arg, spec.dtype))
                continue
            if array.dtype.kind not in "biuf":
                raise GraphInputError(f"{self.name}: input {i} has dtype {array.dtype}, expected {spec.dtype.name}")
            tensors.append(tf.constant(array.astype(dtype, copy=False)))
        return tensors

    def __call__(self, *args):
        if self._concrete is None:
            self._concrete = self.function.get_concrete_function()
            self._captures = self._concrete.captured_inputs
        if not self._flat:
            return self._concrete(*args)
        return self._concrete._call_flat(self._convert(args), self._captures)

    def experimental_get_tracing_count(self) -> int:
        """How often the function was traced (1 after the first call, and it must stay 1)."""
        return self.function.experimental_get_tracing_count()


def graph(fn, input_signature) -> Graph:
    """``fn`` as a TF graph with a fixed ``input_signature`` (see ``Graph``)."""
    return Graph(fn, input_signature)


def num_elements(variables: list[tf.Variable]) -> int:
    """Total number of scalars in ``variables``."""
    return int(sum(int(np.prod(v.shape)) for v in variables))


def flatten(tensors: list[tf.Tensor]) -> tf.Tensor:
    """Concatenate tensors into one 1-D float32 vector (same order as given)."""
    return tf.concat([tf.reshape(t, [-1]) for t in tensors], axis=0)


class FlatParams:
    """Read and write a list of variables as one flat float32 vector.

    Both directions are single ``tf.function`` graphs with a fixed signature, so the
    numpy optimizer (``MpiAdam``) pays one call per read or write.
    """

    def __init__(self, variables: list[tf.Variable]):
        self.variables = list(variables)
        self.size = num_elements(self.variables)
        self._shapes = [v.shape for v in self.variables]
        self._sizes = [int(np.prod(s)) for s in self._shapes]
        self._get = graph(self._get_graph, [])
        self._set = graph(self._set_graph, [tf.TensorSpec([self.size], tf.float32)])

    def _get_graph(self) -> tf.Tensor:
        return flatten([v.read_value() for v in self.variables])

    def _set_graph(self, flat: tf.Tensor) -> None:
        for var, part, shape in zip(self.variables, tf.split(flat, self._sizes), self._shapes, strict=True):
            var.assign(tf.reshape(part, shape))

    def get(self) -> np.ndarray:
        """Current values, shape (size,), float32."""
        return self._get().numpy()

    def set(self, flat: np.ndarray) -> None:
        """Write ``flat`` (shape (size,)) into the variables."""
        flat = np.asarray(flat, dtype=np.float32)
        if flat.shape != (self.size,):
            raise ValueError(f"flat parameter vector has shape {flat.shape}, expected ({self.size},)")
        self._set(flat)
