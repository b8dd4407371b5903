//! The credential files `stratus up` writes for the admin: `admin-openrc.sh` (the OS_*
//! variables of the seeds) and `clouds.yaml` (cloud `stratus`), both 0600.

use std::path::PathBuf;

use stratus_core::config::Config;
use stratus_identity::bootstrap::write_private;

pub fn openrc_path(config: &Config) -> PathBuf {
    config.data_dir.join("admin-openrc.sh")
}

pub fn clouds_path(config: &Config) -> PathBuf {
    config.data_dir.join("clouds.yaml")
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn yaml_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

pub fn write(config: &Config, admin_password: &str) -> anyhow::Result<()> {
    let auth_url = format!("{}/v3", config.public_url(&config.identity.listen));
    let openrc = format!(
        "# Stratus admin credentials: source this file, then use `openstack …`\n\
         export OS_USERNAME=admin\n\
         export OS_PASSWORD={}\n\
         export OS_PROJECT_NAME=admin\n\
         export OS_USER_DOMAIN_NAME=Default\n\
         export OS_PROJECT_DOMAIN_NAME=Default\n\
         export OS_AUTH_URL={auth_url}\n\
         export OS_IDENTITY_API_VERSION=3\n\
         export OS_IMAGE_API_VERSION=2\n\
         export OS_REGION_NAME={}\n",
        shell_quote(admin_password),
        shell_quote(&config.region),
    );
    write_private(&openrc_path(config), &openrc)?;
    let clouds = format!(
        "# Stratus: use with `openstack --os-cloud stratus …` (OS_CLIENT_CONFIG_FILE=this file)\n\
         clouds:\n  stratus:\n    auth:\n      auth_url: {}\n      username: admin\n      password: {}\n      \
         project_name: admin\n      user_domain_name: Default\n      project_domain_name: Default\n    \
         region_name: {}\n    identity_api_version: 3\n    interface: public\n",
        yaml_quote(&auth_url),
        yaml_quote(admin_password),
        yaml_quote(&config.region),
    );
    write_private(&clouds_path(config), &clouds)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
        assert_eq!(yaml_quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
