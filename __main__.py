"""``python -m tierwise``: the ``tierwise`` command, for where the console script is not on PATH."""
from tierwise.cli.main import main

main()
