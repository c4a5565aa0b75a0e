"""README.md as a tested script: every command of its command blocks runs, in order, in a
fresh Rempart home and database, and must succeed (issue 19: two steps were broken as
written).

The files the README names are made here (generated photos, the consent records shown in
the README itself, a partner's StopNCII list, a partner key). Placeholders (FOLDER,
HASH_HEX, m12, KEY_ID, ...) are replaced by what a user would type at that point, taken
from what the previous commands printed where they come from one. `rempart serve` runs
for real on a free loopback port, and the partner helpline of step 10 is a second real
Rempart server on loopback: only the host and port are substituted. Commands that cannot
run here are listed in NOT_RUN with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import traceback
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from typer.testing import CliRunner

from rempart.cli import app
from rempart.samples import photo_like
from tests.conftest import TESTDATA
from tests.readme_runner import Command, commands, json_file_blocks, read_blocks, readme

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FACES = TESTDATA / "faces/face_recognition-examples/knn_examples/train/obama"

# Commands not run, by their text, with the reason.
NOT_RUN = {
    "make demo": "builds the environment and runs the demo: `make demo` itself runs it",
    "make test": "builds the environment and runs the whole suite, this test included",
}
# Exit codes other than 0 that the README announces for a command (none today: the scan's
# 3, some files skipped, is allowed only where the README says so).
EXPECTED_EXIT: dict[str, int] = {}
PARTNER_URL = "https://rempart.other-helpline.example"
LOCAL_URL = "http://127.0.0.1:8000"
# What only a shell understands: a command with one of these runs in bash.
SHELL_SYNTAX = re.compile(r"[|;&<>$`*?(){}\[\]~]")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Shell:
    """Runs commands as a user would, in `cwd`, with .venv/bin first on the PATH.

    A plain `rempart ...` command (no pipe, redirection or variable) runs in this process
    through Typer's CliRunner, in `cwd`, with the same REMPART_HOME/REMPART_DB, the same
    answer on stdin and the same exit-code check: a child process cost about a second of
    CPU per command, mostly importing Rempart. The console script itself is still run as
    typed by `rempart serve` (both servers), and anything else (curl, shell syntax) by bash.
    """

    cwd: Path
    home: Path
    log: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
            "REMPART_HOME": str(self.home),
            "REMPART_DB": str(self.home / "rempart.db"),
            "COLUMNS": "200",
            "PYTHONWARNINGS": "ignore",
        }

    def run(self, command: str, *, code: int = 0) -> Ran:
        words = shlex.split(command)
        if words[0] == "rempart" and not SHELL_SYNTAX.search(command):
            return self._check(command, self._in_process(words[1:]), code)
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=self.cwd,
            env=self.env,
            text=True,
            input="y\n",
            capture_output=True,
            timeout=600,
        )
        return self._check(command, Ran(done.returncode, done.stdout, done.stderr), code)

    def _in_process(self, args: list[str]) -> Ran:
        env = {key: self.env[key] for key in ("REMPART_HOME", "REMPART_DB", "COLUMNS")}
        with contextlib.chdir(self.cwd):
            done = CliRunner().invoke(app, args, env=env, input="y\n")
        err = done.stderr
        if done.exception is not None and not isinstance(done.exception, SystemExit):
            err += "".join(traceback.format_exception(done.exception))
        return Ran(done.exit_code, done.stdout, err)

    def _check(self, command: str, done: Ran, code: int) -> Ran:
        self.log.append(f"$ {command}\n{done.stdout}{done.stderr}")
        assert done.returncode == code, (
            f"`{command}` exited {done.returncode} (expected {code}):\n{done.stdout}\n{done.stderr}"
        )
        return done

    @contextlib.contextmanager
    def server(self, command: str, port: int) -> Iterator[None]:
        """A real `rempart serve` in the background, until the block ends."""
        out = (self.cwd / f"serve-{port}.log").open("w")
        proc = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=self.cwd,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, (self.cwd / f"serve-{port}.log").read_text()
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                        break
                except OSError:
                    assert time.monotonic() < deadline, "the server did not start"
                    time.sleep(0.3)
            yield
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            out.close()


def save_photos(folder: Path, seeds: list[int], size: tuple[int, int] = (480, 360)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        photo_like(seed, size).save(folder / f"photo-{seed}.jpg", quality=90)


def stopncii_list(path: Path, seeds: list[int]) -> None:
    """A partner's list in StopNCII's record format (docs/formats.md), of generated photos."""
    from rempart.signals.image_hashes import hash_image_bytes

    records = []
    for seed in seeds:
        tmp = path.with_name(f"partner-{seed}.jpg")
        photo_like(seed, (480, 360)).save(tmp, quality=90)
        pdq = hash_image_bytes(tmp.read_bytes(), tmp, dihedral=False, robust=None).pdq.hex
        tmp.unlink()
        records.append(
            {
                "lastModtimestamp": 1764590400,
                "signalType": "ImagePDQ",
                "hashValue": pdq,
                "hashStatus": "Active",
                "caseNumbers": {"sncii-0001": "Active"},
                "CSPFeedbacks": [],
            }
        )
    path.write_text(
        json.dumps(
            {
                "count": len(records),
                "nextPageToken": None,
                "hasMoreRecords": False,
                "hashRecords": records,
            }
        )
    )


@contextlib.contextmanager
def partner_helpline(base: Path, consent: str) -> Iterator[tuple[str, str]]:
    """Another helpline's Rempart (its own home and database) sharing its bank
    victim-cases with us: (its URL on loopback, the partner key it gave us)."""
    other = Shell(base / "other-helpline", base / "other-helpline" / "home")
    other.cwd.mkdir()
    save_photos(other.cwd / "photos", [4101, 4102])
    record = json.loads(consent) | {
        "given_by": "A person the other helpline helps",
        "allow_exchange": True,
    }
    (other.cwd / "consent.json").write_text(json.dumps(record))
    other.run("rempart hash photos --out hashes.json")
    other.run("rempart bank create victim-cases")
    other.run("rempart bank import victim-cases hashes.json --case CASE-900 --consent consent.json")
    key = other.run("rempart apikey create --role partner --tenant our-helpline").stdout.strip()
    other.run("rempart bank share victim-cases --tenant our-helpline")
    port = free_port()
    with other.server(f"rempart serve --workers 1 --port {port}", port):
        yield f"http://127.0.0.1:{port}", key


def test_every_readme_command_runs_as_written(tmp_path: Path) -> None:
    blocks = read_blocks(readme(ROOT))
    files = json_file_blocks(blocks)
    assert {"consent.json", "partner-consent.json"} <= set(files), "README consent examples"
    work = tmp_path / "user"
    work.mkdir()
    user = Shell(work, tmp_path / "home")
    # What the README names and expects the user to have.
    for name, text in files.items():
        (work / name).write_text(text + "\n")
    save_photos(work / "her-photos", [11, 12, 13])
    found = work / "found"
    save_photos(found, [900, 901])
    photo_like(11, (480, 360)).resize((400, 300)).save(found / "copy-of-11.jpg", quality=70)
    for k, src in enumerate(sorted(FACES.glob("*.jpg"))[:2], 1):
        (work / f"her-photo-{k}.jpg").symlink_to(src)
    stopncii_list(work / "their-list.json", [5101, 5102])

    state: dict[str, str] = {}

    def last_pdq(out: str) -> None:
        with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
            state["HASH_HEX"] = json.loads(out)["items"][0]["pdq"]

    def first_match() -> str:
        if "m12" not in state:
            listed = json.loads(user.run("rempart review list --format json").stdout)
            assert listed, "the scans of step 3 found no match to review"
            state["m12"] = listed[0]["ref"]
        return state["m12"]

    placeholders: dict[str, Callable[[], str]] = {
        "PHOTO_VIDEO_OR_FOLDER": lambda: "her-photos",
        "FOLDER": lambda: "found",
        "PHOTO": lambda: "her-photos/photo-11.jpg",
        "HASH_HEX": lambda: state["HASH_HEX"],
        "PLATFORM_KEY": lambda: state["PLATFORM_KEY"],
        "KEY_ID": lambda: state["KEY_ID"],
        "m12": first_match,
    }
    ran: list[str] = []
    with contextlib.ExitStack() as servers:
        partner_url, partner_key = servers.enter_context(
            partner_helpline(tmp_path, files["consent.json"])
        )
        (work / "other-helpline.key").write_text(partner_key + "\n")
        (work / "other-helpline.key").chmod(0o600)
        api_port = free_port()
        for block in blocks:
            if block.lang:
                continue
            for command in commands(block):
                run_one(
                    command,
                    user,
                    placeholders,
                    servers,
                    api_port,
                    partner_url,
                    state,
                    last_pdq,
                    ran,
                )
    # the README's steps as a user meets them, in order, all of them run
    assert any(c.startswith("rempart scan found") for c in ran)
    assert any(c.startswith("rempart sync pull http://127.0.0.1:") for c in ran)
    assert any(c.startswith("curl ") for c in ran)
    assert any(c.startswith("rempart bank import-list partner-hashes") for c in ran)


def _literal(value: str) -> Callable[[re.Match[str]], str]:
    """A replacement taken as it is (no backslash escapes)."""
    return lambda _m: value


def substitute(text: str, placeholders: dict[str, Callable[[], str]]) -> str:
    for name in sorted(placeholders, key=len, reverse=True):
        pattern = re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])")
        if pattern.search(text):
            text = pattern.sub(_literal(placeholders[name]()), text)
    return text


def run_one(
    command: Command,
    user: Shell,
    placeholders: dict[str, Callable[[], str]],
    servers: contextlib.ExitStack,
    api_port: int,
    partner_url: str,
    state: dict[str, str],
    last_pdq: Callable[[str], None],
    ran: list[str],
) -> None:
    text = command.text
    if re.sub(r"\s+#.*$", "", text) in NOT_RUN:  # without its comment
        return
    text = substitute(text, placeholders)
    text = text.replace(PARTNER_URL, partner_url).replace(LOCAL_URL, f"http://127.0.0.1:{api_port}")
    where = f"README line {command.line}: "
    leftover = re.findall(r"\b[A-Z][A-Z_]{3,}\b(?!-)", text)
    assert not leftover, f"{where}placeholder(s) this test does not know: {leftover}"
    ran.append(text)
    if text.startswith("rempart serve"):
        # runs until stopped: in the background, on a free port of this machine
        servers.enter_context(user.server(f"{text} --port {api_port}", api_port))
        return
    done = user.run(text, code=EXPECTED_EXIT.get(command.text, 0))
    out = done.stdout
    if text.startswith("rempart hash ") and "--out" not in text:
        last_pdq(out)
    if text.startswith("rempart apikey create --role platform"):
        state["PLATFORM_KEY"] = out.strip()
        state["KEY_ID"] = out.strip().split("_")[1]
    if text.startswith("curl "):
        answer = json.loads(out)
        assert "matches" in answer, f"{where}the API answered {out!r}"
