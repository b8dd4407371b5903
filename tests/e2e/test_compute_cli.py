"""The compute control plane with the real `openstack` CLI (and openstacksdk where many servers
are driven at once): flavors, the boot flow onto simulated hosts, nova's state model, every
server action, the scheduler's filters and weighers, quotas, project isolation and services.

The user-facing walk-through uses the CLI; waiting for states uses openstacksdk, which asks the
same API without starting a Python process per poll.
"""
import base64
import concurrent.futures
import json
import os
import subprocess
import time
import urllib.request

import openstack
import pytest

from conftest import backends, make_person, running_cloud, unique

# Four simulated hosts of 8 vCPUs, 4 GiB of RAM (6 GiB schedulable at ratio 1.5), 200 GB disk.
HOSTS = ["fake1", "fake2", "fake3", "fake4"]
BASE_ENV = {
    "STRATUS_COMPUTE_AGENT_FAKE_HOSTS": "4",
    "STRATUS_COMPUTE_AGENT_FAKE_MEMORY_MB": "4096",
    "STRATUS_COMPUTE_AGENT_REPORT_INTERVAL": "1",
    "STRATUS_COMPUTE_SERVICE_DOWN_TIME": "5",
}


def sdk(env):
    """An openstacksdk connection from OS_* variables."""
    return openstack.connect(
        auth_url=env["OS_AUTH_URL"], username=env["OS_USERNAME"], password=env["OS_PASSWORD"],
        project_name=env["OS_PROJECT_NAME"], user_domain_name=env.get("OS_USER_DOMAIN_NAME", "Default"),
        project_domain_name=env.get("OS_PROJECT_DOMAIN_NAME", "Default"), region_name="RegionOne")


def wait_for(what, fn, timeout=60, interval=0.1):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def wait_status(conn, server_id, status, timeout=60):
    """Waits until the server has `status` and no task in flight; returns it."""
    def settled():
        s = conn.compute.get_server(server_id)
        return s if s.status == status and s.task_state is None else None
    try:
        return wait_for(f"{server_id} to be {status}", settled, timeout)
    except AssertionError:
        s = conn.compute.get_server(server_id)
        raise AssertionError(f"{server_id} is {s.status}/{s.task_state}, not {status}; fault {s.fault}")


def show(cloud, server, env=None):
    return cloud.osc("server", "show", server, "-f", "json", env=env)


def usages(cloud, host):
    """Placement usages of a simulated host's resource provider."""
    rps = cloud.osc("resource", "provider", "list", "--name", host, "-f", "json")
    assert len(rps) == 1, rps
    rows = cloud.osc("resource", "provider", "usage", "show", rps[0]["uuid"], "-f", "json")
    return {r["resource_class"]: r["usage"] for r in rows}


def total_usage(cloud, hosts=HOSTS):
    out = {"VCPU": 0, "MEMORY_MB": 0, "DISK_GB": 0}
    for h in hosts:
        for rc, n in usages(cloud, h).items():
            out[rc] = out.get(rc, 0) + n
    return out


def make_image(cloud, workdir, name=None, *props):
    path = os.path.join(workdir, "tiny.qcow2")
    if not os.path.exists(path):
        subprocess.run(["qemu-img", "create", "-f", "qcow2", path, "64M"], check=True, capture_output=True)
    args = ["image", "create", "--disk-format", "qcow2", "--container-format", "bare", "--public",
            "--file", path]
    for p in props:
        args += ["--property", p]
    return cloud.osc(*args, name or unique("img"), "-f", "json")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("compute"))


@pytest.fixture(scope="module", params=backends())
def nova(request, workdir):
    """A cloud of four simulated hosts with the walk-through's flavors and image."""
    with running_cloud(request.param, BASE_ENV) as c:
        c.osc("flavor", "create", "--vcpus", "1", "--ram", "512", "--disk", "1", "m1.tiny", "-f", "json")
        c.osc("flavor", "create", "--vcpus", "2", "--ram", "1024", "--disk", "2", "m1.small", "-f", "json")
        c.image = make_image(c, workdir, "cirros")
        c.conn = sdk(c.admin_env())
        # The admin's tests ask for more than the default quota (nova checks quota first).
        c.osc("quota", "set", "--ram", "1000000", "--cores", "100", "--instances", "100", "admin")
        wait_for("four compute services up", lambda: len([
            s for s in c.conn.compute.services() if s.state == "up"]) == 4)
        yield c


