"""Object storage with the real clients: `openstack container/object …` and python-swiftclient's
`swift` command, anonymous access with curl-like requests, bad input that must change nothing,
and a crash (kill -9) in the middle of an upload.

The cloud of this module accepts objects of at most 1 MiB without segments, so that the
size limit and large objects are cheap to exercise.
"""
import hashlib
import http.client
import json
import os
import shutil
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT, backends, make_person, running_cloud, unique

SWIFT = shutil.which("swift") or os.path.join(ROOT, ".venv", "bin", "swift")
MAX_FILE = 1024 * 1024
ENV = {"STRATUS_OBJECT_STORAGE_MAX_FILE_SIZE": str(MAX_FILE), "STRATUS_OBJECT_STORAGE_EXPIRER_INTERVAL": "1"}


def swift(cloud, *args, env=None, check=True):
    env = env or cloud.admin_env()
    proc = subprocess.run([SWIFT, *args], env=env, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"swift {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}\n"
                             f"--- server log ---\n{cloud.tail_log()}")
    return proc


def token_and_url(cloud, env=None):
    """A token and the object-store URL of its project, from the real catalog."""
    env = env or cloud.admin_env()
    token = cloud.osc("token", "issue", "-f", "json", env=env)
    url = cloud.osc("catalog", "show", "object-store", "-f", "json", env=env)
    endpoints = url["endpoints"]
    if isinstance(endpoints, str):  # older OSC prints a text blob
        public = [line.split("url: ")[-1].strip() for line in endpoints.splitlines() if "url:" in line][0]
    else:
        public = [e["url"] for e in endpoints if e["interface"] == "public"][0]
    return token["id"], public


