"""The image service's `swift` store with the real clients: image data kept in this cloud's
object storage, as glance_store's swift driver keeps it in single-tenant mode (every image's
data is an object named by the image id, in container `glance` of the account of the
`glance` service user's project, AUTH_<service project id>).

The cloud of this module keeps images in the swift store (STRATUS_IMAGE_DEFAULT_STORE=swift)
and its object storage accepts objects of at most 4 MiB, so that images stored in segments
are cheap to make.
"""
import hashlib
import json
import os
import time
import urllib.error
import urllib.request

import pytest

from conftest import Cloud, backends, running_cloud, unique

MAX_OBJECT = 4 * 1024 * 1024
ENV = {
    "STRATUS_IMAGE_DEFAULT_STORE": "swift",
    "STRATUS_OBJECT_STORAGE_MAX_FILE_SIZE": str(MAX_OBJECT),
    "STRATUS_COMPUTE_AGENT_FAKE_HOSTS": "1",
    "STRATUS_COMPUTE_AGENT_REPORT_INTERVAL": "1",
}


def request(method, url, token=None, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def disk_bytes(size):
    """A raw disk: a zero first sector (nothing a format inspector could mistake for a
    header), then random data."""
    return b"\0" * 4096 + os.urandom(size - 4096)


def admin_token(cloud):
    return cloud.osc("token", "issue", "-f", "json")["id"]


def glance_container_url(cloud):
    service_project = cloud.osc("project", "show", "service", "-f", "json")["id"]
    return f"http://127.0.0.1:{cloud.object_port}/v1/AUTH_{service_project}/glance"


def stored_objects(cloud, token):
    """The objects of the swift store's container, by name (the admin is reseller admin and
    may read the service project's account)."""
    status, _, body = request("GET", glance_container_url(cloud) + "?format=json", token)
    if status == 404:
        return {}
    assert status == 200, (status, body)
    return {o["name"]: o for o in json.loads(body)}


def create_image(cloud, workdir, data, name=None, *extra):
    path = os.path.join(workdir, unique("data"))
    with open(path, "wb") as f:
        f.write(data)
    return cloud.osc("image", "create", "--file", path, "--disk-format", "raw", "--container-format", "bare",
                     *extra, name or unique("img"), "-f", "json")


def stores_of(cloud, image):
    """The image's `stores` (OSC shows the attributes it does not know among `properties`)."""
    shown = cloud.osc("image", "show", image, "-f", "json")
    return shown.get("stores") or shown.get("properties", {}).get("stores")


def saved(cloud, workdir, image, env=None):
    out = os.path.join(workdir, unique("saved"))
    cloud.osc("image", "save", "--file", out, image, env=env)
    with open(out, "rb") as f:
        return f.read()


def files_in_file_store(cloud):
    """Image data files in the file store (`<data_dir>/images`; `incoming` is the area where
    uploads arrive)."""
    d = os.path.join(cloud.data_dir, "images")
    return sorted(n for n in os.listdir(d) if n != "incoming") if os.path.isdir(d) else []


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("swift-store"))


@pytest.fixture(scope="module", params=backends())
def cloud(request):
    with running_cloud(request.param, ENV) as c:
        c.token = admin_token(c)
        yield c


def test_info_stores_names_swift_as_the_default(cloud):
    status, _, body = request("GET", f"http://127.0.0.1:{cloud.image_port}/v2/info/stores", cloud.token)
    assert status == 200, body
    stores = json.loads(body)["stores"]
    assert stores[0]["id"] == "swift" and stores[0]["default"] is True, stores
    # The file store stays readable (data of images from before the switch), not the default.
    assert [s for s in stores if s["id"] == "file"] and all("default" not in s for s in stores[1:]), stores
    # The image service runs as its own service user, which owns the service project's account.
    users = [u["Name"] for u in cloud.osc("user", "list", "--project", "service", "-f", "json")]
    assert "glance" in users, users


