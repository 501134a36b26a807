from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import pytest
from jinja2.exceptions import SecurityError, TemplateAssertionError

from herald.errors import ConfigurationError, HeraldError
from herald.models import Channel, NotificationTemplate
from herald.templating import (
    PUSH_MAX_BYTES,
    Origin,
    Rendered,
    TemplateError,
    TemplateStore,
    from_record,
    locale_candidates,
    parse_template,
    problems,
)

REPO_TEMPLATES = Path(__file__).parents[3] / "templates"
SAMPLE = {"name": "Ada", "order_id": "A-1001", "device": "Firefox on Linux", "count": "3"}

LOCALISED = """
channels = ["push", "email"]
default_locale = "en"
[locales.en.push]
title = "en"
body = "en push"
[locales.en.sms]
body = "en sms"
[locales.fr.push]
title = "fr"
body = "fr push"
[locales.fr.sms]
body = "fr sms"
[locales.fr-CA.push]
title = "fr-CA"
body = "fr-CA push"
"""


def store_with(tmp_path: Path, source: str, name: str = "t", **kwargs: int) -> TemplateStore:
    (tmp_path / f"{name}.toml").write_text(source, encoding="utf-8")
    return TemplateStore(tmp_path, **kwargs)


def push_template(title: str, body: str) -> str:
    return (
        'channels = ["push"]\ndefault_locale = "en"\n[locales.en.push]\n'
        f"title = {json.dumps(title)}\nbody = {json.dumps(body)}\n"
    )


def sms_template(body: str) -> str:
    header = 'channels = ["sms"]\ndefault_locale = "en"\n[locales.en.sms]\n'
    return f"{header}body = {json.dumps(body)}\n"


# Locales


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (None, ("en",)),
        ("", ("en",)),
        ("en", ("en",)),
        ("fr-CA", ("fr-ca", "fr", "en")),
        ("fr_CA", ("fr-ca", "fr", "en")),
        ("zh-Hant-TW", ("zh-hant-tw", "zh-hant", "zh", "en")),
    ],
)
def test_locale_candidates_go_from_exact_to_language_to_default(
    locale: str | None, expected: tuple[str, ...]
) -> None:
    assert locale_candidates(locale, "en") == expected


@pytest.mark.parametrize(
    ("locale", "title"),
    [
        ("fr-CA", "fr-CA"),  # exact
        ("fr_ca", "fr-CA"),  # same locale, other spelling
        ("fr-BE", "fr"),  # language
        ("fr", "fr"),
        ("de-DE", "en"),  # default
        (None, "en"),
    ],
)
def test_render_picks_the_best_locale(tmp_path: Path, locale: str | None, title: str) -> None:
    store = store_with(tmp_path, LOCALISED)
    assert store.render("t", Channel.PUSH, locale, {}).title == title


def test_a_channel_missing_in_the_chosen_locale_falls_back_along_the_chain(
    tmp_path: Path,
) -> None:
    store = store_with(tmp_path, LOCALISED)
    assert store.render("t", Channel.SMS, "fr-CA", {}).body == "fr sms"
    assert store.render("t", Channel.SMS, "de", {}).body == "en sms"


def test_a_channel_with_no_variant_at_all_is_a_template_error(tmp_path: Path) -> None:
    store = store_with(tmp_path, LOCALISED)
    with pytest.raises(TemplateError) as caught:
        store.render("t", Channel.EMAIL, "fr-CA", {})
    assert "'t'" in caught.value.detail and "email" in caught.value.detail
    assert "fr-ca, fr, en" in caught.value.detail


# Escaping, variables, sandbox


def test_html_is_escaped_only_in_the_email_html(tmp_path: Path) -> None:
    store = store_with(
        tmp_path,
        'channels = ["email", "push"]\ndefault_locale = "en"\n'
        '[locales.en.email]\nsubject = "Hi {{ name }}"\ntext = "Hi {{ name }}"\n'
        'html = "<p>Hi {{ name }}</p>"\n'
        '[locales.en.push]\ntitle = "{{ name }}"\nbody = "Hi {{ name }}"\n',
    )
    data = {"name": "<script>alert(1)</script>"}
    email = store.render("t", Channel.EMAIL, "en", data)
    assert email.html == "<p>Hi &lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert email.body == "Hi <script>alert(1)</script>"
    assert email.title == "Hi <script>alert(1)</script>"
    push = store.render("t", Channel.PUSH, "en", data)
    assert push.title == "<script>alert(1)</script>"


