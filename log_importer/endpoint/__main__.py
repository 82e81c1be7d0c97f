"""`python -m log_importer.endpoint`: the same as `log-importer-endpoint`."""
import sys

from .cli import main

sys.exit(main())
