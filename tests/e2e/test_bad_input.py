"""Bad input gets the identity error body, a clear message, and changes nothing."""
from test_identity_cli import admin_token, http


def assert_error(resp, status, words=""):
    code, _, body = resp
    assert code == status, (code, body)
    assert body["error"]["code"] == status and body["error"]["title"]
    assert words.lower() in body["error"]["message"].lower(), body


def count(cloud, token, what):
    return len(http(cloud, "GET", f"/v3/{what}", token=token)[2][what])


def test_malformed_and_missing(cloud):
    tok = admin_token(cloud)
    before = count(cloud, tok, "projects")
    assert_error(http(cloud, "POST", "/v3/projects", token=tok, raw=b'{"project": {"name": '), 400, "malformed json")
    assert_error(http(cloud, "POST", "/v3/projects", token=tok, body={"project": {}}), 400, "'name' is a required property")
    assert_error(http(cloud, "POST", "/v3/projects", token=tok, body={"name": "x"}), 400, "'project' is a required property")
    assert_error(http(cloud, "POST", "/v3/projects", token=tok, body={"project": {"name": "x" * 65}}), 400, "longer than 64")
    assert_error(http(cloud, "POST", "/v3/projects", token=tok, body={"project": {"name": "ok", "enabled": "yes"}}), 400, "'enabled'")
    assert_error(http(cloud, "POST", "/v3/auth/tokens", body={"auth": {}}), 400, "identity")
    assert count(cloud, tok, "projects") == before, "nothing was stored"


def test_duplicates_conflict(cloud):
    tok = admin_token(cloud)
    assert http(cloud, "POST", "/v3/projects", token=tok, body={"project": {"name": "dup"}})[0] == 201
    before = count(cloud, tok, "projects")
    assert_error(http(cloud, "POST", "/v3/projects", token=tok, body={"project": {"name": "dup"}}), 409, "duplicate")
    assert_error(http(cloud, "POST", "/v3/users", token=tok, body={"user": {"name": "admin", "domain_id": "default"}}), 409, "duplicate")
    assert count(cloud, tok, "projects") == before


def test_unknown_things(cloud):
    tok = admin_token(cloud)
    assert_error(http(cloud, "GET", "/v3/projects/nope", token=tok), 404, "could not find project")
    assert_error(http(cloud, "GET", "/v3/users/" + "f" * 32, token=tok), 404, "could not find user")
    assert_error(http(cloud, "GET", "/v3/nothing-here", token=tok), 404, "")
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": tok}},
                     "scope": {"project": {"id": "no-such-project"}}}}
    assert_error(http(cloud, "POST", "/v3/auth/tokens", body=body), 401, "could not find project")
    assert_error(http(cloud, "GET", "/v3/auth/tokens", token=tok, headers={"X-Subject-Token": "garbage"}), 404, "")
    assert_error(http(cloud, "GET", "/v3/projects"), 401, "requires authentication")
    assert_error(http(cloud, "GET", "/v3/projects", token="gAAAAAforged"), 401, "")


def test_oversized_body(cloud):
    tok = admin_token(cloud)
    before = count(cloud, tok, "projects")
    huge = {"project": {"name": "big", "description": "x" * (2 * 1024 * 1024)}}
    assert_error(http(cloud, "POST", "/v3/projects", token=tok, body=huge), 413, "too large")
    assert count(cloud, tok, "projects") == before
