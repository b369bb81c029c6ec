"""Install the ``music`` package. Pins live in the requirements*.txt files (library, mpich extra,
dev extra), which the sdist carries (MANIFEST.in).

Package data: the variants' params files (``music/params``) and a copy of the shipped
pretrained weights, the final ``policy_<epoch>_weight.npz`` of each exported pretraining run
of the shipped campaigns (``music/shipped.py``) with its ``params.json`` (from
``experiments/results/<campaign>`` into ``music/pretrained/<campaign>``), so that an installed
package finds ``pretrained:`` names as a clone does (``music.config.shipped_weights_dir``).
"""

import runpy
import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).parent
RESULTS = HERE / "experiments" / "results"
SHIPPED_CAMPAIGNS = runpy.run_path(str(HERE / "music" / "shipped.py"))["SHIPPED_CAMPAIGNS"]


def read_requirements(name: str) -> list[str]:
    lines = (HERE / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def shipped_files() -> list[Path]:
    """The files of the shipped weights, relative to ``RESULTS``: each run's last weights and its params.json."""
    files = []
    for campaign in SHIPPED_CAMPAIGNS:
        for run in sorted(p.parent for p in (RESULTS / campaign).glob("*/*/seed*/policy_*_weight.npz")):
            weights = sorted(run.glob("policy_*_weight.npz"), key=lambda p: int(p.name.split("_")[1]))
            files += [weights[-1].relative_to(RESULTS), (run / "params.json").relative_to(RESULTS)]
    return sorted(set(files))


class BuildWithShippedWeights(build_py):
    """The usual build, plus the shipped weights copied into the package as ``music/pretrained``."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):  # an editable install reads the clone's exports where they are
            return
        target = Path(self.build_lib) / "music" / "pretrained"
        for rel in shipped_files():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(RESULTS / rel, target / rel)


setup(
    name="music-tf2",
    version="0.1.0",
    description="MUSIC (Mutual Information State Intrinsic Control, ICLR 2021) in TensorFlow 2",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="MIT",
    license_files=["LICENSE"],
    project_urls={
        "Paper": "https://openreview.net/forum?id=OthEq8I5v1",
        "Original code (TF1)": "https://github.com/ruizhaogit/music",
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "Operating System :: POSIX :: Linux",
        "Intended Audience :: Science/Research",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
    packages=find_packages(include=["music", "music.*"]),
    package_data={"music": ["params/*/*.json", "params/README.md"]},
    cmdclass={"build_py": BuildWithShippedWeights},
    python_requires=">=3.10",
    install_requires=read_requirements("requirements.txt"),
    extras_require={
        # The mpich wheel brings mpiexec/mpirun. Leave it out on a cluster with its own MPI.
        "mpich": read_requirements("requirements-mpich.txt"),
        "dev": read_requirements("requirements-dev.txt"),
    },
    entry_points={
        "console_scripts": [
            "music-train = music.train:main",
            "music-play = music.play:main",
            "music-evaluate = music.evaluate:main",
            "music-save-weight = music.save_weight:main",
            "music-plot = music.plot:main",
        ],
    },
)
