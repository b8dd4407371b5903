"""The identity walk-through of the seeds, with the real `openstack` CLI against `stratus up`."""
import json
import urllib.error
import urllib.request


def http(cloud, method, path, token=None, body=None, headers=None, raw=None):
    """A raw HTTP call: returns (status, headers, parsed JSON body or None)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(f"http://127.0.0.1:{cloud.port}{path}", data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read()
            return resp.status, resp.headers, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return e.code, e.headers, parsed


def password_token(cloud, user, password, project=None, domain="Default"):
    scope = {"project": {"name": project, "domain": {"name": domain}}} if project else None
    body = {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": user, "domain": {"name": domain}, "password": password}}}}}
    if scope:
        body["auth"]["scope"] = scope
    status, headers, parsed = http(cloud, "POST", "/v3/auth/tokens", body=body)
    return status, headers.get("X-Subject-Token"), parsed


def admin_token(cloud):
    status, token, _ = password_token(cloud, "admin", cloud.admin["OS_PASSWORD"], project="admin")
    assert status == 201
    return token


def test_token_issue(cloud):
    tok = cloud.osc("token", "issue", "-f", "json")
    assert tok["id"].startswith("gAAAAA"), "a Fernet token"
    assert len(tok["project_id"]) == 32 and len(tok["user_id"]) == 32
    assert tok["expires"]
    # The token validates, and says who and what it is.
    status, _, body = http(cloud, "GET", "/v3/auth/tokens", token=tok["id"], headers={"X-Subject-Token": tok["id"]})
    assert status == 200
    t = body["token"]
    assert t["user"]["name"] == "admin" and t["project"]["name"] == "admin"
    assert {"admin", "member", "reader"} <= {r["name"] for r in t["roles"]}, "admin implies member and reader"
    assert any(s["type"] == "identity" for s in t["catalog"])
    assert t["methods"] == ["password"] and t["audit_ids"]


def test_version_discovery(cloud):
    status, _, body = http(cloud, "GET", "/")
    assert status == 300
    assert body["versions"]["values"][0]["id"].startswith("v3")
    status, _, body = http(cloud, "GET", "/v3")
    assert status == 200 and body["version"]["status"] == "stable"


def test_seed_walkthrough(cloud):
    """Seed 003 §3.5: projects, users, roles, services and endpoints."""
    p = cloud.osc("project", "create", "--domain", "default", "--description", "Service Project", "service2", "-f", "json")
    assert p["name"] == "service2" and p["domain_id"] == "default" and p["enabled"] is True
    assert p["description"] == "Service Project" and p["parent_id"] == "default" and p["is_domain"] is False

    u = cloud.osc("user", "create", "--domain", "default", "--password", "GLANCE_PASS", "glance2", "-f", "json")
    assert u["name"] == "glance2" and u["domain_id"] == "default" and u["enabled"] is True

    cloud.osc("role", "add", "--project", "service", "--user", "glance2", "admin")
    role = cloud.osc("role", "create", "user", "-f", "json")
    assert role["name"] == "user"
    names = {r["Name"] for r in cloud.osc("role", "list", "-f", "json")}
    assert {"admin", "member", "reader", "user"} <= names

    rows = cloud.osc("role", "assignment", "list", "--names", "-f", "json")
    assert any(r["Role"] == "admin" and r["User"] == "glance2@Default" and r["Project"] == "service@Default" for r in rows), rows

    # Stratus registers its own services at bootstrap; the image service is already there.
    catalog = cloud.osc("catalog", "list", "-f", "json")
    assert any(c["Type"] == "image" and c["Name"] == "glance" for c in catalog)
    # The seed's flow for registering a service, with a service Stratus does not run.
    svc = cloud.osc("service", "create", "--name", "billing", "--description", "Billing API", "rating", "-f", "json")
    assert svc["type"] == "rating" and svc["name"] == "billing"
    ep = cloud.osc("endpoint", "create", "--region", "RegionOne", "rating", "public", "http://127.0.0.1:8889", "-f", "json")
    assert ep["interface"] == "public" and ep["url"] == "http://127.0.0.1:8889" and ep["service_name"] == "billing"

    catalog = cloud.osc("catalog", "list", "-f", "json")
    rating = [c for c in catalog if c["Type"] == "rating"]
    assert rating and "http://127.0.0.1:8889" in json.dumps(rating[0]["Endpoints"])

    # The new user gets a token scoped to its project, and it carries the role.
    env = cloud.user_env(OS_USERNAME="glance2", OS_PASSWORD="GLANCE_PASS", OS_PROJECT_NAME="service",
                         OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default")
    tok = cloud.osc("token", "issue", "-f", "json", env=env)
    service = cloud.osc("project", "show", "service", "-f", "json")
    assert tok["project_id"] == service["id"]


def test_domains_and_groups(cloud):
    d = cloud.osc("domain", "create", "--description", "Engineering", "eng", "-f", "json")
    assert d["name"] == "eng" and d["enabled"] is True
    assert "eng" in {x["Name"] for x in cloud.osc("domain", "list", "-f", "json")}

    g = cloud.osc("group", "create", "--domain", "default", "ops", "-f", "json")
    assert g["name"] == "ops"
    cloud.osc("user", "create", "--domain", "default", "--password", "pw-carol", "carol")
    cloud.osc("group", "add", "user", "ops", "carol")
    members = cloud.osc("user", "list", "--group", "ops", "-f", "json")
    assert [m["Name"] for m in members] == ["carol"]
    out = cloud.osc("group", "contains", "user", "ops", "carol")
    assert out == "carol in group ops"

    # A role given to the group reaches its member.
    cloud.osc("project", "create", "--domain", "default", "opsproj")
    cloud.osc("role", "add", "--project", "opsproj", "--group", "ops", "member")
    env = cloud.user_env(OS_USERNAME="carol", OS_PASSWORD="pw-carol", OS_PROJECT_NAME="opsproj",
                         OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default")
    tok = cloud.osc("token", "issue", "-f", "json", env=env)
    assert tok["project_id"] == cloud.osc("project", "show", "opsproj", "-f", "json")["id"]
    effective = cloud.osc("role", "assignment", "list", "--effective", "--user", "carol", "--names", "-f", "json")
    assert {r["Role"] for r in effective} >= {"member", "reader"}, "group grant and implied role"


def test_application_credential(cloud):
    cloud.osc("project", "create", "--domain", "default", "appproj")
    cloud.osc("user", "create", "--domain", "default", "--password", "pw-dave", "dave")
    cloud.osc("role", "add", "--project", "appproj", "--user", "dave", "member")
    dave = cloud.user_env(OS_USERNAME="dave", OS_PASSWORD="pw-dave", OS_PROJECT_NAME="appproj",
                          OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default")
    cred = cloud.osc("application", "credential", "create", "ci-bot", "-f", "json", env=dave)
    assert cred["Secret"] and cred["Name"] == "ci-bot"
    assert {"member", "reader"} <= {r["name"] for r in cred["Roles"]}, "all of the token's roles by default"
    listed = cloud.osc("application", "credential", "list", "-f", "json", env=dave)
    assert [c["Name"] for c in listed] == ["ci-bot"]

    appenv = cloud.user_env(OS_AUTH_TYPE="v3applicationcredential",
                            OS_APPLICATION_CREDENTIAL_ID=cred["ID"],
                            OS_APPLICATION_CREDENTIAL_SECRET=cred["Secret"])
    tok = cloud.osc("token", "issue", "-f", "json", env=appenv)
    assert tok["project_id"] == cloud.osc("project", "show", "appproj", "-f", "json")["id"]

    bad = dict(appenv, OS_APPLICATION_CREDENTIAL_SECRET="wrong")
    err = cloud.osc_fails("token", "issue", env=bad)
    assert "401" in err

    cloud.osc("application", "credential", "delete", "ci-bot", env=dave)
    err = cloud.osc_fails("token", "issue", env=appenv)
    assert "401" in err


def test_password_change_and_revocation(cloud):
    cloud.osc("project", "create", "--domain", "default", "pwproj")
    cloud.osc("user", "create", "--domain", "default", "--password", "old-pass", "erin")
    cloud.osc("role", "add", "--project", "pwproj", "--user", "erin", "member")
    status, old_token, _ = password_token(cloud, "erin", "old-pass", project="pwproj")
    assert status == 201

    env = cloud.user_env(OS_USERNAME="erin", OS_PASSWORD="old-pass", OS_PROJECT_NAME="pwproj",
                         OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default")
    cloud.osc("user", "password", "set", "--password", "new-pass", "--original-password", "old-pass", env=env)

    # The token from before the change is revoked; the old password no longer works.
    admin = admin_token(cloud)
    status, _, body = http(cloud, "GET", "/v3/auth/tokens", token=admin, headers={"X-Subject-Token": old_token})
    assert status == 404, body
    status, _, body = password_token(cloud, "erin", "old-pass", project="pwproj")
    assert status == 401 and body["error"]["code"] == 401
    status, new_token, _ = password_token(cloud, "erin", "new-pass", project="pwproj")
    assert status == 201
    status, _, _ = http(cloud, "GET", "/v3/auth/tokens", token=admin, headers={"X-Subject-Token": new_token})
    assert status == 200, "a token issued after the change is valid"


def test_token_revoke(cloud):
    tok = cloud.osc("token", "issue", "-f", "json")["id"]
    other = admin_token(cloud)
    assert http(cloud, "GET", "/v3/auth/tokens", token=other, headers={"X-Subject-Token": tok})[0] == 200
    cloud.osc("token", "revoke", tok)
    assert http(cloud, "GET", "/v3/auth/tokens", token=other, headers={"X-Subject-Token": tok})[0] == 404
    status, _, body = http(cloud, "GET", "/v3/projects", token=tok)
    assert status == 401 and body["error"]["code"] == 401
    assert http(cloud, "GET", "/v3/projects", token=other)[0] == 200, "other tokens are untouched"


def test_member_is_not_admin(cloud):
    cloud.osc("project", "create", "--domain", "default", "memberproj")
    cloud.osc("project", "create", "--domain", "default", "otherproj")
    cloud.osc("user", "create", "--domain", "default", "--password", "pw-frank", "frank")
    cloud.osc("role", "add", "--project", "memberproj", "--user", "frank", "member")
    env = cloud.user_env(OS_USERNAME="frank", OS_PASSWORD="pw-frank", OS_PROJECT_NAME="memberproj",
                         OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default")
    err = cloud.osc_fails("user", "list", env=env)
    assert "403" in err and "identity:list_users" in err
    err = cloud.osc_fails("project", "show", "otherproj", env=env)
    assert "403" in err or "No project" in err
    # The CLI cannot even resolve the names for a member; whatever it tries, no grant appears.
    cloud.osc("role", "add", "--project", "memberproj", "--user", "frank", "admin", env=env, check=False)
    rows = cloud.osc("role", "assignment", "list", "--user", "frank", "--names", "-f", "json")
    assert {r["Role"] for r in rows} == {"member"}, rows
    status, tok, _ = password_token(cloud, "frank", "pw-frank", project="memberproj")
    project_id = cloud.osc("project", "show", "memberproj", "-f", "json")["id"]
    user_id = cloud.osc("user", "show", "frank", "-f", "json")["id"]
    admin_role = cloud.osc("role", "show", "admin", "-f", "json")["id"]
    code, _, body = http(cloud, "PUT", f"/v3/projects/{project_id}/users/{user_id}/roles/{admin_role}", token=tok)
    assert code == 403 and "identity:create_grant" in body["error"]["message"]
    err = cloud.osc_fails("project", "create", "sneaky", env=env)
    assert "403" in err
    # What a member may do: see its own project and user (by id: listing to find names is
    # for readers and admins, as in keystone).
    mine = cloud.osc("project", "show", project_id, "-f", "json", env=env)
    assert mine["name"] == "memberproj"
    me = cloud.osc("user", "show", user_id, "-f", "json", env=env)
    assert me["name"] == "frank"
    mine = cloud.osc("project", "list", "--my-projects", "-f", "json", env=env)
    assert [p["Name"] for p in mine] == ["memberproj"]


def test_reader_reads_but_cannot_write(cloud):
    cloud.osc("user", "create", "--domain", "default", "--password", "pw-rita", "rita")
    admin_project = cloud.osc("project", "show", "admin", "-f", "json")["id"]
    cloud.osc("role", "add", "--system", "all", "--user", "rita", "reader")
    env = cloud.user_env(OS_USERNAME="rita", OS_PASSWORD="pw-rita", OS_SYSTEM_SCOPE="all",
                         OS_USER_DOMAIN_NAME="Default")
    users = cloud.osc("user", "list", "-f", "json", env=env)
    assert "rita" in {u["Name"] for u in users}
    assert admin_project in {p["ID"] for p in cloud.osc("project", "list", "-f", "json", env=env)}
    err = cloud.osc_fails("user", "create", "--password", "x", "mallory", env=env)
    assert "403" in err


def test_wrong_password_and_disabled_user(cloud):
    env = cloud.user_env(OS_USERNAME="admin", OS_PASSWORD="not-the-password", OS_PROJECT_NAME="admin",
                         OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default")
    err = cloud.osc_fails("token", "issue", env=env)
    assert "401" in err and "Invalid username or password" in err

    cloud.osc("user", "create", "--domain", "default", "--password", "pw-gina", "gina")
    cloud.osc("role", "add", "--project", "admin", "--user", "gina", "reader")
    status, tok, _ = password_token(cloud, "gina", "pw-gina", project="admin")
    assert status == 201
    cloud.osc("user", "set", "--disable", "gina")
    status, _, body = password_token(cloud, "gina", "pw-gina", project="admin")
    assert status == 401 and "disabled" in body["error"]["message"]
    status, _, _ = http(cloud, "GET", "/v3/auth/tokens", token=admin_token(cloud), headers={"X-Subject-Token": tok})
    assert status == 404, "disabling a user revokes its tokens"


def test_deletes_leave_no_dangling_assignments(cloud):
    cloud.osc("project", "create", "--domain", "default", "doomed")
    cloud.osc("user", "create", "--domain", "default", "--password", "pw-hank", "hank")
    cloud.osc("role", "add", "--project", "doomed", "--user", "hank", "member")
    cloud.osc("role", "add", "--project", "admin", "--user", "hank", "reader")
    project_id = cloud.osc("project", "show", "doomed", "-f", "json")["id"]
    user_id = cloud.osc("user", "show", "hank", "-f", "json")["id"]
    assert cloud.osc("role", "assignment", "list", "--project", project_id, "-f", "json")

    cloud.osc("project", "delete", "doomed")
    rows = cloud.osc("role", "assignment", "list", "-f", "json")
    assert not [r for r in rows if r["Project"] == project_id]
    cloud.osc("user", "delete", "hank")
    rows = cloud.osc("role", "assignment", "list", "-f", "json")
    assert not [r for r in rows if r["User"] == user_id]


def test_tokens_survive_restart(cloud):
    tok = admin_token(cloud)
    cloud.restart()
    status, _, body = http(cloud, "GET", "/v3/auth/tokens", token=tok, headers={"X-Subject-Token": tok})
    assert status == 200 and body["token"]["user"]["name"] == "admin"
