"""The preference centre in a real browser (Debian's chromium through Playwright): a user
opens their signed link, changes their choices and saves; the change is on the preferences
topic and the next decision honours it. A screenshot of the saved page is kept in
test-artifacts/."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.sync_api import Browser, expect

from api.keys import Scope
from herald.models import Channel, Reason, State
from herald.settings import HeraldSettings
from lab.offsets import wait_caught_up
from streams.app import app_id
from tests.integration.api.conftest import ARTIFACTS, Api, records_on
from tests.integration.api.test_profiles import CONTACTS
from tests.integration.api.test_publish import BODY, bearer
from tests.integration.pipeline import running_pipeline, user

SECRET = "a preference centre key for the tests, 32 bytes or more"

UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, button')]
  .filter(e => e.tagName !== 'BUTTON' ? e.labels.length === 0 : !e.textContent.trim())
  .map(e => e.name || e.outerHTML)"""


def test_a_user_changes_their_choices_and_the_next_decision_honours_them(
    stack: HeraldSettings,
    migrated: str,
    start_api: Callable[..., Api],
    browser: Browser,
    tmp_path: Path,
) -> None:
    with running_pipeline(stack, tmp_path) as pipeline:
        api = start_api(pipeline.settings, links={"secret": SECRET})
        admin = bearer(api.token(Scope.ADMIN, Scope.PUBLISH))
        ann = user("ann")
        assert httpx.put(
            f"{api.url}/v1/users/{ann}/contacts", json=CONTACTS, headers=admin
        ).is_success
        minted = httpx.post(f"{api.url}/v1/users/{ann}/preference-link", headers=admin)
        assert minted.status_code == 200
        link = minted.json()["url"].replace(pipeline.settings.links.base_url, api.url)

        page = browser.new_page()
        try:
            assert page.goto(link).status == 200  # type: ignore[union-attr]
            assert page.evaluate("document.documentElement.lang") == "en"
            expect(page.get_by_role("heading", level=1)).to_have_text("Your notification choices")
            assert page.evaluate(UNLABELLED) == []  # every control has an accessible name
            expect(page.get_by_label("Security alerts")).to_be_disabled()
            expect(page.get_by_label("Email")).to_be_checked()

            # quiet hours well away from now, so they do not hold the next message back
            start = (datetime.now(UTC) + timedelta(hours=6)).strftime("%H:00")
            end = (datetime.now(UTC) + timedelta(hours=7)).strftime("%H:00")
            page.get_by_label("Email").uncheck()
            page.get_by_label("Offers and news").uncheck()
            page.get_by_label("Use quiet hours").check()
            page.get_by_label("From").fill(start)
            page.get_by_label("Until").fill(end)
            page.get_by_label("Time zone").select_option("UTC")
            page.get_by_role("button", name="Save my choices").click()
            expect(page.get_by_role("status")).to_have_text("Your choices are saved.")
            expect(page.get_by_label("Email")).not_to_be_checked()  # the page shows the save
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=ARTIFACTS / "preference-centre.png", full_page=True)

            forged = page.goto(link.replace("token=", "token=x"))
            assert forged is not None and forged.status == 403
        finally:
            page.close()

        names = pipeline.names
        [*_, latest] = [v for k, v in records_on(api, names.user_preferences) if k == ann.encode()]
        assert latest["opted_out_channels"] == ["email"]
        assert latest["opted_out_categories"] == ["marketing"]
        assert latest["quiet_hours"]["timezone"] == "UTC"
        wait_caught_up(pipeline.settings, app_id(pipeline.settings), [names.user_preferences])

        body = dict(BODY, recipients=[ann], channels=["email", "sms"], category="transactional")
        sent = httpx.post(f"{api.url}/v1/notifications", json=body, headers=admin)
        request_id = sent.json()["request_id"]
        reader = pipeline.statuses()
        reader.wait_until(
            lambda seen: len([s for s in seen if s.request_id == request_id]) >= 2, timeout_s=60
        )
    outcome = {s.channel: (s.state, s.reason) for s in reader.seen if s.request_id == request_id}
    assert outcome[Channel.EMAIL] == (State.SUPPRESSED, Reason.OPTED_OUT_CHANNEL)
    assert outcome[Channel.SMS] == (State.QUEUED, None)
    assert (ARTIFACTS / "preference-centre.png").stat().st_size > 10_000
