"""Notification templates: TOML files of jinja2 sources, rendered in a sandbox per channel.

One file per template, ``<directory>/<template_id>.toml``::

    channels = ["push", "email"]          # the channels a request gets when it names none
    default_locale = "en"
    [locales.en.push]
    title = "Order {{ order_id }} shipped"
    body = "Hi {{ name }}, it is on its way."
    [locales.en.sms]
    body = "..."
    [locales.en.email]
    subject = "..."
    text = "..."
    html = "<p>Hi {{ name }}</p>"         # optional; the only field that is HTML-escaped

The same definition travels on the templates topic as a ``NotificationTemplate`` record
(schemas/notification_template.avsc); a template there overrides the file of its id, so the
files are the seed of a fresh install and every change after that goes through the topic
(``herald.template_feed`` keeps each worker's store up to date with it).

A file is read and checked the first time its template is asked for, a topic's record when it
arrives; each channel's variant is compiled the first time it is rendered, and both are kept.
Every failure, from a TOML typo to a missing variable or a sandbox violation, is a
``TemplateError`` raised from the original.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import jinja2
from jinja2 import StrictUndefined
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from herald.errors import ConfigurationError, HeraldError
from herald.models import Channel, NotificationTemplate, TemplateVariant
from herald.sms import sms_segments

PUSH_MAX_BYTES: Final = 4096
RENDERED_KEPT: Final = 4096  # distinct (template, channel, locale, data) renderings

# A template id names a file: no separators, no dots, so no way out of the directory.
TEMPLATE_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
_TEMPLATE_ID: Final = re.compile(TEMPLATE_ID_PATTERN)
_CHANNEL_NAMES: Final = frozenset(str(channel) for channel in Channel)
# Per channel: (required fields, optional fields).
_FIELDS: Final[Mapping[Channel, tuple[frozenset[str], frozenset[str]]]] = {
    Channel.PUSH: (frozenset({"title", "body"}), frozenset()),
    Channel.SMS: (frozenset({"body"}), frozenset()),
    Channel.EMAIL: (frozenset({"subject", "text"}), frozenset({"html"})),
}


class TemplateError(HeraldError):
    """A template that cannot be loaded or rendered; ``detail`` says which, where and why."""

    def __init__(
        self,
        problem: str,
        *,
        template_id: str | None = None,
        channel: Channel | None = None,
        locale: str | None = None,
        field: str | None = None,
    ) -> None:
        self.template_id = template_id
        self.channel = channel
        self.locale = locale
        self.field = field
        where = [
            f"template {template_id[:128]!r}" if template_id is not None else "",
            f"channel {channel}" if channel is not None else "",
            f"locale {locale[:64]!r}" if locale else "",
            f"field {field!r}" if field is not None else "",
        ]
        located = ", ".join(part for part in where if part)
        self.detail = f"{located}: {problem}" if located else problem
        super().__init__(self.detail)


@dataclass(frozen=True, slots=True)
class Rendered:
    title: str | None  # push title, email subject
    body: str  # push body, SMS text, email plain text
    html: str | None  # email HTML
    sms_segments: int | None = None
    sms_encoding: str | None = None


@dataclass(frozen=True, slots=True)
class _Where:
    """Where a problem is, for the error it becomes."""

    template_id: str
    channel: Channel | None = None
    locale: str | None = None
    field: str | None = None

    def error(self, problem: str) -> TemplateError:
        return TemplateError(
            problem,
            template_id=self.template_id,
            channel=self.channel,
            locale=self.locale,
            field=self.field,
        )


class Origin(StrEnum):
    FILE = "file"  # an installed file: the seed of a fresh install
    TOPIC = "topic"  # the templates topic, which overrides a file of the same id


@dataclass(frozen=True, slots=True, eq=False)  # compared and hashed by identity: caches use it
class Template:
    """A template, checked: its channels and the sources of each (locale, channel); its
    compiled fields are kept with it, so a replaced template takes its caches with it."""

    template_id: str
    channels: tuple[Channel, ...]
    default_locale: str
    variants: Mapping[tuple[str, Channel], Mapping[str, str]]
    origin: Origin
    updated_at: datetime | None
    track_email: bool = False  # its emails' opens and clicks are tracked (herald.tracking)
    compiled: dict[tuple[str, Channel], Mapping[str, jinja2.Template]] = field(default_factory=dict)

    @property
    def locales(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(locale for locale, _ in self.variants))

    def definition(self) -> dict[str, Any]:
        """The template as a file holds it: channels, default_locale, track_email, locales."""
        locales: dict[str, dict[str, dict[str, str]]] = {}
        for (locale, channel), fields in self.variants.items():
            locales.setdefault(locale, {})[str(channel)] = dict(fields)
        return {
            "channels": [str(c) for c in self.channels],
            "default_locale": self.default_locale,
            "track_email": self.track_email,
            "locales": locales,
        }

    def record(self, updated_at: datetime | None = None) -> NotificationTemplate:
        """The template as the templates topic holds it, changed at ``updated_at`` (by
        default now, to the millisecond Avro keeps)."""
        if updated_at is None:
            now = datetime.now(UTC)
            updated_at = now.replace(microsecond=now.microsecond // 1000 * 1000)
        variants = tuple(
            TemplateVariant(locale, channel, dict(fields))
            for (locale, channel), fields in self.variants.items()
        )
        return NotificationTemplate(
            self.template_id,
            self.channels,
            self.default_locale,
            variants,
            updated_at,
            self.track_email,
        )


@dataclass(frozen=True, slots=True)
class Preview:
    """One channel of a template rendered for one asked-for locale: the message, or why not."""

    locale: str  # as asked
    channel: Channel
    rendered: Rendered | None
    used_locale: str | None  # the variant chosen (a fallback when the asked one has none)
    error: str | None


def normalise_locale(locale: str) -> str:
    """``"fr_CA"`` and ``"fr-ca"`` -> ``"fr-ca"``: locales compare by this form."""
    return locale.strip().replace("_", "-").lower()


def locale_candidates(locale: str | None, default_locale: str) -> tuple[str, ...]:
    """The locales to try, best first: ``"zh-Hant-TW"`` -> zh-hant-tw, zh-hant, zh, default."""
    tags: list[str] = []
    if locale:
        parts = normalise_locale(locale).split("-")
        tags = ["-".join(parts[:n]) for n in range(len(parts), 0, -1)]
    tags.append(normalise_locale(default_locale))
    return tuple(dict.fromkeys(tag for tag in tags if tag))


class TemplateStore:
    """Templates from the templates topic (``apply``), over the files of ``directory``;
    renders one channel's message for one locale.

    ``apply`` may be called from another thread than the renders: a template is replaced
    whole, in one dict assignment, and every cache is keyed by the template object.
    """

    def __init__(self, directory: Path, *, max_sms_segments: int = 6) -> None:
        if max_sms_segments < 1:
            raise ConfigurationError(f"max_sms_segments must be at least 1, not {max_sms_segments}")
        self._directory = directory
        self._max_sms_segments = max_sms_segments
        self._files: dict[str, Template] = {}
        # The topic's templates; one that fails its checks is kept as its error, so that
        # it neither renders nor falls back to a file of the same id.
        self._topic: dict[str, Template | TemplateError] = {}
        # A campaign renders the same data for each of its recipients: rendered once.
        # (Rendering is pure: a sandbox with no globals that change.) Failures are not kept.
        self._rendered = lru_cache(maxsize=RENDERED_KEPT)(self._render)

    def channels(self, template_id: str) -> tuple[Channel, ...]:
        """The channels the template sends on when a request names none."""
        return self.template(template_id).channels

    def render(
        self, template_id: str, channel: Channel, locale: str | None, data: Mapping[str, str]
    ) -> Rendered:
        """The ``channel`` message of ``template_id`` in the best variant for ``locale``."""
        template = self.template(template_id)
        return self._rendered(template, Channel(channel), locale, tuple(data.items()))

    def template(self, template_id: str) -> Template:
        """The topic's template of this id, else the file's."""
        found = self._topic.get(template_id)
        if isinstance(found, TemplateError):
            raise found
        if found is not None:
            return found
        template = self._files.get(template_id)
        if template is None:  # failures are not kept: ids come from requests, files get fixed
            raw, modified = _read(self._directory, template_id)
            template = parse_template(template_id, raw, Origin.FILE, modified)
            self._files[template_id] = template
        return template

    def ids(self) -> list[str]:
        """Every template id, from the topic and the files, sorted."""
        files = (path.stem for path in self._directory.glob("*.toml"))
        return sorted({*(i for i in files if _TEMPLATE_ID.fullmatch(i)), *self._topic})

    def apply(self, template_id: str, record: NotificationTemplate | None) -> None:
        """A record of the templates topic: the template replaced, or (None, a tombstone)
        removed from the topic's, which leaves the file of that id if there is one."""
        if record is None:
            self._topic.pop(template_id, None)
            return
        try:
            if record.template_id != template_id:
                raise TemplateError(
                    f"the record's key is {template_id[:128]!r}", template_id=record.template_id
                )
            self._topic[template_id] = check_record(record)
        except TemplateError as error:
            self._topic[template_id] = error

    def preview(
        self, template: Template, data: Mapping[str, str], locales: Iterable[str] = ()
    ) -> list[Preview]:
        """Each of the template's channels for each of ``locales`` (by default each locale
        the template has), rendered with ``data``."""
        previews = []
        for locale in list(locales) or template.locales:
            for channel in template.channels:
                try:
                    used = _choose_locale(template, channel, locale)
                    rendered = self._rendered(template, channel, locale, tuple(data.items()))
                except TemplateError as error:
                    previews.append(Preview(locale, channel, None, None, error.detail))
                else:
                    previews.append(Preview(locale, channel, rendered, used, None))
        return previews

    def _render(
        self,
        template: Template,
        channel: Channel,
        locale: str | None,
        items: tuple[tuple[str, str], ...],
    ) -> Rendered:
        data = dict(items)
        chosen = _choose_locale(template, channel, locale)
        where = _Where(template.template_id, channel, chosen)
        fields = {
            name: _render_field(compiled, data, replace(where, field=name))
            for name, compiled in _compiled(template, chosen, channel).items()
        }
        match channel:
            case Channel.PUSH:
                rendered = _push(fields, where)
            case Channel.SMS:
                rendered = _sms(fields, where, self._max_sms_segments)
            case Channel.EMAIL:
                rendered = _email(fields)
        if not rendered.body:
            raise where.error("the message body renders empty")
        return rendered


