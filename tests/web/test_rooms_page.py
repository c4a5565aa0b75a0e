"""The web UI's rooms page, in Debian's chromium through a real `rempart serve`: linked from
the navigation, it shows the rooms report for the caseworker's organisation only (org-a's
caseworker never sees the room where only org-b's case was found, and org-b's sees nothing
of org-a's rooms), hostile chat and sender names as text (no script runs), the charts as
images, and the page in French.

The world (four rooms scanned through the real pipeline) is tests/cases/test_rooms_report's
`build_rooms_world`, built once for this module with its own server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.api.conftest import Server, World
from tests.cases.test_rooms_report import HOSTILE, build_rooms_world
from tests.web.conftest import sign_in


@pytest.fixture(scope="module")
def rooms_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    world: World = build_rooms_world(tmp_path_factory.mktemp("rooms-web"))
    srv = Server(world, REMPART_WEB_COOKIE_SECURE="0")
    yield srv
    srv.stop()


def on_dialog(dialogs: list[str], dialog: Any) -> None:
    """A script would have opened it: recorded (and dismissed) to fail the test."""
    dialogs.append(dialog.message)
    dialog.dismiss()


def _page(browser: Any, server: Server) -> Any:
    ctx = browser.new_context(
        base_url=server.url, viewport={"width": 1200, "height": 900}, locale="en-GB"
    )
    ctx.set_default_timeout(20_000)
    return ctx


def test_rooms_page_is_scoped_to_her_organisation(browser: Any, rooms_server: Server) -> None:
    dialogs: list[str] = []
    ctx_a = _page(browser, rooms_server)
    try:
        page = ctx_a.new_page()
        page.on("dialog", lambda d: on_dialog(dialogs, d))
        sign_in(page, rooms_server.world.keys["ca"])
        page.click("#nav-rooms")
        page.wait_for_url("**/ui/rooms")
        table = page.inner_text("#rooms-table")
        assert "Room Alpha" in table and "Room Alpha 2" in table and "1001" in table
        assert "3003" not in table and "window.__owned" not in page.content()
        assert page.inner_text("#rooms-summary [data-key=rooms]") == "3"
        assert page.inner_text("#rooms-summary [data-key=cases_targeted]") == "1"
        assert "re-created" in page.inner_text("#rooms-links")
        for chart in ("activity", "media", "network", "spread"):
            src = page.get_attribute(f"#chart-{chart}", "src") or ""
            assert src.startswith("data:image/png;base64,"), chart
            assert page.evaluate(f"document.getElementById('chart-{chart}').naturalWidth") > 100
        page.click("#lang-fr")
        page.wait_for_url("**/ui/rooms")
        assert page.inner_text("h1") == "Rapport de renseignement sur les salons"
        assert "recréé" in page.inner_text("#rooms-links")
    finally:
        ctx_a.close()
    ctx_b = _page(browser, rooms_server)
    try:
        page = ctx_b.new_page()
        page.on("dialog", lambda d: on_dialog(dialogs, d))
        sign_in(page, rooms_server.world.keys["cb"])
        page.goto("/ui/rooms")
        table = page.inner_text("#rooms-table")
        assert HOSTILE in table and "<b>evil</b>" in table  # shown as text
        assert "Room Alpha" not in page.inner_text("#rooms-report")
        assert page.inner_text("#rooms-summary [data-key=rooms]") == "1"
        assert page.evaluate("window.__owned === undefined")
        # another organisation's room asked for by name: not shown either
        page.goto("/ui/rooms?room=Room+Alpha")
        assert page.locator("#no-rooms").count() == 1
        assert page.inner_text("#rooms-not-found").endswith(": Room Alpha")  # as for no room
    finally:
        ctx_b.close()
    assert dialogs == []
