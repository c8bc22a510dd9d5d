"""meshrelease: end-to-end tests for service-mesh release scenarios (Istio + Bookinfo)."""

__version__ = "0.1.0"

__all__ = ["__version__"]
