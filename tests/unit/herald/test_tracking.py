"""Tracked emails: each web link becomes a signed redirect to itself, plus an open pixel."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from herald.links import LinkSigner
from herald.models import Channel
from herald.receipts import MessageRef
from herald.tracking import tracked

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SIGNER = LinkSigner("t" * 32, "https://h.example", timedelta(days=1))
REF = MessageRef("n-1", "r-1", "ann", Channel.EMAIL)


def hrefs(page: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'href="([^"]+)"', page)]


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def test_web_links_become_signed_redirects_to_themselves() -> None:
    page = (
        '<html><body><p><a href="https://shop.example/a?x=1&amp;y=2">A</a> '
        "<a class='b' href='http://shop.example/b'>B</a> "
        '<a href="mailto:help@shop.example">mail</a> <a href="/relative">r</a></p></body></html>'
    )
    out = tracked(page, REF, SIGNER, NOW)
    first, *_ = hrefs(out)
    assert urlsplit(first)[:3] == ("https", "h.example", "/v1/t/click")
    found = SIGNER.check_event(token_of(first), NOW)
    assert (found.ref, found.url) == (REF, "https://shop.example/a?x=1&y=2")
    second = re.search(r"href='([^']+)'", out)
    assert second is not None
    assert SIGNER.check_event(token_of(html.unescape(second.group(1))), NOW).url == (
        "http://shop.example/b"
    )
    assert 'href="mailto:help@shop.example"' in out and 'href="/relative"' in out


def test_an_open_pixel_goes_before_the_end_of_the_body() -> None:
    out = tracked("<html><body><p>Hi</p></BODY></html>", REF, SIGNER, NOW)
    assert out.endswith("</BODY></html>")
    pixel = re.search(r'<img src="([^"]+)" width="1" height="1" alt=""', out)
    assert pixel is not None and out.index("<img") > out.index("<p>Hi</p>")
    opened = SIGNER.check_event(token_of(html.unescape(pixel.group(1))), NOW)
    assert (opened.ref, opened.url) == (REF, None)
    assert tracked("<p>no body</p>", REF, SIGNER, NOW).startswith("<p>no body</p><img ")
