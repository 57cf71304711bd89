"""`python -m bopo`: the same as the `bopo` command."""

from bopo.cli import main

main()
