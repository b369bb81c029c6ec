"""The campaigns whose exported runs are shipped as pretrained weights (``pretrained:`` names).

Each is ``experiments/results/<campaign>`` in a clone and ``music/pretrained/<campaign>`` in
an installed package (setup.py copies them). The first is the default: ``pretrained:seed0``
and ``pretrained:<task>/<variant>/seed<k>`` are its runs, ``pretrained:paper/...`` the paper
campaign's. setup.py reads this file on its own, so it imports nothing.
"""

SHIPPED_CAMPAIGNS = ("medium", "paper")