def test_a_missing_variable_is_a_template_error_naming_it(tmp_path: Path) -> None:
    store = store_with(tmp_path, push_template("Order {{ order_id }}", "Hi {{ name }}"))
    with pytest.raises(TemplateError) as caught:
        store.render("t", Channel.PUSH, "en", {"name": "Ada"})
    assert "'order_id' is undefined" in caught.value.detail
    assert "field 'title'" in caught.value.detail
    assert isinstance(caught.value.__cause__, jinja2.UndefinedError)
    assert isinstance(caught.value, HeraldError)


@pytest.mark.parametrize(
    "expression",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ name.__class__.__base__.__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ name.upper.__self__ }}",
    ],
)
def test_the_sandbox_blocks_attribute_escapes(tmp_path: Path, expression: str) -> None:
    store = store_with(tmp_path, push_template("t", expression))
    with pytest.raises(TemplateError) as caught:
        store.render("t", Channel.PUSH, "en", {"name": "Ada"})
    assert isinstance(caught.value.__cause__, SecurityError)
    assert "sandbox" in caught.value.detail


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        ("{{ name ", jinja2.TemplateSyntaxError),
        ("{{ name | nosuchfilter }}", TemplateAssertionError),
        ("{{ name + 1 }}", TypeError),
        ("{{ 1 // 0 }}", ZeroDivisionError),
    ],
)
def test_any_template_failure_is_a_template_error(
    tmp_path: Path, body: str, cause: type[Exception]
) -> None:
    store = store_with(tmp_path, push_template("t", body))
    with pytest.raises(TemplateError) as caught:
        store.render("t", Channel.PUSH, "en", {"name": "Ada"})
    assert isinstance(caught.value.__cause__, cause)


def test_rendered_strings_are_stripped(tmp_path: Path) -> None:
    store = store_with(tmp_path, push_template("  {{ name }}\n", "\n  Hi {{ name }}  \n\n"))
    assert store.render("t", Channel.PUSH, "en", {"name": "Ada"}) == Rendered(
        title="Ada", body="Hi Ada", html=None
    )


def test_an_empty_body_is_a_template_error(tmp_path: Path) -> None:
    store = store_with(tmp_path, push_template("t", "{{ name }}"))
    with pytest.raises(TemplateError, match="empty"):
        store.render("t", Channel.PUSH, "en", {"name": "  "})


def test_a_plain_channel_name_is_accepted(tmp_path: Path) -> None:
    store = store_with(tmp_path, push_template("t", "b"))
    assert store.render("t", "push", "en", {}).body == "b"  # type: ignore[arg-type]


# Channel limits and shapes


def test_push_payload_is_limited_to_4096_bytes(tmp_path: Path) -> None:
    store = store_with(tmp_path, push_template("T", "{{ body }}"))
    overhead = len(json.dumps({"title": "T", "body": ""}).encode())
    fits = "x" * (PUSH_MAX_BYTES - overhead)
    assert store.render("t", Channel.PUSH, "en", {"body": fits}).body == fits
    with pytest.raises(TemplateError) as caught:
        store.render("t", Channel.PUSH, "en", {"body": fits + "x"})
    assert f"{PUSH_MAX_BYTES + 1} bytes" in caught.value.detail


