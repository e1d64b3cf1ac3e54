"""The only module that talks to the Kubernetes API: server-side apply with one field manager,
create-once for generated Secrets, reads of what a MiniChat owns, and its status subresource."""

from __future__ import annotations

from typing import Any, cast

from lightkube import AsyncClient
from lightkube.codecs import from_dict
from lightkube.core.exceptions import ApiError
from lightkube.core.resource_registry import resource_registry
from lightkube.generic_resource import create_namespaced_resource
from lightkube.types import CascadeType, PatchType

FIELD_MANAGER = "minichat-operator"
# What a reconcile prunes when the spec no longer asks for it (an autoscaler or an ingress
# turned off, an old tag's migration Job). Never Secrets: a managed database's credentials
# stay with its volumes, and generated ones are never rewritten.
PRUNABLE = (
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("v1", "Service"),
    ("batch/v1", "Job"),
    ("policy/v1", "PodDisruptionBudget"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("networking.k8s.io/v1", "Ingress"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
)
MiniChat = create_namespaced_resource("minichat.dev", "v1alpha1", "MiniChat", "minichats")
# The Prometheus Operator's, rendered when spec.observability.serviceMonitor is on.
create_namespaced_resource("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors")
# Keeps a Deployment's replicas when the operator stops setting them (an autoscaler takes over).
HANDOFF_MANAGER = "minichat-operator-handoff"


class ApiFailure(Exception):
    """The API server refused a request: its HTTP status code and message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Cluster:
    """A Kubernetes API client for the operator; one per process, made at start-up."""

    def __init__(self, client: AsyncClient | None = None) -> None:
        self._client = client or AsyncClient(field_manager=FIELD_MANAGER)

    async def close(self) -> None:
        await self._client.close()

    async def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply; the object as stored. Fields we render are ours (force): a hand
        edit of them is put back, and fields we leave out (an HPA's replicas) are not touched.
        An apply that changes nothing writes nothing (the resourceVersion stays)."""
        try:
            applied = await self._client.apply(
                from_dict(obj), field_manager=FIELD_MANAGER, force=True
            )
        except Exception as error:
            if (failure := _failure(error)) is None:
                raise
            raise failure from error
        return _as_dict(applied)

    async def recreate(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Deletes the object and applies it again: for a hand edit that server-side apply
        cannot undo (a list entry's key changed, leaving ours and the edited one side by side)."""
        meta = obj["metadata"]
        resource = _resource(obj["apiVersion"], obj["kind"])
        try:
            await self._client.delete(resource, meta["name"], namespace=meta["namespace"])
        except ApiError as error:
            if error.status.code != 404:
                raise
        return await self.apply(obj)

    async def owned(self, namespace: str, owner_uid: str) -> list[tuple[str, str, str]]:
        """(apiVersion, kind, name) of every prunable object the MiniChat owner_uid controls."""
        found = []
        labels: dict[str, Any] = {"app.kubernetes.io/managed-by": FIELD_MANAGER}
        for api_version, kind in PRUNABLE:
            try:
                async for obj in self._client.list(
                    _resource(api_version, kind), namespace=namespace, labels=labels
                ):
                    meta = _as_dict(obj)["metadata"]
                    refs = meta.get("ownerReferences") or []
                    if any(ref.get("uid") == owner_uid and ref.get("controller") for ref in refs):
                        found.append((api_version, kind, meta["name"]))
            except Exception as error:
                if _status_code(error) != 404:  # 404: a kind this cluster lacks (ServiceMonitor)
                    raise
        return found

    async def hand_over_replicas(self, namespace: str, name: str) -> None:
        """Before an apply that leaves out a Deployment's replicas (an autoscaler owns them now),
        another field manager takes the current count over: dropped by its only owner, the
        field would fall back to its default of 1 Pod until the autoscaler acts."""
        live = await self.get("apps/v1", "Deployment", namespace, name)
        if live is None or not _owns_replicas(live):
            return
        body = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": live["spec"]["replicas"]},
        }
        try:
            await self._client.patch(
                _resource("apps/v1", "Deployment"),
                name,
                body,
                namespace=namespace,
                patch_type=PatchType.APPLY,
                field_manager=HANDOFF_MANAGER,
                force=True,
            )
        except Exception as error:
            if (failure := _failure(error)) is None:
                raise
            raise failure from error

    async def delete(self, api_version: str, kind: str, namespace: str, name: str) -> None:
        """Deletes the object and, in the background, what it owns (a Job's Pods)."""
        try:
            await self._client.delete(
                _resource(api_version, kind),
                name,
                namespace=namespace,
                cascade=CascadeType.BACKGROUND,
            )
        except ApiError as error:
            if error.status.code != 404:
                raise

    async def create_once(self, obj: dict[str, Any]) -> bool:
        """Creates obj unless it exists, and never changes one that does (generated secrets)."""
        try:
            await self._client.create(from_dict(obj), field_manager=FIELD_MANAGER)
        except ApiError as error:
            if error.status.code == 409:
                return False
            raise
        return True

    async def get(
        self, api_version: str, kind: str, namespace: str, name: str
    ) -> dict[str, Any] | None:
        try:
            found = await self._client.get(_resource(api_version, kind), name, namespace=namespace)
        except ApiError as error:
            if error.status.code == 404:
                return None
            raise
        return _as_dict(found)

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        await self._client.patch(
            MiniChat.Status,
            name,
            {"status": status},
            namespace=namespace,
            patch_type=PatchType.MERGE,
        )

    async def minichat(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.get("minichat.dev/v1alpha1", "MiniChat", namespace, name)


def _failure(error: Exception) -> ApiFailure | None:
    """A refused request as an ApiFailure; None for any other error."""
    code = _status_code(error)
    if code is None:
        return None
    message = str(error.status.message) if isinstance(error, ApiError) else str(error)
    return ApiFailure(code, message)


def _status_code(error: Exception) -> int | None:
    """The HTTP status of a refused request: an ApiError's, or the HTTP client's own error,
    which lightkube lets through while it streams a list."""
    if isinstance(error, ApiError):
        return error.status.code
    response = getattr(error, "response", None)
    code = getattr(response, "status_code", None)
    return code if isinstance(code, int) else None


def _owns_replicas(deployment: dict[str, Any]) -> bool:
    for entry in deployment["metadata"].get("managedFields") or []:
        if entry.get("manager") == FIELD_MANAGER and entry.get("operation") == "Apply":
            return "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {})
    return False


def _resource(api_version: str, kind: str) -> Any:
    resource = resource_registry.load(api_version, kind)
    if resource is None:
        raise ValueError(f"lightkube knows no resource {api_version} {kind}")
    return resource


def _as_dict(obj: object) -> dict[str, Any]:
    result: dict[str, Any] = cast(Any, obj).to_dict()
    return result
