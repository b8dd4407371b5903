//! How the API shows a server: typed structs serialized straight into the response body.
//!
//! A server is the most polled thing in the API (every client waiting for ACTIVE asks again
//! and again), so its rendering borrows from the instance and writes JSON once, without
//! building a `serde_json::Value` tree first. Which fields appear depends on the microversion
//! and on whether the caller is an admin, as in nova.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;
use stratus_core::http::microversion::Version;

use super::common::nova_time;
use crate::model::{Fault, Instance, VmState};

/// A `{rel, href}` link.
#[derive(Serialize)]
pub(crate) struct Link {
    rel: &'static str,
    href: String,
}

/// A server's `self` and `bookmark` links.
pub(crate) fn links(base: &str, id: &str) -> [Link; 2] {
    [
        Link { rel: "self", href: format!("{base}/v2.1/servers/{id}") },
        Link { rel: "bookmark", href: format!("{base}/servers/{id}") },
    ]
}

fn bookmark(base: &str, collection: &str, id: &str) -> [Link; 1] {
    [Link { rel: "bookmark", href: format!("{base}/{collection}/{id}") }]
}

fn time_str(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// nova's `hostId`: a digest of project and host, so that a project can tell its servers
/// apart by host without learning host names ("" when unscheduled).
fn host_id(project: &str, host: Option<&str>) -> String {
    use sha2::Digest;
    let Some(h) = host else { return String::new() };
    let mut d = sha2::Sha224::new();
    d.update(project.as_bytes());
    d.update(h.as_bytes());
    let mut out = String::with_capacity(56);
    for b in d.finalize() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn instance_name(uuid: &str) -> String {
    format!("instance-{}", &uuid.replace('-', "")[..8])
}

/// `{"server": …}`.
#[derive(Serialize)]
pub(crate) struct One<'a> {
    pub server: Detail<'a>,
}

/// `{"servers": […], "servers_links": […]}` (links only when a page was cut by `limit`).
#[derive(Serialize)]
pub(crate) struct Page<T> {
    pub servers: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub servers_links: Option<[Link; 1]>,
}

/// The link to the page after `last`.
pub(crate) fn next_page(base: &str, path: &str, limit: usize, last: &str) -> [Link; 1] {
    [Link { rel: "next", href: format!("{base}/v2.1/{path}?limit={limit}&marker={last}") }]
}

#[derive(Serialize)]
pub(crate) struct Brief<'a> {
    id: &'a str,
    name: &'a str,
    links: [Link; 2],
}

#[derive(Serialize)]
struct ImageRef<'a> {
    id: &'a str,
    links: [Link; 1],
}

/// No image (booted from a volume) is shown as an empty string, as nova does.
#[derive(Serialize)]
#[serde(untagged)]
enum ImageField<'a> {
    Image(ImageRef<'a>),
    None(&'static str),
}

#[derive(Serialize)]
#[serde(untagged)]
enum FlavorField<'a> {
    /// 2.47 and later: the flavor as it was at boot.
    Embedded {
        vcpus: u32,
        ram: u64,
        disk: u64,
        ephemeral: u64,
        swap: u64,
        original_name: &'a str,
        extra_specs: &'a BTreeMap<String, String>,
    },
    Ref {
        id: &'a str,
        links: [Link; 1],
    },
}

#[derive(Serialize)]
struct Named {
    name: &'static str,
}

#[derive(Serialize)]
struct FaultView<'a> {
    code: i64,
    created: String,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a str>,
}

/// Absent fields (`None`) are left out; `Some(None)` is a JSON null.
type Opt<T> = Option<T>;