def test_push_payload_size_counts_utf8_bytes(tmp_path: Path) -> None:
    store = store_with(tmp_path, push_template("T", "{{ body }}"))
    overhead = len(json.dumps({"title": "T", "body": ""}).encode())
    body = "é" * ((PUSH_MAX_BYTES - overhead) // 2 + 1)  # fits in characters, not in bytes
    assert overhead + len(body) <= PUSH_MAX_BYTES
    with pytest.raises(TemplateError):
        store.render("t", Channel.PUSH, "en", {"body": body})


def test_sms_reports_its_segments_and_encoding(tmp_path: Path) -> None:
    store = store_with(tmp_path, sms_template("{{ text }}"), max_sms_segments=2)
    assert store.render("t", Channel.SMS, "en", {"text": "a" * 306}) == Rendered(
        title=None, body="a" * 306, html=None, sms_segments=2, sms_encoding="GSM-7"
    )
    rendered = store.render("t", Channel.SMS, "en", {"text": "\N{GRINNING FACE}"})
    assert (rendered.sms_segments, rendered.sms_encoding) == (1, "UCS-2")


def test_sms_over_the_segment_limit_is_a_template_error(tmp_path: Path) -> None:
    store = store_with(tmp_path, sms_template("{{ text }}"), max_sms_segments=2)
    with pytest.raises(TemplateError, match="3 GSM-7 segments, over 2"):
        store.render("t", Channel.SMS, "en", {"text": "a" * 307})


def test_the_segment_limit_must_allow_a_message() -> None:
    with pytest.raises(ConfigurationError):
        TemplateStore(Path("templates"), max_sms_segments=0)


def test_email_maps_subject_text_and_html(tmp_path: Path) -> None:
    store = store_with(
        tmp_path,
        'channels = ["email"]\ndefault_locale = "en"\n'
        '[locales.en.email]\nsubject = "S {{ name }}"\ntext = "T {{ name }}"\n',
    )
    assert store.render("t", Channel.EMAIL, "en", {"name": "Ada"}) == Rendered(
        title="S Ada", body="T Ada", html=None
    )


def test_an_email_subject_stays_on_one_line(tmp_path: Path) -> None:
    store = store_with(
        tmp_path,
        'channels = ["email"]\ndefault_locale = "en"\n'
        '[locales.en.email]\nsubject = "Hi {{ name }}"\ntext = "x"\n',
    )
    rendered = store.render("t", Channel.EMAIL, "en", {"name": "Ada\r\nBcc: eve@example.com"})
    assert rendered.title == "Hi Ada Bcc: eve@example.com"


# Loading


def test_channels_are_the_templates_own(tmp_path: Path) -> None:
    assert store_with(tmp_path, LOCALISED).channels("t") == (Channel.PUSH, Channel.EMAIL)
    assert TemplateStore(REPO_TEMPLATES).channels("order_shipped") == (
        Channel.PUSH,
        Channel.SMS,
        Channel.EMAIL,
    )


@pytest.mark.parametrize("template_id", ["nope", "../templates/order_shipped", "a.b", "", "x/y"])
def test_an_unknown_template_is_a_template_error(template_id: str) -> None:
    store = TemplateStore(REPO_TEMPLATES)
    with pytest.raises(TemplateError):
        store.channels(template_id)
    with pytest.raises(TemplateError):
        store.render(template_id, Channel.PUSH, "en", SAMPLE)


def test_unreadable_toml_is_a_template_error(tmp_path: Path) -> None:
    store = store_with(tmp_path, "channels = [push\n")
    with pytest.raises(TemplateError) as caught:
        store.channels("t")
    assert isinstance(caught.value.__cause__, tomllib.TOMLDecodeError)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ('default_locale = "en"\n[locales.en.sms]\nbody = "b"\n', "'channels'"),
        ('channels = ["fax"]\ndefault_locale = "en"\n[locales.en.sms]\nbody = "b"\n', "fax"),
        ('channels = ["sms", "sms"]\ndefault_locale = "en"\n[locales.en.sms]\nbody="b"\n', "twice"),
        ('channels = ["sms"]\n[locales.en.sms]\nbody = "b"\n', "'default_locale'"),
        ('channels = ["sms"]\ndefault_locale = "en"\n', "'locales'"),
        ('channels = ["sms"]\ndefault_locale = "de"\n[locales.en.sms]\nbody = "b"\n', "'de'"),
        ('channels = ["sms"]\ndefault_locale = "en"\n[locales.en.fax]\nbody = "b"\n', "fax"),
        ('channels = ["sms"]\ndefault_locale = "en"\n[locales.en.sms]\ntext = "b"\n', "body"),
        ('channels = ["sms"]\ndefault_locale = "en"\n[locales.en.sms]\nbody = 1\n', "strings"),
        (
            'channels = ["push"]\ndefault_locale = "en"\n'
            '[locales.en.push]\ntitle = "t"\nbody = "b"\ntitel = "t"\n',
            "titel",
        ),
    ],
)
def test_a_malformed_template_file_is_a_template_error(
    tmp_path: Path, source: str, problem: str
) -> None:
    with pytest.raises(TemplateError) as caught:
        store_with(tmp_path, source).channels("t")
    assert problem in caught.value.detail and "'t'" in caught.value.detail