class InvalidTemplate(TemplateError):
    """A template that does not pass its checks; ``problems`` has each, located, and it is
    located where the first is."""

    def __init__(self, problems: list[TemplateError]) -> None:
        first = problems[0]
        super().__init__(
            "",
            template_id=first.template_id,
            channel=first.channel,
            locale=first.locale,
            field=first.field,
        )
        self.problems = problems
        self.detail = "; ".join(problem.detail for problem in problems)
        self.args = (self.detail,)


def problems(template: Template) -> list[TemplateError]:
    """Each field of ``template`` that does not compile."""
    found = []
    for locale, channel in template.variants:
        try:
            _compiled(template, locale, channel)
        except TemplateError as error:
            found.append(error)
    return found


def check_definition(template_id: str, raw: Mapping[str, Any]) -> Template:
    """A definition (a file's tables) as a template of the topic whose every field compiles;
    ``InvalidTemplate`` with each problem otherwise."""
    try:
        template = parse_template(template_id, raw, Origin.TOPIC, None)
    except TemplateError as error:
        raise InvalidTemplate([error]) from error
    return _checked(template)


def check_record(record: NotificationTemplate) -> Template:
    """A record of the templates topic checked as a file is, every field compiled."""
    try:
        template = from_record(record)
    except TemplateError as error:
        raise InvalidTemplate([error]) from error
    return _checked(template)