/// The full form of a server (`GET /servers/{id}`, `/servers/detail`).
#[derive(Serialize)]
pub(crate) struct Detail<'a> {
    id: &'a str,
    name: &'a str,
    status: &'static str,
    tenant_id: &'a str,
    user_id: &'a str,
    metadata: &'a BTreeMap<String, String>,
    #[serde(rename = "hostId")]
    host_id: String,
    image: ImageField<'a>,
    flavor: FlavorField<'a>,
    created: String,
    updated: String,
    addresses: BTreeMap<(), ()>,
    #[serde(rename = "accessIPv4")]
    access_ip_v4: &'a str,
    #[serde(rename = "accessIPv6")]
    access_ip_v6: &'a str,
    links: [Link; 2],
    #[serde(rename = "OS-DCF:diskConfig")]
    disk_config: &'static str,
    #[serde(rename = "OS-EXT-AZ:availability_zone")]
    availability_zone: &'a str,
    config_drive: &'a str,
    key_name: Option<&'a str>,
    #[serde(rename = "OS-SRV-USG:launched_at")]
    launched_at: Option<String>,
    #[serde(rename = "OS-SRV-USG:terminated_at")]
    terminated_at: Option<String>,
    #[serde(rename = "OS-EXT-STS:task_state")]
    task_state: Option<&'static str>,
    #[serde(rename = "OS-EXT-STS:vm_state")]
    vm_state: &'static str,
    #[serde(rename = "OS-EXT-STS:power_state")]
    power_state: i64,
    #[serde(rename = "os-extended-volumes:volumes_attached")]
    volumes_attached: [(); 0],
    security_groups: [Named; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    progress: Opt<i64>,
    #[serde(flatten)]
    admin: Option<AdminAttrs<'a>>,
    #[serde(rename = "OS-EXT-SRV-ATTR:hostname", skip_serializing_if = "Option::is_none")]
    hostname: Opt<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    locked: Opt<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Opt<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Opt<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trusted_image_certificates: Opt<()>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_groups: Opt<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    locked_reason: Opt<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pinned_availability_zone: Opt<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fault: Opt<FaultView<'a>>,
    /// Only in a rebuild's answer before 2.75.
    #[serde(rename = "adminPass", skip_serializing_if = "Option::is_none")]
    pub admin_pass: Opt<String>,
}

/// What only admins see (`OS-EXT-SRV-ATTR`, `host_status`).
#[derive(Serialize)]
struct AdminAttrs<'a> {
    #[serde(rename = "OS-EXT-SRV-ATTR:host")]
    host: Option<&'a str>,
    #[serde(rename = "OS-EXT-SRV-ATTR:hypervisor_hostname")]
    hypervisor_hostname: Option<&'a str>,
    #[serde(rename = "OS-EXT-SRV-ATTR:instance_name")]
    instance_name: String,
    #[serde(flatten)]
    since_2_3: Option<AdminAttrs23<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host_status: Opt<&'static str>,
}

#[derive(Serialize)]
struct AdminAttrs23<'a> {
    #[serde(rename = "OS-EXT-SRV-ATTR:reservation_id")]
    reservation_id: &'a str,
    #[serde(rename = "OS-EXT-SRV-ATTR:launch_index")]
    launch_index: i64,
    #[serde(rename = "OS-EXT-SRV-ATTR:kernel_id")]
    kernel_id: &'a str,
    #[serde(rename = "OS-EXT-SRV-ATTR:ramdisk_id")]
    ramdisk_id: &'a str,
    #[serde(rename = "OS-EXT-SRV-ATTR:root_device_name")]
    root_device_name: &'static str,
    #[serde(rename = "OS-EXT-SRV-ATTR:user_data")]
    user_data: Option<&'a str>,
}

/// How the API shows a server at `version`; `admin` adds the host attributes.
pub(crate) struct View<'a> {
    pub base: &'a str,
    pub version: Version,
    pub admin: bool,
    /// Whether each host's compute service is up (admins at 2.16+ see `host_status`).
    pub host_up: Option<&'a HashMap<String, bool>>,
}

