"""The web dashboard in a real browser: Debian's chromium driven by Playwright against ``twinledger api``
(seeded, on a Ganache devnet the browser reaches itself).

Every page loads without a console error and is saved as a screenshot under ``build/screenshots/``; the figures
on the pages equal the API's for the same machine, shift, line and lease; a genuine record's badge turns valid
and a tampered one (the API's answer changed on its way to the page) invalid, with the chain asked by the
browser; the lessee's acknowledge button changes the invoice's state on the lease contract (read here with
web3); axe-core finds no serious or critical accessibility violation; every page fits a 390 px wide screen.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.api_process import twinledger_api

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
DIST = REPO_ROOT / "dashboard" / "dist" / "index.html"
AXE = REPO_ROOT / "dashboard" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO_ROOT / "build" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.integration


def _require() -> None:
    from twinledger.local.ganache import GANACHE_BIN

    for path, why in (
        (CHROMIUM, "Debian's chromium is not installed (apt-get install chromium)"),
        (DIST, "the dashboard is not built (npm ci --prefix dashboard && npm run build --prefix dashboard)"),
        (AXE, "axe-core is not installed (npm ci --prefix dashboard)"),
        (GANACHE_BIN, "Ganache is not installed (npm ci)"),
    ):
        if not path.exists():
            pytest.skip(f"{why}: {path} is missing")
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the Python package playwright is not installed")


def _get(served: dict[str, Any], path: str, role: str = "lessee") -> Any:
    request = urllib.request.Request(
        served["url"] + path, headers={"Authorization": f"Bearer {served['tokens'][role]}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``twinledger api --chain ganache`` from a directory outside the repository; stopped with SIGINT."""
    _require()
    with twinledger_api(tmp_path_factory.mktemp("dashboard-api"), "--chain", "ganache", timeout_s=240) as served:
        yield served


