"""``python -m chains.cli``: the same as the ``bedrock-chains`` console script."""

import sys

from chains.cli import main

sys.exit(main(prog="python -m chains.cli"))
