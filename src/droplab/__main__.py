"""``python -m droplab`` is the ``droplab`` command."""

from droplab.cli.main import main

raise SystemExit(main())
