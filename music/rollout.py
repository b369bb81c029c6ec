"""Rollout worker: runs the policy in ``rollout_batch_size`` environments for T steps."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

import numpy as np

from music.envs import canonical_env_name, known_split, set_goal, take

log = logging.getLogger(__name__)


# A block nobody touches still settles by ~2e-8 m in the simulator; motion below this
# counts as none, so that an untouched object logs exactly 0.
RESTING_TOLERANCE = 1e-6  # m


def object_motion(path: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per episode, from surrounding states ``path`` (n, T+1, d): the distance between the first and
    last state and, for 3-D positions (d = 3: the Fetch object), the highest rise above the first
    height; in m for the Fetch tasks (0 below RESTING_TOLERANCE; lift 0 when d != 3)."""
    displacement = np.linalg.norm(path[:, -1] - path[:, 0], axis=-1)
    lift = np.max(path[:, :, 2] - path[:, :1, 2], axis=1) if path.shape[-1] == 3 else np.zeros(len(path))
    return (np.where(displacement < RESTING_TOLERANCE, 0.0, displacement),
            np.where(lift < RESTING_TOLERANCE, 0.0, lift))


def exploring_goals(params: dict, rollout_worker) -> np.ndarray | None:
    """The goals the exploring episodes pursue in place of the env's (``goal_generation`` Zero:
    the origin), else None (the env's own)."""
    return np.zeros(rollout_worker.g.shape) if params["goal_generation"] == "Zero" else None


class RolloutError(RuntimeError):
    """Episodes kept failing (NaN observations) after the allowed number of retries."""


