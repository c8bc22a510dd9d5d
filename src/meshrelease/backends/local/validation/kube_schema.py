"""Field schemas of the Kubernetes objects the local backend runs, and of every object's envelope.

Service, ServiceAccount and Namespace are modelled field by field; a Deployment down to its containers
(deeper parts such as probes, volumes or affinity are accepted as they are). Enough for strict field
validation to catch typos like ``replica:`` or ``containerport:`` the way kubectl does.
"""

from __future__ import annotations

from meshrelease.backends.local.validation.schema import (
    ANY,
    BOOL,
    INT32,
    INT_OR_STRING,
    STRING,
    STRING_MAP,
    STRINGS,
    Arr,
    Node,
    Obj,
    enum,
)

OBJECT_META = Obj(
    {
        "name": STRING,
        "generateName": STRING,
        "namespace": STRING,
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
        "uid": STRING,
        "resourceVersion": STRING,
        "generation": INT32,
        "creationTimestamp": ANY,
        "deletionTimestamp": ANY,
        "deletionGracePeriodSeconds": INT32,
        "ownerReferences": ANY,
        "finalizers": STRINGS,
        "managedFields": ANY,
        "selfLink": STRING,
    }
)


def envelope(spec: Node | None, *, extra: dict[str, Node] | None = None) -> Obj:
    """The top level of an object: apiVersion, kind, metadata, spec (when the kind has one), status."""
    fields: dict[str, Node] = {"apiVersion": STRING, "kind": STRING, "metadata": OBJECT_META, "status": ANY}
    if spec is not None:
        fields["spec"] = spec
    fields.update(extra or {})
    return Obj(fields)


SERVICE_PORT = Obj(
    {
        "name": STRING,
        "protocol": enum("SCTP", "TCP", "UDP"),
        "appProtocol": STRING,
        "port": INT32,
        "targetPort": INT_OR_STRING,
        "nodePort": INT32,
    }
)

SERVICE_SPEC = Obj(
    {
        "ports": Arr(SERVICE_PORT),
        "selector": STRING_MAP,
        "clusterIP": STRING,
        "clusterIPs": STRINGS,
        "type": enum("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"),
        "externalIPs": STRINGS,
        "sessionAffinity": enum("ClientIP", "None"),
        "loadBalancerIP": STRING,
        "loadBalancerSourceRanges": STRINGS,
        "externalName": STRING,
        "externalTrafficPolicy": STRING,
        "healthCheckNodePort": INT32,
        "publishNotReadyAddresses": BOOL,
        "sessionAffinityConfig": ANY,
        "ipFamilies": STRINGS,
        "ipFamilyPolicy": STRING,
        "allocateLoadBalancerNodePorts": BOOL,
        "loadBalancerClass": STRING,
        "internalTrafficPolicy": STRING,
        "trafficDistribution": STRING,
    }
)

CONTAINER = Obj(
    {
        "name": STRING,
        "image": STRING,
        "command": STRINGS,
        "args": STRINGS,
        "workingDir": STRING,
        "ports": Arr(
            Obj(
                {
                    "name": STRING,
                    "containerPort": INT32,
                    "protocol": enum("SCTP", "TCP", "UDP"),
                    "hostPort": INT32,
                    "hostIP": STRING,
                }
            )
        ),
        "env": Arr(Obj({"name": STRING, "value": STRING, "valueFrom": ANY})),
        "envFrom": ANY,
        "resources": ANY,
        "resizePolicy": ANY,
        "restartPolicy": STRING,
        "volumeMounts": ANY,
        "volumeDevices": ANY,
        "livenessProbe": ANY,
        "readinessProbe": ANY,
        "startupProbe": ANY,
        "lifecycle": ANY,
        "terminationMessagePath": STRING,
        "terminationMessagePolicy": STRING,
        "imagePullPolicy": enum("Always", "Never", "IfNotPresent"),
        "securityContext": ANY,
        "stdin": BOOL,
        "stdinOnce": BOOL,
        "tty": BOOL,
    }
)

_POD_SPEC_ANY_FIELDS = (
    "volumes",
    "ephemeralContainers",
    "restartPolicy",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "dnsPolicy",
    "nodeSelector",
    "automountServiceAccountToken",
    "nodeName",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "shareProcessNamespace",
    "securityContext",
    "imagePullSecrets",
    "hostname",
    "subdomain",
    "affinity",
    "schedulerName",
    "tolerations",
    "hostAliases",
    "priorityClassName",
    "priority",
    "dnsConfig",
    "readinessGates",
    "runtimeClassName",
    "enableServiceLinks",
    "preemptionPolicy",
    "overhead",
    "topologySpreadConstraints",
    "setHostnameAsFQDN",
    "os",
    "hostUsers",
    "schedulingGates",
    "resourceClaims",
    "resources",
)

POD_SPEC = Obj(
    {
        "containers": Arr(CONTAINER),
        "initContainers": Arr(CONTAINER),
        "serviceAccountName": STRING,
        "serviceAccount": STRING,
        **dict.fromkeys(_POD_SPEC_ANY_FIELDS, ANY),
    }
)

LABEL_SELECTOR = Obj(
    {
        "matchLabels": STRING_MAP,
        "matchExpressions": Arr(
            Obj(
                {"key": STRING, "operator": enum("In", "NotIn", "Exists", "DoesNotExist"), "values": STRINGS},
                required=("key", "operator"),
            )
        ),
    }
)

DEPLOYMENT_SPEC = Obj(
    {
        "replicas": INT32,
        "selector": LABEL_SELECTOR,
        "template": Obj({"metadata": OBJECT_META, "spec": POD_SPEC}),
        "strategy": ANY,
        "minReadySeconds": INT32,
        "revisionHistoryLimit": INT32,
        "paused": BOOL,
        "progressDeadlineSeconds": INT32,
    }
)

OBJECT_SCHEMAS: dict[str, Obj] = {
    "Service": envelope(SERVICE_SPEC),
    "Deployment": envelope(DEPLOYMENT_SPEC),
    "Namespace": envelope(Obj({"finalizers": STRINGS})),
    "ServiceAccount": envelope(
        None,
        extra={"secrets": ANY, "imagePullSecrets": ANY, "automountServiceAccountToken": BOOL},
    ),
}
"""The whole-object schema of each Kubernetes kind the local backend runs."""
