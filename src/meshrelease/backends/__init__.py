"""The meshes scenarios run on, behind one protocol (:class:`~meshrelease.backends.base.Backend`).

- :mod:`~meshrelease.backends.base`: the protocol, :class:`~meshrelease.backends.base.LazyBackend`;
- :mod:`~meshrelease.backends.settings`: the option table and typed settings;
- :mod:`~meshrelease.backends.factory`: ``make_backend(settings)``;
- ``local/``: real Envoy proxies and Bookinfo-compatible workloads on 127.0.0.1;
- ``kube/``: a kind cluster or an existing cluster with Istio.

Import the module you need; this face imports nothing, so a backend's dependencies load only when it is used.
"""
