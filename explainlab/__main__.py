"""``python -m explainlab`` runs the CLI."""

from explainlab.cli import main

raise SystemExit(main())
