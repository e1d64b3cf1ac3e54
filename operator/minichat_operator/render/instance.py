"""One MiniChat as the renderers see it: its names, labels, owner reference and images."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minichat_operator.spec import API_VERSION, KIND, MiniChat, MiniChatSpec

PART_OF = "minichat"
MANAGED_BY = "minichat-operator"


@dataclass(frozen=True)
class Instance:
    """`serving_tag`: the image tag the api and worker run, the newest whose migrations are
    applied; None before the first migration has succeeded (then they are not rendered)."""

    name: str
    namespace: str
    uid: str
    spec: MiniChatSpec
    delete_data: bool
    serving_tag: str | None

    @classmethod
    def of(cls, minichat: MiniChat, serving_tag: str | None) -> Instance:
        return cls(
            name=minichat.metadata.name,
            namespace=minichat.metadata.namespace,
            uid=minichat.metadata.uid,
            spec=minichat.spec,
            delete_data=minichat.delete_data,
            serving_tag=serving_tag,
        )

    def child(self, component: str) -> str:
        """The name of this MiniChat's object for `component`, e.g. demo-api."""
        return f"{self.name}-{component}"

    def selector(self, component: str) -> dict[str, str]:
        """The labels that pick this component's Pods; never changed (selectors are immutable)."""
        return {
            "app.kubernetes.io/name": PART_OF,
            "app.kubernetes.io/instance": self.name,
            "app.kubernetes.io/component": component,
        }

    def labels(self, component: str) -> dict[str, str]:
        return {
            **self.selector(component),
            "app.kubernetes.io/part-of": PART_OF,
            "app.kubernetes.io/managed-by": MANAGED_BY,
        }

    def owner_references(self) -> list[dict[str, Any]]:
        """The controller reference to the MiniChat (none when rendering without a cluster)."""
        if not self.uid:
            return []
        return [
            {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "name": self.name,
                "uid": self.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]

    def metadata(
        self,
        component: str,
        name: str | None = None,
        *,
        owned: bool = True,
        annotations: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "name": name or self.child(component),
            "namespace": self.namespace,
            "labels": self.labels(component),
        }
        if annotations:
            meta["annotations"] = dict(annotations)
        if owned and (owners := self.owner_references()):
            meta["ownerReferences"] = owners
        return meta

    def image(self, tag: str | None = None) -> str:
        return f"{self.spec.image.repository}:{tag or self.spec.image.tag}"

    def web_image(self) -> str:
        # The Dockerfile's web target, published beside the main image with the suffix -web.
        return f"{self.spec.image.repository}-web:{self.spec.image.tag}"

    def service_url(self, component: str, port: int) -> str:
        return f"http://{self.child(component)}:{port}"
