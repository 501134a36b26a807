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

A file is read and checked the first time its template is asked for; each channel's variant is
compiled the first time it is rendered, and both are kept. Every failure, from a TOML typo to a
missing variable or a sandbox violation, is a ``TemplateError`` raised from the original.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import jinja2
from jinja2 import StrictUndefined
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from herald.errors import ConfigurationError, HeraldError
from herald.models import Channel
from herald.sms import sms_segments

PUSH_MAX_BYTES: Final = 4096
RENDERED_KEPT: Final = 4096  # distinct (template, channel, locale, data) renderings

# A template id names a file: no separators, no dots, so no way out of the directory.
_TEMPLATE_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
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


@dataclass(frozen=True, slots=True)
class _Source:
    """A template file, checked: its channels and the sources of each (locale, channel)."""

    template_id: str
    channels: tuple[Channel, ...]
    default_locale: str
    variants: Mapping[tuple[str, Channel], Mapping[str, str]]


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
    """Templates read from ``directory``; renders one channel's message for one locale."""

    def __init__(self, directory: Path, *, max_sms_segments: int = 6) -> None:
        if max_sms_segments < 1:
            raise ConfigurationError(f"max_sms_segments must be at least 1, not {max_sms_segments}")
        self._directory = directory
        self._max_sms_segments = max_sms_segments
        self._text_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        self._html_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)
        self._sources: dict[str, _Source] = {}
        self._compiled: dict[tuple[str, str, Channel], dict[str, jinja2.Template]] = {}
        # A campaign renders the same data for each of its recipients: rendered once.
        # (Rendering is pure: a sandbox with no globals that change.) Failures are not kept.
        self._rendered = lru_cache(maxsize=RENDERED_KEPT)(self._render)

    def channels(self, template_id: str) -> tuple[Channel, ...]:
        """The channels the template sends on when a request names none."""
        return self._source(template_id).channels

    def render(
        self, template_id: str, channel: Channel, locale: str | None, data: Mapping[str, str]
    ) -> Rendered:
        """The ``channel`` message of ``template_id`` in the best variant for ``locale``."""
        return self._rendered(template_id, Channel(channel), locale, tuple(data.items()))

    def _render(
        self,
        template_id: str,
        channel: Channel,
        locale: str | None,
        items: tuple[tuple[str, str], ...],
    ) -> Rendered:
        data = dict(items)
        source = self._source(template_id)
        chosen = _choose_locale(source, channel, locale)
        where = _Where(template_id, channel, chosen)
        fields = {
            name: _render_field(template, data, replace(where, field=name))
            for name, template in self._compile(source, chosen, channel).items()
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

    def _source(self, template_id: str) -> _Source:
        source = self._sources.get(template_id)
        if source is None:  # failures are not kept: ids come from requests, files get fixed
            source = _parse(template_id, _read(self._directory, template_id))
            self._sources[template_id] = source
        return source

    def _compile(
        self, source: _Source, locale: str, channel: Channel
    ) -> Mapping[str, jinja2.Template]:
        key = (source.template_id, locale, channel)
        compiled = self._compiled.get(key)
        if compiled is None:
            where = _Where(source.template_id, channel, locale)
            compiled = {
                name: self._compile_field(text, channel, replace(where, field=name))
                for name, text in source.variants[(locale, channel)].items()
            }
            self._compiled[key] = compiled
        return compiled

    def _compile_field(self, text: str, channel: Channel, where: _Where) -> jinja2.Template:
        html = channel is Channel.EMAIL and where.field == "html"
        env = self._html_env if html else self._text_env
        try:
            return env.from_string(text)
        except Exception as exc:  # a template is code: whatever it raises is its fault
            raise where.error(f"does not compile: {_describe(exc)}") from exc


def _read(directory: Path, template_id: str) -> dict[str, Any]:
    where = _Where(template_id)
    if not _TEMPLATE_ID.fullmatch(template_id):
        raise where.error("not a template id (letters, digits, '_' and '-' only)")
    path = directory / f"{template_id}.toml"
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError as exc:
        raise where.error(f"unknown template: there is no {path.name}") from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise where.error(f"cannot read {path.name}: {type(exc).__name__}") from exc


def _parse(template_id: str, raw: Mapping[str, Any]) -> _Source:
    where = _Where(template_id)
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
    return _Source(template_id, _parse_channels(where, channels), default, variants)


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


def _choose_locale(source: _Source, channel: Channel, locale: str | None) -> str:
    candidates = locale_candidates(locale, source.default_locale)
    for candidate in candidates:
        if (candidate, channel) in source.variants:
            return candidate
    where = _Where(source.template_id, channel, locale)
    raise where.error(f"no variant for this channel in locales {', '.join(candidates)}")


def _render_field(template: jinja2.Template, data: Mapping[str, str], where: _Where) -> str:
    try:
        text = template.render(dict(data)).strip()
        text.encode()  # a lone surrogate in the data would fail every sender: fail here
    except Exception as exc:  # a template is code: whatever it raises is its fault
        raise where.error(f"does not render: {_describe(exc)}") from exc
    return text


def _describe(exc: Exception) -> str:
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