def boot(cloud, name=None, flavor="m1.tiny", image="cirros", env=None, *extra):
    """`openstack server create … --nic none --wait`; returns the server as the CLI shows it."""
    return cloud.osc("server", "create", "--flavor", flavor, "--image", image, "--nic", "none", "--wait",
                     *extra, name or unique("vm"), "-f", "json", env=env)


# ---------------------------------------------------------------------------------------------
# the boot flow and the state model


def test_catalog_and_discovery(nova):
    catalog = nova.osc("catalog", "list", "-f", "json")
    compute = [c for c in catalog if c["Type"] == "compute"]
    assert compute and compute[0]["Name"] == "nova", catalog
    with urllib.request.urlopen(f"http://127.0.0.1:{nova.compute_port}/") as r:
        versions = json.load(r)["versions"]
    v21 = [v for v in versions if v["id"] == "v2.1"][0]
    assert v21["min_version"] == "2.1" and v21["version"] == "2.96", v21


def test_boot_shows_nova_states(nova):
    server = boot(nova, "walk1")
    assert server["status"] == "ACTIVE", server
    assert server["OS-EXT-STS:vm_state"] == "active"
    assert server["OS-EXT-STS:task_state"] is None
    assert server["OS-EXT-SRV-ATTR:host"] in HOSTS
    table = nova.osc("server", "show", server["id"])
    power_row = [line for line in table.splitlines() if "OS-EXT-STS:power_state" in line]
    assert power_row and "Running" in power_row[0], table
    listed = nova.osc("server", "list", "-f", "json")
    assert any(s["ID"] == server["id"] and s["Status"] == "ACTIVE" for s in listed)
    # The claim is in placement, on the chosen host, the size of the flavor.
    assert usages(nova, server["OS-EXT-SRV-ATTR:host"]) == {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}
    events = nova.osc("server", "event", "list", server["id"], "-f", "json")
    assert [e["Action"] for e in events] == ["create"]
    # The create action's steps, each recorded and finished: the scheduling decision, the
    # conductor's build and the agent's spawn.
    action = nova.osc("server", "event", "show", server["id"], events[0]["Request ID"], "-f", "json")
    steps = {e["event"]: e for e in action["events"]}
    assert set(steps) == {"scheduler_select_destinations", "conductor_schedule_and_build_instances",
                          "compute__do_build_and_run_instance"}, action
    assert all(e["result"] == "Success" and e["finish_time"] for e in steps.values()), action
    assert steps["compute__do_build_and_run_instance"]["host"] == server["OS-EXT-SRV-ATTR:host"], action
    nova.osc("server", "delete", "--wait", server["id"])
    assert usages(nova, server["OS-EXT-SRV-ATTR:host"]) == {"VCPU": 0, "MEMORY_MB": 0, "DISK_GB": 0}


def test_power_actions_follow_the_state_table(nova):
    server = boot(nova)
    sid = server["id"]
    steps = [
        (["server", "stop"], "SHUTOFF", "stopped", 4),
        (["server", "start"], "ACTIVE", "active", 1),
        (["server", "reboot"], "ACTIVE", "active", 1),
        (["server", "reboot", "--hard"], "ACTIVE", "active", 1),
        (["server", "pause"], "PAUSED", "paused", 3),
        (["server", "unpause"], "ACTIVE", "active", 1),
        (["server", "suspend"], "SUSPENDED", "suspended", 7),
        (["server", "resume"], "ACTIVE", "active", 1),
        (["server", "rescue"], "RESCUE", "rescued", 1),
        (["server", "unrescue"], "ACTIVE", "active", 1),
    ]
    for args, status, vm_state, power in steps:
        nova.osc(*args, sid)
        s = wait_status(nova.conn, sid, status)
        assert (s.vm_state, s.power_state) == (vm_state, power), (args, s.vm_state, s.power_state)
    actions = [e["Action"] for e in nova.osc("server", "event", "list", sid, "-f", "json")]
    for a in ["create", "stop", "start", "reboot", "pause", "unpause", "suspend", "resume", "rescue", "unrescue"]:
        assert a in actions, actions
    nova.osc("server", "delete", "--wait", sid)


