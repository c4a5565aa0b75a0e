"""deploy/'s recipes checked without the machines they are for (no systemd running, no
docker here): systemd's own parser over the units (systemd-analyze verify, which names
every unknown or malformed setting), the hardening the service must keep, Caddy's own
parser over the Caddyfiles, the shell scripts parsed by sh and run where they can be (the
PostgreSQL set-up script against the tests' real PostgreSQL server, the container's
entrypoint), and the Dockerfile and compose file structurally: pinned images (no
`latest`), a non-root user, a health check, every file they name present."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from tests.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin"
CADDY = shutil.which("caddy") or "/usr/bin/caddy"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def unit_settings(path: Path) -> dict[str, list[str]]:
    """'Section.Key' -> values, in order (a key may repeat, as systemd allows)."""
    out: dict[str, list[str]] = {}
    section = ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return out


def installed_copy(unit: Path, folder: Path) -> Path:
    """The unit with /opt/rempart's paths pointing at this checkout (systemd-analyze checks
    that the programs exist)."""
    text = unit.read_text()
    text = text.replace("/opt/rempart/venv/bin", str(VENV_BIN))
    text = text.replace("/opt/rempart/src", str(ROOT))
    out = folder / unit.name
    out.write_text(text)
    return out


def test_service_is_hardened_and_listens_on_loopback() -> None:
    s = unit_settings(DEPLOY / "systemd" / "rempart.service")
    exec_start = s["Service.ExecStart"][0]
    assert exec_start.startswith("/opt/rempart/venv/bin/rempart serve ")
    assert "--host 127.0.0.1" in exec_start
    required = {
        "User": "rempart",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "RestrictSUIDSGID": "yes",
        "CapabilityBoundingSet": "",
        "StateDirectory": "rempart rempart-ledger",
        "StateDirectoryMode": "0700",
        "UMask": "0077",
        "EnvironmentFile": "/etc/rempart/rempart.env",
    }
    for key, value in required.items():
        assert s.get(f"Service.{key}") == [value], key
    assert "~@privileged" in s["Service.SystemCallFilter"]
    # what it reads: the state folder is where rempart.env puts REMPART_HOME and SQLite
    env = dict(
        line.split("=", 1)
        for line in (DEPLOY / "rempart.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert env["REMPART_HOME"].startswith("/var/lib/rempart/")
    # the withdrawal ledger outside the home (a restore must not roll it back), writable
    assert env["REMPART_LEDGER"].startswith("/var/lib/rempart-ledger/")
    assert env["REMPART_TRUSTED_PROXIES"].split(",")[0] == "127.0.0.1"
    assert env["REMPART_WEB_COOKIE_SECURE"] == "1"


def test_backup_units_call_the_script_with_a_credential() -> None:
    s = unit_settings(DEPLOY / "systemd" / "rempart-backup.service")
    assert s["Service.Type"] == ["oneshot"]
    assert s["Service.User"] == ["rempart"]
    assert s["Service.LoadCredential"] == ["backup-passphrase:/etc/rempart/backup-passphrase"]
    assert s["Service.ExecStart"][0].startswith("/opt/rempart/src/deploy/rempart-backup.sh ")
    assert "/var/backups/rempart" in s["Service.ReadWritePaths"]
    t = unit_settings(DEPLOY / "systemd" / "rempart-backup.timer")
    assert t["Timer.Unit"] == ["rempart-backup.service"]
    assert t["Timer.Persistent"] == ["true"]
    assert t["Install.WantedBy"] == ["timers.target"]


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_parses_every_unit_without_a_complaint(tmp_path: Path) -> None:
    units = sorted((DEPLOY / "systemd").iterdir())
    assert {u.name for u in units} == {
        "rempart.service",
        "rempart-backup.service",
        "rempart-backup.timer",
    }
    copies = [installed_copy(u, tmp_path) for u in units]
    proc = subprocess.run(
        [str(SYSTEMD_ANALYZE), "verify", *map(str, copies)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    # unknown keys and bad values are only warnings: none is allowed
    assert proc.stderr.strip() == "" and proc.stdout.strip() == "", proc.stderr + proc.stdout
    # systemd's own rating of the service's exposure (0 = locked down, 10 = none): at
    # most 2.0 ("OK"); 1.4 when written
    service = next(c for c in copies if c.name == "rempart.service")
    rating = subprocess.run(
        [str(SYSTEMD_ANALYZE), "security", "--offline=true", "--threshold=20", str(service)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert rating.returncode == 0, rating.stdout[-1500:]
    calendar = unit_settings(DEPLOY / "systemd" / "rempart-backup.timer")["Timer.OnCalendar"][0]
    check = subprocess.run([str(SYSTEMD_ANALYZE), "calendar", calendar], capture_output=True)
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize(
    "caddyfile, imported",
    [
        ("Caddyfile", "/etc/caddy/rempart-proxy.caddy"),
        ("docker/Caddyfile", "/etc/caddy/rempart-proxy.caddy"),
    ],
)
def test_caddy_parses_the_caddyfiles(tmp_path: Path, caddyfile: str, imported: str) -> None:
    if not Path(CADDY).exists():
        pytest.fail(f"{CADDY} is missing (`make test` installs it)", pytrace=False)
    text = (DEPLOY / caddyfile).read_text()
    assert f"import {imported}" in text
    config = tmp_path / "Caddyfile"
    config.write_text(text.replace(imported, str(DEPLOY / "caddy" / "rempart-proxy.caddy")))
    proc = subprocess.run(
        [CADDY, "adapt", "--adapter", "caddyfile", "--config", str(config)],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    assert "warn" not in proc.stderr.lower(), proc.stderr  # e.g. a Caddyfile not formatted
    assert '"upstreams":[{"dial":"127.0.0.1:8000"}]' in proc.stdout
    assert "trusted_proxies" not in proc.stdout  # a client's own X-Forwarded-For is dropped


def test_shell_scripts_parse_and_are_executable() -> None:
    scripts = [
        DEPLOY / "postgres-setup.sh",
        DEPLOY / "rempart-backup.sh",
        DEPLOY / "docker" / "entrypoint.sh",
    ]
    for script in scripts:
        assert script.stat().st_mode & stat.S_IXUSR, f"{script} is not executable"
        assert script.read_text().startswith("#!/bin/sh\n")
        proc = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
        assert proc.returncode == 0, f"{script}: {proc.stderr}"


def test_postgres_setup_creates_a_private_database_rempart_migrates(
    postgres_server: PostgresServer,
) -> None:
    """The set-up script, twice (idempotent), against a real server: its role owns its
    database and migrates it through the unix socket, as rempart.env's URL says; another
    role cannot even connect."""
    import psycopg

    from rempart.store.db import Database

    env = {
        **os.environ,
        "PGHOST": "127.0.0.1",
        "PGPORT": str(postgres_server.port),
        "PGUSER": "rempart",  # the test server's superuser
    }
    for _ in range(2):
        proc = subprocess.run(
            ["sh", str(DEPLOY / "postgres-setup.sh"), "helpline", "helpline_db"],
            capture_output=True,
            text=True,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr + proc.stdout
        assert "role helpline and database helpline_db are ready" in proc.stdout
    bad = subprocess.run(
        ["sh", str(DEPLOY / "postgres-setup.sh"), "x; drop", "y"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 2 and "a-z, 0-9 and _ only" in bad.stderr
    try:
        url = (
            f"postgresql://helpline@/helpline_db?host={postgres_server.socket_dir}"
            f"&port={postgres_server.port}"
        )
        db = Database(url)
        db.dispose()
        with psycopg.connect(
            host="127.0.0.1", port=postgres_server.port, user="helpline", dbname="helpline_db"
        ) as conn:
            tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables").fetchall()}
        assert {"banks", "bank_items", "cases"} <= tables
        postgres_server.admin("CREATE ROLE stranger LOGIN")
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            psycopg.connect(
                host="127.0.0.1", port=postgres_server.port, user="stranger", dbname="helpline_db"
            ).close()
    finally:
        postgres_server.admin("DROP DATABASE IF EXISTS helpline_db WITH (FORCE)")
        postgres_server.admin("DROP ROLE IF EXISTS stranger")
        postgres_server.admin("DROP ROLE IF EXISTS helpline")


def test_entrypoint_writes_a_private_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "db_password"
    secret.write_text("pa:ss\\word\n")
    proc = subprocess.run(
        ["sh", str(DEPLOY / "docker" / "entrypoint.sh"), "sh", "-c", 'echo "$PGPASSFILE"'],
        capture_output=True,
        text=True,
        env={
            **{k: v for k, v in os.environ.items() if k != "PGPASSFILE"},
            "TMPDIR": str(tmp_path),
            "REMPART_DB_PASSWORD_FILE": str(secret),
        },
    )
    assert proc.returncode == 0, proc.stderr
    pgpass = Path(proc.stdout.strip())
    assert pgpass.read_text() == "*:*:*:*:pa\\:ss\\\\word\n"
    assert stat.S_IMODE(pgpass.stat().st_mode) == 0o600
    missing = subprocess.run(
        ["sh", str(DEPLOY / "docker" / "entrypoint.sh"), "true"],
        capture_output=True,
        text=True,
        env={**os.environ, "REMPART_DB_PASSWORD_FILE": str(tmp_path / "nope")},
    )
    assert missing.returncode == 2 and "cannot read REMPART_DB_PASSWORD_FILE" in missing.stderr


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        pending += " " + stripped.removesuffix("\\").strip()
        if not stripped.endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            pending = ""
    return out


def pinned(image: str) -> bool:
    """name:version with a version number (never `latest`, never no tag)."""
    name, _, tag = image.partition(":")
    return bool(name) and re.match(r"^\d+(\.\d+)+", tag) is not None


def test_dockerfile_is_pinned_non_root_with_a_health_check() -> None:
    steps = dockerfile_instructions(DEPLOY / "docker" / "Dockerfile")
    stages = [args.split()[0] for word, args in steps if word == "FROM"]
    assert len(stages) >= 2 and all(pinned(image) for image in stages), stages
    users = [args for word, args in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0"), users
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    final = [word for word, _ in steps[last_from:]]
    assert "HEALTHCHECK" in final and "USER" in final
    assert any("/ready" in args for word, args in steps if word == "HEALTHCHECK")
    for word, args in steps:
        if word == "COPY" and not args.startswith("--from"):
            *sources, _ = args.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
        if word == "RUN":
            assert "curl" not in args and "wget" not in args  # nothing fetched by hand
    cmd = next(args for word, args in steps if word == "CMD")
    assert '"serve"' in cmd and '"--host", "0.0.0.0"' in cmd
    entry = next(args for word, args in steps if word == "ENTRYPOINT")
    assert "rempart-entrypoint" in entry


def test_compose_file_is_pinned_private_and_complete() -> None:
    folder = DEPLOY / "docker"
    compose: dict[str, Any] = yaml.safe_load((folder / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "rempart", "caddy"}
    for name, service in services.items():
        assert pinned(service["image"]), f"{name}: {service['image']}"
        for dep in service.get("depends_on", {}):
            assert dep in services
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                # secrets/ and backups/ are the operator's to create (the file's header)
                if source not in ("./backups",):
                    assert (folder / source).exists(), f"{name}: {source} is missing"
            else:
                assert source in compose["volumes"], f"{name}: volume {source}"
        for secret in service.get("secrets", []):
            assert secret in compose["secrets"]
    build = services["rempart"]["build"]
    assert (folder / build["context"] / build["dockerfile"]).resolve() == (
        folder / "Dockerfile"
    ).resolve()
    # Only Caddy is reachable from outside; PostgreSQL's network has no way out
    assert "ports" not in services["rempart"] and "ports" not in services["db"]
    assert compose["networks"]["backend"]["internal"] is True
    assert services["db"]["networks"] == ["backend"]
    caddy_ip = services["caddy"]["networks"]["frontend"]["ipv4_address"]
    env = services["rempart"]["environment"]
    assert env["REMPART_TRUSTED_PROXIES"] == caddy_ip
    assert "REMPART_DB_PASSWORD_FILE" in env and "@db:" in env["REMPART_DB"]
    assert env["PGPASSFILE"].startswith("/tmp/")  # `compose exec` commands reach the database
    assert "/tmp" in services["rempart"]["tmpfs"]
    assert ":" not in env["REMPART_DB"].split("//")[1].split("@")[0]  # no password in it
    assert services["db"]["healthcheck"]["test"][1] == "pg_isready"
    assert services["rempart"]["read_only"] is True
    assert services["rempart"]["cap_drop"] == ["ALL"]
    for name in ("rempart", "caddy"):
        assert "no-new-privileges:true" in services[name]["security_opt"]
    header = (folder / "compose.yaml").read_text()
    for secret in compose["secrets"].values():
        assert secret["file"].startswith("./secrets/")
        assert secret["file"].removeprefix("./") in header  # its creation is explained


def test_backup_script_writes_verifies_and_prunes(tmp_path: Path) -> None:
    """deploy/rempart-backup.sh as the timer runs it, with the real `rempart backup`: a
    backup written and verified; one older than the kept days deleted, a recent one kept;
    an unreadable passphrase file refused before anything is written."""
    home, backups = tmp_path / "home", tmp_path / "backups"
    backups.mkdir()
    passphrase = tmp_path / "backup-passphrase"
    passphrase.write_text("a long test passphrase\n")
    passphrase.chmod(0o600)
    env = {
        **os.environ,
        "REMPART_HOME": str(home),
        "REMPART_DB": f"sqlite:///{tmp_path / 'rempart.db'}",
        "REMPART_BIN": str(VENV_BIN / "rempart"),
        "REMPART_BACKUP_KEEP_DAYS": "14",
    }
    old, recent = backups / "rempart-20200101T000000Z.backup", backups / "rempart-recent.backup"
    for path, days in ((old, 20), (recent, 3)):
        path.write_bytes(b"x")
        t = time.time() - days * 86400
        os.utime(path, (t, t))
    script = str(DEPLOY / "rempart-backup.sh")
    proc = subprocess.run(
        ["sh", script, str(backups), str(passphrase)], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert "rempart-backup: wrote and verified" in proc.stdout
    ledger = backups / "withdrawals.ledger"  # a copy beside the backups
    assert ledger.read_bytes() == (home / "withdrawals.ledger").read_bytes()
    written = [p for p in backups.iterdir() if p.name not in (recent.name, ledger.name)]
    assert len(written) == 1 and re.fullmatch(r"rempart-\d{8}T\d{6}Z\.backup", written[0].name)
    assert stat.S_IMODE(written[0].stat().st_mode) == 0o600
    assert not old.exists() and recent.exists()
    missing = subprocess.run(
        ["sh", script, str(backups), str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert missing.returncode == 2 and "cannot read the passphrase file" in missing.stderr
    assert len(list(backups.iterdir())) == 3
