"""Settings for the whole test session: read once from the environment, as any entry point does."""

from __future__ import annotations

import pytest

from herald.settings import HeraldSettings


@pytest.fixture(scope="session")
def settings() -> HeraldSettings:
    return HeraldSettings()
