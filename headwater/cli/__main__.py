"""``python -m headwater.cli``: the same as the ``headwater`` command."""

from headwater.command import main

main()
