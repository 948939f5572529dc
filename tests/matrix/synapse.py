"""A real Synapse for tests: own data dir, free port, shared-secret registration."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

SERVER_NAME = "localhost"
SECRET = "kehrabot-test-secret"
_BIG = {"per_second": 1000, "burst_count": 10000}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Synapse:
    def __init__(self, data_dir: Path, *, default_limits: bool = False) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        data_dir.mkdir(parents=True, exist_ok=True)
        config = {
            "server_name": SERVER_NAME,
            "pid_file": str(data_dir / "homeserver.pid"),
            "listeners": [{"port": self.port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
                           "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}]}],
            "database": {"name": "sqlite3", "args": {"database": str(data_dir / "homeserver.db")}},
            "media_store_path": str(data_dir / "media"),
            "signing_key_path": str(data_dir / "signing.key"),
            "report_stats": False,
            "registration_shared_secret": SECRET,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "url_preview_enabled": False,
            "bcrypt_rounds": 4,
            "enable_metrics": False,
            "presence": {"enabled": False},
        }
        if not default_limits:
            config.update({
                "rc_message": _BIG, "rc_registration": _BIG,
                "rc_login": {"address": _BIG, "account": _BIG, "failed_attempts": _BIG},
                "rc_joins": {"local": _BIG, "remote": _BIG}, "rc_joins_per_room": _BIG,
                "rc_invites": {"per_room": _BIG, "per_user": _BIG, "per_issuer": _BIG},
                "rc_room_creation": _BIG, "rc_admin_redaction": _BIG, "rc_presence": {"per_user": _BIG},
                "rc_3pid_validation": _BIG, "rc_media_create": _BIG,
            })
        self.config_path = data_dir / "homeserver.yaml"
        self.config_path.write_text(yaml.safe_dump(config))

    def start(self, timeout: float = 30) -> None:
        log = open(self.data_dir / "synapse.log", "ab")  # noqa: SIM115 (kept open by the child)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config_path)],
            cwd=self.data_dir, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("synapse exited: " + (self.data_dir / "synapse.log").read_text()[-3000:])
            try:
                with urllib.request.urlopen(self.url + "/_matrix/client/versions", timeout=1):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        raise RuntimeError("synapse did not start in time")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def register(self, user: str, password: str = "secret-pw", admin: bool = False) -> str:
        url = self.url + "/_synapse/admin/v1/register"
        with urllib.request.urlopen(url, timeout=10) as r:
            nonce = json.load(r)["nonce"]
        mac = hmac.new(SECRET.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), user.encode(), password.encode(),
                                 b"admin" if admin else b"notadmin"]))
        body = json.dumps({"nonce": nonce, "username": user, "password": password, "admin": admin,
                           "mac": mac.hexdigest()}).encode()
        req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)["user_id"]

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def login_token(self, user: str, password: str = "secret-pw") -> str:
        body = json.dumps({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user},
                           "password": password}).encode()
        req = urllib.request.Request(self.url + "/_matrix/client/v3/login", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)["access_token"]

    def lift_rate_limit(self, user_id: str, admin_token: str) -> None:
        """Exempt one test user (not the bot) from message rate limits."""
        req = urllib.request.Request(
            self.url + f"/_synapse/admin/v1/users/{user_id}/override_ratelimit",
            data=json.dumps({"messages_per_second": 0, "burst_count": 0}).encode(), method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {admin_token}"})
        with urllib.request.urlopen(req, timeout=10):
            pass
