import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TESTS = Path(__file__).parent
REPO = TESTS.parent

MI_SCHEDULE = [(0, 1), (50, 1), (200, 1)]
ET_SCHEDULE = [(0, 0.2), (24, 0.2), (200, 0.2)]


def sparse_reward(ag_2, g, info=None):
    """Fetch's sparse reward: 0 within 0.05 of the goal, else -1 (batched)."""
    return -(np.linalg.norm(ag_2 - g, axis=-1) > 0.05).astype(np.float32)


def agent_args(**overrides):
    """(Params, run facts) of a test agent: the original's defaults, small networks and buffer
    for speed, HER with replay_k 4, on a Fetch object task. ``overrides`` may name Params
    fields and DDPG's other keyword arguments."""
    from dataclasses import replace

    from music.config import PARAM_FIELDS, Params
    from music.her import make_sample_her_transitions

    params = replace(Params(), buffer_size=10_000, hidden=32, batch_size=64)
    params = replace(params, **{k: overrides.pop(k) for k in list(overrides) if k in PARAM_FIELDS})
    sampler_args = dict(replay_strategy="future", replay_k=4, reward_fun=sparse_reward,
                        mi_w_schedule=MI_SCHEDULE, et_w_schedule=ET_SCHEDULE,
                        mi_prioritization=params.mi_prioritization)
    run = dict(input_dims=dict(o=25, z=1, g=3, u=4, info_is_success=1), T=50, env_name="FetchPush-v1", seed=0,
               sample_transitions=make_sample_her_transitions(**sampler_args))
    run.update(overrides)
    return params, run


def experiment_script(name: str):
    """experiments/<name>.py as a module (the scripts are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "experiments" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickles look their module up
    spec.loader.exec_module(module)
    return module


def make_agent(**overrides):
    from music.ddpg import DDPG

    params, run = agent_args(**overrides)
    return DDPG(params, **run)


def random_episodes(rng, n=2, T=50, dimo=25, dimz=1, dimg=3, dimu=4):
    return dict(
        o=rng.normal(size=(n, T + 1, dimo)), ag=rng.normal(size=(n, T + 1, dimg)),
        g=rng.normal(size=(n, T, dimg)), u=rng.uniform(-1, 1, (n, T, dimu)),
        z=np.eye(dimz)[rng.integers(0, dimz, n)][:, None, :].repeat(T, axis=1),
        info_is_success=np.zeros((n, T, 1)),
    )


def mpiexec() -> str:
    candidate = Path(sys.executable).parent / "mpiexec"
    found = str(candidate) if candidate.exists() else shutil.which("mpiexec")
    if not found:
        pytest.skip("no mpiexec found (install the mpich extra or a system MPI)")
    return found


def run_mpi(script: str, n: int = 2, timeout: int = 300) -> str:
    """Run tests/mpi_scripts/<script> under ``mpiexec -n n``; fail with its output if it fails."""
    cmd = [mpiexec(), "-n", str(n), sys.executable, str(TESTS / "mpi_scripts" / script)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="session", autouse=True)
def temporary_files_in_the_session_folder(tmp_path_factory):
    """Point TMPDIR, for this process and every process a test starts, at a folder of the
    session's own, which pytest keeps for its last few sessions and then removes.

    Runs without --logdir write to $TMPDIR/openai-<time> as the original did, TF leaves its
    autograph files there and MPICH its hwloc files: before, two suites had left 8 run folders
    and 388 autograph files in /tmp.
    """
    import tempfile

    folder = tmp_path_factory.mktemp("tmpdir")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TMPDIR", str(folder))
        patch.setattr(tempfile, "tempdir", str(folder))
        yield folder
