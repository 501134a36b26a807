"""What the API's routes use, built from settings once per process and closed at shutdown."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
from cassandra.cluster import Cluster, Session
from fastapi import Request
from redis.asyncio import Redis

from api.idempotency import IdempotencyKeys
from api.keys import KeyStore, Verifier
from api.metrics import ApiMetrics
from api.publishing import AsyncPublisher
from api.receipt_matching import Matcher
from api.sns_fetch import SnsFetcher
from herald.cassandra import cassandra_cluster
from herald.codec import AvroCodec
from herald.errors import KafkaOutage
from herald.history import HistoryReader
from herald.links import LinkSigner
from herald.profile_store import ProfileStore
from herald.settings import HeraldSettings
from herald.template_feed import TemplateFeed
from herald.templating import TemplateStore
from herald.topics import TopicNames

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: HeraldSettings
    codec: AvroCodec
    publisher: AsyncPublisher
    cluster: Cluster
    session: Session
    history: HistoryReader
    profiles: ProfileStore
    verifier: Verifier
    redis: Redis
    idempotency: IdempotencyKeys
    metrics: ApiMetrics
    templates: TemplateStore
    template_feed: TemplateFeed
    links: LinkSigner | None  # None: links.secret is not set
    matcher: Matcher
    sns: SnsFetcher

    @classmethod
    def connect(cls, settings: HeraldSettings) -> Services:
        codec = AvroCodec.from_settings(settings.registry)
        cluster = cassandra_cluster(settings.cassandra)
        session = cluster.connect()
        keyspace = settings.cassandra.keyspace
        redis = Redis.from_url(settings.redis.url.get_secret_value())
        pipeline = settings.pipeline
        templates = TemplateStore(
            pipeline.templates_dir, max_sms_segments=pipeline.max_sms_segments
        )
        feed = TemplateFeed(settings, templates)
        try:
            feed.catch_up(settings.api.publish_timeout_s)
        except KafkaOutage:  # the API starts without Kafka: its thread reads to the end later
            log.warning("the templates are not read yet: template routes answer 503 until then")
        feed.start()
        publisher = AsyncPublisher(settings, codec)
        metrics = ApiMetrics()
        return cls(
            settings=settings,
            codec=codec,
            publisher=publisher,
            cluster=cluster,
            session=session,
            history=HistoryReader(session, keyspace, settings.sink.day_bucket_tz),
            profiles=ProfileStore(session, keyspace),
            verifier=Verifier(KeyStore(session, keyspace), settings.api.key_cache_s),
            redis=redis,
            idempotency=IdempotencyKeys(
                redis, settings.kafka.topic_prefix, settings.api.idempotency_ttl_s
            ),
            metrics=metrics,
            templates=templates,
            template_feed=feed,
            links=LinkSigner.configured(settings.links),
            matcher=Matcher(
                redis,
                TopicNames(settings.kafka.topic_prefix),
                publisher,
                metrics,
                wait_s=settings.api.receipt_match_wait_s,
                once_ttl_s=settings.api.receipt_once_ttl_s,
            ),
            sns=SnsFetcher(settings.delivery.aws.sns_urls),
        )

    def loaded_templates(self) -> TemplateStore:
        """The templates, once the templates topic was read to its end."""
        if not self.template_feed.ready.is_set():
            raise KafkaOutage(f"{self.template_feed.topic} is not read yet")
        return self.templates

    async def checks(self) -> dict[str, bool]:
        """Whether each server answers now, and the templates are read (for /readyz)."""
        return {
            "kafka": self.publisher.reachable(),
            "templates": self.template_feed.ready.is_set(),
            "registry": self._registry_answers(),
            "cassandra": self._cassandra_answers(),
            "redis": await self._redis_answers(),
        }

    def _registry_answers(self) -> bool:
        registry = self.settings.registry
        try:
            response = httpx.get(f"{registry.url}/subjects", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def _cassandra_answers(self) -> bool:
        try:
            self.session.execute("SELECT release_version FROM system.local", timeout=2.0)
        except Exception:  # any driver failure means: not ready
            return False
        return True

    async def _redis_answers(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except Exception:  # any client failure means: not ready
            return False

    async def close(self) -> None:
        self.publisher.close()
        self.template_feed.close()
        await self.sns.aclose()
        await self.redis.aclose()
        self.cluster.shutdown()
        self.codec.close()


def services_of(request: Request) -> Services:
    """The services of the app that serves ``request``."""
    services: Services = request.app.state.services
    return services
