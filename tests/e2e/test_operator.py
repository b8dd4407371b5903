"""What an operator does around the running cloud: bootstrap again, rotate keys, read the
credential files."""
import base64
import os
import stat
import subprocess
import time

from conftest import STRATUS
from test_identity_cli import admin_token, http


def stratus(cloud, *args):
    proc = subprocess.run([STRATUS, *args], env=cloud.env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_credential_files_are_private(cloud):
    for name in ("admin-openrc.sh", "clouds.yaml", "admin-password"):
        mode = stat.S_IMODE(os.stat(os.path.join(cloud.data_dir, name)).st_mode)
        assert mode == 0o600, f"{name} is {oct(mode)}"
    clouds = open(os.path.join(cloud.data_dir, "clouds.yaml")).read()
    assert "stratus:" in clouds and cloud.auth_url in clouds
    # clouds.yaml works with the CLI as it is.
    env = {k: v for k, v in cloud.env.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = os.path.join(cloud.data_dir, "clouds.yaml")
    tok = cloud.osc("--os-cloud", "stratus", "token", "issue", "-f", "json", env=env)
    assert tok["id"]


def test_bootstrap_is_idempotent(cloud):
    roles_before = sorted(r["Name"] for r in cloud.osc("role", "list", "-f", "json"))
    projects_before = sorted(p["Name"] for p in cloud.osc("project", "list", "-f", "json"))
    endpoints_before = len(cloud.osc("endpoint", "list", "-f", "json"))
    for _ in range(2):
        out = stratus(cloud, "bootstrap")
        assert "admin-openrc.sh" in out
    assert sorted(r["Name"] for r in cloud.osc("role", "list", "-f", "json")) == roles_before
    assert sorted(p["Name"] for p in cloud.osc("project", "list", "-f", "json")) == projects_before
    assert len(cloud.osc("endpoint", "list", "-f", "json")) == endpoints_before
    assert admin_token(cloud), "the admin password did not change"
    rows = cloud.osc("role", "assignment", "list", "--user", "admin", "--names", "-f", "json")
    assert len([r for r in rows if r["Role"] == "admin"]) == 2, "admin on the admin project and the system, once each"


def fernet_key(cloud, index):
    with open(os.path.join(cloud.data_dir, "fernet-keys", str(index))) as f:
        return f.read().strip()


def minted_with(token, key):
    """Whether `token` verifies with this Fernet key (its HMAC)."""
    import hashlib
    import hmac
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    signing = base64.urlsafe_b64decode(key)[:16]
    return hmac.compare_digest(hmac.new(signing, raw[:-32], hashlib.sha256).digest(), raw[-32:])


def test_key_rotation_on_a_running_node(cloud):
    keys_dir = os.path.join(cloud.data_dir, "fernet-keys")
    before = sorted(int(k) for k in os.listdir(keys_dir))
    old_token = admin_token(cloud)
    assert minted_with(old_token, fernet_key(cloud, max(before)))

    stratus(cloud, "fernet", "rotate")
    after = sorted(int(k) for k in os.listdir(keys_dir))
    assert max(after) == max(before) + 1 and 0 in after
    assert stat.S_IMODE(os.stat(os.path.join(keys_dir, str(max(after)))).st_mode) == 0o600

    # The running node picks the new primary up by itself; old tokens keep validating.
    deadline = time.time() + 15
    while True:
        new_token = admin_token(cloud)
        if minted_with(new_token, fernet_key(cloud, max(after))):
            break
        assert time.time() < deadline, "the new primary key was not picked up"
        time.sleep(0.5)
    for tok in (old_token, new_token):
        status, _, _ = http(cloud, "GET", "/v3/auth/tokens", token=new_token, headers={"X-Subject-Token": tok})
        assert status == 200
