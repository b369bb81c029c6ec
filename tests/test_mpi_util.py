import numpy as np
import pytest

from music.mpi_util import mpi_average, mpi_mean, mpi_moments


@pytest.mark.parametrize("axis", [0, 1])
def test_mpi_moments_on_one_rank_equal_numpy(axis):
    x = np.random.default_rng(0).normal(size=(6, 4))
    mean, std, count = mpi_moments(x, axis=axis)
    np.testing.assert_allclose(mean, x.mean(axis))
    np.testing.assert_allclose(std, x.std(axis))
    assert count == x.shape[axis]
    mean_k, _ = mpi_mean(x, axis=axis, keepdims=True)
    assert mean_k.shape == (1, 4) if axis == 0 else (6, 1)


def test_mpi_average_of_scalars_and_lists():
    assert mpi_average(2.5) == 2.5
    assert mpi_average([1, 2, 6]) == 3.0
    assert mpi_average([]) == 0.0


def test_scalar_input_is_refused():
    with pytest.raises(ValueError, match="at least one dimension"):
        mpi_moments(np.float64(3.0))


def test_a_rank_that_aborts_the_job_gives_the_launcher_time_to_forward_its_last_words(monkeypatch):
    # mpiexec may end an aborted job before forwarding what the rank wrote last (benchmarks/abort_output.py)
    from music import mpi_util

    events = []

    class Comm:
        def Abort(self, code):
            events.append(("abort", code))

    class Stream:
        def __init__(self, name):
            self.name = name

        def write(self, text):
            events.append(("write", self.name))

        def flush(self):
            events.append(("flush", self.name))

    monkeypatch.setattr(mpi_util.time, "sleep", lambda seconds: events.append(("sleep", seconds)))
    monkeypatch.setattr(mpi_util.sys, "stderr", Stream("stderr"))
    monkeypatch.setattr(mpi_util.sys, "stdout", Stream("stdout"))
    mpi_util.abort_all_ranks(3, Comm())
    assert events[-1] == ("abort", 3)
    assert events[-2] == ("sleep", mpi_util.ABORT_GRACE_SECONDS) and mpi_util.ABORT_GRACE_SECONDS >= 0.5
    assert {("flush", "stderr"), ("flush", "stdout")} <= set(events[:-2])