def test_conflicting_actions_get_409(nova):
    env, _, _ = make_person(nova)
    server = boot(nova, None, "m1.tiny", "cirros", env)
    sid = server["id"]
    nova.osc("server", "stop", sid, env=env)
    wait_status(nova.conn, sid, "SHUTOFF")
    err = nova.osc_fails("server", "pause", sid, env=env)
    assert "409" in err and "vm_state stopped" in err, err
    # Locked: its project may not act on it until unlocked (an admin still may, as in nova).
    nova.osc("server", "lock", sid, env=env)
    err = nova.osc_fails("server", "start", sid, env=env)
    assert "409" in err and "locked" in err, err
    nova.osc("server", "unlock", sid, env=env)
    nova.osc("server", "start", sid, env=env)
    wait_status(nova.conn, sid, "ACTIVE")
    nova.osc("server", "delete", "--wait", sid, env=env)


def test_resize_confirm_and_revert(nova):
    server = boot(nova, None, "m1.tiny")
    sid = server["id"]
    nova.osc("server", "resize", "--flavor", "m1.small", "--wait", sid)
    s = wait_status(nova.conn, sid, "VERIFY_RESIZE")
    assert s.vm_state == "resized"
    nova.osc("server", "resize", "confirm", sid)
    s = wait_status(nova.conn, sid, "ACTIVE")
    assert s.flavor["original_name"] == "m1.small"
    assert usages(nova, s.compute_host) == {"VCPU": 2, "MEMORY_MB": 1024, "DISK_GB": 2}

    # Resize to a bigger flavor again and revert: back to m1.small on the original host.
    nova.osc("flavor", "create", "--vcpus", "4", "--ram", "2048", "--disk", "4", "m1.medium", "-f", "json")
    before_host = s.compute_host
    nova.osc("server", "resize", "--flavor", "m1.medium", "--wait", sid)
    wait_status(nova.conn, sid, "VERIFY_RESIZE")
    nova.osc("server", "resize", "revert", sid)
    s = wait_status(nova.conn, sid, "ACTIVE")
    assert s.flavor["original_name"] == "m1.small"
    assert s.compute_host == before_host
    assert total_usage(nova) == {"VCPU": 2, "MEMORY_MB": 1024, "DISK_GB": 2}
    nova.osc("server", "delete", "--wait", sid)
    nova.osc("flavor", "delete", "m1.medium")


def test_cold_migrate_moves_to_another_host(nova):
    server = boot(nova)
    sid, source = server["id"], server["OS-EXT-SRV-ATTR:host"]
    nova.osc("server", "migrate", "--wait", sid)
    s = wait_status(nova.conn, sid, "VERIFY_RESIZE")
    assert s.compute_host != source
    # Until confirmed, the migration holds the source host's resources as a MIGRATION consumer.
    found = nova.conn.compute.get(f"/os-migrations?instance_uuid={sid}", microversion="2.59").json()
    held = nova.conn.placement.get(f"/allocations/{found['migrations'][0]['uuid']}",
                                   microversion="1.38").json()
    assert held["consumer_type"] == "MIGRATION", held
    assert usages(nova, source) == {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}
    nova.osc("server", "resize", "confirm", sid)
    s = wait_status(nova.conn, sid, "ACTIVE")
    assert usages(nova, source) == {"VCPU": 0, "MEMORY_MB": 0, "DISK_GB": 0}
    assert usages(nova, s.compute_host) == {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}
    migrations = nova.osc("server", "migration", "list", "--server", sid, "-f", "json")
    assert migrations and migrations[0]["Source Compute"] == source, migrations
    nova.osc("server", "delete", "--wait", sid)


def test_rebuild_keeps_id_name_and_metadata(nova, workdir):
    other = make_image(nova, workdir)
    server = boot(nova, None, "m1.tiny", "cirros", None, "--property", "role=web")
    sid = server["id"]
    nova.osc("server", "rebuild", "--image", other["id"], "--wait", sid)
    s = show(nova, sid)
    assert (s["id"], s["name"], s["status"]) == (sid, server["name"], "ACTIVE")
    assert other["id"] in str(s["image"])
    assert "role" in str(s["properties"]) and "web" in str(s["properties"])
    assert "rebuild" in [e["Action"] for e in nova.osc("server", "event", "list", sid, "-f", "json")]
    nova.osc("server", "delete", "--wait", sid)


