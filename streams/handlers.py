"""What happens to each event: decode, call the pure decisions, emit. No Faust here, so the
logic can be driven from any loop; streams/app.py wires these to agents and tables."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from herald import deadletter
from herald.contracts import TopicCodec
from herald.deferred import DeferredStore
from herald.errors import CodecError, OutageError, RecordError, where
from herald.links import LinkSigner
from herald.models import (
    AddressInvalidated,
    Channel,
    ChannelMessage,
    NotificationRequest,
    Reason,
    State,
    UserContacts,
    UserNotification,
    UserPreferences,
)
from herald.receipts import MessageRef
from herald.settings import PipelineSettings
from herald.templating import TemplateError, TemplateStore
from herald.tracking import tracked
from herald.validation import validate
from streams import shards
from streams import state as user_state
from streams.decision import Defer, Expire, Outcome, Policy, Send, Suppress, decide
from streams.invalidation import without_address
from streams.outbox import Outbox, source_of
from streams.tables import StateTable

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
Fatal = Callable[[BaseException], Awaitable[None]]

RETRY_DELAYS_S = (0.5, 2.0, 5.0)


async def _no_fatal(error: BaseException) -> None:
    return None


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclasses.dataclass
class Codecs:
    requests: TopicCodec[NotificationRequest]
    per_user: TopicCodec[NotificationRequest]  # shards of requests (streams/shards.py)
    preferences: TopicCodec[UserPreferences]
    contacts: TopicCodec[UserContacts]
    invalidations: TopicCodec[AddressInvalidated]


class Handlers:
    def __init__(
        self,
        codecs: Codecs,
        outbox: Outbox,
        templates: TemplateStore,
        deferred: DeferredStore,
        pipeline: PipelineSettings,
        clock: Clock = utc_now,
        on_fatal: Fatal = _no_fatal,
        infrastructure: tuple[type[BaseException], ...] = (OutageError,),
        partitions: int | None = None,
        links: LinkSigner | None = None,
    ) -> None:
        self.codecs = codecs
        self.links = links  # signs the tracked links of templates with track_email
        self.outbox = outbox
        self.templates = templates
        self.deferred = deferred
        self.pipeline = pipeline
        self.policy = Policy.from_settings(pipeline)
        self.clock = clock
        self.on_fatal = on_fatal
        self.infrastructure = infrastructure
        # of the per-user topic, as created (the pipeline's setting unless told otherwise)
        self.partitions = partitions or pipeline.partitions

    async def guarded(
        self,
        event: Any,
        work: Callable[[], Awaitable[object]],
        stage: str,
        source: Callable[[], deadletter.Source] | None = None,
    ) -> None:
        """Run one event's work (or one user's part of it: ``source`` then gives the record to
        dead-letter for that user alone).

        An outage (Redis, the registry, Kafka) is retried with backoff and then crashes the
        worker, so the event is delivered again after a restart; it is never dead-lettered.
        A ``RecordError`` is the event's own: it is dead-lettered with the error's class and
        message (Herald's errors never quote a record's values) and the agent goes on. Any
        other error is a bug met on this event: dead-lettered too, named by its type and place
        only, never its text (which may quote the record's addresses).
        """
        message = event.message
        for delay in (*RETRY_DELAYS_S, None):
            try:
                await work()
                return
            except self.infrastructure as error:
                log.warning(
                    "%s on %s[%s]@%s: %s",
                    type(error).__name__,
                    message.topic,
                    message.partition,
                    message.offset,
                    "retrying" if delay else "giving up",
                )
                if delay is None:
                    await self.on_fatal(error)
                    raise
                await asyncio.sleep(delay)
            except RecordError as error:  # the event's own fault: no retry makes it good
                reason = f"{type(error).__name__}: {error}"
                self._dead_letter(event, source, reason, stage, error)
                return
            except Exception as error:
                log.error(
                    "unexpected %s on %s[%s]@%s at %s",
                    type(error).__name__,
                    message.topic,
                    message.partition,
                    message.offset,
                    where(error),
                )
                reason = f"unexpected {type(error).__name__} at {where(error)}"
                self._dead_letter(event, source, reason, stage, error)
                return

    def _dead_letter(
        self,
        event: Any,
        source: Callable[[], deadletter.Source] | None,
        reason: str,
        stage: str,
        error: BaseException,
    ) -> None:
        record = source_of(event) if source is None else source()
        self.outbox.dead_letter(
            record, reason, f"streams.{stage}", type(error).__name__, self.clock()
        )

    # -- fan-out --------------------------------------------------------------------------
    async def fan_out_batch(self, events: Sequence[Any]) -> None:
        """Requests in arrival order, each on its own (its own retries, its own dead letter);
        the batch ends once the broker has all they emitted."""
        for event in events:
            await self.guarded(event, partial(self.fan_out, event), "fan-out")
        await self.outbox.confirmed()

    async def fan_out(self, event: Any) -> int:
        """One request -> its recipients' shards on the per-user topic (or `expired`
        statuses); returns the number of recipients."""
        now = self.clock()
        request = self.codecs.requests.decode(event.value)  # a bad one: RecordError
        validate(request, self.pipeline)
        if request.expires_at is not None and request.expires_at <= now:
            for user_id in request.recipients:
                note = request.for_user(user_id)
                self.outbox.status(note, State.EXPIRED, now, reason=Reason.EXPIRED)
        else:
            for partition, shard in shards.split(
                request, self.partitions, self.pipeline.shard_size
            ):
                self.outbox.shard(partition, shard)
        return len(request.recipients)

    # -- profiles --------------------------------------------------------------------------
    async def profile(
        self,
        event: Any,
        table: MutableMapping[str, bytes],
        codec: TopicCodec[Any],
        check: Callable[[Any], object],
    ) -> None:
        """Keep the latest valid preferences or contacts per user; a tombstone deletes. A
        record that fails ``check`` (herald.profiles) is dead-lettered and the user keeps the
        profile they had."""
        key = (event.key or b"").decode(errors="replace")
        if event.value is None:
            table.pop(key, None)
            return
        record = codec.decode(event.value)
        if record.user_id != key:  # stored under the key: they must agree
            raise RecordError("the key is not the record's user_id")
        check(record)
        table[key] = event.value

    # -- dead addresses --------------------------------------------------------------------
    async def invalidate(self, event: Any, contacts: MutableMapping[str, bytes]) -> None:
        """Drop an address a provider refused for good from the user's contacts, and publish
        the updated contacts (the table is written at once, so a second invalidation for the
        same user right behind it starts from this one's result)."""
        dead = self.codecs.invalidations.decode(event.value)
        current = self._profile(contacts, dead.user_id, self.codecs.contacts)
        if current is None:
            return
        updated = without_address(current, dead.channel, dead.address)
        if updated is not current:
            contacts[dead.user_id] = self.outbox.contacts(updated)  # confirmed by the agent

    # -- per-user decision -----------------------------------------------------------------
    async def decide_batch(
        self,
        events: Sequence[Any],
        preferences: Mapping[str, bytes],
        contacts: Mapping[str, bytes],
        states: StateTable,
    ) -> None:
        """Shards in arrival order, each user in them decided alone (their own retries, their
        own dead letter) against their own preferences, contacts and state; the batch ends once
        the broker has everything it emitted. A shard holds users of one partition only, the
        partition its event came from, so each user's state is written to that changelog
        partition whatever the batch mixes."""
        for event in events:
            try:
                shard = self.codecs.per_user.decode(event.value)
            except RecordError as error:
                self._dead_letter(event, None, f"{type(error).__name__}: {error}", "decide", error)
                continue
            partition = event.message.partition
            now = self.clock()  # the shard's users are decided at one instant
            for user_id in shard.recipients:
                await self.guarded(
                    event,
                    partial(
                        self.decide,
                        shard.for_user(user_id),
                        partition,
                        now,
                        preferences,
                        contacts,
                        states,
                    ),
                    "decide",
                    partial(self._one_user, event, shard, user_id),
                )
        await self.outbox.confirmed()

    def _one_user(self, event: Any, shard: NotificationRequest, user_id: str) -> deadletter.Source:
        """The part of a shard that failed, as a record of its own: replaying it decides that
        user again, and no one else."""
        alone = dataclasses.replace(shard, recipients=[user_id])
        return dataclasses.replace(
            source_of(event), key=user_id.encode(), value=self.outbox.encode_shard(alone)
        )

    async def decide(
        self,
        note: UserNotification,
        partition: int,
        now: datetime,
        preferences: Mapping[str, bytes],
        contacts: Mapping[str, bytes],
        states: StateTable,
    ) -> None:
        prefs = self._profile(preferences, note.user_id, self.codecs.preferences)
        reach = self._profile(contacts, note.user_id, self.codecs.contacts)
        try:
            template_channels = self.templates.channels(note.template_id)
        except TemplateError as error:
            self.outbox.status(
                note, State.SUPPRESSED, now, reason=Reason.TEMPLATE_ERROR, detail=error.detail
            )
            return
        current = states.get(note.user_id)
        outcomes = decide(
            note,
            prefs,
            reach,
            template_channels,
            user_state.queued_channels(current, note.notification_id),
            user_state.recent_sends(current),
            now,
            self.policy,
        )
        queued: list[Channel] = []
        for outcome in outcomes:
            channel = await self._apply(note, outcome, prefs, now)
            if channel is not None:
                queued.append(channel)
        if queued:
            states.set(
                note.user_id,
                partition,
                user_state.after_sends(
                    current,
                    note.notification_id,
                    queued,
                    now.timestamp(),
                    self.policy.window_s,
                    self.pipeline.dedupe_ttl_s,
                ),
            )

    @staticmethod
    def _profile(table: Mapping[str, bytes], user_id: str, codec: TopicCodec[Any]) -> Any:
        raw = table.get(user_id)
        return None if raw is None else codec.decode_cached(raw)

    async def _apply(
        self, note: UserNotification, outcome: Outcome, prefs: UserPreferences | None, now: datetime
    ) -> Channel | None:
        """Emit what one outcome means; the channel when messages were queued on it."""
        if isinstance(outcome, Send):
            return outcome.channel if self._send(note, outcome, prefs, now) else None
        if isinstance(outcome, Suppress):
            self.outbox.status(
                note, State.SUPPRESSED, now, channel=outcome.channel, reason=outcome.reason
            )
        elif isinstance(outcome, Defer):
            later = dataclasses.replace(note, channels=outcome.channels)
            await self.deferred.add(outcome.until, self.outbox.encode_shard(later.as_request()))
            for channel in outcome.channels:
                self.outbox.status(
                    note,
                    State.DEFERRED,
                    now,
                    channel=channel,
                    reason=outcome.reason,
                    detail=f"until {outcome.until.isoformat()}",
                )
        elif isinstance(outcome, Expire):
            self.outbox.status(note, State.EXPIRED, now, reason=Reason.EXPIRED)
        return None

    def _send(
        self, note: UserNotification, send: Send, prefs: UserPreferences | None, now: datetime
    ) -> bool:
        locale = prefs.locale if prefs else None
        try:
            rendered = self.templates.render(note.template_id, send.channel, locale, note.data)
        except TemplateError as error:
            self.outbox.status(
                note,
                State.SUPPRESSED,
                now,
                channel=send.channel,
                reason=Reason.TEMPLATE_ERROR,
                detail=error.detail,
            )
            return False
        page = rendered.html
        if page and self.links and self.templates.template(note.template_id).track_email:
            ref = MessageRef(note.notification_id, note.request_id, note.user_id, send.channel,
                             note.tenant)  # fmt: skip
            page = tracked(page, ref, self.links, now)
        for address in send.addresses:
            self.outbox.message(
                ChannelMessage(
                    notification_id=note.notification_id,
                    request_id=note.request_id,
                    user_id=note.user_id,
                    channel=send.channel,
                    address=address.value,
                    platform=address.platform,
                    title=rendered.title,
                    body=rendered.body,
                    html=page,
                    category=note.category,
                    priority=note.priority,
                    deadline=note.expires_at,
                    tenant=note.tenant,
                )
            )
        self.outbox.status(note, State.QUEUED, now, channel=send.channel)
        return True

    # -- deferred --------------------------------------------------------------------------
    async def release_due(self) -> int:
        """Re-publish deferred notifications that are due (each a shard of one user);
        returns how many."""
        now = self.clock()
        await self.deferred.requeue_stale(now)
        due = await self.deferred.claim_due(now)
        for payload in due:
            try:
                alone = self.codecs.per_user.decode(payload)
            except CodecError as error:
                source = deadletter.Source.unplaced(self.deferred.key, None, payload)
                reason = f"CodecError: {error}"
                self.outbox.dead_letter(source, reason, "streams.release", "CodecError", now)
                continue
            user_id = alone.recipients[0]
            partition = shards.partition_for(user_id.encode(), self.partitions)
            self.outbox.shard_raw(partition, user_id, payload)
        await self.outbox.confirmed()  # removed from Redis only once the broker has them
        await self.deferred.done(due)
        return len(due)
