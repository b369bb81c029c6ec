import pytest

from music.schedules import PiecewiseSchedule


def test_piecewise_linear_values():
    s = PiecewiseSchedule([(0, 0.2), (24, 0.2), (40, 1.0)])
    assert s.value(0) == 0.2 and s.value(23.5) == 0.2
    assert s.value(32) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="outside"):
        s.value(40)
    with pytest.raises(ValueError, match="outside"):
        s.value(-1)


def test_malformed_schedules_are_refused():
    with pytest.raises(ValueError, match="at least two"):
        PiecewiseSchedule([(0, 1)])
    with pytest.raises(ValueError, match="pairs"):
        PiecewiseSchedule([0, 1, 2])
