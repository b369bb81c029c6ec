"""Install the ``music`` package. Pins live in the requirements*.txt files (library, mpich extra, dev extra)."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_requirements(name: str) -> list[str]:
    lines = (HERE / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


setup(
    name="music-tf2",
    version="0.1.0",
    description="MUSIC (Mutual Information State Intrinsic Control, ICLR 2021) in TensorFlow 2",
    packages=find_packages(include=["music", "music.*"]),
    python_requires=">=3.10",
    install_requires=read_requirements("requirements.txt"),
    extras_require={
        # The mpich wheel brings mpiexec/mpirun. Leave it out on a cluster with its own MPI.
        "mpich": read_requirements("requirements-mpich.txt"),
        "dev": read_requirements("requirements-dev.txt"),
    },
)
