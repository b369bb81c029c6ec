"""Piecewise-linear schedules over the epoch number (``mi_w_schedule``, ``et_w_schedule``)."""

from __future__ import annotations


class PiecewiseSchedule:
    """Linear interpolation between ``(epoch, value)`` endpoints.

    Between endpoints (t_a, v_a) and (t_b, v_b), with t_a <= t < t_b, the value is
    v_a + (t - t_a) / (t_b - t_a) * (v_b - v_a). As in the original there is no value
    outside [first epoch, last epoch): asking for one is an error, so a run longer
    than its schedule stops instead of silently using a made-up weight.
    """

    def __init__(self, endpoints, name: str = "schedule"):
        self.name = name
        try:
            self.endpoints = [(float(t), float(v)) for t, v in endpoints]
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a list of (epoch, value) pairs, got {endpoints!r}") from None
        if len(self.endpoints) < 2:
            raise ValueError(f"{name} needs at least two (epoch, value) pairs, got {endpoints!r}")
        times = [t for t, _ in self.endpoints]
        if times != sorted(times):
            raise ValueError(f"{name} epochs must be in increasing order, got {times}")

    def value(self, t: float) -> float:
        for (t_a, v_a), (t_b, v_b) in zip(self.endpoints[:-1], self.endpoints[1:], strict=True):
            if t_a <= t < t_b:
                alpha = (t - t_a) / (t_b - t_a)
                return v_a + alpha * (v_b - v_a)
        raise ValueError(
            f"epoch {t} is outside {self.name} {self.endpoints} "
            f"(defined on [{self.endpoints[0][0]:g}, {self.endpoints[-1][0]:g})); extend the schedule"
        )
