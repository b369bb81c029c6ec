"""With task reward: SAC alone against SAC+MUSIC-r (MI reward), -p (MI-prioritized replay), -f (fine-tuning).

The -r/-p/-f runs first train their SAC+MUSIC pretraining run of the same seed and load it.

    python experiments/task_reward.py --scale small
    python experiments/task_reward.py --scale paper --variants SAC SAC+MUSIC-r SAC+MUSIC-p SAC+MUSIC-f DDPG DDPG+MUSIC-r
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from music.sweep import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main("task_reward", ["SAC", "SAC+MUSIC-r", "SAC+MUSIC-p", "SAC+MUSIC-f"], __doc__.splitlines()[0]))
