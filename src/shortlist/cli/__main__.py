"""``python -m shortlist.cli``: the ``shortlist`` command."""

from shortlist.cli import main

raise SystemExit(main())
