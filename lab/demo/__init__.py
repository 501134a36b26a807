"""`herald demo`: Herald's main job on the local stack, in one command.

Brings the stack up, creates the pipeline's topics under a prefix of their own (by default a
fresh ``demo-<time>.``, so runs never mix), runs a streams worker, seeds demo users with varied
preferences and contacts, publishes a demo load, reads the status topic until every
(request, user, channel) has an outcome, and summarises what happened.

The users, the load and the summary are pure functions of their inputs (``users.demo_users``,
``load.demo_load``, ``summary.summarize``, ``summary.format_summary``); ``run.run_demo`` does
the I/O around them, ``cleanup.delete_run`` removes what a run left behind.
No phone number, email address or device token is ever printed.
"""

from lab.demo.config import DemoConfig
from lab.demo.load import demo_load, describe_gaps, expected_channels, gaps
from lab.demo.run import run_demo
from lab.demo.summary import (
    WHOLE,
    Summary,
    final_statuses,
    format_summary,
    summarize,
    user_story,
)
from lab.demo.users import PERSONAS, DemoUser, demo_users, describe_user

__all__ = [
    "PERSONAS",
    "WHOLE",
    "DemoConfig",
    "DemoUser",
    "Summary",
    "demo_load",
    "demo_users",
    "describe_gaps",
    "describe_user",
    "expected_channels",
    "final_statuses",
    "format_summary",
    "gaps",
    "run_demo",
    "summarize",
    "user_story",
]
