"""`herald bench plot`: PNG plots from the benchmarks' JSON, one per stage.

- ``bench pipeline``: achieved against offered per-user notifications a second, Herald's worker
  and the bare relay of the same run, with the line where achieved equals offered;
- ``bench delivery``: achieved against offered messages a second per channel. A step's figures
  give the channel's share of the offered rate and its backlog at the end, so a channel's
  achieved rate is its share less that backlog over the step's length;
- ``bench campaign``: how far each stage got, second by second (one load, so over time).

matplotlib's Agg backend draws to files only; no display is needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after the backend is chosen
from matplotlib.figure import Figure

from herald.models import Channel

CHANNELS = tuple(c.value for c in Channel)
Results = Mapping[str, Any]


def kind(results: Results) -> str:
    """Which benchmark wrote ``results``."""
    if "herald_vs_relay" in results:
        return "pipeline"
    if "senders_per_channel" in results:
        return "delivery"
    if "samples" in results and "recipients" in results:
        return "campaign"
    raise ValueError("not the figures of bench pipeline, delivery or campaign")


def achieved_per_channel(step: Mapping[str, Any], seconds: float) -> dict[str, float]:
    """Each channel's achieved rate in a delivery step: its third of the offered rate less
    the backlog it was left with, spread over the step."""
    share = step["offered_per_s"] / len(CHANNELS)
    return {c: max(0.0, share - step["final_lag"][c] / seconds) for c in CHANNELS}


def _axes(title: str, xlabel: str, ylabel: str) -> tuple[Figure, Any]:
    figure, axes = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    return figure, axes


def _reference(
    axes: Any, offered: Sequence[float], share: float = 1.0, label: str = "achieved = offered"
) -> None:
    """The line where achieved is ``share`` of the offered rate."""
    top = max(offered, default=1)
    style = ":" if share == 1.0 else "--"
    axes.plot([0, top], [0, top * share], linestyle=style, color="grey", label=label)


def pipeline_figure(results: Results) -> Figure:
    figure, axes = _axes(
        f"bench pipeline: {results['recipients_per_request']} recipients a request",
        "offered per-user notifications/s",
        "achieved /s",
    )
    offered: list[float] = []
    for name in ("herald", "relay"):
        steps = results[name]["steps"]
        offered += [s["offered_per_s"] for s in steps]
        sustained = results[name]["sustained_per_s"]
        axes.plot(
            [s["offered_per_s"] for s in steps],
            [s["achieved_per_s"] for s in steps],
            marker="o",
            label=f"{name} (sustained {sustained}/s)",
        )
    _reference(axes, offered)
    axes.legend()
    return figure


def delivery_figure(results: Results) -> Figure:
    figure, axes = _axes(
        f"bench delivery: {results['senders_per_channel']} sender(s) per channel",
        "offered messages/s, a third to each channel",
        "achieved messages/s",
    )
    steps, seconds = results["steps"], float(results["step_seconds"])
    offered = [s["offered_per_s"] for s in steps]
    per_step = [achieved_per_channel(s, seconds) for s in steps]
    for channel in CHANNELS:
        axes.plot(offered, [a[channel] for a in per_step], marker="o", label=channel)
    axes.plot(
        offered, [s["achieved_messages_per_s"] for s in steps], marker="s", label="all channels"
    )
    _reference(axes, offered)
    _reference(axes, offered, 1 / len(CHANNELS), "a channel's share")
    axes.legend()
    return figure


def campaign_figure(results: Results) -> Figure:
    figure, axes = _axes(
        f"bench campaign: {results['recipients']:,} recipients in {results['total_s']} s",
        "seconds since the request was published",
        "recipients (status events) done",
    )
    samples = results["samples"]
    for stage in samples[0]["stages"]:
        axes.plot([s["at_s"] for s in samples], [s["stages"][stage] for s in samples], label=stage)
    axes.legend()
    return figure


FIGURES = {"pipeline": pipeline_figure, "delivery": delivery_figure, "campaign": campaign_figure}


def plot(results: Results, out: Path) -> Path:
    """The PNG for ``results`` written to ``out``."""
    figure = FIGURES[kind(results)](results)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        figure.tight_layout()
        figure.savefig(out, format="png")
    finally:
        plt.close(figure)
    return out