class RolloutWorker:
    """Generates episodes with ``policy`` in ``rollout_batch_size`` environments.

    Args:
        make_env: factory returning a new environment.
        policy: the agent (``get_actions``).
        dims: sizes {'o', 'g', 'u', 'z', 'info_*'}.
        T: steps per episode.
        rollout_batch_size: number of environments, stepped one after the other.
        exploit: act greedily (no noise, no random actions), as in test rollouts.
        use_target_net: act with the target networks.
        compute_Q: record Q(o, pi(o)) along the way (the ``mean_Q`` log).
        noise_eps, random_eps: exploration (see ``DDPG.get_actions``).
        history_len: number of recent rollouts the logged statistics cover.
        render: collect RGB frames, rendered in a helper process (see ``music.render``).
        env_name: the task, whose registered split says where the object sits in the observation
            (displacement logs) when the policy has no split of its own.
        max_nan_retries: consecutive NaN episodes allowed before giving up.
    """

    def __init__(
        self,
        make_env: Callable,
        policy,
        dims: dict[str, int],
        T: int,
        rollout_batch_size: int = 1,
        exploit: bool = False,
        use_target_net: bool = False,
        compute_Q: bool = False,
        noise_eps: float = 0.0,
        random_eps: float = 0.0,
        history_len: int = 100,
        render: bool = False,
        env_name: str | None = None,
        max_nan_retries: int = 10,
    ):
        if T <= 0:
            raise ValueError(f"T must be positive, got {T}")
        self.envs = [make_env() for _ in range(rollout_batch_size)]
        self.policy = policy
        self.dims = dims
        self.T = T
        self.rollout_batch_size = rollout_batch_size
        self.exploit = exploit
        self.use_target_net = use_target_net
        self.compute_Q = compute_Q
        self.noise_eps = noise_eps
        self.random_eps = random_eps
        self.render = render
        self.max_nan_retries = max_nan_retries
        self.info_keys = [key[len("info_"):] for key in dims if key.startswith("info_")]
        # the policy's split (registered or declared), else the task's registered one
        split = getattr(policy, "split", None) or (known_split(env_name) if env_name else None)
        self.object_slice = split.surrounding if split else None  # a slice or indices (music.envs.Index)
        self.renderer = None
        if render:
            from music.render import make_renderer

            self.renderer = make_renderer(canonical_env_name(env_name or "FetchPush-v4"), self.envs[0])

        self.success_history: deque = deque(maxlen=history_len)
        self.Q_history: deque = deque(maxlen=history_len)
        self.displacement_history: deque = deque(maxlen=history_len)
        self.lift_history: deque = deque(maxlen=history_len)
        self.n_episodes = 0
        self.nan_retries = 0
        self._seeds: list[int | None] = [None] * rollout_batch_size
        self.g = np.empty((rollout_batch_size, dims["g"]), np.float32)
        self.initial_o = np.empty((rollout_batch_size, dims["o"]), np.float32)
        self.initial_ag = np.empty((rollout_batch_size, dims["g"]), np.float32)
        # Object positions in the simulator's float64 for the displacement and lift logs:
        # float32 copies of a resting object differ by ~3e-8 m of rounding.
        self.initial_object = np.zeros((rollout_batch_size, split.dim_surrounding if split else 0))

    def seed(self, seed: int) -> None:
        """Env i is seeded with seed + 1000 * i at its next reset (as the original)."""
        self._seeds = [seed + 1000 * i for i in range(self.rollout_batch_size)]

    def reset_rollout(self, i: int, generated_goal: np.ndarray | None) -> None:
        obs, _ = self.envs[i].reset(seed=self._seeds[i])
        self._seeds[i] = None  # gymnasium keeps its stream going after the first seeded reset
        self.g[i] = obs["desired_goal"]
        if generated_goal is not None:
            set_goal(self.envs[i], generated_goal[i])
            self.g[i] = generated_goal[i]
        self.initial_o[i] = obs["observation"]
        self.initial_ag[i] = obs["achieved_goal"]
        if self.object_slice is not None:
            self.initial_object[i] = take(obs["observation"], self.object_slice)

    def generate_rollouts(self, generated_goal: np.ndarray | None = None, z_s_onehot: np.ndarray | None = None):
        """Run one episode in every env. Returns {key: (rollout_batch_size, T or T+1, dim)}.

        ``generated_goal`` (rollout_batch_size, dimg) replaces the env goals (Zero goals);
        ``z_s_onehot`` (rollout_batch_size, num_skills) are the skills. With ``render``
        also returns frames (rollout_batch_size, T, H, W, 3) first.
        """
        if z_s_onehot is None:
            z_s_onehot = np.eye(self.dims["z"])[np.zeros(self.rollout_batch_size, int)]
        for attempt in range(self.max_nan_retries + 1):
            result = self._rollout(generated_goal, z_s_onehot)
            if result is not None:
                return result
            self.nan_retries += 1
            log.warning("NaN caught during rollout generation (attempt %d). Trying again...", attempt + 1)
        raise RolloutError(
            f"the environment returned NaN observations in {self.max_nan_retries + 1} rollouts in a row; "
            "check the actions (max_u) and the simulator state"
        )

    def _rollout(self, generated_goal, z_s_onehot):
        n = self.rollout_batch_size
        for i in range(n):
            self.reset_rollout(i, generated_goal)
        o, ag = self.initial_o.copy(), self.initial_ag.copy()
        z = np.asarray(z_s_onehot, np.float32).copy()
        obs, zs, achieved, acts, goals, successes, qs = [], [], [], [], [], [], []
        info_values = {k: np.empty((self.T, n, self.dims["info_" + k]), np.float32) for k in self.info_keys}
        frames = [[] for _ in range(n)] if self.render else None
        object_path = [self.initial_object.copy()]  # float64, (n, dim_surrounding) per step
        for t in range(self.T):
            out = self.policy.get_actions(
                o, z, ag, self.g, compute_Q=self.compute_Q,
                noise_eps=0.0 if self.exploit else self.noise_eps,
                random_eps=0.0 if self.exploit else self.random_eps,
                use_target_net=self.use_target_net,
            )
            u, q = out if self.compute_Q else (out, None)
            u = u.reshape(n, -1)
            if q is not None:
                qs.append(q)
            o_new = np.empty((n, self.dims["o"]))
            ag_new = np.empty((n, self.dims["g"]))
            success = np.zeros(n)
            for i, env in enumerate(self.envs):
                # the env's own reward is ignored: HER recomputes it with compute_reward
                step_obs, _, _, _, info = env.step(u[i])
                success[i] = info.get("is_success", 0.0)
                o_new[i] = step_obs["observation"]
                ag_new[i] = step_obs["achieved_goal"]
                for key in self.info_keys:
                    info_values[key][t, i] = info[key]
                if self.renderer is not None:
                    frames[i].append(self.renderer.render(env))
            if np.isnan(o_new).any():
                return None
            if self.object_slice is not None:
                object_path.append(take(o_new, self.object_slice).copy())
            obs.append(o.copy())
            zs.append(z.copy())
            achieved.append(ag.copy())
            successes.append(success)
            acts.append(u.copy())
            goals.append(self.g.copy())
            o[...] = o_new
            ag[...] = ag_new
        obs.append(o.copy())
        achieved.append(ag.copy())

        episode = {"o": obs, "z": zs, "u": acts, "g": goals, "ag": achieved}
        episode.update({f"info_{k}": v for k, v in info_values.items()})
        episode = {k: np.swapaxes(np.asarray(v), 0, 1).copy() for k, v in episode.items()}

        self.success_history.append(float(np.mean(successes[-1])))
        if self.compute_Q:
            self.Q_history.append(float(np.mean(qs)))
        if self.object_slice is not None:
            displacement, lift = object_motion(np.stack(object_path, axis=1))
            self.displacement_history.append(float(np.mean(displacement)))
            self.lift_history.append(float(np.mean(lift)))
        self.n_episodes += n
        if self.render:
            return np.asarray(frames, dtype=np.uint8), episode
        return episode

    def _histories(self) -> dict[str, deque]:
        """The logged histories under their checkpoint keys."""
        return {"success_history": self.success_history, "Q_history": self.Q_history,
                "displacement_history": self.displacement_history, "lift_history": self.lift_history}

    def state_dict(self) -> dict:
        """Counters, pending env seeds, the envs' random states and the logged histories (JSON-able)."""
        return {"n_episodes": self.n_episodes, "nan_retries": self.nan_retries, "seeds": list(self._seeds),
                "env_rng": [env.unwrapped.np_random.bit_generator.state for env in self.envs],
                "history": {key: list(history) for key, history in self._histories().items()}}

    def load_state_dict(self, state: dict) -> None:
        if len(state["env_rng"]) != len(self.envs):
            raise ValueError(f"the state has {len(state['env_rng'])} envs for a worker with {len(self.envs)}")
        self.n_episodes = state["n_episodes"]
        self.nan_retries = state["nan_retries"]
        self._seeds = list(state["seeds"])
        for env, rng_state in zip(self.envs, state["env_rng"], strict=True):
            env.unwrapped.np_random.bit_generator.state = rng_state
        for key, history in self._histories().items():
            history.clear()
            history.extend(state["history"][key])

    def clear_history(self) -> None:
        for history in self._histories().values():
            history.clear()

    def current_success_rate(self) -> float:
        return float(np.mean(self.success_history)) if self.success_history else 0.0

    def current_mean_Q(self) -> float:
        return float(np.mean(self.Q_history)) if self.Q_history else 0.0

    def logs(self, prefix: str = "worker") -> list[tuple[str, float]]:
        """success_rate, mean_Q (if computed), episode, object_displacement and object_lift (object tasks)."""
        logs = [("success_rate", self.current_success_rate())]
        if self.compute_Q:
            logs.append(("mean_Q", self.current_mean_Q()))
        logs.append(("episode", self.n_episodes))
        if self.object_slice is not None:
            logs.append(("object_displacement", float(np.mean(self.displacement_history or [0.0]))))
            logs.append(("object_lift", float(np.mean(self.lift_history or [0.0]))))
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return [(prefix + key, val) for key, val in logs]
