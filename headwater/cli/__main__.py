"""``python -m headwater.cli``: the same as the ``headwater`` command."""

from headwater.cli.app import main

main()
