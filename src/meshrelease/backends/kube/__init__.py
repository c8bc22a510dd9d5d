"""The real-cluster backends: ``kind`` (a throwaway kind cluster with Istio), ``cluster`` (an existing mesh).

Public entry points: :class:`~meshrelease.backends.kube.kind_backend.KindBackend`,
:class:`~meshrelease.backends.kube.cluster_backend.ClusterBackend`, and the preflight
:func:`~meshrelease.backends.kube.doctor.run_doctor`. Import them from their modules (this package imports
nothing, so the local backend never loads the kubectl machinery).
"""
