"""What a person sees in a browser after ``make example``: the real server, in Chromium.

The example runs under gunicorn as ``make example`` serves it (static files collected and
served by WhiteNoise, demo data and admin login seeded: the ``demo_example`` fixture).
Debian's Chromium (``/usr/bin/chromium``, which ``.ci/run`` installs; never a browser that
Playwright downloads) loads each page headless in a 1280 x 900 window. Each page is checked
as rendered — a stylesheet applied (a computed style), Swagger UI's operations drawn, the
analytics chart present — and screenshotted into the test's temporary directory, or into
``$BROWSER_SCREENSHOTS`` when set. Every request a page makes is recorded: none may go to
another host.

tox runs this module once per database backend (``py312-dj6-sqlite`` and
``py312-dj6-postgres``); the other environments deselect it with ``-m "not browser"``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from django_mobile_sync.domains import get_domains
from field_ops.demo import DEMO_ADMIN

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
#: Headless, and nothing of Chromium's own traffic (updates, sync, QUIC probes).
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
WIDTH, HEIGHT = 1280, 900
PREFIX = "/api/v1/sync/"
TRANSPARENT = "rgba(0, 0, 0, 0)"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium; "
            ".ci/run does), or point CHROMIUM at a Chromium binary."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Visit:
    """One browser tab on the server, recording every request it makes."""

    def __init__(self, browser: Any, server: Any, shots: Path) -> None:
        self.server, self.shots = server, shots
        self.context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.failed: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.context.on(
            "response",
            lambda response: (
                response.status >= 400 and self.failed.append(f"{response.status} {response.url}")
            ),
        )
        self.context.on("requestfailed", lambda request: self.failed.append(request.url))

    def open(self, path: str) -> Any:
        response = self.page.goto(self.server.url + path, wait_until="networkidle")
        assert response is not None and response.status == 200, (path, response)
        return response

    def screenshot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def style(self, selector: str, prop: str) -> str:
        value: str = self.page.eval_on_selector(
            selector, f"e => getComputedStyle(e).getPropertyValue({prop!r})"
        )
        return value

    def log_in(self) -> None:
        username, password = DEMO_ADMIN
        self.open("/admin/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        with self.page.expect_navigation(wait_until="networkidle"):
            self.page.click("input[type=submit]")
        assert self.page.url == f"{self.server.url}/admin/", self.page.url

    def assert_local_only(self) -> None:
        """Every request went to the example server, and none failed."""
        hosts = {
            urlsplit(url).netloc
            for url in self.requests
            if not url.startswith(("data:", "blob:", "about:"))
        }
        assert hosts == {urlsplit(self.server.url).netloc}, self.requests
        assert self.failed == []

    def assert_fits(self, selector: str) -> None:
        """What ``selector`` finds is whole in the window: it ends left of the window's
        right edge, and no box around it that scrolls or clips (``overflow-x`` other than
        ``visible``) is wider inside than out."""
        overflow = self.page.eval_on_selector_all(
            selector,
            """els => els.filter(e => {
                if (e.getBoundingClientRect().right > window.innerWidth) return true;
                for (let box = e; box && box !== document.body; box = box.parentElement) {
                    const clips = getComputedStyle(box).overflowX !== "visible";
                    if (clips && box.scrollWidth > box.clientWidth + 1) return true;
                }
                return false;
            }).map(e => e.id || e.getAttribute('class') || e.tagName)""",
        )
        assert overflow == [], overflow
        assert self.page.evaluate("document.documentElement.scrollWidth") <= WIDTH


@pytest.fixture
def visit(chromium: Any, demo_example: Any, tmp_path: Path) -> Iterator[Visit]:
    shots = Path(os.environ.get("BROWSER_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    tab = Visit(chromium, demo_example, shots)
    yield tab
    tab.context.close()


def assert_admin_styled(visit: Visit) -> None:
    """The admin's base.css is loaded and applied (gunicorn alone would 404 it)."""
    sheets = visit.page.evaluate(
        "[...document.styleSheets].filter(s => s.href).map(s => [s.href, s.cssRules.length])"
    )
    assert any(href.endswith("/admin/css/base.css") and rules for href, rules in sheets), sheets
    assert visit.style("#header", "background-color") not in ("", TRANSPARENT)
    assert visit.style("body", "margin-top") == "0px"  # the browser's default is 8px


