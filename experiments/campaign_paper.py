"""The paper-scale campaign: MUSIC alone on FetchPickAndPlace with the paper's 16 workers.

    .venv/bin/python experiments/campaign_paper.py start [--stages 1 2] [--commit-exports]
    .venv/bin/python experiments/campaign_paper.py status
    .venv/bin/python experiments/campaign_paper.py stop      # checkpoint, resume at the next start
    .venv/bin/python experiments/campaign_paper.py pack [--commit-exports]   # commit the half-way run's pack

16 workers as 2 MPI processes x 8 virtual workers (``--workers_per_rank 8``), every paper
default, 50 epochs of 50 cycles. Stage 1: seed 0, every epoch's policy kept and the weights
of epochs 10, 20, 30, 40 and 49 exported, so that lifting can be measured during training
(``experiments/paper_gate.py``); stage 2: seeds 1 and 2, run only if stage 1 lifts the
block. Runs live in ``$MUSIC_RUNS/paper`` (default ``~/music-runs/paper``); finished runs
are exported to ``experiments/results/paper``, a half-way run's checkpoint is packed into
``experiments/results/paper/<task>/<variant>/seed<k>/halfway`` at every stop and every hour
under the campaign queue (``pack`` does it by hand, with the runner running or not), so a
machine without the runs folder resumes it. See ``music/campaign.py``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from music.campaign import PAPER, main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(PAPER))
