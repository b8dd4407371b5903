"""Start a real `stratus up` in a temporary data dir and drive it with the real clients.

The cloud runs once per backend: SQLite always, MariaDB when STRATUS_TEST_MYSQL_URL names a
server (`mysql://user:password@127.0.0.1:3306/`; the test creates its own database there).
"""
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STRATUS = os.environ.get("STRATUS_BIN", os.path.join(ROOT, "target", "debug", "stratus"))
OPENSTACK = os.environ.get("OPENSTACK_BIN") or shutil.which("openstack") or os.path.join(ROOT, ".venv", "bin", "openstack")


def free_port():
    """A port nobody listens on, taken from below the kernel's ephemeral range: an ephemeral
    port can be handed to an outgoing connection (say, to MariaDB) before stratus binds it."""
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    while True:
        port = random.randrange(10000, max(low, 10001))
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


_HANDED_OUT = set()


def wait_port(port, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"stratus exited early with {proc.returncode}:\n{log_tail(proc)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("stratus did not start listening")


def log_tail(proc, n=30):
    """The end of the server log a Cloud process writes (its stdout is the log file)."""
    path = getattr(proc, "log_path", None)
    if not path:
        return ""
    try:
        with open(path, "rb") as f:
            return b"".join(f.readlines()[-n:]).decode(errors="replace")
    except OSError:
        return ""


def read_openrc(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("export "):
                key, _, value = line[len("export "):].partition("=")
                if value.startswith("'") and value.endswith("'"):
                    value = value[1:-1].replace("'\\''", "'")
                env[key] = value
    return env


class Cloud:
    """A running Stratus and the admin credentials it wrote."""

    def __init__(self, backend, mysql_url=None, extra_env=None):
        self.backend = backend
        self.data_dir = tempfile.mkdtemp(prefix="stratus-e2e-")
        self.port = free_port()
        self.image_port = free_port()
        self.placement_port = free_port()
        self.compute_port = free_port()
        self.object_port = free_port()
        self.env = dict(os.environ)
        for k in list(self.env):
            if k.startswith("OS_"):
                del self.env[k]
        self.env.update({
            "STRATUS_DATA_DIR": self.data_dir,
            "STRATUS_IDENTITY_LISTEN": f"127.0.0.1:{self.port}",
            "STRATUS_IMAGE_LISTEN": f"127.0.0.1:{self.image_port}",
            "STRATUS_PLACEMENT_LISTEN": f"127.0.0.1:{self.placement_port}",
            "STRATUS_COMPUTE_LISTEN": f"127.0.0.1:{self.compute_port}",
            "STRATUS_OBJECT_STORAGE_LISTEN": f"127.0.0.1:{self.object_port}",
            "STRATUS_PUBLIC_HOST": "127.0.0.1",
            # A lower bcrypt cost keeps the suite quick; the hashing path is the same.
            "STRATUS_IDENTITY_PASSWORD_HASH_ROUNDS": "6",
            "STRATUS_LOG_LEVEL": "info",
        })
        if mysql_url:
            self.db_name = "stratus_e2e_" + uuid.uuid4().hex[:8]
            self.env["STRATUS_IDENTITY_DATABASE_URL"] = mysql_url.rstrip("/") + "/" + self.db_name
            self.env["STRATUS_IMAGE_DATABASE_URL"] = mysql_url.rstrip("/") + "/" + self.db_name + "_image"
            self.env["STRATUS_PLACEMENT_DATABASE_URL"] = mysql_url.rstrip("/") + "/" + self.db_name + "_placement"
            self.env["STRATUS_COMPUTE_DATABASE_URL"] = mysql_url.rstrip("/") + "/" + self.db_name + "_compute"
        self.env.update(extra_env or {})
        self.mysql_url = mysql_url
        self.proc = None
        self.log_path = os.path.join(self.data_dir, "stratus.log")

    @property
    def auth_url(self):
        return f"http://127.0.0.1:{self.port}/v3"

    def start(self):
        self.log = open(self.log_path, "ab")
        started = time.time()
        self.proc = subprocess.Popen([STRATUS, "up"], env=self.env, stdout=self.log, stderr=self.log)
        self.proc.log_path = self.log_path
        wait_port(self.port, self.proc)
        wait_port(self.image_port, self.proc)
        wait_port(self.placement_port, self.proc)
        wait_port(self.compute_port, self.proc)
        wait_port(self.object_port, self.proc)
        self.startup_seconds = time.time() - started
        self.admin = read_openrc(os.path.join(self.data_dir, "admin-openrc.sh"))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode if self.proc else None

    def crash(self):
        """kill -9: no shutdown work at all, as after a power cut of the process."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self):
        code = self.stop()
        assert code == 0, f"stratus did not stop cleanly: {code}"
        self.start()

    def cleanup(self):
        self.stop()
        if hasattr(self, "log"):
            self.log.close()
        if os.environ.get("STRATUS_KEEP_DATA"):
            print("kept", self.data_dir)
        else:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def user_env(self, **os_vars):
        """Environment for `openstack` as some user: OS_* given as keyword arguments."""
        env = {k: v for k, v in self.env.items() if not k.startswith("OS_")}
        env.update({"OS_AUTH_URL": self.auth_url, "OS_IDENTITY_API_VERSION": "3"})
        env.update({k: v for k, v in os_vars.items() if v is not None})
        return env

    def admin_env(self):
        env = dict(self.env)
        env.update(self.admin)
        return env

    def osc(self, *args, env=None, check=True):
        """Runs `openstack ARGS -f json` (when the command prints) and returns parsed output."""
        env = env or self.admin_env()
        cmd = [OPENSTACK, *args]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}\n--- server log ---\n{self.tail_log()}")
        if not check:
            return proc
        out = proc.stdout.strip()
        if "-f" in args and out:
            return json.loads(out)
        return out

    def osc_fails(self, *args, env=None):
        proc = self.osc(*args, env=env, check=False)
        assert proc.returncode != 0, f"{' '.join(args)} should have failed but printed:\n{proc.stdout}"
        return proc.stderr

    def tail_log(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_person(cloud, role="member"):
    """A project with a user holding `role` on it; returns (env, project id, project name)."""
    pname, user = unique("proj"), unique("user")
    pid = cloud.osc("project", "create", "--domain", "default", pname, "-f", "json")["id"]
    cloud.osc("user", "create", "--domain", "default", "--password", f"pw-{user}", user, "-f", "json")
    cloud.osc("role", "add", "--project", pname, "--user", user, role)
    env = cloud.user_env(OS_USERNAME=user, OS_PASSWORD=f"pw-{user}", OS_PROJECT_NAME=pname,
                         OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default")
    return env, pid, pname


def backends():
    mariadb = pytest.param("mariadb", marks=pytest.mark.skipif(
        not os.environ.get("STRATUS_TEST_MYSQL_URL"),
        reason="no MariaDB: set STRATUS_TEST_MYSQL_URL=mysql://user:password@host:3306/"))
    return ["sqlite", mariadb]


@contextlib.contextmanager
def running_cloud(backend, extra_env=None):
    """A started Cloud on `backend` (sqlite or mariadb), cleaned up on exit."""
    if not os.path.exists(STRATUS):
        pytest.fail(f"no stratus binary at {STRATUS}: run cargo build first")
    mysql_url = os.environ.get("STRATUS_TEST_MYSQL_URL") if backend == "mariadb" else None
    c = Cloud(backend, mysql_url, extra_env)
    try:
        c.start()
        yield c
    finally:
        c.cleanup()


@pytest.fixture(scope="module", params=backends())
def cloud(request):
    with running_cloud(request.param) as c:
        yield c