def test_snapshot_appears_in_image_list(nova):
    server = boot(nova)
    name = unique("snap")
    nova.osc("server", "image", "create", "--name", name, "--wait", server["id"], "-f", "json")
    images = {i["Name"]: i for i in nova.osc("image", "list", "-f", "json")}
    assert name in images and images[name]["Status"] == "active", images
    image = nova.osc("image", "show", name, "-f", "json")
    assert image["properties"]["instance_uuid"] == server["id"]
    assert image["properties"]["image_type"] == "snapshot"
    assert wait_status(nova.conn, server["id"], "ACTIVE")
    nova.osc("server", "delete", "--wait", server["id"])


def test_shelve_and_unshelve_release_and_reclaim_the_host(nova):
    server = boot(nova)
    sid = server["id"]
    nova.osc("server", "shelve", sid)
    s = wait_status(nova.conn, sid, "SHELVED_OFFLOADED")
    assert s.compute_host is None
    assert total_usage(nova) == {"VCPU": 0, "MEMORY_MB": 0, "DISK_GB": 0}
    nova.osc("server", "unshelve", sid)
    s = wait_status(nova.conn, sid, "ACTIVE")
    assert s.compute_host in HOSTS
    assert total_usage(nova) == {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}
    nova.osc("server", "delete", "--wait", sid)


# ---------------------------------------------------------------------------------------------
# validation, quotas and who sees what


def test_bad_create_requests_leave_nothing(nova):
    before = len(list(nova.conn.compute.servers(all_projects=True)))
    err = nova.osc_fails("server", "create", "--flavor", "no-such-flavor", "--image", "cirros", "--nic", "none", "x")
    assert "no-such-flavor" in err or "No Flavor" in err or "not found" in err.lower(), err
    big = base64.b64encode(os.urandom(70000)).decode()
    r = nova.conn.compute.post("/servers", json={"server": {
        "name": "big", "flavorRef": "m1.tiny", "imageRef": nova.image["id"], "networks": "none",
        "user_data": big}}, microversion="2.37")
    assert r.status_code == 400, r.text
    r = nova.conn.compute.post("/servers", json={"server": {
        "name": "tiny-disk", "flavorRef": "m1.tiny", "imageRef": nova.image["id"], "networks": "none",
        "min_count": 0}}, microversion="2.37")
    assert r.status_code == 400, r.text
    assert len(list(nova.conn.compute.servers(all_projects=True))) == before