def make_conflict(server: Any) -> str:
    """Alice creates a task and starts it; Bob's stale edit of it is a conflict."""
    alice, bob = server.demo_tokens["alice"], server.demo_tokens["bob"]
    mobile_id = str(uuid.uuid4())
    url = f"{PREFIX}activity/sync/"
    create = {"mobile_id": mobile_id, "version": 0, "jobdesc": "Check the boiler pressure"}
    assert server.json("POST", url, {"entries": [create]}, token=alice)[0] == 200
    start = {"mobile_id": mobile_id, "version": 1, "jobstatus": "INPROGRESS"}
    assert server.json("POST", url, {"entries": [start]}, token=alice)[0] == 200
    stale = {"mobile_id": mobile_id, "version": 1, "priority": "HIGH"}
    status, body = server.json(
        "POST", url, {"client_id": "tablet-2", "entries": [stale]}, token=bob
    )
    assert status == 200 and [c["mobile_id"] for c in body["conflicts"]] == [mobile_id], body
    return mobile_id


def test_admin_login_and_site_index(visit: Visit) -> None:
    visit.open("/admin/login/")
    assert_admin_styled(visit)
    assert visit.style("#login-form input[type=submit]", "background-color") != TRANSPARENT
    visit.screenshot("admin-login")
    visit.log_in()
    assert_admin_styled(visit)
    entry = visit.page.locator("#content-main a", has_text="Sync analytics")
    assert entry.count() == 1
    visit.screenshot("admin-index")
    visit.assert_local_only()


def test_conflict_log_and_a_conflicts_page(visit: Visit, demo_example: Any) -> None:
    mobile_id = make_conflict(demo_example)
    visit.log_in()
    visit.open(f"/admin/django_mobile_sync/syncconflict/?q={mobile_id}")
    assert_admin_styled(visit)
    options = visit.page.eval_on_selector_all(
        "select[name=action] option", "els => els.map(e => e.value)"
    )
    assert options == ["", "reapply_client_version"]  # read-only: no "Delete selected"
    rows = visit.page.locator("#result_list tbody tr")
    assert rows.count() == 1 and "1 → 2" in rows.inner_text()
    visit.screenshot("conflict-log")
    visit.assert_fits("#result_list")

    with visit.page.expect_navigation(wait_until="networkidle"):
        rows.locator("th a").click()
    assert_admin_styled(visit)
    differs = visit.page.locator("#sync-payloads tr.differs th")
    assert differs.all_inner_texts() == ["priority"]
    assert visit.page.locator(".deletelink").count() == 0
    button, history = ".object-tools button.sync-reapply", ".object-tools a.historylink"
    assert visit.page.locator(button).inner_text().strip().upper() == (
        "RE-APPLY THE DEVICE'S VERSION"
    )
    for prop in (
        "background-color",
        "color",
        "font-family",
        "font-size",
        "font-weight",
        "text-transform",
        "letter-spacing",
        "border-top-left-radius",
        "padding-top",
        "padding-left",
        "height",
    ):
        assert visit.style(button, prop) == visit.style(history, prop), prop
    visit.screenshot("conflict-detail")
    visit.assert_local_only()


def test_analytics_page(visit: Visit, demo_example: Any) -> None:
    make_conflict(demo_example)
    bad = {"mobile_id": str(uuid.uuid4()), "description": "Fix the gate", "priority": "ASAP"}
    status, body = demo_example.json(
        "POST",
        f"{PREFIX}work-orders/sync/",
        {"entries": [bad]},
        token=demo_example.demo_tokens["gina"],
    )
    assert status == 200 and len(body["errors"]) == 1, body
    visit.log_in()
    with visit.page.expect_navigation(wait_until="networkidle"):
        visit.page.locator("#content-main a", has_text="Sync analytics").click()
    assert visit.page.url.startswith(f"{demo_example.url}/admin/django_mobile_sync/syncanalytics/")
    assert_admin_styled(visit)
    chart = visit.page.locator("svg.sync-chart")
    assert chart.count() == 1 and chart.bounding_box()["height"] > 100
    assert visit.page.locator("svg.sync-chart rect.conflicts").count() >= 1
    assert visit.page.locator("svg.sync-chart rect.errors").count() >= 1
    scale = visit.page.locator("svg.sync-chart text.y-tick").all_text_contents()
    assert (
        len(scale) >= 2
        and scale[0] == "0"
        and [int(v) for v in scale] == sorted(int(v) for v in scale)
    )
    assert visit.style("svg.sync-chart rect.ok", "fill") == "rgb(63, 143, 95)"
    current = visit.page.locator("#nav-sidebar tr.current-model a").all_inner_texts()
    assert current == ["Sync analytics"]  # not "Sync batches": the page is the entry's own
    visit.screenshot("analytics")
    visit.assert_fits(".sync-analytics table, .sync-analytics svg")
    visit.assert_local_only()