def test_templates_are_read_once(tmp_path: Path) -> None:
    store = store_with(tmp_path, push_template("t", "Hi {{ name }}"))
    assert store.render("t", Channel.PUSH, "en", {"name": "Ada"}).body == "Hi Ada"
    (tmp_path / "t.toml").unlink()
    assert store.render("t", Channel.PUSH, "en", {"name": "Bo"}).body == "Hi Bo"
    assert store.channels("t") == (Channel.PUSH,)


# The shipped templates


def test_the_broken_template_fails_to_render_but_still_has_channels() -> None:
    store = TemplateStore(REPO_TEMPLATES)
    assert store.channels("broken") == (Channel.PUSH,)
    with pytest.raises(TemplateError) as caught:
        store.render("broken", Channel.PUSH, "en", SAMPLE)
    assert "nosuchfilter" in caught.value.detail
    assert isinstance(caught.value.__cause__, TemplateAssertionError)


def shipped_variants() -> list[tuple[str, str, Channel]]:
    variants = []
    for path in sorted(REPO_TEMPLATES.glob("*.toml")):
        if path.stem == "broken":
            continue
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        for locale, channels in raw["locales"].items():
            variants += [(path.stem, locale, Channel(channel)) for channel in channels]
    return variants


def test_the_shipped_templates_are_there() -> None:
    shipped = {template_id for template_id, _, _ in shipped_variants()}
    assert shipped == {"order_shipped", "security_alert", "weekly_digest"}


@pytest.mark.parametrize(("template_id", "locale", "channel"), shipped_variants())
def test_every_shipped_variant_renders(template_id: str, locale: str, channel: Channel) -> None:
    store = TemplateStore(REPO_TEMPLATES)
    rendered = store.render(template_id, channel, locale, SAMPLE)
    assert rendered.body
    assert "{{" not in rendered.body and "{%" not in rendered.body
    if channel is not Channel.SMS:
        assert rendered.title
    if channel is Channel.SMS:  # one cheap segment with this data
        assert (rendered.sms_segments, rendered.sms_encoding) == (1, "GSM-7")


def test_every_shipped_template_sends_on_channels_it_has_in_its_default_locale() -> None:
    store = TemplateStore(REPO_TEMPLATES)
    for template_id in ("order_shipped", "security_alert", "weekly_digest"):
        for channel in store.channels(template_id):
            assert store.render(template_id, channel, None, SAMPLE).body


# The templates topic over the files

WHEN = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def topic_record(
    template_id: str, source: str, updated_at: datetime = WHEN
) -> NotificationTemplate:
    template = parse_template(template_id, tomllib.loads(source), Origin.TOPIC, None)
    return template.record(updated_at)


def test_a_record_round_trips_the_definition(tmp_path: Path) -> None:
    store = store_with(tmp_path, LOCALISED)
    record = store.template("t").record(WHEN)
    again = from_record(NotificationTemplate.from_record(record.to_record()))
    assert again.definition() == store.template("t").definition()
    assert (again.origin, again.updated_at) == (Origin.TOPIC, WHEN)


def test_the_topic_replaces_a_file_and_a_tombstone_brings_the_file_back(tmp_path: Path) -> None:
    store = store_with(tmp_path, push_template("file", "from the file"))
    assert store.render("t", Channel.PUSH, None, {}).title == "file"
    store.apply("t", topic_record("t", push_template("topic", "from the topic")))
    assert store.render("t", Channel.PUSH, None, {}).title == "topic"
    assert store.template("t").origin is Origin.TOPIC
    store.apply("t", topic_record("t", push_template("again", "changed")))
    assert store.render("t", Channel.PUSH, None, {}).title == "again"  # no stale rendering
    store.apply("t", None)
    assert store.render("t", Channel.PUSH, None, {}).title == "file"


