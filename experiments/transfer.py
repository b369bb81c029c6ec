"""Transfer: DDPG+MUSIC-t on Push and Slide uses the MI estimator pretrained on PickAndPlace.

    python experiments/transfer.py --scale small
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from music.sweep import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main("transfer", ["DDPG", "DDPG+MUSIC-r", "DDPG+MUSIC-t"], __doc__.splitlines()[0],
                  default_tasks=("FetchPush-v1",)))
