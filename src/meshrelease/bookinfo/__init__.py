"""Bookinfo as meshrelease sees it: productpage read into a :class:`PageObservation` (both UI generations,
docs/bookinfo-contract.md), the :class:`BookinfoClient` with its sign-in, and ``workloads/`` (Bookinfo-compatible
services, used only by the local backend)."""

from meshrelease.bookinfo.page import PageObservation, parse_page, parse_reviews_json

__all__ = ["PageObservation", "parse_page", "parse_reviews_json"]  # the client: meshrelease.bookinfo.client
