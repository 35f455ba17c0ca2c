"""``python -m xdnn`` runs the command line (see :mod:`xdnn.cli`)."""

from xdnn.cli import main

raise SystemExit(main())
