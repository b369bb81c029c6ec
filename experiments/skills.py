"""Skill discovery: DIAYN alone and MUSIC+DIAYN (DIAYN skills from a 5-skill MUSIC checkpoint).

    python experiments/skills.py --scale small
    python -m music.plot --skills experiments/results/skills/FetchPickAndPlace-v1/MUSIC+DIAYN/seed0/policy_latest.pkl
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from music.sweep import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main("skills", ["DIAYN", "MUSIC+DIAYN"], __doc__.splitlines()[0],
                  default_tasks=("FetchPickAndPlace-v1",)))
