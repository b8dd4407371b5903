"""The image service (glance v2) with the real clients: `openstack image …`, python-glanceclient's
`glance`, and raw HTTP where the clients hide the status codes. Glance is the reference for every
behaviour checked here.

Needs `qemu-img` (qemu-utils) and python-glanceclient (the `glance` binary next to `openstack`,
or GLANCE_BIN).
"""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from conftest import OPENSTACK

GLANCE = (os.environ.get("GLANCE_BIN")
          or (lambda p: p if os.path.exists(p) else None)(os.path.join(os.path.dirname(OPENSTACK), "glance"))
          or shutil.which("glance"))
QEMU_IMG = shutil.which("qemu-img")
GIB = 1024 ** 3
PATCH_TYPE = "application/openstack-images-v2.1-json-patch"


# ---------------------------------------------------------------------------------------------
# helpers


@pytest.fixture(scope="module")
def workdir():
    d = tempfile.mkdtemp(prefix="stratus-image-e2e-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def qcow2(workdir, name, size="1G", backing=None):
    """A qcow2 made by qemu-img (a 1 GiB virtual disk is ~200 KiB of file)."""
    if not QEMU_IMG:
        pytest.fail("qemu-img is needed (apt-get install qemu-utils)")
    path = os.path.join(workdir, name)
    cmd = [QEMU_IMG, "create", "-f", "qcow2"]
    if backing:
        cmd += ["-b", backing, "-F", "qcow2"]
    cmd += [path, size]
    subprocess.run(cmd, check=True, capture_output=True)
    return path


def random_file(workdir, name, size):
    path = os.path.join(workdir, name)
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    return path


def digests(path):
    with open(path, "rb") as f:
        data = f.read()
    return hashlib.md5(data).hexdigest(), hashlib.sha512(data).hexdigest(), len(data)


def field(image, key):
    """A field of `openstack image show -f json`: top level, or (as osc puts os_hash_* and every
    additional property) under `properties`."""
    if key in image:
        return image[key]
    aliases = {"os_hash_algo": "hash_algo", "os_hash_value": "hash_value", "os_hidden": "is_hidden"}
    if aliases.get(key) in image:
        return image[aliases[key]]
    return (image.get("properties") or {}).get(key)


def image_url(cloud):
    """The image endpoint from the catalog (the port is not fixed)."""
    if not hasattr(cloud, "_image_url"):
        eps = cloud.osc("endpoint", "list", "--service", "image", "--interface", "public", "-f", "json")
        assert eps, "no public image endpoint in the catalog"
        url = eps[0]["URL"].rstrip("/")
        if url.endswith("/v2"):
            url = url[: -len("/v2")]
        cloud._image_url = url
    return cloud._image_url


def token(cloud, env=None):
    return cloud.osc("token", "issue", "-f", "json", env=env)["id"]


def api(cloud, method, path, tok=None, body=None, raw=None, content_type=None, headers=None, timeout=60):
    """A raw call to the image API: (status, headers, parsed JSON / bytes / None)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(image_url(cloud) + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", content_type or "application/json")
    if tok:
        req.add_header("X-Auth-Token", tok)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, hdrs, text = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        status, hdrs, text = e.code, e.headers, e.read()
    ctype = hdrs.get("Content-Type") or ""
    if text and "json" in ctype:
        try:
            return status, hdrs, json.loads(text)
        except ValueError:
            pass
    return status, hdrs, (text or None)


def create_raw(cloud, tok, **fields):
    """POST /v2/images; returns the created image."""
    body = {"disk_format": "raw", "container_format": "bare", "name": unique("raw")}
    body.update(fields)
    status, _, img = api(cloud, "POST", "/v2/images", tok, body=body)
    assert status == 201, (status, img)
    assert img["status"] == "queued"
    return img


def get_image(cloud, tok, image_id):
    status, _, img = api(cloud, "GET", f"/v2/images/{image_id}", tok)
    assert status == 200, (status, img)
    return img


def show(cloud, ref, env=None):
    return cloud.osc("image", "show", ref, "-f", "json", env=env)


def list_ids(cloud, env=None, *args):
    return {i["ID"] for i in cloud.osc("image", "list", *args, "-f", "json", env=env)}


def settled(image):
    """The image, once it is in no transient state (else None)."""
    return None if image["status"] in ("saving", "uploading", "importing") else image


def wait_for(what, fn, timeout=60, interval=0.25):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def store_dir(cloud):
    return os.path.join(cloud.data_dir, "images")


def store_files(cloud):
    """Every file under the image store, relative to it."""
    root = store_dir(cloud)
    out = set()
    for dirpath, _, files in os.walk(root):
        for f in files:
            out.add(os.path.relpath(os.path.join(dirpath, f), root))
    return out


def files_naming(cloud, image_id):
    """Files anywhere in the data dir whose name contains the image id."""
    hits = []
    for dirpath, _, files in os.walk(cloud.data_dir):
        hits += [os.path.join(dirpath, f) for f in files if image_id in f]
    return hits


def assert_nothing_left(cloud, image_id, before):
    """No file for `image_id`, and no file the store did not have `before` (cleanup may finish
    just after the response, so allow it a few seconds)."""
    def clean():
        return not files_naming(cloud, image_id) and not (store_files(cloud) - before)
    try:
        wait_for("cleanup", clean, timeout=10)
    except AssertionError:
        raise AssertionError(f"left behind: {files_naming(cloud, image_id)} {sorted(store_files(cloud) - before)}")


@pytest.fixture(scope="module")
def people(cloud):
    """Projects A, B and C with a member each, and a reader on A. Returns {key: (env, project id)}."""
    out = {}
    suffix = uuid.uuid4().hex[:6]
    for key, role, project in [("a", "member", "A"), ("b", "member", "B"), ("c", "member", "C"),
                               ("a_reader", "reader", "A")]:
        pname = f"img{project}-{suffix}"
        if not any(v[2] == pname for v in out.values()):
            cloud.osc("project", "create", "--domain", "default", pname, "-f", "json")
        user = f"img-{key}-{suffix}"
        cloud.osc("user", "create", "--domain", "default", "--password", f"pw-{user}", user, "-f", "json")
        cloud.osc("role", "add", "--project", pname, "--user", user, role)
        env = cloud.user_env(OS_USERNAME=user, OS_PASSWORD=f"pw-{user}", OS_PROJECT_NAME=pname,
                             OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default")
        pid = cloud.osc("project", "show", pname, "-f", "json")["id"]
        out[key] = (env, pid, pname)
    return out


@pytest.fixture(scope="module")
def cirros(cloud, workdir):
    """The public qcow2 image of the walk-through, created by the admin."""
    path = qcow2(workdir, "cirros.qcow2")
    name = unique("cirros-test")
    created = cloud.osc("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                        "--public", "--file", path, name, "-f", "json")
    return created, path


# ---------------------------------------------------------------------------------------------
# the API is there


def test_catalog_and_versions(cloud):
    eps = cloud.osc("endpoint", "list", "--service", "image", "-f", "json")
    assert {e["Interface"] for e in eps} >= {"public"}, eps
    assert all(e["Service Name"] == "glance" and e["Service Type"] == "image" for e in eps)
    # Version discovery as glance answers it: 300 with the v2.x versions, one CURRENT.
    status, _, body = api(cloud, "GET", "/")
    assert status == 300, (status, body)
    ids = {v["id"]: v["status"] for v in body["versions"]}
    assert "CURRENT" in ids.values() and all(i.startswith("v2.") for i in ids), ids
    # The API wants a token.
    assert api(cloud, "GET", "/v2/images")[0] == 401


# ---------------------------------------------------------------------------------------------
# the walk-through: create, list, show, save


def test_create_public_qcow2(cloud, cirros):
    created, path = cirros
    md5, sha512, size = digests(path)
    assert created["status"] == "active", created
    assert created["name"].startswith("cirros-test")
    listed = cloud.osc("image", "list", "-f", "json")
    row = next(i for i in listed if i["ID"] == created["id"])
    assert row["Name"] == created["name"] and row["Status"] == "active"

    img = show(cloud, created["id"])
    assert img["status"] == "active"
    assert img["checksum"] == md5
    assert field(img, "os_hash_algo") == "sha512"
    assert field(img, "os_hash_value") == sha512
    assert img["size"] == size
    assert img["virtual_size"] == GIB, "virtual size read from the qcow2 header"
    assert img["disk_format"] == "qcow2" and img["container_format"] == "bare"
    assert img["visibility"] == "public" and img["protected"] is False
    admin_project = cloud.osc("project", "show", "admin", "-f", "json")["id"]
    assert img["owner"] == admin_project
    assert img["file"] == f"/v2/images/{created['id']}/file"
    assert img["schema"] == "/v2/schemas/image"
    # By name too.
    assert show(cloud, created["name"])["id"] == created["id"]


def test_image_save_returns_the_bytes(cloud, cirros, workdir):
    created, path = cirros
    out = os.path.join(workdir, "saved.qcow2")
    cloud.osc("image", "save", "--file", out, created["id"])
    with open(path, "rb") as a, open(out, "rb") as b:
        assert a.read() == b.read()


def test_download_headers(cloud, cirros):
    created, path = cirros
    md5, _, size = digests(path)
    status, headers, data = api(cloud, "GET", f"/v2/images/{created['id']}/file", token(cloud))
    assert status == 200
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-MD5"] == md5
    assert int(headers["Content-Length"]) == size and len(data) == size


def test_public_image_visible_to_other_projects(cloud, cirros, people, workdir):
    created, path = cirros
    env_c = people["c"][0]
    assert created["id"] in list_ids(cloud, env_c)
    assert show(cloud, created["id"], env=env_c)["status"] == "active"
    out = os.path.join(workdir, "saved-by-c.qcow2")
    cloud.osc("image", "save", "--file", out, created["id"], env=env_c)
    assert digests(out) == digests(path)
    # …but only the admin may change it.
    err = cloud.osc_fails("image", "set", "--property", "x=y", created["id"], env=env_c)
    assert "403" in err or "forbidden" in err.lower(), err


def glance(cloud, *args, env=None):
    if not GLANCE:
        pytest.fail("python-glanceclient is not installed: the `glance` binary is needed "
                    "(add python-glanceclient to tests/requirements.txt)")
    proc = subprocess.run([GLANCE, *args], env=env or cloud.admin_env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, f"glance {' '.join(args)} failed:\n{proc.stderr}\n{cloud.tail_log()}"
    return proc.stdout


def glance_table(text):
    """The Property/Value table glanceclient prints, as a dict."""
    out = {}
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) == 2 and cells[0] != "Property":
                out[cells[0]] = cells[1]
    return out


def test_glance_client_download_and_create(cloud, cirros, workdir):
    created, path = cirros
    out = os.path.join(workdir, "glance-download.qcow2")
    # glanceclient checks the data against os_hash_value (md5 fallback) while downloading.
    glance(cloud, "image-download", "--progress", "--file", out, created["id"])
    with open(path, "rb") as a, open(out, "rb") as b:
        assert a.read() == b.read()

    name = unique("glance-made")
    table = glance_table(glance(cloud, "image-create", "--disk-format", "qcow2", "--container-format", "bare",
                                "--name", name, "--file", path, "--progress"))
    md5, sha512, size = digests(path)
    assert table["name"] == name, table
    image_id = table["id"]
    img = show(cloud, image_id)
    assert img["status"] == "active" and img["checksum"] == md5 and img["size"] == size
    assert field(img, "os_hash_value") == sha512 and img["virtual_size"] == GIB
    # glance image-show reads the same.
    shown = glance_table(glance(cloud, "image-show", image_id))
    assert shown["status"] == "active" and shown["checksum"] == md5 and shown["os_hash_algo"] == "sha512"
    cloud.osc("image", "delete", image_id)


# ---------------------------------------------------------------------------------------------
# properties and tags


def test_properties_and_tags(cloud, workdir):
    path = qcow2(workdir, "props.qcow2", size="64M")
    name = unique("props")
    created = cloud.osc("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                        "--property", "architecture=arm", "--property", "hypervisor_type=qemu",
                        "--file", path, name, "-f", "json")
    image_id = created["id"]
    img = show(cloud, image_id)
    assert field(img, "architecture") == "arm" and field(img, "hypervisor_type") == "qemu"
    assert img["virtual_size"] == 64 * 1024 * 1024
    assert img["tags"] == []

    cloud.osc("image", "set", "--tag", "t1", image_id)
    assert show(cloud, image_id)["tags"] == ["t1"]
    cloud.osc("image", "set", "--tag", "t2", image_id)
    assert sorted(show(cloud, image_id)["tags"]) == ["t1", "t2"]
    cloud.osc("image", "unset", "--tag", "t1", image_id)
    assert show(cloud, image_id)["tags"] == ["t2"]
    assert image_id in list_ids(cloud, None, "--tag", "t2")
    assert image_id not in list_ids(cloud, None, "--tag", "t1")

    cloud.osc("image", "set", "--property", "x=y", image_id)
    assert field(show(cloud, image_id), "x") == "y"
    cloud.osc("image", "set", "--property", "x=z", image_id)
    assert field(show(cloud, image_id), "x") == "z"
    cloud.osc("image", "unset", "--property", "x", image_id)
    img = show(cloud, image_id)
    assert field(img, "x") is None and "x" not in (img.get("properties") or {})
    assert field(img, "architecture") == "arm", "other properties stay"
    # Unsetting what is not there fails (osc checks first; the API answers 409, see test_bad_patches).
    cloud.osc_fails("image", "unset", "--property", "nope", image_id)

    # Renaming and the base attributes.
    cloud.osc("image", "set", "--name", name + "-renamed", "--min-disk", "2", "--min-ram", "512", image_id)
    img = show(cloud, image_id)
    assert img["name"] == name + "-renamed" and img["min_disk"] == 2 and img["min_ram"] == 512
    cloud.osc("image", "delete", image_id)


# ---------------------------------------------------------------------------------------------
# sharing


def test_sharing_between_projects(cloud, people, workdir):
    env_a, proj_a, _ = people["a"]
    env_b, proj_b, _ = people["b"]
    env_c, _, _ = people["c"]
    path = qcow2(workdir, "shared.qcow2", size="16M")
    created = cloud.osc("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                        "--shared", "--file", path, unique("shared"), "-f", "json", env=env_a)
    image_id = created["id"]
    assert created["visibility"] == "shared" and created["owner"] == proj_a and created["status"] == "active"

    # Not visible to B before it is a member.
    assert image_id not in list_ids(cloud, env_b)
    cloud.osc_fails("image", "show", image_id, env=env_b)

    member = cloud.osc("image", "add", "project", image_id, proj_b, "-f", "json", env=env_a)
    assert member["member_id"] == proj_b and member["image_id"] == image_id and member["status"] == "pending"
    # Adding the same member twice is a conflict (409).
    cloud.osc_fails("image", "add", "project", image_id, proj_b, env=env_a)

    # Pending: B can look at it by id, but it is not in B's list until accepted.
    assert show(cloud, image_id, env=env_b)["id"] == image_id
    assert image_id not in list_ids(cloud, env_b)
    assert image_id in list_ids(cloud, env_b, "--member-status", "pending")
    # The owner cannot accept on B's behalf (modify_member is for the member: 403).
    status, _, body = api(cloud, "PUT", f"/v2/images/{image_id}/members/{proj_b}", token(cloud, env_a),
                          body={"status": "accepted"})
    assert status == 403, (status, body)

    cloud.osc("image", "set", "--accept", image_id, env=env_b)
    assert image_id in list_ids(cloud, env_b)
    assert image_id in list_ids(cloud, env_b, "--shared")

    members = cloud.osc("image", "member", "list", image_id, "-f", "json", env=env_a)
    assert members == [{"Image ID": image_id, "Member ID": proj_b, "Status": "accepted"}]
    # A member sees its own membership.
    assert cloud.osc("image", "member", "list", image_id, "-f", "json", env=env_b) == members
    got = cloud.osc("image", "member", "get", image_id, proj_b, "-f", "json", env=env_a)
    assert got["status"] == "accepted"

    # B may download it, but not change it or share it further.
    out = os.path.join(workdir, "shared-by-b.qcow2")
    cloud.osc("image", "save", "--file", out, image_id, env=env_b)
    assert digests(out) == digests(path)
    cloud.osc_fails("image", "set", "--property", "x=y", image_id, env=env_b)
    cloud.osc_fails("image", "add", "project", image_id, people["c"][1], env=env_b)
    cloud.osc_fails("image", "delete", image_id, env=env_b)

    # C is no member: it cannot see, show, download or accept it.
    assert image_id not in list_ids(cloud, env_c)
    assert image_id not in list_ids(cloud, env_c, "--shared")
    err = cloud.osc_fails("image", "show", image_id, env=env_c)
    assert "no image" in err.lower() or "not found" in err.lower() or "404" in err, err
    cloud.osc_fails("image", "save", "--file", os.path.join(workdir, "nope"), image_id, env=env_c)
    cloud.osc_fails("image", "set", "--accept", image_id, env=env_c)
    cloud.osc_fails("image", "member", "list", image_id, env=env_c)
    tok_c = token(cloud, env_c)
    assert api(cloud, "GET", f"/v2/images/{image_id}", tok_c)[0] == 404
    assert api(cloud, "GET", f"/v2/images/{image_id}/file", tok_c)[0] == 404

    # Rejecting hides it from B's list again; removing the member hides it altogether.
    cloud.osc("image", "set", "--reject", image_id, env=env_b)
    assert image_id not in list_ids(cloud, env_b)
    cloud.osc("image", "remove", "project", image_id, proj_b, env=env_a)
    assert cloud.osc("image", "member", "list", image_id, "-f", "json", env=env_a) == []
    cloud.osc_fails("image", "show", image_id, env=env_b)
    cloud.osc("image", "delete", image_id, env=env_a)


def test_private_images_have_no_members(cloud, people, workdir):
    env_a, _, _ = people["a"]
    path = qcow2(workdir, "private.qcow2", size="16M")
    created = cloud.osc("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                        "--private", "--file", path, unique("private"), "-f", "json", env=env_a)
    # Glance: "Only shared images have members." (403)
    cloud.osc_fails("image", "add", "project", created["id"], people["b"][1], env=env_a)
    cloud.osc_fails("image", "show", created["id"], env=people["b"][0])
    cloud.osc("image", "delete", created["id"], env=env_a)


def test_roles(cloud, people, workdir):
    env_a, proj_a, _ = people["a"]
    env_r, _, _ = people["a_reader"]
    path = qcow2(workdir, "roles.qcow2", size="16M")
    # A member may not publish (publicize_image is admin-only) …
    err = cloud.osc_fails("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                          "--public", "--file", path, unique("public-by-member"), env=env_a)
    assert "403" in err or "forbidden" in err.lower(), err
    # … but may make a community image.
    community = cloud.osc("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                          "--community", "--file", path, unique("community"), "-f", "json", env=env_a)
    assert community["visibility"] == "community" and community["owner"] == proj_a
    cloud.osc_fails("image", "set", "--public", community["id"], env=env_a)
    # A reader sees the project's images but may not create, change or download.
    assert community["id"] in list_ids(cloud, env_r, "--community")
    assert show(cloud, community["id"], env=env_r)["id"] == community["id"]
    cloud.osc_fails("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                    "--private", "--file", path, unique("by-reader"), env=env_r)
    cloud.osc_fails("image", "set", "--property", "x=y", community["id"], env=env_r)
    cloud.osc_fails("image", "save", "--file", os.path.join(workdir, "r"), community["id"], env=env_r)
    cloud.osc_fails("image", "delete", community["id"], env=env_r)
    # A member may not create an image for another project.
    tok = token(cloud, env_a)
    status, _, body = api(cloud, "POST", "/v2/images", tok,
                          body={"name": "x", "disk_format": "raw", "container_format": "bare",
                                "owner": people["b"][1]})
    assert status == 403, (status, body)
    # The admin may publish a member's image.
    cloud.osc("image", "set", "--public", community["id"])
    assert show(cloud, community["id"], env=env_a)["visibility"] == "public"
    cloud.osc("image", "delete", community["id"], env=env_a)


# ---------------------------------------------------------------------------------------------
# protection and deletion


def test_protected_image(cloud, workdir):
    path = qcow2(workdir, "protected.qcow2", size="16M")
    created = cloud.osc("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                        "--file", path, unique("protected"), "-f", "json")
    image_id = created["id"]
    before_delete = files_naming(cloud, image_id)
    cloud.osc("image", "set", "--protected", image_id)
    assert show(cloud, image_id)["protected"] is True
    err = cloud.osc_fails("image", "delete", image_id)
    assert "403" in err or "protected" in err.lower(), err
    status, _, body = api(cloud, "DELETE", f"/v2/images/{image_id}", token(cloud))
    assert status == 403, (status, body)
    img = show(cloud, image_id)
    assert img["status"] == "active" and img["protected"] is True
    assert files_naming(cloud, image_id) == before_delete, "the data is still there"

    cloud.osc("image", "set", "--unprotected", image_id)
    assert show(cloud, image_id)["protected"] is False
    cloud.osc("image", "delete", image_id)
    err = cloud.osc_fails("image", "show", image_id)
    assert "no image" in err.lower() or "not found" in err.lower() or "404" in err, err
    assert api(cloud, "GET", f"/v2/images/{image_id}", token(cloud))[0] == 404
    assert api(cloud, "GET", f"/v2/images/{image_id}/file", token(cloud))[0] == 404
    assert image_id not in list_ids(cloud)
    wait_for("the data to be deleted", lambda: not files_naming(cloud, image_id), timeout=10)


def test_deactivate_and_reactivate(cloud, workdir):
    path = qcow2(workdir, "deact.qcow2", size="16M")
    created = cloud.osc("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                        "--file", path, unique("deact"), "-f", "json")
    image_id = created["id"]
    cloud.osc("image", "set", "--deactivate", image_id)
    assert show(cloud, image_id)["status"] == "deactivated"
    # Reactivated, the data is served again.
    cloud.osc("image", "set", "--activate", image_id)
    assert show(cloud, image_id)["status"] == "active"
    out = os.path.join(workdir, "deact-out")
    cloud.osc("image", "save", "--file", out, image_id)
    assert digests(out) == digests(path)
    cloud.osc("image", "delete", image_id)


# ---------------------------------------------------------------------------------------------
# interoperable image import (glance-direct)


def test_import_glance_direct(cloud, workdir):
    path = qcow2(workdir, "import.qcow2", size="2G")
    md5, sha512, size = digests(path)
    name = unique("imported")
    # The methods are advertised.
    status, _, info = api(cloud, "GET", "/v2/info/import", token(cloud))
    assert status == 200 and "glance-direct" in info["import-methods"]["value"], info
    created = cloud.osc("image", "create", "--import", "--disk-format", "qcow2", "--container-format", "bare",
                        "--file", path, name, "-f", "json")
    image_id = created["id"]
    img = wait_for("the import to finish", lambda: settled(show(cloud, image_id)), timeout=60)
    assert img["status"] == "active", img
    assert img["checksum"] == md5 and field(img, "os_hash_value") == sha512
    assert img["size"] == size and img["virtual_size"] == 2 * GIB
    out = os.path.join(workdir, "imported-out")
    cloud.osc("image", "save", "--file", out, image_id)
    assert digests(out) == (md5, sha512, size)
    # Nothing stays in staging: the only files naming the image are its data.
    staged = [f for f in files_naming(cloud, image_id) if "stag" in f]
    assert staged == [], staged
    cloud.osc("image", "delete", image_id)


# ---------------------------------------------------------------------------------------------
# unsafe and broken uploads


def test_qcow2_with_backing_file_is_refused(cloud, workdir):
    base = qcow2(workdir, "base.qcow2")
    top = qcow2(workdir, "top.qcow2", backing=base)
    tok = token(cloud)
    before = store_files(cloud)

    # Through the API: the upload is refused (glance: 415 "Image failed safety checks", or 400),
    # the image stays queued and nothing is stored.
    img = create_raw(cloud, tok, disk_format="qcow2", name=unique("backed"))
    with open(top, "rb") as f:
        status, _, body = api(cloud, "PUT", f"/v2/images/{img['id']}/file", tok, raw=f.read(),
                              content_type="application/octet-stream")
    assert status in (400, 415), (status, body)
    after = get_image(cloud, tok, img["id"])
    assert after["status"] == "queued", after
    assert after.get("checksum") is None and after.get("size") is None
    assert_nothing_left(cloud, img["id"], before)
    assert api(cloud, "GET", f"/v2/images/{img['id']}/file", tok)[0] == 204, "still no data"

    # Through the CLI: the create fails (the SDK then deletes the image it made).
    name = unique("backed-cli")
    cloud.osc_fails("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                    "--file", top, name)
    left = [i for i in cloud.osc("image", "list", "--name", name, "-f", "json") if i["Status"] == "active"]
    assert left == []
    assert not (store_files(cloud) - before), sorted(store_files(cloud) - before)

    # Through import: the image never becomes active.
    img = create_raw(cloud, tok, disk_format="qcow2", name=unique("backed-import"))
    with open(top, "rb") as f:
        status, _, body = api(cloud, "PUT", f"/v2/images/{img['id']}/stage", tok, raw=f.read(),
                              content_type="application/octet-stream")
    if status == 204:
        status, _, body = api(cloud, "POST", f"/v2/images/{img['id']}/import", tok,
                              body={"method": {"name": "glance-direct"}})
        assert status in (202, 400, 409, 415), (status, body)
        final = wait_for("the import to settle", lambda: settled(get_image(cloud, tok, img["id"])), timeout=30)
    else:
        assert status in (400, 415), (status, body)
        final = get_image(cloud, tok, img["id"])
    assert final["status"] != "active", final
    assert_nothing_left(cloud, img["id"], before)


UPLOADER = r"""
import socket, sys, time
host, port, path, tok, total = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
s = socket.create_connection((host, port))
s.sendall((f"PUT {path} HTTP/1.1\r\nHost: {host}:{port}\r\nX-Auth-Token: {tok}\r\n"
           f"Content-Type: application/octet-stream\r\nContent-Length: {total}\r\n\r\n").encode())
chunk = b"\0" * 262144
sent = 0
while sent < total:
    s.sendall(chunk)
    sent += len(chunk)
    print(sent, flush=True)
    time.sleep(0.05)
"""


def test_interrupted_upload_leaves_image_queued(cloud, workdir):
    tok = token(cloud)
    before = store_files(cloud)
    img = create_raw(cloud, tok, name=unique("interrupted"))
    url = urllib.parse.urlparse(image_url(cloud))
    total = 256 * 1024 * 1024
    proc = subprocess.Popen([sys.executable, "-c", UPLOADER, url.hostname, str(url.port or 80),
                             f"{url.path}/v2/images/{img['id']}/file", tok, str(total)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Glance marks the image `saving` while data arrives.
        wait_for("the upload to start", lambda: get_image(cloud, tok, img["id"])["status"] == "saving", timeout=20)
        for _ in range(16):  # a few MiB in
            assert proc.stdout.readline(), proc.stderr.read()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    final = wait_for("the image to leave `saving`", lambda: settled(get_image(cloud, tok, img["id"])), timeout=30)
    assert final["status"] == "queued", final
    assert final.get("size") is None and final.get("checksum") is None
    assert_nothing_left(cloud, img["id"], before)

    # The image is not stuck: a complete upload now works.
    data = os.urandom(3 * 1024 * 1024 + 17)
    status, _, body = api(cloud, "PUT", f"/v2/images/{img['id']}/file", tok, raw=data,
                          content_type="application/octet-stream")
    assert status == 204, (status, body)
    done = get_image(cloud, tok, img["id"])
    assert done["status"] == "active" and done["size"] == len(data)
    assert done["checksum"] == hashlib.md5(data).hexdigest()
    assert done["os_hash_value"] == hashlib.sha512(data).hexdigest()
    # And a second upload to an active image is a conflict.
    assert api(cloud, "PUT", f"/v2/images/{img['id']}/file", tok, raw=b"more",
               content_type="application/octet-stream")[0] == 409
    assert api(cloud, "DELETE", f"/v2/images/{img['id']}", tok)[0] == 204
    wait_for("the data to be deleted", lambda: not files_naming(cloud, img["id"]), timeout=10)


# ---------------------------------------------------------------------------------------------
# bad input


def test_bad_create_requests(cloud):
    tok = token(cloud)
    before = list_ids(cloud)
    for body in (
        {"name": "bad-disk", "disk_format": "floppy", "container_format": "bare"},
        {"name": "bad-container", "disk_format": "raw", "container_format": "crate"},
        {"name": "bad-visibility", "visibility": "everyone"},
        {"name": "bad-min-disk", "min_disk": -1},
        {"name": "x" * 256},
        {"name": "bad-tags", "tags": "not-a-list"},
    ):
        status, _, resp = api(cloud, "POST", "/v2/images", tok, body=body)
        assert status == 400, (body, status, resp)
    # Read-only attributes cannot be given (403 in glance), nor reserved ones.
    for body in ({"name": "ro", "file": "/x"}, {"name": "ro", "self": "/x"}, {"name": "ro", "location": "/x"}):
        status, _, resp = api(cloud, "POST", "/v2/images", tok, body=body)
        assert status == 403, (body, status, resp)
    status, _, resp = api(cloud, "POST", "/v2/images", tok, raw=b'{"name": ')
    assert status == 400, (status, resp)
    assert list_ids(cloud) == before, "nothing was created"


def test_bad_patches(cloud):
    tok = token(cloud)
    img = create_raw(cloud, tok, name=unique("patchme"))
    path = f"/v2/images/{img['id']}"

    def patch(ops, content_type=PATCH_TYPE):
        return api(cloud, "PATCH", path, tok, raw=json.dumps(ops).encode(), content_type=content_type)

    # Read-only attributes: 403 "Attribute 'status' is read-only."
    for attr, value in (("status", "active"), ("id", str(uuid.uuid4())), ("checksum", "0" * 32),
                        ("size", 1), ("os_hash_value", "0"), ("created_at", "2020-01-01T00:00:00Z")):
        status, _, body = patch([{"op": "replace", "path": f"/{attr}", "value": value}])
        assert status == 403, (attr, status, body)
    # Malformed paths and operations: 400.
    for ops in ([{"op": "replace", "path": "name", "value": "x"}],
                [{"op": "replace", "path": "/name/extra", "value": "x"}],
                [{"op": "move", "path": "/name", "value": "x"}],
                [{"op": "replace", "path": "/name"}],
                [{"path": "/name", "value": "x"}],
                {"op": "replace", "path": "/name", "value": "x"},
                [{"op": "replace", "path": "/disk_format", "value": "floppy"}],
                [{"op": "replace", "path": "/visibility", "value": "everyone"}]):
        status, _, body = patch(ops)
        assert status == 400, (ops, status, body)
    # Base attributes cannot be removed (403); unknown properties cannot be removed (409).
    assert patch([{"op": "remove", "path": "/name"}])[0] == 403
    assert patch([{"op": "remove", "path": "/no_such_property"}])[0] == 409
    # Not a JSON patch media type: 415.
    assert patch([{"op": "replace", "path": "/name", "value": "x"}], content_type="application/json")[0] == 415
    # None of that changed anything; a good patch still works and answers the image.
    status, _, body = patch([{"op": "replace", "path": "/name", "value": "renamed"},
                             {"op": "add", "path": "/color", "value": "blue"}])
    assert status == 200 and body["name"] == "renamed" and body["color"] == "blue", body
    after = get_image(cloud, tok, img["id"])
    assert after["status"] == "queued" and after["id"] == img["id"]
    assert api(cloud, "DELETE", path, tok)[0] == 204


def test_bad_data_requests(cloud):
    tok = token(cloud)
    img = create_raw(cloud, tok, name=unique("data"))
    file_path = f"/v2/images/{img['id']}/file"
    # No data yet: 204.
    assert api(cloud, "GET", file_path, tok)[0] == 204
    # Unknown images: 404.
    assert api(cloud, "GET", f"/v2/images/{uuid.uuid4()}", tok)[0] == 404
    assert api(cloud, "GET", "/v2/images/not-a-uuid", tok)[0] == 404
    assert api(cloud, "PUT", f"/v2/images/{uuid.uuid4()}/file", tok, raw=b"x",
               content_type="application/octet-stream")[0] == 404
    assert api(cloud, "DELETE", f"/v2/images/{uuid.uuid4()}", tok)[0] == 404
    # Image data needs application/octet-stream (415 otherwise).
    assert api(cloud, "PUT", file_path, tok, raw=b"x", content_type="text/plain")[0] == 415
    # No token: 401.
    assert api(cloud, "PUT", file_path, raw=b"x", content_type="application/octet-stream")[0] == 401
    assert get_image(cloud, tok, img["id"])["status"] == "queued"
    assert api(cloud, "DELETE", f"/v2/images/{img['id']}", tok)[0] == 204


def test_upload_over_the_size_cap(cloud):
    """Runs last: restarts the module's cloud with a 1 MiB image size cap
    (STRATUS_IMAGE_MAX_IMAGE_BYTES), then restores the default."""
    cap = 1024 * 1024
    cloud.env["STRATUS_IMAGE_MAX_IMAGE_BYTES"] = str(cap)
    # The project's quota: what it holds now, plus room for one and a half more images.
    tok = token(cloud)
    project = cloud.osc("token", "issue", "-f", "json")["project_id"]
    status, _, listing = api(cloud, "GET", f"/v2/images?owner={project}&limit=1000", tok)
    assert status == 200
    used = sum(i["size"] or 0 for i in listing["images"])
    cloud.env["STRATUS_IMAGE_PROJECT_QUOTA_BYTES"] = str(used + cap + cap // 2)
    try:
        cloud.restart()
        tok = token(cloud)
        before = store_files(cloud)
        img = create_raw(cloud, tok, name=unique("too-big"))
        # Over the cap, with a Content-Length …
        status, _, body = api(cloud, "PUT", f"/v2/images/{img['id']}/file", tok, raw=os.urandom(cap + 1),
                              content_type="application/octet-stream")
        assert status == 413, (status, body)
        assert get_image(cloud, tok, img["id"])["status"] == "queued"
        assert_nothing_left(cloud, img["id"], before)
        # … and chunked, where the size is only known while streaming.
        def chunks():
            for _ in range(4):
                yield os.urandom(cap // 2)
        req = urllib.request.Request(image_url(cloud) + f"/v2/images/{img['id']}/file", data=chunks(),
                                     method="PUT")
        req.add_header("X-Auth-Token", tok)
        req.add_header("Content-Type", "application/octet-stream")
        req.add_header("Transfer-Encoding", "chunked")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                status = resp.status
        except urllib.error.HTTPError as e:
            status = e.code
        except (ConnectionError, urllib.error.URLError):
            status = 413  # the server may answer and close before the body is sent
        assert status == 413, status
        assert get_image(cloud, tok, img["id"])["status"] == "queued"
        assert_nothing_left(cloud, img["id"], before)
        # Up to the cap is fine.
        data = os.urandom(cap)
        assert api(cloud, "PUT", f"/v2/images/{img['id']}/file", tok, raw=data,
                   content_type="application/octet-stream")[0] == 204
        assert get_image(cloud, tok, img["id"])["size"] == cap
        # The next full-size image does not fit in what is left of the project's quota.
        before = store_files(cloud)
        img2 = create_raw(cloud, tok, name=unique("over-quota"))
        status, _, body = api(cloud, "PUT", f"/v2/images/{img2['id']}/file", tok, raw=os.urandom(cap),
                              content_type="application/octet-stream")
        assert status == 413 and "quota" in body["message"], (status, body)
        assert get_image(cloud, tok, img2["id"])["status"] == "queued"
        assert_nothing_left(cloud, img2["id"], before)
    finally:
        del cloud.env["STRATUS_IMAGE_MAX_IMAGE_BYTES"]
        del cloud.env["STRATUS_IMAGE_PROJECT_QUOTA_BYTES"]
        cloud.restart()
