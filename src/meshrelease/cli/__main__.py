"""``python -m meshrelease``: the ``meshrelease`` command."""

import sys

from meshrelease.cli.main import main

sys.exit(main())
