"""Mesh-upgrade regression checks (docs/upgrade-check.md): :mod:`~meshrelease.upgrade.check` runs the suite
before and after an upgrade and compares; drivers :mod:`~meshrelease.upgrade.local` (Envoy versions) and
:mod:`~meshrelease.upgrade.kind` (Istio in place or by revision, with the istioctl sequences of
:mod:`~meshrelease.upgrade.istio`); :mod:`~meshrelease.upgrade.disruption` watches traffic during the upgrade."""
