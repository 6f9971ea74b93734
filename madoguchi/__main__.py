"""``python -m madoguchi``: the same as the ``madoguchi`` command."""

from madoguchi.cli import main

raise SystemExit(main())
