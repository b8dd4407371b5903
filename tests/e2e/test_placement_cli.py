"""The placement service with the real `openstack` CLI and osc-placement, at microversion 1.39
(what nova and operators use). Placement is the reference for every behaviour checked here.
"""
import json
import urllib.error
import urllib.request
import uuid

import pytest

V = ("--os-placement-api-version", "1.39")


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def osc(cloud, *args):
    return cloud.osc(*V, *args)


def test_catalog_and_root(cloud):
    catalog = cloud.osc("catalog", "list", "-f", "json")
    placement = [c for c in catalog if c["Type"] == "placement"]
    assert placement, catalog
    url = f"http://127.0.0.1:{cloud.placement_port}/"
    with urllib.request.urlopen(url) as r:
        doc = json.load(r)
    assert doc["versions"][0]["max_version"] == "1.39"
    # Without a token everything else is a 401 in placement's error shape.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url + "resource_providers")
    assert e.value.code == 401
    body = json.load(e.value)
    assert body["errors"][0]["status"] == 401


def test_provider_lifecycle(cloud):
    name = unique("cn")
    rp = osc(cloud, "resource", "provider", "create", name, "-f", "json")
    assert rp["name"] == name and rp["generation"] == 0
    assert rp["root_provider_uuid"] == rp["uuid"]
    child = osc(cloud, "resource", "provider", "create", unique("numa"), "--parent-provider", rp["uuid"], "-f", "json")
    assert child["parent_provider_uuid"] == rp["uuid"]
    listed = osc(cloud, "resource", "provider", "list", "-f", "json")
    assert {rp["uuid"], child["uuid"]} <= {p["uuid"] for p in listed}
    shown = osc(cloud, "resource", "provider", "show", rp["uuid"], "-f", "json")
    assert shown["name"] == name
    err = cloud.osc_fails(*V, "resource", "provider", "delete", rp["uuid"])
    assert "409" in err or "child" in err.lower()
    osc(cloud, "resource", "provider", "delete", child["uuid"])
    osc(cloud, "resource", "provider", "delete", rp["uuid"])
    err = cloud.osc_fails(*V, "resource", "provider", "show", rp["uuid"])
    assert "404" in err or "No resource provider" in err


def test_inventory_traits_candidates_allocations_usages(cloud):
    rp = osc(cloud, "resource", "provider", "create", unique("host"), "-f", "json")["uuid"]
    inv = osc(cloud, "resource", "provider", "inventory", "set", rp,
              "--resource", "VCPU=8", "--resource", "VCPU:allocation_ratio=2.0",
              "--resource", "MEMORY_MB=4096", "--resource", "DISK_GB=100", "-f", "json")
    by_class = {i["resource_class"]: i for i in inv}
    assert by_class["VCPU"]["total"] == 8 and by_class["VCPU"]["allocation_ratio"] == 2.0
    # Bad inventory: reserved above total.
    cloud.osc_fails(*V, "resource", "provider", "inventory", "set", rp,
                    "--resource", "VCPU=8", "--resource", "VCPU:reserved=9")

    osc(cloud, "trait", "create", "CUSTOM_X")
    traits = osc(cloud, "trait", "list", "-f", "json")
    assert "CUSTOM_X" in [t["name"] for t in traits]
    set_traits = osc(cloud, "resource", "provider", "trait", "set", rp,
                     "--trait", "CUSTOM_X", "--trait", "HW_CPU_X86_AVX2", "-f", "json")
    assert sorted(t["name"] for t in set_traits) == ["CUSTOM_X", "HW_CPU_X86_AVX2"]

    cands = osc(cloud, "allocation", "candidate", "list", "--resource", "VCPU=1", "-f", "json")
    mine = [c for c in cands if c["resource provider"] == rp]
    assert mine, cands
    cands = osc(cloud, "allocation", "candidate", "list", "--resource", "VCPU=1", "--required", "CUSTOM_X", "-f", "json")
    assert {c["resource provider"] for c in cands} == {rp}
    cands = osc(cloud, "allocation", "candidate", "list", "--resource", "VCPU=17", "-f", "json")
    assert rp not in {c["resource provider"] for c in cands}

    consumer = str(uuid.uuid4())
    project = str(uuid.uuid4())
    osc(cloud, "resource", "provider", "allocation", "set", consumer,
        "--allocation", f"rp={rp},VCPU=2,MEMORY_MB=512",
        "--project-id", project, "--user-id", str(uuid.uuid4()), "--consumer-type", "INSTANCE", "-f", "json")
    usage = osc(cloud, "resource", "provider", "usage", "show", rp, "-f", "json")
    by_class = {u["resource_class"]: u["usage"] for u in usage}
    assert by_class == {"VCPU": 2, "MEMORY_MB": 512, "DISK_GB": 0}
    # From 1.38 placement groups project usages by consumer type (osc-placement prints the
    # groups as they come); before, one total per class.
    totals = osc(cloud, "resource", "usage", "show", project, "-f", "json")
    assert totals == [{"resource_class": "INSTANCE", "usage": {"VCPU": 2, "MEMORY_MB": 512, "consumer_count": 1}}]
    totals = cloud.osc("--os-placement-api-version", "1.9", "resource", "usage", "show", project, "-f", "json")
    assert {(u["resource_class"], u["usage"]) for u in totals} == {("VCPU", 2), ("MEMORY_MB", 512)}
    shown = osc(cloud, "resource", "provider", "allocation", "show", consumer, "-f", "json")
    assert shown[0]["resource_provider"] == rp

    # A provider with allocations cannot be deleted; its inventory in use cannot go.
    cloud.osc_fails(*V, "resource", "provider", "delete", rp)
    osc(cloud, "resource", "provider", "allocation", "delete", consumer)
    osc(cloud, "resource", "provider", "delete", rp)
