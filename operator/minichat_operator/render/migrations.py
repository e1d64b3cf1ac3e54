"""The migration Job (`minichat migrate`): one per image tag and database, so a new tag (or a
new database) migrates once before the api and worker move to it. A Job's template cannot be
changed, so it is made only of what its name is made of: the image, the database."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from minichat_operator.render import secrets
from minichat_operator.render.instance import Instance
from minichat_operator.render.pods import (
    container,
    from_secret,
    mount,
    pod_template,
    scratch,
    value,
)
from minichat_operator.spec import Resources

TAG_ANNOTATION = "minichat.dev/image-tag"
MAX_NAME = 63  # a Job's name is also a label value
# Fixed rather than the api's: a change of those must not call for another Job.
RESOURCES = Resources(requests={"cpu": "100m", "memory": "256Mi"}, limits={"memory": "512Mi"})


def job_name(instance: Instance, tag: str) -> str:
    """<name>-migrate-<tag as a DNS label>-<hash>: readable, and distinct for tags that read
    alike (1.0_a, 1.0.a), for each image and each database (the hash covers the image, its pull
    policy and where the database's URL lives)."""
    database = secrets.database_url(instance)
    image = f"{instance.image(tag)}\0{instance.spec.image.pull_policy}"
    made_of = f"{image}\0{database.name}\0{database.key}"
    digest = hashlib.sha256(made_of.encode()).hexdigest()[:6]
    prefix = f"{instance.name}-migrate-"
    room = MAX_NAME - len(prefix) - len(digest) - 1
    slug = re.sub(r"[^a-z0-9]+", "-", tag.lower())[:room].strip("-")
    return f"{prefix}{slug}-{digest}" if slug else f"{prefix}{digest}"


def render(instance: Instance) -> dict[str, Any]:
    """The Job for the spec's tag (the api keeps the last migrated tag until it succeeds)."""
    tag = instance.spec.image.tag
    main = container(
        "migrate",
        instance.image(tag),
        pull_policy=instance.spec.image.pull_policy,
        args=["migrate"],
        env=[
            value("ENVIRONMENT", "production"),
            from_secret("DATABASE_URL", secrets.database_url(instance)),
        ],
        spec=RESOURCES,
        probes={},
        mounts=[mount("tmp", "/tmp")],
    )
    template = pod_template(
        instance, "migrations", [main], volumes=[scratch("tmp")], restart_policy="Never"
    )
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": instance.metadata(
            "migrations", job_name(instance, tag), annotations={TAG_ANNOTATION: tag}
        ),
        "spec": {
            # Retries cover a database that was not ready yet; a real failure stops after them
            # and the Job's reason becomes the MiniChat's Degraded reason.
            "backoffLimit": 3,
            "activeDeadlineSeconds": 900,
            "template": template,
        },
    }