def request(method, url, token=None, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.fixture(scope="module", params=backends())
def cloud(request):
    with running_cloud(request.param, ENV) as c:
        c.token, c.store_url = token_and_url(c)
        yield c


def test_catalog_names_the_projects_account(cloud):
    project = cloud.osc("project", "show", "admin", "-f", "json")["id"]
    assert cloud.store_url == f"http://127.0.0.1:{cloud.object_port}/v1/AUTH_{project}"
    status, headers, _ = request("HEAD", cloud.store_url, cloud.token)
    assert status == 204
    assert "X-Account-Object-Count" in headers or "x-account-object-count" in {k.lower() for k in headers}


def test_containers_and_objects_with_openstack_cli(cloud, tmp_path):
    c = unique("docs")
    created = cloud.osc("container", "create", c, "-f", "json")
    assert created[0]["container"] == c
    assert c in [x["Name"] for x in cloud.osc("container", "list", "-f", "json")]
    src = tmp_path / "report.txt"
    src.write_text("quarterly numbers\n")
    os.chdir(tmp_path)
    obj = cloud.osc("object", "create", c, "report.txt", "-f", "json")[0]
    assert obj["etag"] == hashlib.md5(b"quarterly numbers\n").hexdigest()
    assert [o["Name"] for o in cloud.osc("object", "list", c, "-f", "json")] == ["report.txt"]
    cloud.osc("object", "set", "--property", "owner=finance", c, "report.txt")
    shown = cloud.osc("object", "show", c, "report.txt", "-f", "json")
    assert str(shown["content-length"]) == "18"
    assert shown["content-type"] == "text/plain"
    assert shown["properties"] == {"owner": "finance"}
    out = tmp_path / "back.txt"
    cloud.osc("object", "save", "--file", str(out), c, "report.txt")
    assert out.read_text() == "quarterly numbers\n"
    info = cloud.osc("container", "show", c, "-f", "json")
    assert (str(info["object_count"]), str(info["bytes_used"])) == ("1", "18")

    # A container with objects cannot be deleted (409); the object is still there.
    err = cloud.osc_fails("container", "delete", c)
    assert "409" in err or "Conflict" in err
    assert str(cloud.osc("container", "show", c, "-f", "json")["object_count"]) == "1"
    saved_dir = tmp_path / "saved"
    saved_dir.mkdir()
    os.chdir(saved_dir)
    cloud.osc("container", "save", c)
    assert (saved_dir / "report.txt").read_text() == "quarterly numbers\n"
    cloud.osc("object", "delete", c, "report.txt")
    assert cloud.osc("object", "list", c, "-f", "json") == []
    cloud.osc("container", "delete", c)
    assert c not in [x["Name"] for x in cloud.osc("container", "list", "-f", "json")]
    os.chdir(ROOT)


def test_swift_cli_stat_list_prefix_delimiter(cloud, tmp_path):
    c = unique("tree")
    os.chdir(tmp_path)
    for name in ["a/1", "a/2", "a/b/3", "top"]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    swift(cloud, "upload", c, "a", "top")
    listed = swift(cloud, "list", c).stdout.split()
    assert listed == ["a/1", "a/2", "a/b/3", "top"]
    assert swift(cloud, "list", c, "--delimiter", "/").stdout.split() == ["a/", "top"]
    assert swift(cloud, "list", c, "--prefix", "a/", "--delimiter", "/").stdout.split() == ["a/1", "a/2", "a/b/"]
    stat = swift(cloud, "stat", c).stdout
    assert "Objects: 4" in stat, stat
    account = swift(cloud, "stat").stdout
    assert "Containers:" in account and "Bytes:" in account, account
    dl = tmp_path / "dl"
    dl.mkdir()
    swift(cloud, "download", c, "a/b/3", "-o", str(dl / "three"))
    assert (dl / "three").read_text() == "a/b/3"
    swift(cloud, "delete", c)
    assert c not in swift(cloud, "list").stdout.split()
    os.chdir(ROOT)


def test_public_read_acl_lets_anonymous_readers_in(cloud):
    c = unique("www")
    base = f"{cloud.store_url}/{c}"
    assert request("PUT", base, cloud.token)[0] == 201
    assert request("PUT", f"{base}/index.html", cloud.token, b"<h1>hi</h1>", {"Content-Type": "text/html"})[0] == 201
    assert request("GET", f"{base}/index.html")[0] == 401
    swift(cloud, "post", "-r", ".r:*", c)
    status, headers, body = request("GET", f"{base}/index.html")
    assert (status, body) == (200, b"<h1>hi</h1>")
    # Listing the container anonymously needs .rlistings as well.
    assert request("GET", base)[0] == 401
    swift(cloud, "post", "-r", ".r:*,.rlistings", c)
    status, _, body = request("GET", base)
    assert (status, body) == (200, b"index.html\n")
    # A public container is still read-only to strangers.
    assert request("PUT", f"{base}/evil", None, b"x")[0] == 401
    assert request("DELETE", f"{base}/index.html")[0] == 401
    assert request("GET", f"{base}/index.html")[0] == 200


def listing(cloud, container, token=None):
    status, _, body = request("GET", f"{cloud.store_url}/{container}?format=json", token or cloud.token)
    assert status == 200, status
    return json.loads(body)


def test_bad_input_changes_nothing(cloud, tmp_path):
    c = unique("strict")
    base = f"{cloud.store_url}/{c}"
    assert request("PUT", base, cloud.token)[0] == 201
    assert request("PUT", f"{base}/keep", cloud.token, b"kept")[0] == 201

    # A container name over 256 bytes.
    err = cloud.osc_fails("container", "create", "x" * 257)
    assert "400" in err or "longer than 256" in err
    assert "x" * 257 not in [x["Name"] for x in cloud.osc("container", "list", "-f", "json")]
    # A name with a slash is a container and an object: PUT into a missing container is 404.
    cloud.osc_fails("container", "create", "a/b")
    assert "a" not in [x["Name"] for x in cloud.osc("container", "list", "-f", "json")]
    # An object over the size limit without segments: 413.
    status, _, body = request("PUT", f"{base}/huge", cloud.token, b"\0" * (MAX_FILE + 1))
    assert status == 413, body
    # A wrong ETag: 422.
    status, _, _ = request("PUT", f"{base}/badtag", cloud.token, b"data", {"ETag": "0" * 32})
    assert status == 422
    # A listing limit over 10,000: 412.
    assert request("GET", f"{base}?limit=10001", cloud.token)[0] == 412
    # Deleting a non-empty container: 409.
    assert request("DELETE", base, cloud.token)[0] == 409
    # Project B's member on project A's account: 403 for every verb.
    env_b, _, _ = make_person(cloud)
    token_b, url_b = token_and_url(cloud, env_b)
    assert url_b != cloud.store_url
    for method, path, body in [("GET", "", None), ("PUT", "/intruder", b"x"), ("DELETE", "/keep", None),
                               ("POST", "", None)]:
        assert request(method, base + path, token_b, body)[0] == 403, (method, path)
    proc = swift(cloud, "--os-storage-url", cloud.store_url, "list", c, env=env_b, check=False)
    assert proc.returncode != 0 and "403" in proc.stderr
    # Nothing changed: one object, its data intact, nothing left in the temporary area.
    assert [o["name"] for o in listing(cloud, c)] == ["keep"]
    assert request("GET", f"{base}/keep", cloud.token)[2] == b"kept"
    tmp = os.path.join(cloud.data_dir, "objects", "tmp")
    assert not os.path.isdir(tmp) or os.listdir(tmp) == []


def test_reader_reads_but_cannot_write(cloud):
    env_r, pid, _ = make_person(cloud, role="reader")
    # The admin (reseller admin: every account) fills the reader's project account.
    base = f"http://127.0.0.1:{cloud.object_port}/v1/AUTH_{pid}/shelf"
    assert request("PUT", base, cloud.token)[0] == 201
    assert request("PUT", f"{base}/book", cloud.token, b"pages")[0] == 201
    token_r, _ = token_and_url(cloud, env_r)
    assert request("GET", f"{base}/book", token_r)[2] == b"pages"
    assert request("PUT", f"{base}/scribble", token_r, b"x")[0] == 403
    assert request("DELETE", f"{base}/book", token_r)[0] == 403


def test_expiring_object_disappears(cloud):
    c = unique("tmp")
    base = f"{cloud.store_url}/{c}"
    request("PUT", base, cloud.token)
    assert request("PUT", f"{base}/note", cloud.token, b"soon gone", {"X-Delete-After": "3"})[0] == 201
    assert request("GET", f"{base}/note", cloud.token)[0] == 200
    deadline = time.time() + 15
    while time.time() < deadline and listing(cloud, c):
        time.sleep(0.3)
    assert request("GET", f"{base}/note", cloud.token)[0] == 404
    assert listing(cloud, c) == [], "the expirer removed the listing row too"


def big_file(path, mib):
    data = os.urandom(256 * 1024) * (4 * mib)
    path.write_bytes(data)
    return hashlib.md5(data).hexdigest()


@pytest.mark.parametrize("use_slo", [True, False], ids=["slo", "dlo"])
def test_swift_segmented_upload_and_download(cloud, tmp_path, use_slo):
    c = unique("big")
    os.chdir(tmp_path)
    digest = big_file(tmp_path / "disk.img", 3)  # 3 MiB: over this cloud's 1 MiB limit
    # Without segments the object is too large.
    proc = swift(cloud, "upload", c, "disk.img", check=False)
    assert proc.returncode != 0 and "413" in proc.stderr
    swift(cloud, "upload", "--use-slo" if use_slo else "--use-dlo", "--segment-size", str(512 * 1024), c, "disk.img")
    segments = swift(cloud, "list", f"{c}_segments").stdout.split()
    assert len(segments) == 6, segments
    stat = swift(cloud, "stat", c, "disk.img").stdout
    assert "Content Length: 3145728" in stat, stat
    status, headers, _ = request("HEAD", f"{cloud.store_url}/{c}/disk.img", cloud.token)
    headers = {k.lower(): v for k, v in headers.items()}
    if use_slo:
        assert headers.get("x-static-large-object", "").lower() == "true", headers
    else:
        assert headers.get("x-object-manifest", "").startswith(f"{c}_segments/disk.img/"), headers
        assert "x-static-large-object" not in headers
    out = tmp_path / "back.img"
    swift(cloud, "download", c, "disk.img", "-o", str(out))
    assert hashlib.md5(out.read_bytes()).hexdigest() == digest
    # A ranged read across a segment boundary.
    status, _, body = request("GET", f"{cloud.store_url}/{c}/disk.img", cloud.token,
                              headers={"Range": "bytes=524000-525000"})
    assert status == 206 and body == (tmp_path / "disk.img").read_bytes()[524000:525001]
    swift(cloud, "delete", c, "disk.img")
    assert swift(cloud, "list", f"{c}_segments", check=False).stdout.split() == []
    os.chdir(ROOT)


def test_swift_tempurl_gives_curl_access_until_it_expires(cloud, tmp_path):
    c = unique("share")
    base = f"{cloud.store_url}/{c}"
    request("PUT", base, cloud.token)
    request("PUT", f"{base}/report.pdf", cloud.token, b"%PDF secret")
    swift(cloud, "post", "-m", "Temp-URL-Key:s3cret")
    path = base[base.index("/v1/"):] + "/report.pdf"
    signed = swift(cloud, "tempurl", "GET", "120", path, "s3cret").stdout.strip()
    host = f"http://127.0.0.1:{cloud.object_port}"
    url = signed if signed.startswith("http") else host + signed
    curl = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", url], capture_output=True, text=True)
    body, code = curl.stdout.rsplit("\n", 1)
    assert (code, body) == ("200", "%PDF secret")
    # Another method, another object, a bad signature, an expired URL: 401.
    assert request("DELETE", url)[0] == 401
    assert request("GET", url.replace("report.pdf", "other.pdf"))[0] == 401
    assert request("GET", url.replace("temp_url_sig=", "temp_url_sig=0"))[0] == 401
    past = int(time.time()) - 10
    expired = swift(cloud, "tempurl", "--absolute", "GET", str(past), path, "s3cret").stdout.strip()
    expired = expired if expired.startswith("http") else host + expired
    curl = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", expired], capture_output=True, text=True)
    assert curl.stdout == "401"
    assert request("GET", f"{base}/report.pdf", cloud.token)[2] == b"%PDF secret"


def start_upload(url, token, total):
    """Begins a PUT of `total` bytes and returns the open connection after sending part of it."""
    host, _, rest = url.removeprefix("http://").partition("/")
    conn = http.client.HTTPConnection(host, timeout=30)
    conn.putrequest("PUT", "/" + rest)
    conn.putheader("X-Auth-Token", token)
    conn.putheader("Content-Length", str(total))
    conn.endheaders()
    chunk = b"\xab" * (256 * 1024)
    for _ in range(12):  # 3 MiB of `total`: past the in-memory buffer, on disk in tmp/
        conn.send(chunk)
    return conn


@pytest.mark.parametrize("backend", backends())
def test_crash_mid_upload_leaves_no_partial_object_and_restart_repairs_listings(backend):
    with running_cloud(backend) as cloud:
        token, store = token_and_url(cloud)
        base = f"{store}/vault"
        assert request("PUT", base, token)[0] == 201
        for i in range(3):
            assert request("PUT", f"{base}/done-{i}", token, f"complete {i}".encode())[0] == 201

        conn = start_upload(f"{base}/partial", token, 50 * 1024 * 1024)
        tmp = os.path.join(cloud.data_dir, "objects", "tmp")
        deadline = time.time() + 20
        while time.time() < deadline and not (os.path.isdir(tmp) and os.listdir(tmp)):
            time.sleep(0.1)
        assert os.listdir(tmp), "the upload in flight is in the temporary area"
        cloud.crash()
        conn.close()
        cloud.start()
        token, store = token_and_url(cloud)

        assert request("HEAD", f"{base}/partial", token)[0] == 404
        assert [o["name"] for o in listing_at(base, token)] == ["done-0", "done-1", "done-2"]
        assert os.listdir(tmp) == [], "the partial upload's file was removed at restart"
        for i in range(3):
            assert request("GET", f"{base}/done-{i}", token)[2] == f"complete {i}".encode()

        # Listings that disagree with the disk (a row lost, a row without data) are repaired
        # from the disk by the next start after an unclean stop.
        cloud.crash()
        db = sqlite3.connect(os.path.join(cloud.data_dir, "objects", "listings.db"))
        db.execute("DELETE FROM objects WHERE name = 'done-1'")
        db.execute("INSERT INTO objects (account, container, name, timestamp, size, etag, content_type) "
                   "SELECT account, container, 'ghost', timestamp, 5, 'x', 'text/plain' FROM objects LIMIT 1")
        db.commit()
        db.close()
        cloud.start()
        token, store = token_and_url(cloud)
        rows = listing_at(base, token)
        assert [o["name"] for o in rows] == ["done-0", "done-1", "done-2"]
        assert all(o["bytes"] == len("complete 0") for o in rows)
        status, headers, _ = request("HEAD", base, token)
        lower = {k.lower(): v for k, v in headers.items()}
        assert (lower["x-container-object-count"], lower["x-container-bytes-used"]) == ("3", str(3 * len("complete 0")))


def listing_at(base, token):
    status, _, body = request("GET", f"{base}?format=json", token)
    assert status == 200
    return json.loads(body)
