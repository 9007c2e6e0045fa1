"""`python -m vadpipe ...` (also what `torchrun -m vadpipe` runs)."""

from vadpipe.cli.app import run

run()
