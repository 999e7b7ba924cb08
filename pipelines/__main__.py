"""Lets ``python -m pipelines`` run the command line."""

import sys

from pipelines.cli import main

sys.exit(main())
