"""The medium-scale reproduction campaign: every paper default on 2 ranks, 3 seeds, across sessions.

    .venv/bin/python experiments/campaign_medium.py start [--stages 1 ... 6] [--commit-exports]
    .venv/bin/python experiments/campaign_medium.py status
    .venv/bin/python experiments/campaign_medium.py stop      # checkpoint, resume at the next start

Stage 1: FetchPush SAC+MUSIC (MUSIC alone, also the pretraining of stage 2); stage 2:
FetchPush SAC, SAC+MUSIC-r, -p, -f; stage 3: FetchPickAndPlace SAC+MUSIC; stages 4-6, the
paper's other figures: FetchPush SAC+MUSIC-f-with-normalizers, FetchSlide (SAC+MUSIC, SAC,
-r, -p, -f), FetchPickAndPlace SAC, -r, -p, -f. Runs live in
``$MUSIC_RUNS/medium`` (default ``~/music-runs/medium``) and run from a git worktree of
the campaign's fixed commit; finished runs are exported to ``experiments/results/medium``.
See ``music/campaign.py``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from music.campaign import MEDIUM, main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(MEDIUM))
