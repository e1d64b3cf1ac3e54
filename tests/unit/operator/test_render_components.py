"""What each component's renderer decides: replicas and the autoscaler, the disruption budget,
the migration gate, backends, external services, network policies and the Ingress."""

from __future__ import annotations

from typing import Any

import pytest

from minichat_operator.render import render
from minichat_operator.render.instance import Instance
from minichat_operator.render.migrations import job_name
from tests.unit.operator.builders import (
    EXTERNAL,
    OPENAI,
    VALUES,
    by_kind,
    env_of,
    minichat,
    rendered,
)


def objects(spec: dict[str, Any] | None = None, **options: Any) -> list[dict[str, Any]]:
    return rendered(spec, **options).objects


def container(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = by_kind(objs, kind)[name]["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = found
    return result


def test_the_api_deployment_has_the_replicas_asked_for_and_a_disruption_budget() -> None:
    objs = objects({"api": {"replicas": 3}})
    assert by_kind(objs, "Deployment")["demo-api"]["spec"]["replicas"] == 3
    budget = by_kind(objs, "PodDisruptionBudget")["demo-api"]
    assert budget["spec"] == {
        "maxUnavailable": 1,
        "selector": {
            "matchLabels": {
                "app.kubernetes.io/name": "minichat",
                "app.kubernetes.io/instance": "demo",
                "app.kubernetes.io/component": "api",
            }
        },
    }
    assert by_kind(objs, "HorizontalPodAutoscaler") == {}


def test_one_api_replica_has_no_disruption_budget() -> None:
    assert by_kind(objects({"api": {"replicas": 1}}), "PodDisruptionBudget") == {}


def test_autoscaling_leaves_the_replicas_to_the_autoscaler_on_active_streams() -> None:
    spec = {"api": {"replicas": 7, "autoscaling": {"enabled": True, "minReplicas": 3}}}
    objs = objects(spec)
    assert "replicas" not in by_kind(objs, "Deployment")["demo-api"]["spec"]
    scaler = by_kind(objs, "HorizontalPodAutoscaler")["demo-api"]["spec"]
    assert scaler["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "demo-api",
    }
    assert (scaler["minReplicas"], scaler["maxReplicas"]) == (3, 10)
    assert scaler["metrics"] == [
        {
            "type": "Pods",
            "pods": {
                "metric": {"name": "minichat_active_streams"},
                "target": {"type": "AverageValue", "averageValue": "100"},
            },
        }
    ]
    assert "demo-api" in by_kind(objs, "PodDisruptionBudget")


def test_autoscaling_down_to_one_has_no_disruption_budget() -> None:
    spec = {"api": {"autoscaling": {"enabled": True, "minReplicas": 1}}}
    assert by_kind(objects(spec), "PodDisruptionBudget") == {}


def test_before_any_migration_only_what_needs_no_schema_is_rendered() -> None:
    objs = objects({}, serving_tag=None)
    assert set(by_kind(objs, "Deployment")) == {"demo-inference", "demo-web"}
    assert len(by_kind(objs, "Job")) == 1
    assert {"demo-api", "demo-worker"} <= set(by_kind(objs, "Service"))


def test_a_new_tag_migrates_while_the_api_and_worker_keep_the_old_one() -> None:
    objs = objects({"image": {"tag": "0.2.0"}}, serving_tag="0.1.0")
    image = "ghcr.io/minichat/minichat"
    assert container(objs, "Deployment", "demo-api")["image"] == f"{image}:0.1.0"
    assert container(objs, "Deployment", "demo-worker")["image"] == f"{image}:0.1.0"
    assert container(objs, "Deployment", "demo-inference")["image"] == f"{image}:0.2.0"
    assert container(objs, "Deployment", "demo-web")["image"] == f"{image}-web:0.2.0"
    (job,) = by_kind(objs, "Job").values()
    assert job["metadata"]["annotations"] == {"minichat.dev/image-tag": "0.2.0"}
    (migrate,) = job["spec"]["template"]["spec"]["containers"]
    assert migrate["image"] == f"{image}:0.2.0"
    assert migrate["args"] == ["migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == (
        "migrations"
    )


def instance(spec: dict[str, Any] | None = None, name: str = "demo") -> Instance:
    return Instance.of(minichat(spec, name=name), serving_tag=None)


def test_the_migration_job_is_named_from_the_tag_and_the_database() -> None:
    one = job_name(instance(), "0.1.0")
    assert one.startswith("demo-migrate-0-1-0-")
    assert job_name(instance(), "0.1.0") == one
    assert job_name(instance(), "0.2.0") != one
    assert job_name(instance(), "1.0_a") != job_name(instance(), "1.0.a")
    assert job_name(instance({"postgres": EXTERNAL["postgres"]}), "0.1.0") != one
    longest = job_name(instance(name="a" * 40), "V" * 128)
    assert len(longest) <= 63
    assert longest == longest.lower() and not longest.endswith("-")


def test_the_migration_job_changes_only_with_what_its_name_is_made_of() -> None:
    (job,) = by_kind(objects({}), "Job").values()
    elsewhere = {
        "api": {"replicas": 5, "resources": {"requests": {"cpu": "3"}}},
        "observability": {"otlpEndpoint": "http://otel:4318"},
        "inference": OPENAI,
        "ingress": {"enabled": True},
    }
    assert by_kind(objects(elsewhere), "Job") == {job["metadata"]["name"]: job}
    for image in ({"pullPolicy": "Always"}, {"repository": "images.example/minichat"}):
        (other,) = by_kind(objects({"image": image}), "Job")
        assert other != job["metadata"]["name"]


def test_embedded_inference_gets_threads_from_its_cpus() -> None:
    env = env_of(container(objects({}), "Deployment", "demo-inference"))
    assert env["INFERENCE_BACKEND"] == "embedded"
    assert env["INFERENCE_THREADS"] == "1"
    spec = {"inference": {"resources": {"requests": {"cpu": "1500m"}, "limits": {"cpu": 3}}}}
    assert (
        env_of(container(objects(spec), "Deployment", "demo-inference"))["INFERENCE_THREADS"] == "3"
    )
    assert "INFERENCE_UPSTREAM_URL" not in env


def test_openai_inference_reads_its_key_from_the_named_secret() -> None:
    env = env_of(container(objects({"inference": OPENAI}), "Deployment", "demo-inference"))
    assert env["INFERENCE_BACKEND"] == "openai"
    assert env["INFERENCE_UPSTREAM_URL"] == "http://vllm.models.svc:8000/v1"
    assert env["INFERENCE_MODEL"] == "google/gemma-3-270m-it"
    assert env["INFERENCE_UPSTREAM_API_KEY"] == {
        "secretKeyRef": {"name": "model-server", "key": "api-key"}
    }
    assert "INFERENCE_THREADS" not in env


def test_openai_without_a_key_sends_none() -> None:
    spec = {"inference": {"backend": "openai", "upstream": {"url": "http://ollama:11434/v1"}}}
    env = env_of(container(objects(spec), "Deployment", "demo-inference"))
    assert "INFERENCE_UPSTREAM_API_KEY" not in env and "INFERENCE_MODEL" not in env


def test_the_api_reads_every_url_and_key_from_secrets() -> None:
    env = env_of(container(objects({}), "Deployment", "demo-api"))
    assert env["DATABASE_URL"] == {"secretKeyRef": {"name": "demo-postgres", "key": "url"}}
    assert env["REDIS_URL"] == {"secretKeyRef": {"name": "demo-redis", "key": "url"}}
    assert env["BROKER_URL"] == {"secretKeyRef": {"name": "demo-rabbitmq", "key": "url"}}
    assert env["JWT_SECRET"] == {"secretKeyRef": {"name": "demo-jwt", "key": "jwt-secret"}}
    assert env["INFERENCE_URL"] == "http://demo-inference:8001"
    assert env["RELAY_IN_API"] == "true"
    assert "WEB_ORIGIN" not in env


def test_external_services_come_from_the_users_secrets_and_nothing_is_run_for_them() -> None:
    objs = objects(EXTERNAL)
    env = env_of(container(objs, "Deployment", "demo-api"))
    assert env["DATABASE_URL"] == {"secretKeyRef": {"name": "team-db", "key": "dsn"}}
    assert env["REDIS_URL"] == {"secretKeyRef": {"name": "team-redis", "key": "url"}}
    assert env["BROKER_URL"] == {"secretKeyRef": {"name": "team-amqp", "key": "url"}}
    worker = env_of(container(objs, "Deployment", "demo-worker"))
    assert worker["DATABASE_URL"] == env["DATABASE_URL"]
    assert by_kind(objs, "StatefulSet") == {}
    assert by_kind(objs, "NetworkPolicy") == {}
    assert set(by_kind(objs, "Secret")) == {"demo-jwt"}
    (job,) = by_kind(objs, "Job").values()
    migrate = env_of(job["spec"]["template"]["spec"]["containers"][0])
    assert migrate["DATABASE_URL"] == env["DATABASE_URL"]


def test_a_jwt_secret_of_the_users_is_used_and_none_generated() -> None:
    objs = objects({"auth": {"jwtSecretRef": {"name": "my-jwt", "key": "signing-key"}}})
    assert "demo-jwt" not in by_kind(objs, "Secret")
    env = env_of(container(objs, "Deployment", "demo-api"))
    assert env["JWT_SECRET"] == {"secretKeyRef": {"name": "my-jwt", "key": "signing-key"}}


@pytest.mark.parametrize(
    ("component", "port", "clients"),
    [
        ("postgres", 5432, ["api", "migrations", "worker"]),
        ("redis", 6379, ["api"]),
        ("rabbitmq", 5672, ["api", "worker"]),
    ],
)
def test_only_this_minichats_clients_reach_a_managed_service(
    component: str, port: int, clients: list[str]
) -> None:
    policy = by_kind(objects({}), "NetworkPolicy")[f"demo-{component}"]["spec"]
    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == component
    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "demo"
    assert policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    (peer,) = rule["from"]
    assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "demo"
    assert peer["podSelector"]["matchExpressions"][0]["values"] == clients
    assert "namespaceSelector" not in peer  # the same namespace only
    assert rule["ports"] == [{"protocol": "TCP", "port": port}]


def test_managed_services_are_statefulsets_with_claims_behind_headless_services() -> None:
    objs = objects({"redis": {"managed": {"storage": "5Gi", "storageClassName": "fast"}}})
    services = by_kind(objs, "Service")
    for component in ("postgres", "redis", "rabbitmq"):
        statefulset = by_kind(objs, "StatefulSet")[f"demo-{component}"]["spec"]
        assert statefulset["serviceName"] == f"demo-{component}"
        assert services[f"demo-{component}"]["spec"]["clusterIP"] == "None"
        (main,) = statefulset["template"]["spec"]["containers"]
        assert {"readinessProbe", "livenessProbe"} <= set(main)
    redis = by_kind(objs, "StatefulSet")["demo-redis"]["spec"]
    (claim,) = redis["volumeClaimTemplates"]
    assert claim["spec"]["resources"] == {"requests": {"storage": "5Gi"}}
    assert claim["spec"]["storageClassName"] == "fast"
    postgres = by_kind(objs, "StatefulSet")["demo-postgres"]["spec"]
    assert "storageClassName" not in postgres["volumeClaimTemplates"][0]["spec"]
    (main,) = postgres["template"]["spec"]["containers"]
    assert env_of(main)["POSTGRES_PASSWORD"] == {
        "secretKeyRef": {"name": "demo-postgres", "key": "password"}
    }


def test_the_ingress_sends_api_to_the_api_and_the_rest_to_the_ui() -> None:
    spec = {"ingress": {"enabled": True, "host": "chat.example.com", "tlsSecretName": "tls"}}
    objs = objects(spec)
    (ingress,) = by_kind(objs, "Ingress").values()
    assert ingress["spec"]["tls"] == [{"secretName": "tls", "hosts": ["chat.example.com"]}]
    assert "ingressClassName" not in ingress["spec"]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "chat.example.com"
    routes = {p["path"]: p["backend"]["service"] for p in rule["http"]["paths"]}
    assert routes == {
        "/api": {"name": "demo-api", "port": {"number": 8000}},
        "/": {"name": "demo-web", "port": {"number": 8080}},
    }
    env = env_of(container(objs, "Deployment", "demo-api"))
    assert env["WEB_ORIGIN"] == "https://chat.example.com"


def test_no_ingress_unless_enabled() -> None:
    assert by_kind(objects({"ingress": {"host": "chat.example.com"}}), "Ingress") == {}


def test_the_web_ui_proxies_to_this_api() -> None:
    env = env_of(container(objects({}), "Deployment", "demo-web"))
    assert env == {"API_UPSTREAM": "http://demo-api:8000"}


def test_telemetry_goes_where_the_spec_says() -> None:
    objs = objects({"observability": {"otlpEndpoint": "http://otel:4318", "serviceMonitor": True}})
    for name in ("demo-api", "demo-inference", "demo-worker"):
        assert env_of(container(objs, "Deployment", name))["OTEL_EXPORTER_OTLP_ENDPOINT"] == (
            "http://otel:4318"
        )
    assert set(by_kind(objs, "ServiceMonitor")) == {"demo-api", "demo-inference", "demo-worker"}
    assert by_kind(objects({}), "ServiceMonitor") == {}


def test_the_order_puts_what_others_need_first() -> None:
    kinds = [obj["kind"] for obj in render(minichat({}), VALUES, serving_tag="0.1.0").objects]
    assert kinds.index("Secret") < kinds.index("StatefulSet") < kinds.index("Job")
    assert kinds.index("Job") < kinds.index("Deployment")