def test_batch_log_fits_the_window(visit: Visit, demo_example: Any) -> None:
    make_conflict(demo_example)
    # A wide row: a longer domain and device id, and two kinds of applied items.
    url, token = f"{PREFIX}work-orders/sync/", demo_example.demo_tokens["gina"]
    first = {"mobile_id": str(uuid.uuid4()), "description": "Fix the gate"}
    body = {"client_id": "gina-android-tablet-07", "entries": [first]}
    assert demo_example.json("POST", url, body, token=token)[0] == 200
    edit = {**first, "version": 1, "description": "Fix the gate hinge"}
    new = {"mobile_id": str(uuid.uuid4()), "description": "Oil the gate"}
    body = {"client_id": "gina-android-tablet-07", "entries": [edit, new]}
    status, answer = demo_example.json("POST", url, body, token=token)
    assert status == 200 and len(answer["synced_items"]) == 2, answer
    visit.log_in()
    visit.open("/admin/django_mobile_sync/syncbatch/")
    assert_admin_styled(visit)
    assert visit.page.locator("#result_list tbody tr").count() >= 5
    assert "1 created, 1 updated" in visit.page.locator("#result_list").inner_text()
    current = visit.page.locator("#nav-sidebar tr.current-model a").all_inner_texts()
    assert current == ["Sync batches"]
    visit.screenshot("batch-log")
    visit.assert_fits("#result_list")
    visit.assert_local_only()


def test_api_docs_render_every_operation_offline(visit: Visit) -> None:
    visit.open("/api/docs/")
    visit.page.wait_for_selector(".opblock", timeout=30_000)
    paths = visit.page.locator(".opblock-summary-path").all_inner_texts()
    expected = {
        *(f"{PREFIX}{name}/{kind}/" for name in get_domains() for kind in ("sync", "changes")),
        f"{PREFIX}sync/",  # several domains in one request
        f"{PREFIX}changes/",
        f"{PREFIX}watermelon/",  # WatermelonDB's pull and push
        f"{PREFIX}files/",  # tus: an upload's creation, its chunks and its termination
        f"{PREFIX}files/{{upload_id}}",
        f"{PREFIX}files/sha256/{{sha256}}",  # a file by its digest
    }
    assert {p.replace("\u200b", "").strip() for p in paths} == expected
    sheets = visit.page.evaluate(
        "[...document.styleSheets].filter(s => s.href).map(s => [s.href, s.cssRules.length])"
    )
    assert any(href.endswith("/swagger-ui.css") and rules for href, rules in sheets), sheets
    assert visit.style(".opblock.opblock-post", "background-color") != TRANSPARENT
    assert visit.style(".swagger-ui .info .title", "font-size") != visit.style("body", "font-size")
    visit.screenshot("api-docs")
    visit.assert_local_only()


def test_index_links_docs_admin_and_health(visit: Visit) -> None:
    visit.open("/")
    assert_admin_styled(visit)  # the admin's look: its stylesheet, header and modules
    assert visit.style(".module caption", "background-color") not in ("", TRANSPARENT)
    visit.assert_fits(".module table")
    links = visit.page.eval_on_selector_all("a", "els => els.map(e => e.getAttribute('href'))")
    assert {"/api/docs/", "/api/schema/", "/admin/", "/health/"} <= set(links)
    visit.screenshot("index")
    with visit.page.expect_navigation(wait_until="networkidle"):
        visit.page.click("a[href='/api/docs/']")
    visit.page.wait_for_selector(".opblock", timeout=30_000)
    visit.assert_local_only()
