"""Episode replay buffer, with optional MI-based episode priorities."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np


def mi_priorities(run_mi: Callable[[np.ndarray], np.ndarray], observations: np.ndarray,
                  clip: float = 0.0002) -> np.ndarray:
    """Per-episode MI priority of observations (B, T+1, dimo): sum over t of clip(MI(o_t, o_t+1), 0, clip).

    ``run_mi`` maps two-step sequences (B, 2, dimo) to the negative MI estimate (B, 1). One
    call per time step (batch = the B episodes), each with its own time permutation, as in
    the original. Returns (B, 1) float64.
    """
    n_steps = observations.shape[1] - 1
    mi = np.zeros([observations.shape[0], n_steps])
    for t in range(n_steps):
        mi[:, t] = -run_mi(observations[:, t : t + 2]).reshape(-1)
    return np.clip(mi, 0.0, clip).sum(axis=1, keepdims=True)


class ReplayBuffer:
    """Stores whole episodes; samples transitions through ``sample_transitions``.

    Args:
        buffer_shapes: {key: shape of one episode's array}, e.g. o (T+1, dimo),
            ag (T+1, dimg), g (T, dimg), u (T, dimu), z (T, dimz), info_is_success (T, 1).
        size_in_transitions: capacity in transitions; the buffer holds
            size_in_transitions // T episodes.
        T: episode length.
        sample_transitions: a sampler from ``music.her.make_sample_her_transitions``.
        mi_prioritization: store a priority ``p`` per episode (sum over steps of the
            MI estimate clipped to [0, 0.0002]).
        dtype: storage dtype (the original used float64; the agent defaults to float32).
        rng: random generator used to pick slots to overwrite once full.
    """

    def __init__(
        self,
        buffer_shapes: dict[str, tuple],
        size_in_transitions: int,
        T: int,
        sample_transitions: Callable | None,
        mi_prioritization: bool = False,
        dtype=np.float64,
        rng: np.random.Generator | None = None,
    ):
        self.buffer_shapes = dict(buffer_shapes)
        self.size = size_in_transitions // T
        if self.size < 1:
            raise ValueError(f"buffer of {size_in_transitions} transitions holds no episode of T={T} steps")
        self.T = T
        self.sample_transitions = sample_transitions
        self.mi_prioritization = mi_prioritization
        self.rng = rng if rng is not None else np.random.default_rng()
        self.buffers = {key: np.empty([self.size, *shape], dtype=dtype) for key, shape in self.buffer_shapes.items()}
        if mi_prioritization:
            # float64 whatever the replay dtype, as the original: priorities are sums of values
            # up to 0.0002, and float32 rounding would create ties in their dense ranking.
            self.buffers["p"] = np.zeros([self.size, 1], dtype=np.float64)
        self.current_size = 0  # episodes stored
        self.n_transitions_stored = 0
        self.lock = threading.Lock()

    @property
    def full(self) -> bool:
        with self.lock:
            return self.current_size == self.size

    def sample(self, batch_size: int, epoch: int, *, intrinsic: bool, with_mi: bool = False):
        """A batch of ``batch_size`` transitions from the stored episodes (``music.her.Transitions``);
        ``intrinsic``: a training batch (MI-prioritized episodes, MI pairs with ``with_mi``)."""
        with self.lock:
            if self.current_size == 0:
                raise RuntimeError("cannot sample from an empty replay buffer; store an episode first")
            buffers = {key: value[: self.current_size] for key, value in self.buffers.items()}
        buffers["o_2"] = buffers["o"][:, 1:, :]
        buffers["ag_2"] = buffers["ag"][:, 1:, :]
        return self.sample_transitions(buffers, batch_size, epoch, self.rng, intrinsic=intrinsic, with_mi=with_mi)

    def store_episode(self, episode_batch: dict[str, np.ndarray]) -> None:
        """Store a batch of episodes {key: (B, T or T+1, dim)}; with MI prioritization it must hold
        their priorities ``p`` (B, 1) (see ``mi_priorities``)."""
        sizes = {key: len(value) for key, value in episode_batch.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"episode batch arrays disagree on the number of episodes: {sizes}")
        batch_size = next(iter(sizes.values()))
        for key, shape in self.buffer_shapes.items():
            if key not in episode_batch:
                raise ValueError(f"episode batch lacks {key!r} (has {sorted(episode_batch)})")
            if episode_batch[key].shape[1:] != tuple(shape):
                given, expected = episode_batch[key].shape, ", ".join(map(str, shape))
                raise ValueError(f"episode batch {key!r} has shape {given}, expected (B, {expected})")
        if self.mi_prioritization and "p" not in episode_batch:
            raise ValueError("this buffer prioritizes by MI: the episode batch needs priorities 'p' (mi_priorities)")
        with self.lock:
            idxs = self._get_storage_idx(batch_size)
            for key in self.buffers:
                self.buffers[key][idxs] = episode_batch[key]
            self.n_transitions_stored += batch_size * self.T

    def random_observations(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """The observations (n, T+1, dimo) of n stored episodes drawn uniformly (MINE's batch)."""
        idx = rng.integers(0, self.current_size, n)
        return self.buffers["o"][idx]

    def random_steps(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Observations (n, dimo) and skills (n, dimz) of n stored steps drawn uniformly (the skill batch)."""
        idx = rng.integers(0, self.current_size, n)
        t = rng.integers(0, self.T, n)
        return self.buffers["o"][idx, t], self.buffers["z"][idx, t]

    def state_dict(self, with_data: bool = True) -> dict:
        """Counters, and with ``with_data`` the stored episodes ({key: (episodes, ...)})."""
        with self.lock:
            n = self.current_size
            return {"saved": with_data, "current_size": n, "n_transitions_stored": self.n_transitions_stored,
                    "size": self.size,
                    "arrays": {key: value[:n].copy() for key, value in self.buffers.items()} if with_data else {}}

    def load_state_dict(self, state: dict) -> None:
        """Put stored episodes back; a state without data leaves the buffer empty."""
        with self.lock:
            self.current_size = 0
            if not state["saved"]:
                return
            n = int(state["current_size"])
            if n > self.size:
                raise ValueError(f"{n} episodes do not fit in this buffer of {self.size}")
            for key in self.buffers:
                self.buffers[key][:n] = state["arrays"][key]
            self.current_size = n
            self.n_transitions_stored = int(state["n_transitions_stored"])

    def get_current_episode_size(self) -> int:
        with self.lock:
            return self.current_size

    def get_current_size(self) -> int:
        """Transitions stored (episodes * T)."""
        with self.lock:
            return self.current_size * self.T

    def get_transitions_stored(self) -> int:
        with self.lock:
            return self.n_transitions_stored

    def clear_buffer(self) -> None:
        with self.lock:
            self.current_size = 0

    def _get_storage_idx(self, inc: int) -> np.ndarray:
        # Fill slots in order until the end, then overwrite random old episodes.
        if inc > self.size:
            raise ValueError(f"{inc} episodes do not fit in a buffer of {self.size} episodes")
        if self.current_size + inc <= self.size:
            idx = np.arange(self.current_size, self.current_size + inc)
        elif self.current_size < self.size:
            overflow = inc - (self.size - self.current_size)
            idx = np.concatenate(
                [np.arange(self.current_size, self.size), self.rng.integers(0, self.current_size, overflow)]
            )
        else:
            idx = self.rng.integers(0, self.size, inc)
        self.current_size = min(self.size, self.current_size + inc)
        return idx