def test_image_data_lives_in_object_storage(cloud, workdir):
    data = disk_bytes(1536 * 1024)
    image = create_image(cloud, workdir, data)
    assert image["status"] == "active", image
    assert image["checksum"] == hashlib.md5(data).hexdigest()
    assert stores_of(cloud, image["id"]) == "swift"
    assert int(image["size"]) == len(data)

    # The bytes come back, whole and by range.
    assert saved(cloud, workdir, image["id"]) == data
    url = f"http://127.0.0.1:{cloud.image_port}/v2/images/{image['id']}/file"
    status, headers, part = request("GET", url, cloud.token, headers={"Range": "bytes=5000-5099"})
    assert status == 206, part
    assert part == data[5000:5100]
    assert headers.get("content-range") == f"bytes 5000-5099/{len(data)}"

    # The data is an object in the glance container of the service project's account, checked
    # by object storage against the md5; nothing of it is in the file store.
    objects = stored_objects(cloud, cloud.token)
    assert image["id"] in objects, objects
    assert objects[image["id"]]["bytes"] == len(data)
    assert objects[image["id"]]["hash"] == hashlib.md5(data).hexdigest()
    assert image["id"] not in files_in_file_store(cloud)
    incoming = os.path.join(cloud.data_dir, "images", "incoming")
    assert [n for n in os.listdir(incoming) if n != "staging"] == [], "nothing left where uploads arrive"

    # Deleting the image deletes its object.
    cloud.osc("image", "delete", image["id"])
    assert image["id"] not in stored_objects(cloud, cloud.token)
    status, _, _ = request("HEAD", f"{glance_container_url(cloud)}/{image['id']}", cloud.token)
    assert status == 404


