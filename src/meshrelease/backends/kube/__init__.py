"""The real-cluster backends: ``kind`` (a throwaway kind cluster with Istio), ``cluster`` (an existing mesh).

Public entry points: :class:`~meshrelease.backends.kube.kind_backend.KindBackend`,
:class:`~meshrelease.backends.kube.cluster_backend.ClusterBackend`, and for the pytest plugin
:func:`~meshrelease.backends.kube.options.add_pytest_options`,
:func:`~meshrelease.backends.kube.options.backend_from_pytest_config` and
:func:`~meshrelease.backends.kube.options.finish_session`. Import them from their modules (this package imports
nothing, so the local backend never loads the kubectl machinery).
"""
