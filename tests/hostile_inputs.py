"""Hostile inputs shared by the tests and bench/malformed_inputs.py."""

from __future__ import annotations


def alias_bomb(levels: int, *, indent: str = "") -> str:
    """A "billion laughs" YAML flow value: ``levels`` anchors, each a list of nine aliases of the one before,
    so it expands to 9**levels strings. As a block under a key, each line indented by ``indent``."""
    lines = ['&a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        prev = f"*a{level - 1}"
        lines.append(f"&a{level} [" + ",".join([prev] * 9) + "]")
    # One flow sequence holding every level: the last one is what expands.
    return "[" + f",\n{indent}".join(lines) + "]"


BILLION_LAUGHS = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n  lol: " + alias_bomb(10, indent="   ") + "\n"
)
"""A manifest of at most 641 bytes whose aliases expand to 9**10 (3.5 billion) strings."""