def test_a_project_user_uses_the_store_without_seeing_it(cloud, workdir):
    """A member of an ordinary project uploads and downloads through the image API; the data
    lands in the service account, which the member cannot reach."""
    pname, user = unique("proj"), unique("user")
    cloud.osc("project", "create", "--domain", "default", pname, "-f", "json")
    cloud.osc("user", "create", "--domain", "default", "--password", f"pw-{user}", user, "-f", "json")
    cloud.osc("role", "add", "--project", pname, "--user", user, "member")
    env = cloud.user_env(OS_USERNAME=user, OS_PASSWORD=f"pw-{user}", OS_PROJECT_NAME=pname,
                         OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default")
    data = disk_bytes(64 * 1024)
    path = os.path.join(workdir, unique("data"))
    with open(path, "wb") as f:
        f.write(data)
    image = cloud.osc("image", "create", "--file", path, "--disk-format", "raw", "--container-format", "bare",
                      unique("mine"), "-f", "json", env=env)
    assert image["status"] == "active", image
    assert saved(cloud, workdir, image["id"], env=env) == data
    assert image["id"] in stored_objects(cloud, cloud.token)
    member_token = cloud.osc("token", "issue", "-f", "json", env=env)["id"]
    status, _, _ = request("GET", f"{glance_container_url(cloud)}/{image['id']}", member_token)
    assert status == 403
    cloud.osc("image", "delete", image["id"], env=env)
    assert image["id"] not in stored_objects(cloud, cloud.token)


def test_a_glance_direct_import_lands_in_object_storage(cloud, workdir):
    data = disk_bytes(300 * 1024)
    path = os.path.join(workdir, unique("import"))
    with open(path, "wb") as f:
        f.write(data)
    image = cloud.osc("image", "create", "--import", "--disk-format", "raw", "--container-format", "bare",
                      "--file", path, unique("imported"), "-f", "json")
    deadline = time.time() + 60
    while cloud.osc("image", "show", image["id"], "-f", "json")["status"] != "active":
        assert time.time() < deadline, "the import did not finish"
        time.sleep(0.2)
    assert stores_of(cloud, image["id"]) == "swift"
    assert stored_objects(cloud, cloud.token)[image["id"]]["hash"] == hashlib.md5(data).hexdigest()
    assert saved(cloud, workdir, image["id"]) == data
    staging = os.path.join(cloud.data_dir, "images", "incoming", "staging")
    assert os.listdir(staging) == [], "nothing stays staged"
    cloud.osc("image", "delete", image["id"])
    assert image["id"] not in stored_objects(cloud, cloud.token)


def segment_objects(cloud, token, image_id):
    status, _, body = request("GET", glance_container_url(cloud) + f"_segments?format=json&prefix={image_id}/", token)
    if status == 404:
        return []
    assert status == 200, (status, body)
    return json.loads(body)


def test_an_image_larger_than_one_object_is_stored_in_segments(cloud, workdir):
    """An image larger than object storage's max_file_size is kept as a static large object:
    segments of at most that size in `glance_segments`, a manifest named by the image id;
    it reads back whole and by range, and deleting the image removes the segments too."""
    data = disk_bytes(2 * MAX_OBJECT + 12345)
    image = create_image(cloud, workdir, data)
    assert image["status"] == "active"
    assert saved(cloud, workdir, image["id"]) == data
    base = f"http://127.0.0.1:{cloud.image_port}/v2/images/{image['id']}/file"
    status, _, body = request("GET", base, cloud.token, headers={"Range": f"bytes={MAX_OBJECT - 10}-{MAX_OBJECT + 9}"})
    assert (status, body) == (206, data[MAX_OBJECT - 10:MAX_OBJECT + 10])
    segments = segment_objects(cloud, cloud.token, image["id"])
    assert [s["bytes"] for s in segments] == [MAX_OBJECT, MAX_OBJECT, 12345]
    manifest = stored_objects(cloud, cloud.token)[image["id"]]
    assert manifest["bytes"] == len(data)
    assert files_in_file_store(cloud) == []
    cloud.osc("image", "delete", image["id"])
    assert image["id"] not in stored_objects(cloud, cloud.token)
    assert segment_objects(cloud, cloud.token, image["id"]) == []


def test_a_server_boots_from_a_swift_image_and_snapshots_into_it(cloud, workdir):
    data = disk_bytes(256 * 1024)
    create_image(cloud, workdir, data, "swift-img")
    cloud.osc("flavor", "create", "--vcpus", "1", "--ram", "64", "--disk", "1", "tiny", "-f", "json")
    server = cloud.osc("server", "create", "--flavor", "tiny", "--image", "swift-img", "--nic", "none", "--wait",
                       "s1", "-f", "json")
    assert server["status"] == "ACTIVE", server
    # A snapshot is uploaded by the compute agent with nova's token: into the swift store too.
    cloud.osc("server", "image", "create", "--name", "s1-snap", "--wait", "s1", "-f", "json")
    snap = cloud.osc("image", "show", "s1-snap", "-f", "json")
    assert snap["status"] == "active", snap
    assert stores_of(cloud, snap["id"]) == "swift"
    assert snap["id"] in stored_objects(cloud, cloud.token)
    assert snap["id"] not in files_in_file_store(cloud)
    cloud.osc("server", "delete", "--wait", "s1")


def test_images_survive_a_restart(cloud, workdir):
    data = disk_bytes(100 * 1024)
    image = create_image(cloud, workdir, data)
    cloud.restart()
    cloud.token = admin_token(cloud)
    assert saved(cloud, workdir, image["id"]) == data
    cloud.osc("image", "delete", image["id"])
    assert image["id"] not in stored_objects(cloud, cloud.token)


def test_switching_stores_keeps_older_images_readable(workdir):
    """Each image records the store holding its data (its `stores`): images uploaded to the
    file store stay readable after the default becomes swift, and are deleted from where they
    are. Back on the file store alone, swift images answer 503 until swift is configured again."""
    with running_cloud("sqlite") as c:
        old_data = disk_bytes(50 * 1024)
        old = create_image(c, workdir, old_data)
        assert stores_of(c, old["id"]) == "file"
        assert old["id"] in files_in_file_store(c)

        c.env["STRATUS_IMAGE_DEFAULT_STORE"] = "swift"
        c.restart()
        new_data = disk_bytes(60 * 1024)
        new = create_image(c, workdir, new_data)
        assert stores_of(c, new["id"]) == "swift"
        assert stores_of(c, old["id"]) == "file"
        assert saved(c, workdir, old["id"]) == old_data
        assert saved(c, workdir, new["id"]) == new_data
        assert files_in_file_store(c) == [old["id"]]
        token = admin_token(c)
        assert list(stored_objects(c, token)) == [new["id"]]

        c.env["STRATUS_IMAGE_DEFAULT_STORE"] = "file"
        c.restart()
        token = admin_token(c)
        url = f"http://127.0.0.1:{c.image_port}/v2/images/{new['id']}/file"
        status, _, body = request("GET", url, token)
        assert status == 503 and b"swift store" in body, (status, body)
        assert saved(c, workdir, old["id"]) == old_data
        c.osc("image", "delete", old["id"])
        assert files_in_file_store(c) == []


def test_an_unknown_store_stops_startup_with_a_clear_error():
    c = Cloud("sqlite", extra_env={"STRATUS_IMAGE_DEFAULT_STORE": "ceph"})
    try:
        with pytest.raises(RuntimeError) as e:
            c.start()
        assert "exited early" in str(e.value)
        assert c.proc.returncode not in (None, 0)
        with open(c.log_path, errors="replace") as f:
            log = f.read()
        assert 'unknown image store "ceph" in [image] default_store' in log, log[-3000:]
        assert "Stratus is up" not in log, "refused before anything starts"
    finally:
        c.cleanup()