def test_a_topic_template_needs_no_file_and_is_listed(tmp_path: Path) -> None:
    store = store_with(tmp_path, push_template("file", "b"), name="from_file")
    (tmp_path / "not an id.toml").write_text(push_template("x", "y"))
    store.apply("new", topic_record("new", sms_template("Hi {{ name }}")))
    assert store.ids() == ["from_file", "new"]
    assert store.render("new", Channel.SMS, "fr", {"name": "Ada"}).body == "Hi Ada"
    assert store.channels("new") == (Channel.SMS,)


def test_a_broken_record_on_the_topic_fails_its_renders_and_hides_the_file(
    tmp_path: Path,
) -> None:
    store = store_with(tmp_path, push_template("file", "b"))
    broken = topic_record("t", push_template("{% if %}", "b"))
    store.apply("t", broken)
    with pytest.raises(TemplateError, match="does not compile") as caught:
        store.render("t", Channel.PUSH, None, {})
    assert caught.value.field == "title"
    store.apply("t", topic_record("t", push_template("fixed", "b")))
    assert store.render("t", Channel.PUSH, None, {}).title == "fixed"


def test_a_record_under_another_key_is_refused(tmp_path: Path) -> None:
    store = TemplateStore(tmp_path)
    store.apply("a", topic_record("b", push_template("x", "y")))
    with pytest.raises(TemplateError, match="key"):
        store.template("a")


def test_duplicate_variants_in_a_record_are_refused() -> None:
    record = topic_record("t", push_template("x", "y"))
    doubled = NotificationTemplate(
        "t", record.channels, "en", (*record.variants, *record.variants), WHEN
    )
    with pytest.raises(TemplateError, match="duplicate"):
        from_record(doubled)


def test_problems_name_every_field_that_does_not_compile_and_its_line(tmp_path: Path) -> None:
    source = (
        'channels = ["push", "email"]\ndefault_locale = "en"\n'
        '[locales.en.push]\ntitle = "ok"\nbody = "{{ name"\n'
        '[locales.en.email]\nsubject = "s"\ntext = "line one\\nline two {% endif %}"\n'
    )
    template = parse_template("t", tomllib.loads(source), Origin.TOPIC, None)
    found = problems(template)
    assert [(p.locale, p.channel, p.field) for p in found] == [
        ("en", Channel.PUSH, "body"),
        ("en", Channel.EMAIL, "text"),
    ]
    assert "(line 1)" in found[0].detail and "(line 2)" in found[1].detail


def test_a_toml_error_names_its_line(tmp_path: Path) -> None:
    store = store_with(tmp_path, 'channels = ["push"]\ndefault_locale = \n')
    with pytest.raises(TemplateError, match="line 2"):
        store.template("t")


def test_preview_renders_each_channel_in_each_locale(tmp_path: Path) -> None:
    store = store_with(tmp_path, LOCALISED)
    previews = store.preview(store.template("t"), {}, ["fr-CA", "de"])
    found = {(p.locale, p.channel): (p.used_locale, p.rendered, p.error) for p in previews}
    assert set(found) == {
        (loc, c) for loc in ("fr-CA", "de") for c in (Channel.PUSH, Channel.EMAIL)
    }
    used, rendered, _ = found[("fr-CA", Channel.PUSH)]
    assert (used, rendered and rendered.title) == ("fr-ca", "fr-CA")
    used, rendered, _ = found[("de", Channel.PUSH)]
    assert (used, rendered and rendered.title) == ("en", "en")
    _, rendered, error = found[("de", Channel.EMAIL)]
    assert rendered is None and error is not None and "no variant" in error


def test_preview_defaults_to_the_templates_locales_and_reports_missing_data(
    tmp_path: Path,
) -> None:
    store = store_with(tmp_path, sms_template("Hi {{ name }}"))
    (preview,) = store.preview(store.template("t"), {})
    assert preview.locale == "en" and preview.error is not None and "name" in preview.error
    (preview,) = store.preview(store.template("t"), {"name": "Ada"})
    assert preview.rendered is not None and preview.rendered.body == "Hi Ada"
