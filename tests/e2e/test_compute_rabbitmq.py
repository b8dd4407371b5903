"""Multi-node compute over a real RabbitMQ: the controller (`stratus up` with no simulated hosts)
and a compute agent in its own process (`stratus agent compute`) reach each other only through
the broker, as nova-conductor and nova-compute do.

Needs STRATUS_TEST_AMQP_URL (amqp://guest:guest@127.0.0.1:5672/); scripts/test.sh starts
RabbitMQ and sets it. Each run gets a vhost of its own when rabbitmqctl is at hand, so runs
never see each other's queues.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
import uuid

import pytest

from conftest import STRATUS, running_cloud
from test_compute_cli import make_image, sdk, total_usage, usages, wait_for, wait_status

AMQP_URL = os.environ.get("STRATUS_TEST_AMQP_URL")
VHOST = None  # this run's own vhost, when rabbitmqctl made one
pytestmark = pytest.mark.skipif(not AMQP_URL, reason="no RabbitMQ: set STRATUS_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/")


@pytest.fixture(scope="module")
def transport_url(request):
    """A vhost of this run's own (when rabbitmqctl can make one), else the URL as given."""
    ctl = shutil.which("rabbitmqctl")
    if not ctl or os.geteuid() != 0:
        yield AMQP_URL
        return
    vhost = f"stratus-e2e-{uuid.uuid4().hex[:8]}"
    user = urllib.parse.urlparse(AMQP_URL).username or "guest"
    subprocess.run([ctl, "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run([ctl, "set_permissions", "-p", vhost, user, ".*", ".*", ".*"], check=True, capture_output=True)
    parsed = urllib.parse.urlparse(AMQP_URL)
    request.module.VHOST = vhost
    yield parsed._replace(path="/" + vhost).geturl()
    subprocess.run([ctl, "delete_vhost", vhost], capture_output=True)


class AgentProcess:
    """`stratus agent compute` as a separate process, with a data dir of its own."""

    def __init__(self, cloud, transport_url, host):
        self.dir = tempfile.mkdtemp(prefix="stratus-agent-")
        self.log_path = os.path.join(self.dir, "agent.log")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("STRATUS_", "OS_"))}
        self.env.update({
            "STRATUS_DATA_DIR": self.dir,
            "STRATUS_BUS_TRANSPORT_URL": transport_url,
            "STRATUS_COMPUTE_AGENT_AUTH_URL": cloud.auth_url,
            "STRATUS_COMPUTE_AGENT_PLACEMENT_URL": f"http://127.0.0.1:{cloud.placement_port}",
            "STRATUS_COMPUTE_AGENT_PASSWORD_FILE": os.path.join(cloud.data_dir, "nova-service-password"),
            "STRATUS_COMPUTE_AGENT_REPORT_INTERVAL": "1",
            "STRATUS_LOG_LEVEL": "info",
        })
        self.host = host
        self.proc = None

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([STRATUS, "agent", "compute", "--host", self.host], env=self.env,
                                    stdout=log, stderr=log)
        log.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-3000:]

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def multinode(transport_url, tmp_path_factory):
    env = {
        "STRATUS_BUS_TRANSPORT_URL": transport_url,
        "STRATUS_COMPUTE_AGENT_FAKE_HOSTS": "0",
        "STRATUS_COMPUTE_SERVICE_DOWN_TIME": "4",
    }
    with running_cloud("sqlite", env) as c:
        agent = AgentProcess(c, transport_url, "remote1")
        try:
            agent.start()
            c.agent = agent
            c.osc("flavor", "create", "--vcpus", "1", "--ram", "512", "--disk", "1", "m1.tiny", "-f", "json")
            c.image = make_image(c, str(tmp_path_factory.mktemp("rabbit")), "cirros")
            c.conn = sdk(c.admin_env())
            try:
                wait_for("the remote agent to register", lambda: [
                    s for s in c.conn.compute.services() if s.host == "remote1" and s.state == "up"], timeout=60)
            except AssertionError:
                raise AssertionError(f"agent never came up; its log:\n{agent.log()}\n--- controller ---\n{c.tail_log()}")
            yield c
        finally:
            agent.cleanup()


