"""Every Prometheus metric the daemon exports, in one registry.

    segsync_runs_total{trigger,status}                  sync jobs by how they ended
                                                        (ok, quarantined, guard, failed,
                                                        stopped, error)
    segsync_run_duration_seconds{trigger}               histogram of job durations
    segsync_members_added_total{segment,destination}    members added (acknowledged)
    segsync_members_removed_total{segment,destination}  members removed (acknowledged)
    segsync_segment_members{segment,destination}        desired members at the last run
    segsync_api_calls_total{esp,status}                 ESP requests by response status
                                                        ("0" = timeout / connection error)
    segsync_api_retries_total{esp,status}               retriable responses (429, 5xx, 0),
                                                        each retried while the budget lasts
    segsync_quarantined_members{destination}            members currently quarantined
    segsync_guard_stops_total{segment}                  runs a guard stopped before writing
    segsync_last_success_timestamp_seconds{segment}     end of the last ok/quarantined run
    segsync_segment_consecutive_failures{segment}       failed runs in a row (0 when healthy)
    segsync_sync_in_progress{esp}                       1 while a job holds that ESP account
    segsync_config_reload_errors_total                  rejected config changes
    segsync_config_reloads_total                        accepted config changes
    segsync_config_loaded_timestamp_seconds             when the live definitions were loaded

Label values are segment, destination and ESP names and status codes: never emails,
keys or free text.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from connector.reconcile.summary import RunSummary

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

_RETRIABLE = {"0", "429"}


def _retriable(status: str) -> bool:
    return status in _RETRIABLE or status.startswith("5")


class Metrics:
    """The daemon's metrics; ``render()`` gives the text exposition format."""

    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no `*_created` series
        self.registry = CollectorRegistry()
        r = self.registry
        self.runs = Counter(
            "segsync_runs", "Sync jobs by trigger and outcome.", ["trigger", "status"],
            registry=r,
        )  # fmt: skip
        self.duration = Histogram(
            "segsync_run_duration_seconds",
            "Duration of sync jobs.",
            ["trigger"],
            buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
            registry=r,
        )
        self.added = Counter(
            "segsync_members_added", "Members added to tags/lists (acknowledged by the ESP).",
            ["segment", "destination"], registry=r,
        )  # fmt: skip
        self.removed = Counter(
            "segsync_members_removed", "Members removed from tags/lists (acknowledged).",
            ["segment", "destination"], registry=r,
        )  # fmt: skip
        self.members = Gauge(
            "segsync_segment_members", "Desired members at the segment's last run.",
            ["segment", "destination"], registry=r,
        )  # fmt: skip
        self.api_calls = Counter(
            "segsync_api_calls", "ESP requests by response status (0: timeout or no answer).",
            ["esp", "status"], registry=r,
        )  # fmt: skip
        self.api_retries = Counter(
            "segsync_api_retries", "Retriable ESP responses (429, 5xx, 0), retried in budget.",
            ["esp", "status"], registry=r,
        )  # fmt: skip
        self.quarantined = Gauge(
            "segsync_quarantined_members", "Members currently quarantined.", ["destination"],
            registry=r,
        )  # fmt: skip
        self.guard_stops = Counter(
            "segsync_guard_stops", "Runs stopped by a guard before writing.", ["segment"],
            registry=r,
        )  # fmt: skip
        self.last_success = Gauge(
            "segsync_last_success_timestamp_seconds",
            "Unix time the segment's last successful run ended.", ["segment"], registry=r,
        )  # fmt: skip
        self.failures = Gauge(
            "segsync_segment_consecutive_failures", "Failed runs in a row.", ["segment"],
            registry=r,
        )  # fmt: skip
        self.in_progress = Gauge(
            "segsync_sync_in_progress", "1 while a sync job holds the ESP account.", ["esp"],
            registry=r,
        )  # fmt: skip
        self.reload_errors = Counter(
            "segsync_config_reload_errors", "Config changes rejected (last good kept).",
            registry=r,
        )  # fmt: skip
        self.reloads = Counter("segsync_config_reloads", "Config changes accepted.", registry=r)
        self.config_loaded = Gauge(
            "segsync_config_loaded_timestamp_seconds",
            "Unix time the live definitions were loaded.", registry=r,
        )  # fmt: skip

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def observe_run(
        self,
        trigger: str,
        segments: list[str],
        summary: RunSummary | None,
        duration: float,
        esp_of: dict[str, str],
    ) -> None:
        """Count one finished job; ``summary`` is None when it raised before summarising.

        ``esp_of`` maps destination names to their ESP (``mailchimp`` / ``klaviyo``).
        """
        status = summary.status if summary is not None else "error"
        self.runs.labels(trigger, status).inc()
        self.duration.labels(trigger).observe(duration)
        if summary is None:
            return
        if status == "guard":
            for segment in segments:
                self.guard_stops.labels(segment).inc()
        sizes: dict[tuple[str, str], int] = {}
        for part in summary.parts:
            key = (part.segment, part.destination)
            sizes[key] = sizes.get(key, 0) + part.desired
            if status not in ("guard", "dry_run"):  # there adds/removes are only planned
                self.added.labels(*key).inc(part.adds)
                self.removed.labels(*key).inc(part.removes)
        for key, size in sizes.items():
            self.members.labels(*key).set(size)
        for destination, calls in summary.api_calls.items():
            esp = esp_of.get(destination, destination)
            for code, count in dict(calls.get("by_status", {})).items():
                self.api_calls.labels(esp, str(code)).inc(int(count))
                if _retriable(str(code)):
                    self.api_retries.labels(esp, str(code)).inc(int(count))
