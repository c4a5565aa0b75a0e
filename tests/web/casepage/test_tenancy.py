"""Self-opened cases on a server two organisations share (issue 14): with org-a the intake
organisation, a case opened on the case page belongs to org-a from the start; org-b's
caseworker neither lists it, nor takes it, nor opens it (the one generic 404), org-a's does,
an admin sees every one; without the setting, today's single-organisation behaviour. The web
UI in process (real SQLite, the real app), the command line through its runner."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.cases.test_review import rempart

from rempart.access import keys
from rempart.cases import self_service, self_settings
from rempart.store import repository
from rempart.store.db import Database
from rempart.store.models import CaseOwner
from rempart.store.repository import StoreError


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m is not None
    return m.group(1)


class Ui:
    """One caseworker's (or the admin's) session on the shared client (the last signed in
    is the one the client speaks for)."""

    def __init__(self, client: TestClient, key: str) -> None:
        self.c = client
        self.c.cookies.clear()
        r = self.c.post("/ui/login", data={"csrf": _csrf(self.c.get("/ui/login").text), "key": key})
        assert r.status_code == 303, r.text
        self.csrf = _csrf(self.c.get("/ui/").text)

    def get(self, path: str) -> httpx.Response:
        return self.c.get(path)

    def take(self, number: str) -> httpx.Response:
        return self.c.post(f"/ui/self-cases/{number}/take", data={"csrf": self.csrf})


@pytest.fixture(scope="module")
def shared(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, dict[str, str], Path]]:
    from rempart.api.settings import ApiSettings
    from rempart.server import create_app

    root = tmp_path_factory.mktemp("tenancy")
    url = f"sqlite:///{root / 'r.db'}"
    home = root / "home"
    mp = pytest.MonkeyPatch()
    mp.setenv("REMPART_WEB_COOKIE_SECURE", "0")
    app = create_app(ApiSettings(db_url=url, home=home))
    db = Database(url)
    made: dict[str, str] = {}
    with db.session() as s:
        for name, role, tenant in (
            ("admin", "admin", None),
            ("ca", "caseworker", "org-a"),
            ("cb", "caseworker", "org-b"),
            ("pa", "platform", "plat-a"),
        ):
            made[name] = keys.create_key(s, role, tenant, label=name)[0]
    db.dispose()
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        yield client, made, root
    mp.undo()


def _listed(page: str) -> list[str]:
    return re.findall(r"<td>(S-[A-Z0-9]+)</td>", page)


def test_intake_organisation_keeps_other_organisations_out(
    shared: tuple[TestClient, dict[str, str], Path],
) -> None:
    client, made, root = shared
    db = Database(f"sqlite:///{root / 'r.db'}")
    home = root / "home"
    try:
        # Checked: an organisation that does not exist, a platform, are refused.
        for wrong in ("nope", "plat-a"):
            with pytest.raises(StoreError):
                self_settings.set_org_settings(db, intake_organisation=wrong)
        self_settings.set_org_settings(db, self_open=True)
        before = self_service.open_self_case(db, home)  # no intake organisation yet
        self_settings.set_org_settings(db, intake_organisation="org-a")
        opened = self_service.open_self_case(db, home)
        with db.session() as s:
            case = repository.get_case(s, opened.case)
            assert case is not None
            owner = s.get(CaseOwner, case.id)
            assert owner is not None and owner.tenant_id == keys.get_tenant(s, "org-a").id
            first = repository.get_case(s, before.case)
            assert first is not None and s.get(CaseOwner, first.id) is None
    finally:
        db.dispose()

    b = Ui(client, made["cb"])
    page = b.get("/ui/self-cases").text
    assert _listed(page) == [] and 'id="setting-intake-organisation">org-a<' in page
    for number in (opened.case, before.case):
        assert b.take(number).status_code == 404
        assert b.get(f"/ui/cases/{number}").status_code == 404
        assert b.get(f"/ui/cases/{number}/secret").status_code == 404
    assert b.take("S-NOSUCH").status_code == 404  # the same answer as another's case

    admin = Ui(client, made["admin"])
    assert _listed(admin.get("/ui/self-cases").text) == [before.case, opened.case]

    a = Ui(client, made["ca"])
    page = a.get("/ui/self-cases").text
    # org-a, the intake organisation, also gets the one opened before the setting
    assert _listed(page) == [before.case, opened.case]
    assert 'id="nav-self-cases"' in page
    r = a.take(opened.case)
    assert r.status_code == 303 and r.headers["location"] == f"/ui/cases/{opened.case}"
    case_page = a.get(f"/ui/cases/{opened.case}").text
    assert f'href="/ui/cases/{opened.case}/secret" id="case-new-secret"' in case_page
    assert a.get(f"/ui/cases/{opened.case}/secret").status_code == 200
    assert _listed(a.get("/ui/self-cases").text) == [before.case]
    b = Ui(client, made["cb"])  # one client: each sign-in replaces the last
    assert b.get(f"/ui/cases/{opened.case}").status_code == 404  # still org-a's

    # Unset: the single-organisation behaviour (any caseworker sees the unowned ones; the
    # case taken belongs to her organisation); org-a's own case stays org-a's.
    db = Database(f"sqlite:///{root / 'r.db'}")
    try:
        self_settings.set_org_settings(db, intake_organisation="")
        assert self_settings.org_settings(db).intake_organisation is None
        later = self_service.open_self_case(db, home)
    finally:
        db.dispose()
    b = Ui(client, made["cb"])
    page = b.get("/ui/self-cases").text
    assert _listed(page) == [before.case, later.case]
    assert 'id="setting-intake-organisation">none' in page
    assert b.take(later.case).status_code == 303
    assert b.get(f"/ui/cases/{later.case}").status_code == 200
    assert Ui(client, made["ca"]).get(f"/ui/cases/{later.case}").status_code == 404


def test_the_command_line_sees_all(rempart_env: Path) -> None:
    db = Database(os.environ["REMPART_DB"])
    home = Path(os.environ["REMPART_HOME"])
    try:
        with db.session() as s:
            keys.create_key(s, "caseworker", "org-a", label="ca")
    finally:
        db.dispose()
    assert "no tenant named 'org-z'" in rempart(
        "case", "page-settings", "--intake-organisation", "org-z", code=1
    )
    rempart("case", "page-settings", "--self-open", "--intake-organisation", "org-a")
    shown = json.loads(rempart("case", "page-settings", "--format", "json"))
    assert shown["intake_organisation"] == "org-a"
    assert "intake organisation: org-a" in rempart("case", "page-settings")
    db = Database(os.environ["REMPART_DB"])
    try:
        opened = self_service.open_self_case(db, home)
    finally:
        db.dispose()
    listed = json.loads(rempart("case", "self-opened", "--format", "json"))
    assert [c["case"] for c in listed] == [opened.case]  # the operator: every organisation's
    assert "0 held file(s) imported" in rempart("case", "take", opened.case)
    db = Database(os.environ["REMPART_DB"])
    try:
        with db.session() as s:
            case = repository.get_case(s, opened.case)
            assert case is not None and s.get(CaseOwner, case.id) is not None  # still org-a's
    finally:
        db.dispose()
    rempart("case", "page-settings", "--intake-organisation", "")
    assert "intake organisation: (none)" in rempart("case", "page-settings")
