"""``python -m mediastore_ingest`` runs the command line."""

import sys

from mediastore_ingest.cli import main

sys.exit(main())