def test_boot_sees_images_as_the_caller_does(nova, workdir):
    """The image a boot names is read with the caller's rights: another project's private
    image, a missing one and one without data are refused with 400, and nothing is left."""
    env, _, _ = make_person(nova)
    conn = sdk(env)
    flavor = nova.conn.compute.find_flavor("m1.tiny")
    private = nova.osc("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                       "--private", "--file", os.path.join(workdir, "tiny.qcow2"), unique("priv"), "-f", "json")
    # Created through the API (the CLI would upload its empty stdin): queued, no data.
    queued = nova.conn.image.post("/images", json={
        "name": unique("empty"), "disk_format": "raw", "container_format": "bare", "visibility": "public"}).json()
    assert queued["status"] == "queued", queued
    missing = "8f1c3b0e-1111-4222-8333-944455556666"

    def create(image_id):
        return conn.compute.post("/servers", json={"server": {
            "name": unique("img"), "flavorRef": flavor.id, "imageRef": image_id, "networks": "none"}},
            microversion="2.37")

    for image_id in (private["id"], missing):
        r = create(image_id)
        assert r.status_code == 400 and f"Image {image_id} could not be found." in r.text, r.text
    r = create(queued["id"])
    assert r.status_code == 400 and "is not active" in r.text, r.text
    assert list(conn.compute.servers()) == []
    # The admin's project owns the private image: the same request boots there.
    r = nova.conn.compute.post("/servers", json={"server": {
        "name": unique("own"), "flavorRef": flavor.id, "imageRef": private["id"], "networks": "none"}},
        microversion="2.37")
    assert r.status_code == 202, r.text
    sid = r.json()["server"]["id"]
    wait_status(nova.conn, sid, "ACTIVE")
    nova.osc("server", "delete", "--wait", sid)
    nova.osc("image", "delete", private["id"], queued["id"])


def test_unlimited_quota_lets_a_project_past_the_defaults(nova):
    """-1 means unlimited: a project boots more servers at once than the default limit of
    10 allows; with a limit set again, the limit holds."""
    env, _, pname = make_person(nova)
    conn = sdk(env)
    flavor = nova.conn.compute.find_flavor("m1.tiny")
    body = {"server": {"name": unique("many"), "flavorRef": flavor.id, "imageRef": nova.image["id"],
                       "networks": "none", "min_count": 12}}
    r = conn.compute.post("/servers", json=body, microversion="2.37")
    assert r.status_code == 403 and "Quota exceeded for instances" in r.text, r.text
    nova.osc("quota", "set", "--instances", "-1", "--cores", "-1", "--ram", "-1", pname)
    r = conn.compute.post("/servers", json=body, microversion="2.37")
    assert r.status_code == 202, r.text
    servers = wait_for("twelve servers", lambda: (lambda s: s if len(s) == 12 else None)(
        list(conn.compute.servers())))
    for s in servers:
        wait_status(conn, s.id, "ACTIVE")
    nova.osc("quota", "set", "--instances", "12", pname)
    err = nova.osc_fails("server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--nic", "none",
                         "thirteenth", env=env)
    assert "403" in err and "Quota exceeded for instances" in err, err
    for s in servers:
        conn.compute.delete_server(s.id)
    wait_for("servers gone", lambda: not list(conn.compute.servers()))


def test_quota_class_default_changes_every_projects_defaults(nova):
    """`openstack quota set --class default` sets the defaults projects without their own
    limits get, and the checks use them."""
    env, _, pname = make_person(nova)
    def instances(*args):
        shown = nova.osc("quota", "show", *args, "-f", "json")
        return shown["instances"] if "instances" in shown else {r["Resource"]: r["Limit"] for r in shown}["instances"]

    assert instances("--default", pname) == 10
    try:
        nova.osc("quota", "set", "--class", "--instances", "2", "default")
        assert instances("--default", pname) == 2
        assert instances(pname) == 2
        first = nova.osc("server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--nic", "none",
                         "--min", "2", "--max", "2", "pair", "-f", "json", env=env)
        err = nova.osc_fails("server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--nic", "none",
                             "third", env=env)
        assert "403" in err and "Quota exceeded for instances" in err, err
        conn = sdk(env)
        for s in list(conn.compute.servers()):
            conn.compute.delete_server(s.id)
        wait_for("servers gone", lambda: not list(conn.compute.servers()))
        assert first
    finally:
        nova.osc("quota", "set", "--class", "--instances", "10", "default")
    assert instances(pname) == 10


def test_quota_cores_enforced_with_a_clear_403(nova):
    env, pid, pname = make_person(nova)
    nova.osc("quota", "set", "--cores", "30", pname)
    quota = nova.osc("quota", "show", pname, "-f", "json")
    cores = quota["cores"] if "cores" in quota else {r["Resource"]: r["Limit"] for r in quota}["cores"]
    assert cores == 30, quota
    nova.osc("flavor", "create", "--vcpus", "8", "--ram", "512", "--disk", "1", "c8", "-f", "json")
    conn = sdk(env)
    flavor = conn.compute.find_flavor("c8")
    ids = [conn.compute.create_server(name=unique("c8"), flavor_id=flavor.id, image_id=nova.image["id"],
                                      networks="none").id for _ in range(3)]
    for sid in ids:
        wait_status(conn, sid, "ACTIVE")
    limits = nova.osc("limits", "show", "--absolute", "-f", "json", env=env)
    absolute = {r["Name"]: r["Value"] for r in limits}
    assert absolute["max_total_cores"] == 30 and absolute["total_cores_used"] == 24, absolute
    # 24 + 8 > 30: refused at once, with what was asked and what is left.
    err = nova.osc_fails("server", "create", "--flavor", "c8", "--image", "cirros", "--nic", "none",
                         "fourth", env=env)
    assert "403" in err and "Quota exceeded for cores" in err, err
    assert len(nova.osc("server", "list", "-f", "json", env=env)) == 3
    for sid in ids:
        conn.compute.delete_server(sid)
    wait_for("servers gone", lambda: not list(conn.compute.servers()))
    nova.osc("flavor", "delete", "c8")


def test_projects_are_isolated(nova):
    a_env, a_pid, _ = make_person(nova)
    b_env, _, _ = make_person(nova)
    server = boot(nova, None, "m1.tiny", "cirros", a_env)
    sid = server["id"]
    assert nova.osc("server", "list", "-f", "json", env=b_env) == []
    assert "No Server found" in nova.osc_fails("server", "show", sid, env=b_env)
    nova.osc_fails("server", "stop", sid, env=b_env)
    nova.osc_fails("server", "delete", sid, env=b_env)
    assert nova.conn.compute.get_server(sid).status == "ACTIVE"
    everyone = nova.osc("server", "list", "--all-projects", "--project", a_pid, "-f", "json")
    assert [s["ID"] for s in everyone] == [sid]
    # An admin acts on it too.
    nova.osc("server", "stop", sid)
    wait_status(nova.conn, sid, "SHUTOFF")
    nova.osc("server", "delete", "--wait", sid)


# ---------------------------------------------------------------------------------------------
# the scheduler


def test_no_valid_host_says_why(nova):
    nova.osc("flavor", "create", "--vcpus", "1", "--ram", "65536", "--disk", "1", "huge", "-f", "json")
    nova.osc_fails("server", "create", "--flavor", "huge", "--image", "cirros", "--nic", "none", "--wait", "big")
    s = show(nova, "big")
    assert s["status"] == "ERROR"
    message = s["fault"]["message"]
    assert message.startswith("No valid host was found."), message
    assert "RAM: need 65536 MB, the largest host has 4096 MB" in message, message
    nova.osc("server", "delete", "--wait", "big")

    # One 4 GiB server per host leaves 2 GiB free on each (6 GiB at ratio 1.5): a fifth is refused.
    nova.osc("flavor", "create", "--vcpus", "1", "--ram", "4096", "--disk", "1", "large", "-f", "json")
    flavor = nova.conn.compute.find_flavor("large")
    ids = [nova.conn.compute.create_server(name=unique("large"), flavor_id=flavor.id, image_id=nova.image["id"],
                                           networks="none").id for _ in range(4)]
    for sid in ids:
        wait_status(nova.conn, sid, "ACTIVE")
    nova.osc_fails("server", "create", "--flavor", "large", "--image", "cirros", "--nic", "none", "--wait", "fifth")
    message = show(nova, "fifth")["fault"]["message"]
    assert "placement removed 4 for lack of resources" in message, message
    assert "RAM: need 4096 MB, largest free 2048 MB on fake" in message, message
    for sid in ids + ["fifth"]:
        nova.osc("server", "delete", "--wait", sid)
    assert total_usage(nova) == {"VCPU": 0, "MEMORY_MB": 0, "DISK_GB": 0}
    nova.osc("flavor", "delete", "huge")
    nova.osc("flavor", "delete", "large")


def test_image_properties_filter(nova, workdir):
    arm = make_image(nova, workdir, None, "architecture=arm")
    nova.osc_fails("server", "create", "--flavor", "m1.tiny", "--image", arm["id"], "--nic", "none", "--wait", "armvm")
    message = show(nova, "armvm")["fault"]["message"]
    assert "ImagePropertiesFilter removed 4" in message and "arm" in message, message
    nova.osc("server", "delete", "--wait", "armvm")
    x86 = make_image(nova, workdir, None, "architecture=x86_64", "hypervisor_type=fake")
    server = boot(nova, None, "m1.tiny", x86["id"])
    assert server["status"] == "ACTIVE"
    nova.osc("server", "delete", "--wait", server["id"])


def test_availability_zone_filter(nova):
    agg = unique("agg")
    nova.osc("aggregate", "create", "--zone", "az2", agg, "-f", "json")
    nova.osc("aggregate", "add", "host", agg, "fake3", "-f", "json")
    zones = [z["Zone Name"] for z in nova.osc("availability", "zone", "list", "--compute", "-f", "json")]
    assert "az2" in zones and "nova" in zones, zones
    for _ in range(2):
        server = boot(nova, None, "m1.tiny", "cirros", None, "--availability-zone", "az2")
        assert server["OS-EXT-SRV-ATTR:host"] == "fake3"
        assert server["OS-EXT-AZ:availability_zone"] == "az2"
        nova.osc("server", "delete", "--wait", server["id"])
    nova.osc_fails("server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--nic", "none",
                   "--availability-zone", "nowhere", "azvm")
    nova.osc("aggregate", "remove", "host", agg, "fake3", "-f", "json")
    nova.osc("aggregate", "delete", agg)


def test_server_group_anti_affinity(nova):
    group = nova.osc("server", "group", "create", "--policy", "anti-affinity", unique("grp"), "-f", "json")
    hosts = []
    for _ in range(2):
        s = boot(nova, None, "m1.tiny", "cirros", None, "--hint", f"group={group['id']}")
        hosts.append(s["OS-EXT-SRV-ATTR:host"])
    assert len(set(hosts)) == 2, hosts
    members = nova.osc("server", "group", "show", group["id"], "-f", "json")["members"]
    assert len(members if isinstance(members, list) else members.split(",")) == 2
    for s in nova.conn.compute.servers():
        nova.conn.compute.delete_server(s.id)
    wait_for("servers gone", lambda: not list(nova.conn.compute.servers()))


# ---------------------------------------------------------------------------------------------
# services


def test_compute_services_and_forced_down(nova):
    services = nova.osc("compute", "service", "list", "--service", "nova-compute", "-f", "json")
    assert sorted(s["Host"] for s in services) == HOSTS
    assert all(s["State"] == "up" and s["Status"] == "enabled" for s in services), services
    hypervisors = nova.osc("hypervisor", "list", "-f", "json")
    assert sorted(h["Hypervisor Hostname"] for h in hypervisors) == HOSTS
    # Forced down and disabled hosts get nothing.
    nova.osc("compute", "service", "set", "--down", "fake1", "nova-compute")
    nova.osc("compute", "service", "set", "--disable", "--disable-reason", "maintenance",
             "fake2", "nova-compute")
    services = {s["Host"]: s for s in nova.osc("compute", "service", "list", "-f", "json")}
    assert services["fake1"]["State"] == "down" and services["fake2"]["Status"] == "disabled"
    booted = [boot(nova) for _ in range(4)]
    placed = [s["OS-EXT-SRV-ATTR:host"] for s in booted]
    assert set(placed) <= {"fake3", "fake4"}, placed
    # An admin's server show says whether the server's host is up (host_status, from 2.16),
    # and follows the host forced down and back at once.
    v216 = dict(nova.admin_env(), OS_COMPUTE_API_VERSION="2.16")
    server, host = booted[0]["id"], placed[0]
    assert show(nova, server, env=v216)["host_status"] == "UP"
    nova.osc("compute", "service", "set", "--down", host, "nova-compute")
    assert show(nova, server, env=v216)["host_status"] == "DOWN"
    listed = nova.osc("server", "list", "--long", "--host", host, "-f", "json", env=v216)
    assert listed and all(s["Host Status"] == "DOWN" for s in listed), listed
    nova.osc("compute", "service", "set", "--up", host, "nova-compute")
    assert show(nova, server, env=v216)["host_status"] == "UP"
    nova.osc("compute", "service", "set", "--up", "fake1", "nova-compute")
    nova.osc("compute", "service", "set", "--enable", "fake2", "nova-compute")
    for s in nova.conn.compute.servers():
        nova.conn.compute.delete_server(s.id)
    wait_for("servers gone", lambda: not list(nova.conn.compute.servers()))


# ---------------------------------------------------------------------------------------------
# clouds set up for one behaviour


def setup_small_cloud(c, workdir, ram=512):
    c.osc("flavor", "create", "--vcpus", "1", "--ram", str(ram), "--disk", "1", "small", "-f", "json")
    c.image = make_image(c, workdir, "cirros")
    c.conn = sdk(c.admin_env())
    list(c.conn.compute.flavors())  # authenticates once, before threads share the connection
    wait_for("compute services up", lambda: len([s for s in c.conn.compute.services() if s.state == "up"])
             == int(c.env["STRATUS_COMPUTE_AGENT_FAKE_HOSTS"]))


@pytest.mark.parametrize("multiplier,spread", [("1.0", True), ("-1.0", False)])
def test_ram_weigher_spreads_or_stacks(workdir, multiplier, spread):
    # The RAM weigher alone (the CPU and disk weighers spread by default, as nova's do).
    env = dict(BASE_ENV, STRATUS_SCHEDULER_RAM_WEIGHT_MULTIPLIER=multiplier,
               STRATUS_SCHEDULER_CPU_WEIGHT_MULTIPLIER="0", STRATUS_SCHEDULER_DISK_WEIGHT_MULTIPLIER="0")
    with running_cloud("sqlite", env) as c:
        setup_small_cloud(c, workdir)
        hosts = [boot(c, None, "small")["OS-EXT-SRV-ATTR:host"] for _ in range(4)]
        assert len(set(hosts)) == (4 if spread else 1), hosts


def test_failing_host_reschedules_to_another(workdir):
    env = dict(BASE_ENV, STRATUS_COMPUTE_AGENT_FAKE_HOSTS="2", STRATUS_COMPUTE_AGENT_FAKE_FAILING_HOSTS="fake1")
    with running_cloud("sqlite", env) as c:
        setup_small_cloud(c, workdir)
        # Equal hosts are taken in name order, so the first try is fake1, whose spawns fail.
        server = boot(c, None, "small")
        assert server["status"] == "ACTIVE" and server["OS-EXT-SRV-ATTR:host"] == "fake2", server
        assert usages(c, "fake1") == {"VCPU": 0, "MEMORY_MB": 0, "DISK_GB": 0}
        assert usages(c, "fake2") == {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}


def test_failing_everywhere_ends_in_error(workdir):
    env = dict(BASE_ENV, STRATUS_COMPUTE_AGENT_FAKE_HOSTS="2",
               STRATUS_COMPUTE_AGENT_FAKE_FAILING_HOSTS="fake1,fake2")
    with running_cloud("sqlite", env) as c:
        setup_small_cloud(c, workdir)
        c.osc_fails("server", "create", "--flavor", "small", "--image", "cirros", "--nic", "none", "--wait", "doomed")
        s = show(c, "doomed")
        assert s["status"] == "ERROR"
        assert "fake1" in s["fault"]["message"] or "fake2" in s["fault"]["message"], s["fault"]
        assert usages(c, "fake1")["MEMORY_MB"] == 0 and usages(c, "fake2")["MEMORY_MB"] == 0


@pytest.mark.parametrize("backend", backends())
def test_fifty_concurrent_boots_into_room_for_forty(workdir, backend):
    # 4 hosts × 2560 MB × 1.5 = 4 × 3840 MB: room for exactly 40 servers of 384 MB.
    env = dict(BASE_ENV, STRATUS_COMPUTE_AGENT_FAKE_MEMORY_MB="2560")
    with running_cloud(backend, env) as c:
        setup_small_cloud(c, workdir, ram=384)
        c.osc("quota", "set", "--instances", "100", "--cores", "100", "--ram", "100000", "admin")
        flavor = c.conn.compute.find_flavor("small")

        def create(i):
            return c.conn.compute.create_server(name=f"c{i}", flavor_id=flavor.id, image_id=c.image["id"],
                                                networks="none").id

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            ids = list(pool.map(create, range(50)))

        def settled():
            servers = list(c.conn.compute.servers())
            done = [s for s in servers if s.status in ("ACTIVE", "ERROR")]
            return servers if len(done) == 50 else None
        servers = wait_for("50 servers to settle", settled, timeout=120, interval=0.5)
        by_status = {}
        for s in servers:
            by_status.setdefault(s.status, []).append(s)
        assert len(by_status.get("ACTIVE", [])) == 40, {k: len(v) for k, v in by_status.items()}
        assert len(by_status.get("ERROR", [])) == 10
        assert total_usage(c) == {"VCPU": 40, "MEMORY_MB": 40 * 384, "DISK_GB": 40}
        for host in HOSTS:
            assert usages(c, host)["MEMORY_MB"] <= 3840
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(c.conn.compute.delete_server, ids))
        wait_for("every server gone", lambda: not list(c.conn.compute.servers()), timeout=120)
        assert total_usage(c) == {"VCPU": 0, "MEMORY_MB": 0, "DISK_GB": 0}
