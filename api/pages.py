"""The HTML pages end users see (api/html/): one layout, server-rendered, no script.

Autoescaped jinja2 (every value a user or a link brings is escaped); each page is readable
without styles, with a language, a title, one ``h1``, labels for every control, groups in
fieldsets with legends, and a status message announced to screen readers.
"""

from __future__ import annotations

from typing import Any

import jinja2
from fastapi.responses import HTMLResponse

_PAGES = jinja2.Environment(
    loader=jinja2.PackageLoader("api", "html"),  # package data: api/html/*.html
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def render(name: str, status: int, title: str, **values: Any) -> HTMLResponse:
    page = _PAGES.get_template(name).render(title=title, **values)
    return HTMLResponse(page, status, headers={"Cache-Control": "no-store"})


def message(status: int, title: str, text: str, action: str | None = None) -> HTMLResponse:
    """A page that says one thing (and offers one button)."""
    return render("message.html", status, title, text=text, action=action)
