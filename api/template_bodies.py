"""The templates routes' bodies: a template as a file holds it (channels, default_locale,
locales of channels of jinja2 fields), its listing, and previews."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from herald.models import Channel
from herald.templating import Origin, Preview, Template

Locale = Annotated[str, Field(min_length=1, max_length=64)]
Source = Annotated[str, Field(max_length=100_000)]
FIELDS = (
    "The channel's jinja2 fields. push: title, body; sms: body; email: subject, text and "
    "optionally html (the only one HTML-escaped)."
)

TRACK = "Opens and clicks of its emails are tracked (signed redirects and an open pixel)."


class TemplateIn(BaseModel):
    """A template as a TOML file of templates/ holds it."""

    model_config = ConfigDict(extra="forbid")

    channels: list[Channel] = Field(
        min_length=1, max_length=3, description="The channels a request gets when it names none."
    )
    default_locale: Locale
    track_email: bool = Field(default=False, description=TRACK)
    locales: dict[Locale, dict[Channel, dict[str, Source]]] = Field(
        min_length=1, max_length=200, description=FIELDS
    )

    def definition(self) -> dict[str, object]:
        return self.model_dump(mode="json")


class TemplateOut(BaseModel):
    template_id: str
    origin: Origin = Field(description="file: an installed file; topic: set through the API")
    updated_at: datetime | None
    channels: list[Channel]
    default_locale: str
    track_email: bool = Field(description=TRACK)
    locales: dict[str, dict[Channel, dict[str, str]]]

    @classmethod
    def of(cls, template: Template) -> TemplateOut:
        definition = template.definition()
        return cls(
            template_id=template.template_id,
            origin=template.origin,
            updated_at=template.updated_at,
            channels=definition["channels"],
            default_locale=definition["default_locale"],
            track_email=definition["track_email"],
            locales=definition["locales"],
        )


class TemplateSummary(BaseModel):
    template_id: str
    origin: Origin | None = Field(description="null when the template does not load at all")
    updated_at: datetime | None
    channels: list[Channel]
    locales: list[str]
    problem: str | None = Field(description="why the template does not load or compile")


class TemplateList(BaseModel):
    templates: list[TemplateSummary]


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: dict[str, str] = Field(default_factory=dict, description="The request's data.")
    locales: list[Locale] = Field(
        default_factory=list, max_length=50, description="Empty: each locale of the template."
    )


class DraftPreviewIn(PreviewIn):
    template: TemplateIn


class PreviewItem(BaseModel):
    locale: str = Field(description="The locale asked for.")
    channel: Channel
    used_locale: str | None = Field(description="The variant rendered (a fallback, if need be).")
    title: str | None = Field(default=None, description="The push title or email subject.")
    body: str | None = Field(default=None, description="The push body, SMS text or email text.")
    html: str | None = None
    sms_segments: int | None = None
    sms_encoding: str | None = None
    error: str | None = Field(description="Why this one does not render.")

    @classmethod
    def of(cls, preview: Preview) -> PreviewItem:
        rendered = preview.rendered
        message = (
            {}
            if rendered is None
            else {
                "title": rendered.title,
                "body": rendered.body,
                "html": rendered.html,
                "sms_segments": rendered.sms_segments,
                "sms_encoding": rendered.sms_encoding,
            }
        )
        return cls.model_validate(
            {
                "locale": preview.locale,
                "channel": preview.channel,
                "used_locale": preview.used_locale,
                "error": preview.error,
                **message,
            }
        )


class PreviewOut(BaseModel):
    template_id: str | None = Field(description="null for a draft")
    previews: list[PreviewItem]
