"""The README and docs/: internal links resolve, the variants table is --list_notes', and every
command they show runs (smaller: one epoch of one cycle, a few episodes, 2 ranks at most) or is
named here as run by another test. docs/custom_envs.md's commands run in tests/test_custom_envs.py."""

import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from conftest import REPO

PAGES = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def anchors(path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings."""
    out = set()
    for heading in re.findall(r"(?m)^#+ (.*)$", path.read_text()):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


def test_every_internal_link_and_named_doc_page_exists():
    broken = []
    for page in PAGES:
        text = page.read_text()
        for target in LINK.findall(text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            if not resolved.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{page.name}: {target} (no such heading)")
        for named in re.findall(r"\b((?:docs/)[\w]+\.md)\b", text):  # pages named in prose
            if not (REPO / named).exists():
                broken.append(f"{page.name}: {named}")
    assert not broken, broken


@pytest.mark.parametrize("page", ["README.md", "docs/training.md"])
def test_the_variants_table_is_what_list_notes_lists(page):
    from music.train import list_notes

    listed = {note for line in list_notes().splitlines() for note in line.split(": ", 1)[1].split(", ")}
    table = re.search(r"\| note \| what it is \|\n\|---\|---\|\n(.*?)\n\n", (REPO / page).read_text(), re.S)
    in_table = {name for row in table.group(1).splitlines() for name in re.findall(r"`([^`]+)`", row.split(" | ")[0])}
    assert in_table == listed


# ---------------------------------------------------------------- the commands
SMALLER = {
    "music.train": ["--n_epochs", "1", "--n_cycles", "1", "--param", "n_batches=2", "--param", "n_test_rollouts=1",
                    "--param", "batch_size=32", "--param", "buffer_size=5000", "--progress", "off"],
    "music.evaluate": ["--episodes", "2"],
    "music.play": ["--n_test_rollouts", "1"],
    "music.plot": [],
    "music.save_weight": [],
}
# Commands shown but run elsewhere: by CI itself, by another test, or too long for a test.
ELSEWHERE = {
    "make train": "started by hand for the README's output; the same command as music.train's defaults",
    "make test": "what CI runs",
    "docker ": "tests/test_docker.py (launch/test_containers.sh)",
    "mkdir -p logs && sudo": "part of the Docker example (tests/test_docker.py)",
    "/usr/sbin/sshd": "the MPIJob's worker command (launch/test_containers.sh)",
    "HYDRA_HOST_FILE=": "the MPIJob's launcher command (launch/test_containers.sh)",
    "launch/": "tests/test_launch.py: their argument checks and dry runs (a cluster is not at hand)",
    "python launch/submit_sweep.py": "tests/test_launch.py: the submission order, as a dry run",
    "bash experiments/measure_object_motion.sh": "100 episodes of two policies per seed: too long for a test",
    ".venv/bin/python experiments/campaign_medium.py start": "starts a campaign runner: tests/test_campaign.py",
}


def doc_commands(page) -> list[str]:
    """The command lines of a page's bash blocks (continuations joined, comments dropped)."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", page.read_text(), flags=re.S):
        current = ""
        for line in block.splitlines():
            current = f"{current} {line.strip()}".strip()
            if current.endswith("\\"):
                current = current[:-1]
                continue
            if current and not current.startswith("#"):
                lines.append(current.split("  #")[0].strip())
            current = ""
    return lines


# Inputs the docs name that a clone does not hold until you run their sweeps: what stands in.
STAND_INS = {
    "experiments/results/intrinsic": "experiments/results/medium",  # intrinsic_only.py's, not committed
    # a skill run's policy: the chain's MUSIC policy plots as well (one skill)
    "experiments/results/skills/FetchPickAndPlace-v1/MUSIC+DIAYN/seed0/policy_latest.npz":
        "logs/FetchPush-v1/SAC+MUSIC/seed0/policy_latest.npz",
}


def smaller(command: str, tmp) -> list[str] | None:
    """The command as the test runs it (in a folder of its own), or None if it is run elsewhere."""
    if any(command.startswith(prefix) for prefix in ELSEWHERE):
        return None
    words = [STAND_INS.get(w, w) for w in shlex.split(command)]
    if words[0] == ".venv/bin/mpirun":  # at most 2 ranks here
        assert words[1] == "-np", command
        words = [shutil.which("mpiexec", path=os.path.dirname(sys.executable)), "-n", str(min(int(words[2]), 2)),
                 *words[3:]]
    words = [sys.executable if w == ".venv/bin/python" else w for w in words]
    if "--num_cpu" in words:
        i = words.index("--num_cpu")
        words[i + 1] = str(min(int(words[i + 1]), 2))
    if "-m" in words:
        words += SMALLER[words[words.index("-m") + 1]]
    elif words[1].startswith("experiments/"):
        script = words[1].rsplit("/", 1)[1]
        if script in ("intrinsic_only.py", "task_reward.py", "transfer.py", "skills.py") and "--dry-run" not in words:
            words.append("--dry-run")  # the sweeps: their runs and commands, not hours of training
    # the repository's files are read where they are; what a command writes goes to the test's folder
    words = [str(REPO / w) if w.startswith("experiments/") else w for w in words]
    for option in ("--out", "--figures"):
        if option in words:
            i = words.index(option)
            words[i + 1] = str(tmp / os.path.basename(words[i + 1]))
    return words


# The pretraining chain: evaluate_play.md's and reproducing.md's commands read the files pretrained.md's make.
CHAIN = ["pretrained.md", "evaluate_play.md", "reproducing.md"]


def run_commands(pages, folder, env) -> int:
    """Run the pages' commands in order, each page in ``folder(page)``; how many ran."""
    ran, seen = 0, set()
    for page in pages:
        cwd = folder(page)
        cwd.mkdir(exist_ok=True)
        for command in doc_commands(page):
            words = smaller(command, cwd)
            if words is None or (cwd, *words) in seen:  # shown twice on a page: once is the check
                continue
            seen.add((cwd, *words))
            proc = subprocess.run(words, capture_output=True, text=True, timeout=900, cwd=cwd, env=env)
            assert proc.returncode == 0, f"{page.name}: {command}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
            ran += 1
            if "--note SAC+MUSIC --seed 0 --logdir logs/FetchPush-v1/SAC+MUSIC/seed0" in command:
                # the chain's later steps read the 50th epoch's policy: the test's one epoch stands in for it
                run = cwd / "logs" / "FetchPush-v1" / "SAC+MUSIC" / "seed0"
                for suffix in (".pkl", ".npz"):
                    shutil.copyfile(run / f"policy_0{suffix}", run / f"policy_49{suffix}")
    return ran


@pytest.mark.slow
def test_every_command_of_the_docs_runs(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO), "MUSIC_RUNS": str(tmp_path / "runs")}
    chain = [REPO / "docs" / name for name in CHAIN]
    others = [p for p in PAGES if p.name not in CHAIN and p.name != "custom_envs.md"]  # custom_envs: its own test
    # two lanes at once, the chain in one folder and the other pages each in a folder of its own:
    # much of a command's time is spent on one core (starting Python and TF)
    with ThreadPoolExecutor(2) as pool:
        lanes = [pool.submit(run_commands, chain, lambda page: tmp_path / "pretrained", env),
                 pool.submit(run_commands, others, lambda page: tmp_path / page.stem, env)]
        ran = sum(lane.result() for lane in lanes)
    assert ran >= 25
