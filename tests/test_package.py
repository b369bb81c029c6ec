"""The package as a user installs it: ``python -m build`` gives an sdist and a wheel built from
it; the wheel carries the params files, the shipped weights and the console scripts; installed
in a fresh virtual environment it trains a 1-cycle run with shipped weights from a folder
outside the repository."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO


def quiet_env(**extra) -> dict:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PIP_DISABLE_PIP_VERSION_CHECK": "1", **extra}


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)], capture_output=True,
                          text=True, timeout=900, env=quiet_env())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Building wheel from sdist" in done.stdout + done.stderr  # the wheel is built from the sdist
    return out


def shipped_runs() -> list[str]:
    from music.shipped import SHIPPED_CAMPAIGNS

    root = REPO / "experiments" / "results"
    return sorted("/".join(p.parent.relative_to(root).parts) for campaign in SHIPPED_CAMPAIGNS
                  for p in (root / campaign).glob("*/*/seed*/policy_*_weight.npz"))


@pytest.mark.slow
def test_the_sdist_carries_the_pins_and_the_wheel_the_data_and_scripts(dist):
    import tarfile

    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {Path(n).relative_to(Path(n).parts[0]).as_posix() for n in tar.getnames() if "/" in n}
    assert {"requirements.txt", "requirements-mpich.txt", "requirements-dev.txt", "LICENSE", "README.md"} <= names
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as z:
        files = set(z.namelist())
        metadata = z.read(next(n for n in files if n.endswith("METADATA"))).decode()
        scripts = z.read(next(n for n in files if n.endswith("entry_points.txt"))).decode()
    params = {p.relative_to(REPO).as_posix() for p in (REPO / "music" / "params").glob("*/*.json")}
    assert params and params <= files  # every variant's params file
    for run in shipped_runs():  # every shipped run: its weights and its params.json
        assert f"music/pretrained/{run}/params.json" in files
        assert any(f.startswith(f"music/pretrained/{run}/policy_") and f.endswith("_weight.npz") for f in files)
    assert not any(f.startswith(("tests/", "experiments/", "benchmarks/")) for f in files)
    for name in ("music-train", "music-play", "music-evaluate", "music-save-weight", "music-plot"):
        assert f"{name} = music." in scripts
    assert "License: MIT" in metadata and "Requires-Dist: tensorflow-cpu==" in metadata
    assert "# music-tf2" in metadata  # the README as the long description


@pytest.mark.slow
def test_the_wheel_installed_in_a_fresh_venv_trains_with_shipped_weights_outside_the_repo(dist, tmp_path):
    (wheel,) = dist.glob("*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", f"{wheel}[mpich]"], capture_output=True,
                         text=True, timeout=1200, env=quiet_env())
    assert pip.returncode == 0, pip.stderr[-3000:]
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = quiet_env(PYTHONPATH="")  # the installed package, not the clone's
    notes = subprocess.run([str(venv / "bin" / "music-train"), "--list_notes"], capture_output=True, text=True,
                           cwd=outside, env=env, timeout=300)
    assert notes.returncode == 0 and "FetchPush-v1: " in notes.stdout, notes.stderr[-2000:]
    run = outside / "run"
    done = subprocess.run([str(venv / "bin" / "music-train"), "--env_name", "FetchPush-v1", "--note", "SAC+MUSIC-r",
                           "--n_epochs", "1", "--n_cycles", "1", "--param", "n_batches=2", "--param",
                           "n_test_rollouts=1", "--param", 'load_weight="pretrained:seed0"', "--logdir", str(run)],
                          capture_output=True, text=True, cwd=outside, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    log = (run / "log.txt").read_text()
    installed = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    assert f"Pretrained weights from {installed}/music/pretrained/medium/FetchPush-v1/SAC+MUSIC/seed0/" in log
    assert len((run / "progress.csv").read_text().splitlines()) == 2  # the header and epoch 0