@pytest.fixture(scope="module")
def context(served: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One chromium for the module (a fresh profile), signed in as the lessee."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield browser
        finally:
            browser.close()


class Watched:
    """A page with its console errors and the JSON-RPC calls it made."""

    def __init__(self, page: Any, rpc_url: str) -> None:
        self.page = page
        self.errors: list[str] = []
        self.rpc_calls: list[str] = []
        self.rpc_url = rpc_url
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("request", self._request)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(str(message.text))

    def _request(self, request: Any) -> None:
        if str(request.url).startswith(self.rpc_url):
            self.rpc_calls.append(str(request.post_data or ""))

    def open(self, served: dict[str, Any], route: str) -> Any:
        self.page.goto(f"{served['url']}/dashboard/#/{route}")
        self.page.wait_for_selector(".page[data-loaded=true]", timeout=30_000)
        return self.page

    def settle_badges(self) -> list[str]:
        """Wait until no badge is still checking; their states."""
        self.page.wait_for_function("() => !document.querySelector('[data-badge=checking]')", timeout=30_000)
        return [b.get_attribute("data-badge") for b in self.page.query_selector_all("[data-badge]")]


@pytest.fixture
def watched(context: Any, served: dict[str, Any]) -> Iterator[Watched]:
    page = context.new_page()
    seen = Watched(page, served["chain"]["rpc_url"])
    page.goto(f"{served['url']}/dashboard/#token={served['tokens']['lessee']}")
    page.wait_for_selector(".page[data-loaded=true]", timeout=30_000)
    yield seen
    page.close()
    assert seen.errors == [], f"console errors: {seen.errors}"


def _pages(served: dict[str, Any]) -> dict[str, str]:
    machine = "cnc-03"  # the machine with the bearing fault: a critical health score and an open ticket
    return {
        "fleet": "fleet",
        "machine": f"machine/{machine}",
        "line": "line/line-a",
        "lease": f"lease/{quote(served['lease_id'], safe='')}",
        "parts": f"parts?machine={machine}&order={served['orders'][0]}",
    }


def _window(served: dict[str, Any]) -> tuple[str, str]:
    from datetime import datetime, time, timedelta
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Europe/Berlin")
    day = datetime.fromisoformat(served["day"]).date()
    start = datetime.combine(day, time(0), tz).astimezone(ZoneInfo("UTC"))
    end = datetime.combine(day + timedelta(days=1), time(0), tz).astimezone(ZoneInfo("UTC"))
    return start.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ")


def _value(text: str | None) -> float | None:
    return None if text in (None, "") else float(str(text))


def test_every_page_loads_without_console_errors_and_is_saved_as_a_screenshot(
    watched: Watched, served: dict[str, Any]
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, route in _pages(served).items():
        page = watched.open(served, route)
        assert page.title().endswith("twinledger")
        if name == "parts":  # one part's quality proof with its EPCIS events
            page.click("#main table a")
            page.wait_for_selector("#part-detail")
        watched.settle_badges()
        page.wait_for_timeout(300)  # the charts' first frame
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 10_000


def test_the_fleet_shows_the_apis_figures(watched: Watched, served: dict[str, Any]) -> None:
    start, end = _window(served)
    report = _get(served, f"/fleet/oee?by=day&from={start}&to={end}")
    page = watched.open(served, "fleet")
    machines = {m["machine_id"]: m for m in report["machines"]}
    assert sorted(machines) == sorted(served["machines"])
    for machine_id, figures in machines.items():
        row = page.locator(f"tr[data-machine='{machine_id}']")
        for key in ("oee", "availability", "performance", "quality"):
            shown = row.locator(f"td[data-col='{key}'] [data-value]")
            assert _value(shown.get_attribute("data-value")) == pytest.approx(figures[key], abs=1e-12)
            assert shown.inner_text() == f"{figures[key] * 100:.1f} %"
        tickets = _get(served, f"/machines/{machine_id}/tickets?state=active")["items"]
        assert row.locator("td[data-col='tickets'] [data-value]").inner_text() == str(len(tickets))
        twin = _get(served, f"/machines/{machine_id}/twin")
        assert (
            row.locator("td[data-col='category'] [data-value]").get_attribute("data-value")
            == (twin["shadows"]["state"]["reported"]["category"])
        )
    # sortable: OEE descending puts the best machine first
    page.click("th:has(button:has-text('OEE')) button")
    page.click("th:has(button:has-text('OEE')) button")
    best = max(machines.values(), key=lambda m: m["oee"])["machine_id"]
    assert page.locator("tbody tr").first.get_attribute("data-machine") == best


def test_the_machine_page_shows_the_apis_figures(watched: Watched, served: dict[str, Any]) -> None:
    start, end = _window(served)
    machine = "cnc-03"
    report = _get(served, f"/machines/{machine}/oee?by=shift&from={start}&to={end}")
    page = watched.open(served, f"machine/{machine}")
    shifts = [p for p in report["periods"] if p["shift"]]
    assert shifts
    for period in shifts:
        figures = next(m for m in period["machines"] if m["machine_id"] == machine)
        row = page.locator(f"#shift-table tr[data-shift='{period['shift']}']")
        for key in ("oee", "availability", "performance", "quality"):
            assert _value(row.locator(f"td[data-col='{key}']").get_attribute("data-value")) == figures[key]
    day_total = report["machines"][0]
    assert _value(page.locator("#day-oee").get_attribute("data-value")) == pytest.approx(day_total["oee"])
    for loss, seconds in day_total["losses_s"].items():
        if loss not in ("idle", "unknown"):
            assert _value(page.locator(f"#pareto [data-loss='{loss}']").get_attribute("data-value")) == seconds
    health = _get(served, f"/machines/{machine}/twin")["shadows"]["health"]["reported"]
    assert _value(page.locator("#health-score").get_attribute("data-value")) == pytest.approx(health["score"])
    usage = _get(
        served, f"/leases/{quote(served['lease_id'])}/usage?from={start}&to={end}&machine_id={machine}&limit=1"
    )
    for meter, quantity in usage["totals"].items():
        assert page.locator(f"#usage [data-meter='{meter}']").get_attribute("data-value") == quantity
    entries = _get(served, f"/machines/{machine}/maintenance")["items"]
    assert page.locator("[data-entry]").count() == len(entries) > 0


def test_the_line_page_shows_the_apis_time_weighted_oee(watched: Watched, served: dict[str, Any]) -> None:
    start, end = _window(served)
    report = _get(served, f"/lines/line-a/oee?by=day&from={start}&to={end}")
    line = next(item for item in report["lines"] if item["line"] == "line-a")
    page = watched.open(served, "line/line-a")
    for key in ("oee", "availability", "performance", "quality"):
        assert _value(page.locator(f"[data-kpi='{key}']").get_attribute("data-value")) == pytest.approx(line[key])


def test_the_lease_and_parts_pages_show_the_apis_figures(watched: Watched, served: dict[str, Any]) -> None:
    invoices = _get(served, f"/leases/{quote(served['lease_id'])}/invoices")["items"]
    document = _get(served, f"/invoices/{quote(invoices[-1]['invoice_id'])}")
    page = watched.open(served, f"lease/{quote(served['lease_id'], safe='')}")
    assert page.locator(".page").get_attribute("data-invoice") == invoices[-1]["invoice_id"]
    assert page.locator("#invoice-total").get_attribute("data-value") == document["invoice"]["total"]
    shown = [e.get_attribute("data-value") for e in page.locator("[data-line]").all()]
    assert shown == [line["amount"] for line in document["invoice"]["lines"]]
    matches = "the invoice hashes (in this browser) to the hash posted on the contract"
    assert matches in page.inner_text("#contract-state")
    order = served["orders"][0]
    parts = _get(served, f"/machines/cnc-03/parts?order={order}&limit=50")["items"]
    page = watched.open(served, f"parts?machine=cnc-03&order={order}")
    assert _value(page.locator("#part-count").get_attribute("data-value")) == len(parts) > 0
    page.click(f"a:has-text('{parts[0]['part_id']}')")
    page.wait_for_selector(f"#part-detail[data-part='{parts[0]['part_id']}']")
    assert watched.settle_badges() == ["valid"]
    events = _get(served, f"/parts/{quote(parts[0]['part_id'])}")["events"]
    assert page.locator("#part-detail tbody tr").count() == len(events) > 0


def test_genuine_badges_turn_valid_with_the_chain_asked_by_the_browser(
    watched: Watched, served: dict[str, Any]
) -> None:
    watched.open(served, "machine/cnc-03")
    states = watched.settle_badges()
    assert states and set(states) == {"valid"}, states
    calls = [json.loads(body) for body in watched.rpc_calls if body]
    methods = {
        c.get("method") for c in (item for call in calls for item in (call if isinstance(call, list) else [call]))
    }
    assert "eth_call" in methods, f"the browser made no eth_call to {served['chain']['rpc_url']}: {methods}"


def test_a_tampered_record_turns_its_badge_invalid(watched: Watched, served: dict[str, Any]) -> None:
    entry_id = next(e for e in served["entries"] if e.startswith("cnc-03."))

    def tamper_entry(route: Any) -> None:  # the API's answer changed on its way: one field of the record
        answer = route.fetch()
        body = answer.json()
        body["proof"]["record"]["text"] += " (and the spindle was replaced)"
        route.fulfill(response=answer, json=body)

    def tamper_shift(route: Any) -> None:  # a better availability for every shift than the one anchored
        answer = route.fetch()
        body = answer.json()
        for period in body["periods"]:
            for figures in period["machines"]:
                if figures["availability"] is not None:
                    figures["availability"] = min(1.0, figures["availability"] + 0.05)
        route.fulfill(response=answer, json=body)

    page = watched.page
    page.route(f"**/maintenance/{entry_id}", tamper_entry)
    page.route("**/machines/cnc-03/oee?*", tamper_shift)
    watched.open(served, "machine/cnc-03")
    watched.settle_badges()
    assert page.locator(f"[data-entry='{entry_id}'] [data-badge]").get_attribute("data-badge") == "invalid"
    assert "does not hash" in (page.locator(f"[data-entry='{entry_id}'] [data-badge]").get_attribute("title") or "")
    shift_badges = page.locator("#shift-table [data-badge]").all()
    assert shift_badges and all(b.get_attribute("data-badge") == "invalid" for b in shift_badges)
    untouched = page.locator(f"[data-entry]:not([data-entry='{entry_id}']) [data-badge]").all()
    assert untouched and all(b.get_attribute("data-badge") == "valid" for b in untouched)
    page.unroute("**/machines/cnc-03/oee?*")
    page.unroute(f"**/maintenance/{entry_id}")


def test_no_serious_or_critical_accessibility_violation(watched: Watched, served: dict[str, Any]) -> None:
    axe = AXE.read_text(encoding="utf-8")
    found: dict[str, list[str]] = {}
    for name, route in _pages(served).items():
        page = watched.open(served, route)
        watched.settle_badges()
        page.evaluate(axe)  # evaluated by the driver, not injected as a script tag (the page's CSP holds)
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        if bad:
            found[name] = bad
    assert found == {}


def test_every_page_works_at_390_px(watched: Watched, served: dict[str, Any]) -> None:
    page = watched.page
    page.set_viewport_size({"width": 390, "height": 844})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, route in _pages(served).items():
        watched.open(served, route)
        watched.settle_badges()
        page.wait_for_timeout(300)
        width = page.evaluate("() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
        assert width <= 390, f"{name} is {width} px wide at 390 px"
        page.screenshot(path=str(SCREENSHOTS / f"{name}-390.png"), full_page=True)


def test_the_lessees_acknowledge_button_changes_the_invoice_on_the_contract(
    watched: Watched, served: dict[str, Any]
) -> None:
    from web3 import Web3

    from twinledger.verify.registry import RegistryReader  # noqa: F401  (the stand-alone reader's web3 stack)

    invoices = _get(served, f"/leases/{quote(served['lease_id'])}/invoices")["items"]
    invoice = _get(served, f"/invoices/{quote(invoices[-1]['invoice_id'])}")
    address, index = invoice["evidence"]["contract_address"], invoice["anchor"]["index"]
    abi = json.loads((REPO_ROOT / "contracts" / "artifacts" / "PayPerUseLease.json").read_text())["abi"]
    lease = Web3(Web3.HTTPProvider(served["chain"]["rpc_url"])).eth.contract(address=address, abi=abi)
    assert lease.functions.effectiveStatus(index).call() == 1  # Posted
    page = watched.open(served, f"lease/{quote(served['lease_id'], safe='')}")
    assert page.locator("#contract-state").get_attribute("data-state") == "posted"
    page.click("#acknowledge")
    page.wait_for_selector("#contract-state[data-state='acknowledged']", timeout=30_000)
    assert lease.functions.effectiveStatus(index).call() == 2  # Acknowledged, on the contract itself
    assert _get(served, f"/invoices/{quote(invoices[-1]['invoice_id'])}")["status"] == "acknowledged"
    assert page.locator("#acknowledge").count() == 0  # nothing left to answer
