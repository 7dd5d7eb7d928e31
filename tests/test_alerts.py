"""Alerts: what a night's summary raises, and delivery to a real local webhook."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from credit_dw.catalog import source_ids
from credit_dw.reports import alerts


def _summary(**statuses) -> dict:
    batches = [
        {"source_id": sid, "status": status, "rows_received": 10, "message": f"{sid} {status}"}
        for sid, status in statuses.items()
    ]
    return {"logical_date": "2026-11-20", "batches": batches}


def test_rejected_and_missing_feeds_raise_alerts(warehouse_url):
    feeds = source_ids()
    statuses = {sid: "accepted" for sid in feeds}
    statuses[feeds[0]] = "rejected"
    summary = _summary(**statuses)
    if len(feeds) > 1:
        summary["batches"] = [b for b in summary["batches"] if b["source_id"] != feeds[1]]
    raised = alerts.night_alerts(summary)
    kinds = {(a.kind, a.source_id) for a in raised}
    assert ("batch_rejected", feeds[0]) in kinds
    if len(feeds) > 1:
        assert ("feed_missing", feeds[1]) in kinds
    assert all(a.logical_date == "2026-11-20" for a in raised)


def test_a_quiet_night_raises_nothing(warehouse_url):
    assert alerts.night_alerts(_summary(**{sid: "accepted" for sid in source_ids()})) == []


def test_missing_follows_the_catalogs_delivery_schedule(warehouse_url):
    """缺报 by the catalog's `due`: a monthly form (water bills, due on the 5th) sending nothing on
    the 20th is not missing, on the 5th it is; a nightly file drop without a file is missing although
    its batch ran; a system feed that ran and found no change delivered; a failed batch is always
    alerted."""
    def kinds(night: str, **overrides) -> set[tuple[str, str]]:
        summary = _summary(**{sid: "accepted" for sid in source_ids()})
        summary["logical_date"] = night
        summary["batches"] = [b for b in summary["batches"] if overrides.get(b["source_id"]) != "absent"]
        for b in summary["batches"]:
            if b["source_id"] in overrides:
                b["status"], b["rows_received"] = overrides[b["source_id"]]
        return {(a.kind, a.source_id) for a in alerts.night_alerts(summary)}

    assert kinds("2026-11-20", utility_water="absent", customs_certified=("accepted", 0)) == set()
    assert kinds("2026-11-05", utility_water="absent") == {("feed_missing", "utility_water")}
    assert kinds("2026-11-15", customs_certified=("accepted", 0)) == {("feed_missing", "customs_certified")}
    assert kinds("2026-11-20", admin_penalty=("accepted", 0)) == {("feed_missing", "admin_penalty")}
    assert kinds("2026-11-20", tax_arrears=("accepted", 0)) == set()
    assert kinds("2026-11-20", utility_gas=("failed", None)) == {("feed_missing", "utility_gas")}


@pytest.fixture()
def webhook():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()


def test_webhook_channel_delivers_the_alerts(webhook, monkeypatch, caplog):
    url, received = webhook
    monkeypatch.setenv("CREDIT_DW_ALERT_CHANNELS", "log,webhook")
    monkeypatch.setenv("CREDIT_DW_ALERT_WEBHOOK_URL", url)
    alert = alerts.Alert("batch_rejected", "2026-11-20", "market_registry", "rejected: 30% failed")
    with caplog.at_level("WARNING", logger="credit_dw.reports.alerts"):
        alerts.send([alert])
    assert received == [{"alerts": [{"kind": "batch_rejected", "logical_date": "2026-11-20",
                                     "source_id": "market_registry", "message": "rejected: 30% failed"}]}]
    assert "ALERT batch_rejected" in caplog.text


def test_an_unreachable_channel_does_not_fail_the_night(monkeypatch, caplog):
    monkeypatch.setenv("CREDIT_DW_ALERT_CHANNELS", "webhook")
    monkeypatch.setenv("CREDIT_DW_ALERT_WEBHOOK_URL", "http://127.0.0.1:1/nowhere")
    with caplog.at_level("WARNING", logger="credit_dw.reports.alerts"):
        alerts.send([alerts.Alert("feed_missing", "2026-11-20", "tax_a_level", "no batch at all")])
    assert "alert channel webhook failed" in caplog.text
