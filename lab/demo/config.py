"""A demo run's configuration, and the settings and paths derived from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from herald.errors import ConfigurationError
from herald.settings import HeraldSettings
from lab.demo.users import SEED


@dataclass(frozen=True)
class DemoConfig:
    prefix: str
    users: int = 300
    cleanup: bool = False  # delete the prefix's topics, subjects and deferred set at the end
    timeout_s: float = 120.0
    seed: int = SEED

    def __post_init__(self) -> None:
        if self.cleanup and not self.prefix.startswith("demo-"):
            raise ConfigurationError(f"only a demo-* prefix is cleaned up, not {self.prefix!r}")
        if self.users < 1:
            raise ConfigurationError(f"the demo needs at least one user, not {self.users}")

    @classmethod
    def from_options(
        cls, users: int, prefix: str | None, keep: bool, timeout_s: float, now: datetime
    ) -> DemoConfig:
        """A prefix of the user's own is never cleaned up; a fresh one is, unless kept."""
        if prefix:
            return cls(prefix, users, cleanup=False, timeout_s=timeout_s)
        fresh = f"demo-{now:%Y%m%d-%H%M%S}."
        return cls(fresh, users, cleanup=not keep, timeout_s=timeout_s)


def demo_home(settings: HeraldSettings) -> Path:
    return settings.stack.home / "demo"