def test_remote_agent_registers_over_rabbitmq(multinode):
    services = multinode.osc("compute", "service", "list", "-f", "json")
    assert [(s["Host"], s["Binary"], s["State"]) for s in services] == [("remote1", "nova-compute", "up")]
    hypervisors = multinode.osc("hypervisor", "list", "-f", "json")
    assert [h["Hypervisor Hostname"] for h in hypervisors] == ["remote1"]
    # It reported its inventory to placement itself, over REST with the nova service user.
    assert usages(multinode, "remote1") == {"VCPU": 0, "MEMORY_MB": 0, "DISK_GB": 0}


def test_boot_act_and_delete_through_the_broker(multinode):
    server = multinode.osc("server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--nic", "none",
                           "--wait", "over-amqp", "-f", "json")
    assert server["status"] == "ACTIVE" and server["OS-EXT-SRV-ATTR:host"] == "remote1", server
    assert usages(multinode, "remote1") == {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}
    multinode.osc("server", "stop", server["id"])
    wait_status(multinode.conn, server["id"], "SHUTOFF")
    console = multinode.osc("console", "log", "show", server["id"])
    assert console.strip(), "the agent's console output should come back over the broker"
    multinode.osc("server", "delete", "--wait", server["id"])
    assert total_usage(multinode, ["remote1"]) == {"VCPU": 0, "MEMORY_MB": 0, "DISK_GB": 0}


def test_stopped_agent_shows_down_and_gets_nothing(multinode):
    multinode.agent.stop()
    wait_for("remote1 down", lambda: [s for s in multinode.conn.compute.services()
                                      if s.host == "remote1" and s.state == "down"], timeout=30, interval=0.5)
    services = multinode.osc("compute", "service", "list", "-f", "json")
    assert services[0]["State"] == "down", services
    multinode.osc_fails("server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--nic", "none",
                        "--wait", "nowhere")
    fault = multinode.osc("server", "show", "nowhere", "-f", "json")["fault"]["message"]
    assert "ComputeFilter removed 1" in fault, fault
    multinode.osc("server", "delete", "--wait", "nowhere")
    # Back again: it re-registers and takes work.
    multinode.agent.start()
    wait_for("remote1 up again", lambda: [s for s in multinode.conn.compute.services()
                                          if s.host == "remote1" and s.state == "up"], timeout=60, interval=0.5)
    started = time.time()
    server = multinode.osc("server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--nic", "none",
                           "--wait", "back", "-f", "json")
    assert server["status"] == "ACTIVE" and time.time() - started < 60
    multinode.osc("server", "delete", "--wait", server["id"])


def test_connections_lost_are_recovered(multinode):
    """What a broker restart does to the connections (closed by the broker): the controller and
    the agent reconnect, declare their queues again, and the agent keeps working."""
    if VHOST is None:
        pytest.skip("needs rabbitmqctl (as root) to close this run's connections")
    ctl = shutil.which("rabbitmqctl")
    closed = subprocess.run([ctl, "-q", "close_all_connections", "-p", VHOST, "e2e: connection lost"],
                            capture_output=True, text=True)
    assert closed.returncode == 0, closed.stderr
    # Both ends are back: the agent's heartbeats arrive again and a boot goes through the broker.
    time.sleep(5)  # longer than service_down_time (4 s) plus a report, had the heartbeats stopped
    wait_for("remote1 up after the reconnection", lambda: [
        s for s in multinode.conn.compute.services() if s.host == "remote1" and s.state == "up"],
        timeout=60, interval=0.5)
    try:
        server = multinode.osc("server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--nic", "none",
                               "--wait", "after-reconnect", "-f", "json")
    except AssertionError:
        raise AssertionError(f"boot after the reconnection failed; agent log:\n{multinode.agent.log()}")
    assert server["status"] == "ACTIVE" and server["OS-EXT-SRV-ATTR:host"] == "remote1", server
    multinode.osc("server", "delete", "--wait", server["id"])
