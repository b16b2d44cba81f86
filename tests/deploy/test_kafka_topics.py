"""The topic declaration, applied to a real broker and as Strimzi resources."""

from __future__ import annotations

import yaml
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from pix_contracts import TOPICS, AssetUploaded
from pix_runtime.topics import create_topics, topic_specs
from pix_stack.embedded import Tansu
from pix_stack.kafka_topics import TOPICS_FILE, drifted


def test_the_strimzi_topics_match_the_declaration() -> None:
    assert not drifted(), "run `make topics` and commit deploy/k8s/kafka-topics.yaml"
    resources = list(yaml.safe_load_all(TOPICS_FILE.read_text()))
    names = {r["spec"]["topicName"] for r in resources}
    assert names == {spec.name for spec in topic_specs()}
    uploads = next(r for r in resources if r["spec"]["topicName"] == AssetUploaded.topic)
    assert uploads["spec"]["partitions"] == TOPICS[AssetUploaded.topic].partitions
    assert uploads["spec"]["replicas"] == 3
    assert uploads["spec"]["config"]["min.insync.replicas"] == "2"
    assert all("." not in r["metadata"]["name"] for r in resources)


async def test_topics_are_created_with_their_partitions_and_configs(tansu: Tansu) -> None:
    specs = [s for s in topic_specs() if s.name.startswith("media.asset.uploaded")]
    specs = [type(s)(f"declared.{s.name}", s.partitions, s.retention_hours) for s in specs]
    created = await create_topics(tansu.bootstrap, specs=specs, min_insync_replicas=1)
    assert sorted(created) == sorted(s.name for s in specs)
    assert await create_topics(tansu.bootstrap, specs=specs) == []  # idempotent
    admin = AIOKafkaAdminClient(bootstrap_servers=tansu.bootstrap)
    await admin.start()
    try:
        [uploads] = [s for s in specs if not s.name.endswith(".dlq")]
        described = await admin.describe_topics([uploads.name])
        assert len(described[0]["partitions"]) == 32
        [response] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, uploads.name)]
        )
        configs = {entry[0]: entry[1] for entry in response.resources[0][4]}
        assert configs["retention.ms"] == str(7 * 24 * 3600 * 1000)
    finally:
        await admin.close()