impl<'v> View<'v> {
    pub fn brief<'a>(&self, i: &'a Instance) -> Brief<'a> {
        Brief { id: &i.uuid, name: &i.display_name, links: links(self.base, &i.uuid) }
    }

    pub fn detail<'a>(&self, i: &'a Instance, fault: Option<&'a Fault>) -> Detail<'a> {
        let v = self.version;
        let image = match &i.image_ref {
            Some(id) => ImageField::Image(ImageRef { id, links: bookmark(self.base, "images", id) }),
            None => ImageField::None(""),
        };
        let f = &i.flavor;
        let flavor = if v.at_least(2, 47) {
            FlavorField::Embedded {
                vcpus: f.vcpus,
                ram: f.memory_mb,
                disk: f.root_gb,
                ephemeral: f.ephemeral_gb,
                swap: f.swap,
                original_name: &f.name,
                extra_specs: &f.extra_specs,
            }
        } else {
            FlavorField::Ref { id: &f.flavorid, links: bookmark(self.base, "flavors", &f.flavorid) }
        };
        let status = i.status();
        let image_property = |key: &str| -> &'a str {
            i.image.as_ref().and_then(|m| m.properties.get(key)).map(String::as_str).unwrap_or_default()
        };
        let admin = self.admin.then(|| AdminAttrs {
            host: i.host.as_deref(),
            hypervisor_hostname: i.node.as_deref(),
            instance_name: instance_name(&i.uuid),
            since_2_3: v.at_least(2, 3).then(|| AdminAttrs23 {
                reservation_id: &i.reservation_id,
                launch_index: i.launch_index,
                kernel_id: image_property("kernel_id"),
                ramdisk_id: image_property("ramdisk_id"),
                root_device_name: "/dev/vda",
                user_data: i.user_data.as_deref(),
            }),
            host_status: v.at_least(2, 16).then(|| match (&i.host, self.host_up) {
                (Some(h), Some(up)) => match up.get(h) {
                    Some(true) => "UP",
                    Some(false) => "DOWN",
                    None => "UNKNOWN",
                },
                _ => "",
            }),
        });
        // Admins saw the hostname among the host attributes from 2.3; everyone from 2.90.
        let shows_hostname = v.at_least(2, 90) || (self.admin && v.at_least(2, 3));
        Detail {
            id: &i.uuid,
            name: &i.display_name,
            status,
            tenant_id: &i.project_id,
            user_id: &i.user_id,
            metadata: &i.metadata,
            host_id: host_id(&i.project_id, i.host.as_deref()),
            image,
            flavor,
            created: time_str(i.created_at),
            updated: time_str(i.updated_at),
            addresses: BTreeMap::new(),
            access_ip_v4: i.access_ip_v4.as_deref().unwrap_or_default(),
            access_ip_v6: i.access_ip_v6.as_deref().unwrap_or_default(),
            links: links(self.base, &i.uuid),
            disk_config: "MANUAL",
            availability_zone: i.availability_zone.as_deref().unwrap_or_default(),
            config_drive: i.config_drive.as_deref().unwrap_or_default(),
            key_name: i.key_name.as_deref(),
            launched_at: i.launched_at.map(nova_time),
            terminated_at: i.terminated_at.map(nova_time),
            task_state: i.task_state.map(|t| t.as_str()),
            vm_state: i.vm_state.as_str(),
            power_state: i.power_state.code(),
            volumes_attached: [],
            security_groups: [Named { name: "default" }],
            progress: matches!(
                status,
                "ACTIVE" | "BUILD" | "REBUILD" | "RESIZE" | "VERIFY_RESIZE" | "MIGRATING"
            )
            .then_some(i.progress),
            admin,
            hostname: shows_hostname.then_some(i.hostname.as_str()),
            locked: v.at_least(2, 9).then_some(i.locked),
            description: v.at_least(2, 19).then_some(i.description.as_deref()),
            tags: v.at_least(2, 26).then_some(i.tags.as_slice()),
            trusted_image_certificates: v.at_least(2, 63).then_some(()),
            server_groups: v.at_least(2, 71).then(|| i.server_group.iter().map(String::as_str).collect()),
            locked_reason: v.at_least(2, 73).then_some(i.locked_reason.as_deref()),
            pinned_availability_zone: v.at_least(2, 96).then_some(i.requested_availability_zone.as_deref()),
            fault: fault.filter(|_| matches!(i.vm_state, VmState::Error | VmState::Deleted)).map(|f| {
                FaultView {
                    code: f.code,
                    created: time_str(f.created),
                    message: &f.message,
                    details: self.admin.then(|| f.details.as_deref().unwrap_or_default()),
                }
            }),
            admin_pass: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Flavor, PowerState};
    use serde_json::{json, Value};

    fn instance() -> Instance {
        let t = "2026-12-07T06:00:00Z".parse::<DateTime<Utc>>().unwrap();
        Instance {
            uuid: "6f1c9a4e-0000-4000-8000-000000000001".into(),
            display_name: "web".into(),
            hostname: "web".into(),
            description: None,
            project_id: "p1".into(),
            user_id: "u1".into(),
            host: Some("host-1".into()),
            node: Some("host-1".into()),
            availability_zone: Some("nova".into()),
            requested_availability_zone: None,
            flavor: Flavor {
                id: 1,
                flavorid: "f1".into(),
                name: "m1.tiny".into(),
                vcpus: 1,
                memory_mb: 512,
                root_gb: 1,
                ephemeral_gb: 0,
                swap: 0,
                rxtx_factor: 1.0,
                is_public: true,
                disabled: false,
                description: None,
                extra_specs: BTreeMap::from([("hw:cpu_policy".into(), "shared".into())]),
            },
            old_flavor: None,
            new_flavor: None,
            image_ref: Some("img-1".into()),
            image: Some(stratus_compute_agent::rpc::ImageSpec {
                id: "img-1".into(),
                name: None,
                disk_format: None,
                container_format: None,
                size: None,
                properties: BTreeMap::from([("kernel_id".into(), "k-1".into())]),
            }),
            key_name: None,
            key_data: None,
            user_data: None,
            metadata: BTreeMap::from([("role".into(), "db".into())]),
            tags: vec!["blue".into()],
            vm_state: VmState::Active,
            task_state: None,
            power_state: PowerState::Running,
            locked: false,
            locked_by: None,
            locked_reason: None,
            access_ip_v4: None,
            access_ip_v6: None,
            config_drive: None,
            progress: 0,
            launch_index: 0,
            reservation_id: "r-1".into(),
            server_group: None,
            scheduler_hints: Value::Null,
            launched_at: Some(t),
            terminated_at: None,
            created_at: t,
            updated_at: t,
            deleted_at: None,
            deleted: false,
        }
    }

    fn render(i: &Instance, fault: Option<&Fault>, version: (u16, u16), admin: bool) -> Value {
        let up = HashMap::from([("host-1".to_string(), false)]);
        let view =
            View { base: "http://c", version: Version::new(version.0, version.1), admin, host_up: Some(&up) };
        serde_json::to_value(view.detail(i, fault)).unwrap()
    }

    #[test]
    fn a_member_at_2_1_sees_the_base_fields_and_no_host_attributes() {
        let s = render(&instance(), None, (2, 1), false);
        assert_eq!(s["status"], "ACTIVE");
        assert_eq!(s["OS-EXT-STS:task_state"], Value::Null);
        assert_eq!(s["OS-EXT-STS:power_state"], 1);
        assert_eq!(
            s["flavor"],
            json!({"id": "f1", "links": [{"rel": "bookmark", "href": "http://c/flavors/f1"}]})
        );
        assert_eq!(s["image"]["links"][0]["href"], "http://c/images/img-1");
        assert_eq!(s["links"][0]["href"], "http://c/v2.1/servers/6f1c9a4e-0000-4000-8000-000000000001");
        assert_eq!(s["OS-SRV-USG:launched_at"], "2026-12-07T06:00:00.000000");
        assert_eq!(s["created"], "2026-12-07T06:00:00Z");
        assert_eq!(s["addresses"], json!({}));
        assert_eq!(s["os-extended-volumes:volumes_attached"], json!([]));
        assert_eq!(s["security_groups"], json!([{"name": "default"}]));
        assert_eq!(s["hostId"], "664fde454c26dd54ac13e2cb438e7754cf5527fb76cbe1036cb80caa");
        assert_eq!(s["progress"], 0);
        let keys = s.as_object().unwrap();
        for absent in
            ["OS-EXT-SRV-ATTR:host", "locked", "description", "tags", "fault", "adminPass", "host_status"]
        {
            assert!(!keys.contains_key(absent), "{absent} shown at 2.1");
        }
    }

    #[test]
    fn an_admin_sees_host_attributes_by_microversion() {
        let s = render(&instance(), None, (2, 1), true);
        assert_eq!(s["OS-EXT-SRV-ATTR:host"], "host-1");
        assert_eq!(s["OS-EXT-SRV-ATTR:instance_name"], "instance-6f1c9a4e");
        assert!(s.get("OS-EXT-SRV-ATTR:kernel_id").is_none());
        let s = render(&instance(), None, (2, 16), true);
        assert_eq!(s["OS-EXT-SRV-ATTR:kernel_id"], "k-1");
        assert_eq!(s["OS-EXT-SRV-ATTR:ramdisk_id"], "");
        assert_eq!(s["OS-EXT-SRV-ATTR:user_data"], Value::Null);
        assert_eq!(s["OS-EXT-SRV-ATTR:hostname"], "web");
        assert_eq!(s["host_status"], "DOWN");
        let member = render(&instance(), None, (2, 16), false);
        assert!(member.get("OS-EXT-SRV-ATTR:hostname").is_none());
        assert!(render(&instance(), None, (2, 90), false).get("OS-EXT-SRV-ATTR:hostname").is_some());
    }

    #[test]
    fn later_microversions_add_fields_present_even_when_null() {
        let s = render(&instance(), None, (2, 96), false);
        let o = s.as_object().unwrap();
        assert_eq!(s["locked"], false);
        assert_eq!(s["tags"], json!(["blue"]));
        assert_eq!(s["server_groups"], json!([]));
        for null in ["description", "trusted_image_certificates", "locked_reason", "pinned_availability_zone"]
        {
            assert!(o.contains_key(null) && o[null].is_null(), "{null} should be a null");
        }
        assert_eq!(
            s["flavor"],
            json!({"vcpus": 1, "ram": 512, "disk": 1, "ephemeral": 0, "swap": 0, "original_name": "m1.tiny",
                   "extra_specs": {"hw:cpu_policy": "shared"}})
        );
    }

    #[test]
    fn a_fault_is_shown_for_errors_only_and_its_details_to_admins_only() {
        let fault = Fault {
            code: 500,
            message: "No valid host was found.".into(),
            details: None,
            host: None,
            created: Utc::now(),
        };
        let mut i = instance();
        assert!(render(&i, Some(&fault), (2, 1), true).get("fault").is_none());
        i.vm_state = VmState::Error;
        let s = render(&i, Some(&fault), (2, 1), false);
        assert_eq!(s["status"], "ERROR");
        assert_eq!(s["fault"]["message"], "No valid host was found.");
        assert!(s["fault"].get("details").is_none());
        assert!(s.get("progress").is_none());
        assert_eq!(render(&i, Some(&fault), (2, 1), true)["fault"]["details"], "");
    }

    #[test]
    fn no_image_is_an_empty_string() {
        let mut i = instance();
        i.image_ref = None;
        assert_eq!(render(&i, None, (2, 1), false)["image"], "");
    }
}
