"""A third-party Matomo tracking client, the npm package matomo-tracker (installed by `make
test` into .venv/node), sends page views, an event, a site search, a goal and an ecommerce order
to the endpoint; the stored visit and the Reporting API show them."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from .calls import TOKEN, api

ROOT = Path(__file__).resolve().parent.parent.parent
MODULE = ROOT / ".venv" / "node" / "node_modules" / "matomo-tracker"
SCRIPT = Path(__file__).resolve().parent / "matomo_tracker_client.js"


@pytest.fixture
def node_client():
    node = shutil.which("node")
    if node is None or not (MODULE / "package.json").exists():
        pytest.skip("the npm package matomo-tracker is not installed (`make test` installs it "
                    "with npm into .venv/node)")
    return node


def test_matomo_tracker_from_npm(ep, client, node_client):
    proc = subprocess.run([node_client, str(SCRIPT), str(MODULE), ep.url + "/matomo.php", TOKEN],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["errors"] == []
    # No token in the bulk body (only in each request): no invalid_indices, as in Matomo.
    assert out["bulk"] == {"status": "success", "tracked": 5, "invalid": 0}
    deadline = time.monotonic() + 10
    while len(ep.received()) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)  # the single GET is fire-and-forget in matomo-tracker
    assert [r["outcome"] for r in ep.received()] == ["stored"] * 6
    today = {"idSite": 1, "period": "day", "date": "today"}
    summary = api(client, "VisitsSummary.get", **today).json()
    assert (summary["nb_visits"], summary["nb_actions"], summary["nb_visits_converted"]) == (
        1, 4, 1)
    got = api(client, "Actions.get", **today).json()
    assert (got["nb_pageviews"], got["nb_searches"]) == (2, 1)
    events = api(client, "Events.getCategory", **today).json()
    assert [(e["label"], e["sum_event_value"]) for e in events] == [("Video", 7)]
    goal = api(client, "Goals.get", idGoal=1, **today).json()
    assert (goal["nb_conversions"], goal["revenue"]) == (1, 5)
    order = api(client, "Goals.get", idGoal="ecommerceOrder", **today).json()
    assert (order["nb_conversions"], order["revenue"], order["revenue_tax"], order["items"]) == (
        1, 24.9, 3, 1)
    skus = api(client, "Goals.getItemsSku", **today).json()
    assert [(s["label"], s["revenue"]) for s in skus] == [("BOOK-1", 19.9)]
    live = api(client, "Live.getLastVisitsDetails", idSite=1).json()[0]
    assert live["visitorId"] == "1234567890abcdef" and live["resolution"] in ("1280x800",
                                                                               "Unknown")
    titles = [a.get("pageTitle") for a in live["actionDetails"] if a["type"] == "action"]
    assert sorted(titles) == ["Home/Welcome", "Shop"]
    search = [a for a in live["actionDetails"] if a["type"] == "search"][0]
    assert (search["siteSearchKeyword"], search["siteSearchCategory"],
            search["siteSearchCount"]) == ("matomo", "Docs", 4)