def _checked(template: Template) -> Template:
    found = problems(template)
    if found:
        raise InvalidTemplate(found)
    return template


_TEXT_ENV: Final = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_HTML_ENV: Final = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


def _compiled(template: Template, locale: str, channel: Channel) -> Mapping[str, jinja2.Template]:
    """The fields of one variant compiled, kept with the template."""
    compiled = template.compiled.get((locale, channel))
    if compiled is None:
        where = _Where(template.template_id, channel, locale)
        compiled = {
            name: _compile_field(text, channel, replace(where, field=name))
            for name, text in template.variants[(locale, channel)].items()
        }
        template.compiled[(locale, channel)] = compiled
    return compiled


def _compile_field(text: str, channel: Channel, where: _Where) -> jinja2.Template:
    html = channel is Channel.EMAIL and where.field == "html"
    env = _HTML_ENV if html else _TEXT_ENV
    try:
        return env.from_string(text)
    except Exception as exc:  # a template is code: whatever it raises is its fault
        raise where.error(f"does not compile: {_describe(exc)}") from exc


def _read(directory: Path, template_id: str) -> tuple[dict[str, Any], datetime]:
    if not _TEMPLATE_ID.fullmatch(template_id):
        raise _Where(template_id).error("not a template id (letters, digits, '_' and '-' only)")
    return read_definition(directory / f"{template_id}.toml")


