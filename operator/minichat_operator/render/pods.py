"""The parts every MiniChat Pod is built from: security contexts, probes, env, scratch volumes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from minichat_operator.render.instance import Instance
from minichat_operator.spec import Resources

# The uid of the `minichat` user in the MiniChat image (see the Dockerfile).
MINICHAT_UID = 10001


@dataclass(frozen=True)
class SecretRef:
    """A key of a Secret in the MiniChat's namespace."""

    name: str
    key: str


def value(name: str, text: str) -> dict[str, Any]:
    return {"name": name, "value": text}


def from_secret(name: str, ref: SecretRef) -> dict[str, Any]:
    """An env var read from a Secret by the kubelet: the value never appears in the spec."""
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}}


def pod_security(uid: int) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


CONTAINER_SECURITY: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}


def http_probe(
    path: str, port: str, *, period: int = 10, failures: int = 3, timeout: int = 3
) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def exec_probe(
    command: Sequence[str], *, period: int = 10, failures: int = 3, timeout: int = 5
) -> dict[str, Any]:
    return {
        "exec": {"command": list(command)},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def scratch(name: str, size: str = "64Mi", *, memory: bool = False) -> dict[str, Any]:
    """An emptyDir: what a read-only root filesystem still needs to write (/tmp and the like)."""
    empty_dir: dict[str, Any] = {"sizeLimit": size}
    if memory:
        empty_dir["medium"] = "Memory"
    return {"name": name, "emptyDir": empty_dir}


def mount(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "mountPath": path}


def resources(spec: Resources) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if spec.requests:
        out["requests"] = {key: str(spec.requests[key]) for key in sorted(spec.requests)}
    if spec.limits:
        out["limits"] = {key: str(spec.limits[key]) for key in sorted(spec.limits)}
    return out


def container(
    name: str,
    image: str,
    *,
    pull_policy: str,
    args: Sequence[str] = (),
    command: Sequence[str] = (),
    env: Sequence[dict[str, Any]] = (),
    ports: Sequence[tuple[str, int]] = (),
    spec: Resources,
    probes: dict[str, dict[str, Any]],
    mounts: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "image": image, "imagePullPolicy": pull_policy}
    if command:
        out["command"] = list(command)
    if args:
        out["args"] = list(args)
    if env:
        out["env"] = list(env)
    if ports:
        out["ports"] = [
            {"name": port_name, "containerPort": number, "protocol": "TCP"}
            for port_name, number in ports
        ]
    out["resources"] = resources(spec)
    out.update(probes)
    if mounts:
        out["volumeMounts"] = list(mounts)
    out["securityContext"] = dict(CONTAINER_SECURITY)
    return out


def pod_template(
    instance: Instance,
    component: str,
    containers: Sequence[dict[str, Any]],
    *,
    uid: int = MINICHAT_UID,
    volumes: Sequence[dict[str, Any]] = (),
    restart_policy: str | None = None,
    grace_seconds: int = 30,
    spread: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        # No MiniChat Pod calls the Kubernetes API.
        "automountServiceAccountToken": False,
        # Service links would put <SERVICE>_PORT variables in every container, and settings are
        # read from the environment: a Service named like a setting would change it.
        "enableServiceLinks": False,
        "securityContext": pod_security(uid),
        "terminationGracePeriodSeconds": grace_seconds,
        "containers": list(containers),
    }
    if restart_policy:
        spec["restartPolicy"] = restart_policy
    if volumes:
        spec["volumes"] = list(volumes)
    if spread:
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": instance.selector(component)},
            }
        ]
    return {"metadata": {"labels": instance.labels(component)}, "spec": spec}


def common_env(instance: Instance, component: str) -> list[dict[str, Any]]:
    """What every MiniChat process reads besides its own settings."""
    env = [value("ENVIRONMENT", "production"), value("OTEL_SERVICE_NAME", f"minichat-{component}")]
    if endpoint := instance.spec.observability.otlp_endpoint:
        env.append(value("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint))
    return env


def deployment(
    instance: Instance, component: str, replicas: int | None, template: dict[str, Any]
) -> dict[str, Any]:
    """`replicas` None leaves the count to a HorizontalPodAutoscaler."""
    spec: dict[str, Any] = {}
    if replicas is not None:
        spec["replicas"] = replicas
    spec.update(
        {
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": instance.selector(component)},
            # A new Pod is ready before an old one goes: a rollout never lowers capacity.
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": template,
        }
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": instance.metadata(component),
        "spec": spec,
    }


def service(
    instance: Instance,
    component: str,
    ports: Sequence[tuple[str, int]],
    *,
    headless: bool = False,
    name: str | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "ClusterIP"}
    if headless:
        spec["clusterIP"] = "None"
    spec["selector"] = instance.selector(component)
    spec["ports"] = [
        {"name": port_name, "port": number, "targetPort": port_name, "protocol": "TCP"}
        for port_name, number in ports
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": instance.metadata(component, name),
        "spec": spec,
    }
