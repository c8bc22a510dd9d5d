"""Hostile inputs shared by the tests; the table and the bombs live in bench/malformed_inputs.py."""

from __future__ import annotations

from bench.malformed_inputs import BILLION_LAUGHS, alias_bomb

__all__ = ["BILLION_LAUGHS", "alias_bomb"]
