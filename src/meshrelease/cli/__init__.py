"""The ``meshrelease`` command: argparse front ends only. Nothing in meshrelease imports this package."""