def read_definition(path: Path) -> tuple[dict[str, Any], datetime]:
    """A template file's tables, and when it was changed; its id is its name's stem."""
    where = _Where(path.stem)
    try:
        with path.open("rb") as file:
            modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            return tomllib.load(file), modified
    except FileNotFoundError as exc:
        raise where.error(f"unknown template: there is no {path.name}") from exc
    except tomllib.TOMLDecodeError as exc:  # its message names the line and column
        raise where.error(f"cannot read {path.name}: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise where.error(f"cannot read {path.name}: {type(exc).__name__}") from exc


def from_record(record: NotificationTemplate) -> Template:
    """A record of the templates topic, checked as a file is."""
    locales: dict[str, dict[str, Any]] = {}
    for variant in record.variants:
        channels = locales.setdefault(variant.locale, {})
        if str(variant.channel) in channels:
            where = _Where(record.template_id, variant.channel, variant.locale)
            raise where.error("a duplicate variant")
        channels[str(variant.channel)] = variant.fields
    raw = {
        "channels": [str(c) for c in record.channels],
        "default_locale": record.default_locale,
        "track_email": record.track_email,
        "locales": locales,
    }
    return parse_template(record.template_id, raw, Origin.TOPIC, record.updated_at)


def parse_template(
    template_id: str, raw: Mapping[str, Any], origin: Origin, updated_at: datetime | None
) -> Template:
    """A template's definition (a file's tables) checked: its structure, not its sources."""
    where = _Where(template_id)
    if not _TEMPLATE_ID.fullmatch(template_id):
        raise where.error("not a template id (letters, digits, '_' and '-' only)")
    channels = raw.get("channels")
    if not isinstance(channels, list) or not channels:
        raise where.error("'channels' must be a non-empty list of channel names")
    default_locale = raw.get("default_locale")
    if not isinstance(default_locale, str) or not normalise_locale(default_locale):
        raise where.error("'default_locale' must be a locale such as \"en\"")
    locales = raw.get("locales")
    if not isinstance(locales, dict):
        raise where.error("'locales' must be a table of locales, e.g. [locales.en.push]")
    variants: dict[tuple[str, Channel], Mapping[str, str]] = {}
    for locale, table in locales.items():
        for channel, fields in _parse_locale(where, locale, table).items():
            key = (normalise_locale(locale), channel)
            if key in variants:
                raise replace(where, channel=channel, locale=locale).error("a duplicate variant")
            variants[key] = fields
    default = normalise_locale(default_locale)
    if not any(locale == default for locale, _ in variants):
        raise where.error(f"default_locale {default_locale!r} has no variants")
    parsed = _parse_channels(where, channels)
    track = raw.get("track_email", False)
    if not isinstance(track, bool):
        raise where.error("'track_email' must be true or false")
    return Template(template_id, parsed, default, variants, origin, updated_at, track)


def _parse_channels(where: _Where, names: list[Any]) -> tuple[Channel, ...]:
    unknown = [name for name in names if not isinstance(name, str) or name not in _CHANNEL_NAMES]
    if unknown:
        raise where.error(f"unknown channels {unknown!r} (known: {sorted(_CHANNEL_NAMES)})")
    channels = tuple(Channel(name) for name in names)
    if len(set(channels)) != len(channels):
        raise where.error(f"'channels' lists a channel twice: {names!r}")
    return channels


def _parse_locale(where: _Where, locale: str, table: Any) -> dict[Channel, Mapping[str, str]]:
    where = replace(where, locale=locale)
    if not normalise_locale(locale) or not isinstance(table, dict):
        raise where.error("a locale must be a table of channels, e.g. [locales.en.push]")
    variants: dict[Channel, Mapping[str, str]] = {}
    for name, fields in table.items():
        if name not in _CHANNEL_NAMES:
            raise where.error(f"unknown channel {name!r}")
        channel = Channel(name)
        variants[channel] = _parse_variant(replace(where, channel=channel), channel, fields)
    return variants


def _parse_variant(where: _Where, channel: Channel, fields: Any) -> Mapping[str, str]:
    required, optional = _FIELDS[channel]
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        raise where.error(f"must be a table of strings: {sorted(required | optional)}")
    missing, unknown = required - fields.keys(), fields.keys() - required - optional
    if missing or unknown:
        raise where.error(f"missing fields {sorted(missing)}, unknown fields {sorted(unknown)}")
    return dict(fields)


def _choose_locale(template: Template, channel: Channel, locale: str | None) -> str:
    candidates = locale_candidates(locale, template.default_locale)
    for candidate in candidates:
        if (candidate, channel) in template.variants:
            return candidate
    where = _Where(template.template_id, channel, locale)
    raise where.error(f"no variant for this channel in locales {', '.join(candidates)}")


def _render_field(template: jinja2.Template, data: Mapping[str, str], where: _Where) -> str:
    try:
        text = template.render(dict(data)).strip()
        text.encode()  # a lone surrogate in the data would fail every sender: fail here
    except Exception as exc:  # a template is code: whatever it raises is its fault
        raise where.error(f"does not render: {_describe(exc)}") from exc
    return text


def _describe(exc: Exception) -> str:
    if isinstance(exc, jinja2.TemplateSyntaxError):  # the line within the field
        return f"{exc.message} (line {exc.lineno})"
    if isinstance(exc, SecurityError):
        return f"blocked by the sandbox: {exc}"
    if isinstance(exc, jinja2.UndefinedError):
        return f"undefined value: {exc}"
    if isinstance(exc, jinja2.TemplateError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _push(fields: Mapping[str, str], where: _Where) -> Rendered:
    title, body = fields["title"], fields["body"]
    payload = json.dumps({"title": title, "body": body}, ensure_ascii=False).encode()
    if len(payload) > PUSH_MAX_BYTES:
        raise where.error(f"push payload is {len(payload)} bytes, over {PUSH_MAX_BYTES}")
    return Rendered(title=title, body=body, html=None)


def _sms(fields: Mapping[str, str], where: _Where, max_segments: int) -> Rendered:
    body = fields["body"]
    encoding, segments = sms_segments(body)
    if segments > max_segments:
        raise where.error(f"SMS is {segments} {encoding} segments, over {max_segments}")
    return Rendered(title=None, body=body, html=None, sms_segments=segments, sms_encoding=encoding)


def _email(fields: Mapping[str, str]) -> Rendered:
    # One line, whatever the data holds: a line break in a subject would start a new header.
    subject = " ".join(fields["subject"].split())
    return Rendered(title=subject, body=fields["text"], html=fields.get("html") or None)
