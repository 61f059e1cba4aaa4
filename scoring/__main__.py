"""``python -m scoring`` runs the ``carescore`` command line."""

from scoring.cli import main

main()
