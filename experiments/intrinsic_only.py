"""MUSIC alone (no task reward): does the agent learn to move, and lift, the object?

    python experiments/intrinsic_only.py --scale small      # 2 ranks, fits a 2-core machine
    python experiments/intrinsic_only.py --scale paper      # 16 ranks, 50 epochs, 5 seeds, 3 tasks
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from music.sweep import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main("intrinsic", ["SAC+MUSIC", "DDPG+MUSIC"], __doc__.splitlines()[0]))
