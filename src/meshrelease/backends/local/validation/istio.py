"""Istio's validating webhook (``validation.istio.io``) for VirtualService, DestinationRule and Gateway.

Each rule returns Istio's own message (docs/istio-semantics.md §14; upstream in istio/istio
pkg/config/validation/), attached
to the field it is about so the store can say where. The webhook only runs on objects that passed the
schema, so the shapes the rules see are the schema's. The rules live in ``validation_istio_vs``,
``validation_istio_dr`` and ``validation_istio_gateway``; the checks they share in
``validation_istio_common``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshrelease.backends.local.validation.destination_rule import validate_destination_rule
from meshrelease.backends.local.validation.gateway import validate_gateway
from meshrelease.backends.local.validation.istio_common import MESH_GATEWAY, WebhookResult, host_matches
from meshrelease.backends.local.validation.virtual_service import validate_virtual_service

__all__ = ["MESH_GATEWAY", "WebhookResult", "host_matches", "webhook_validate"]


def webhook_validate(kind: str, spec: Mapping[str, Any], namespace: str, name: str) -> WebhookResult:
    """Run the webhook's rules for ``kind`` on one object's spec."""
    if kind == "VirtualService":
        return validate_virtual_service(spec, namespace)
    if kind == "DestinationRule":
        return validate_destination_rule(spec, namespace)
    if kind == "Gateway":
        return validate_gateway(spec, name)
    return WebhookResult()
