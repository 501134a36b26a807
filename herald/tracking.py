"""Email open and click tracking (pure), for templates that opt in (``track_email``).

Each ``http(s)`` link of an email's HTML becomes a signed redirect of herald api whose token
(herald.links) names the notification and the original URL, so a click is recorded and sent
on to that URL only: the redirect's target is in the signature, never in the query. An open
pixel is added before ``</body>``. The text part is left as it is.
"""

from __future__ import annotations

import html
import re
from datetime import datetime

from herald.links import LinkSigner
from herald.receipts import MessageRef

_LINK = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"'\s>]+)\2""", re.IGNORECASE)
_END = re.compile(r"</body\s*>", re.IGNORECASE)


def tracked(page: str, ref: MessageRef, links: LinkSigner, now: datetime) -> str:
    """``page`` with its links rewritten and an open pixel added."""

    def redirect(found: re.Match[str]) -> str:
        original = html.unescape(found.group(3))
        signed = html.escape(links.click_url(ref, original, now), quote=True)
        return f"{found.group(1)}{found.group(2)}{signed}{found.group(2)}"

    rewritten = _LINK.sub(redirect, page)
    pixel = (
        f'<img src="{html.escape(links.open_url(ref, now), quote=True)}" '
        'width="1" height="1" alt="" style="display:none">'
    )
    ends = [found.start() for found in _END.finditer(rewritten)]
    if not ends:
        return rewritten + pixel
    return rewritten[: ends[-1]] + pixel + rewritten[ends[-1] :]
