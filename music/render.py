"""Headless rendering of the env being rolled out (``make_renderer``).

MuJoCo tasks are rendered in a separate process: TensorFlow and Mesa's software OpenGL
(llvmpipe, used by MUJOCO_GL=egl or osmesa on a machine without a GPU) each carry their
own copy of LLVM, and one process cannot load both: whichever comes second crashes while
initializing. So frames are rendered by a helper process that never imports TensorFlow.
It holds its own copy of the task; for each frame it receives the simulator state of the
env being rolled out (and its goal), copies it in, and renders. Envs without a MuJoCo
simulator (MusicPointPush-v0 draws with numpy) render themselves, in this process.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

import numpy as np

# Frames of 500 x 500 pixels, the size the original's videos had (gym's Fetch render default).
FRAME_SIZE = 500


def _state_spec():
    import mujoco

    return mujoco.mjtState.mjSTATE_INTEGRATION


def get_sim_state(env) -> np.ndarray:
    """The full integration state (time, qpos, qvel, act, mocap, ...) of a MuJoCo env."""
    import mujoco

    model, data = env.unwrapped.model, env.unwrapped.data
    state = np.empty(mujoco.mj_stateSize(model, _state_spec()))
    mujoco.mj_getState(model, data, state, _state_spec())
    return state


def _serve(conn, env_name: str) -> None:
    os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        import mujoco

        from music.envs import make_env

        env = make_env(env_name, render_mode="rgb_array", frame_size=FRAME_SIZE)
        env.reset(seed=0)
        model, data = env.unwrapped.model, env.unwrapped.data
        conn.send("ready")
    except Exception as err:  # report set-up failures to the parent instead of dying silently
        conn.send(RuntimeError(f"renderer for {env_name} failed to start: {type(err).__name__}: {err}"))
        return
    while True:
        message = conn.recv()
        if message is None:
            break
        state, goal = message
        try:
            mujoco.mj_setState(model, data, state, _state_spec())
            mujoco.mj_forward(model, data)
            if goal is not None:
                env.unwrapped.goal = goal.copy()
            conn.send(np.ascontiguousarray(env.render(), dtype=np.uint8))
        except Exception as err:
            conn.send(RuntimeError(f"rendering failed: {type(err).__name__}: {err}"))
    env.close()


def make_renderer(env_name: str, env):
    """The renderer for ``env``, one of ``env_name``'s envs: ``SubprocessRenderer`` for a MuJoCo
    task, else ``SelfRenderer``."""
    simulated = hasattr(env.unwrapped, "model") and hasattr(env.unwrapped, "data")
    return SubprocessRenderer(env_name) if simulated else SelfRenderer()


class SelfRenderer:
    """Frames of an env without a MuJoCo simulator, drawn by its own ``render()`` (no OpenGL,
    so no helper process). The env renders as ``rgb_array`` from the first frame on."""

    def render(self, env) -> np.ndarray:
        unwrapped = env.unwrapped
        unwrapped.render_mode = "rgb_array"  # rollout envs are made without a render mode
        frame = unwrapped.render()
        if frame is None:
            raise RuntimeError(f"{type(unwrapped).__name__}.render() gave no rgb_array frame")
        return np.ascontiguousarray(frame, dtype=np.uint8)

    def close(self) -> None:
        pass


class SubprocessRenderer:
    """Renders RGB frames (H, W, 3) uint8 of ``env_name`` envs in a helper process."""

    def __init__(self, env_name: str, timeout: float = 120.0):
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, env_name), daemon=True)
        self._proc.start()
        self.timeout = timeout
        reply = self._receive()
        if isinstance(reply, Exception):
            raise reply

    def _receive(self):
        if not self._conn.poll(self.timeout):
            self.close()
            raise RuntimeError(f"renderer process did not answer within {self.timeout:.0f} s")
        return self._conn.recv()

    def render(self, env) -> np.ndarray:
        goal = getattr(env.unwrapped, "goal", None)
        self._conn.send((get_sim_state(env), None if goal is None else np.asarray(goal)))
        frame = self._receive()
        if isinstance(frame, Exception):
            raise frame
        return frame

    def close(self) -> None:
        if self._proc.is_alive():
            try:
                self._conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            self._proc.join(timeout=10)
            if self._proc.is_alive():
                self._proc.kill()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def save_video(frames: np.ndarray, path: Path | str, fps: float = 30.0) -> None:
    """Write frames (n, H, W, 3) uint8 as an mp4, atomically."""
    import imageio.v2 as imageio

    from music.files import atomic_path

    with atomic_path(path) as tmp, imageio.get_writer(tmp, fps=fps, macro_block_size=1) as writer:
        for frame in frames:
            writer.append_data(np.asarray(frame, dtype=np.uint8))
