//! Image domain types and the image status machine. Nothing here knows HTTP or SQL.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// Glance's image statuses and the moves between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageStatus {
    /// Record exists, no data yet.
    Queued,
    /// Data is being uploaded (`PUT …/file`).
    Saving,
    /// Data is being staged for an import (`PUT …/stage`).
    Uploading,
    /// A staged image is being imported.
    Importing,
    Active,
    /// The data was bad; the image can never become active.
    Killed,
    /// Hidden from non-admins until reactivated.
    Deactivated,
}

impl ImageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ImageStatus::Queued => "queued",
            ImageStatus::Saving => "saving",
            ImageStatus::Uploading => "uploading",
            ImageStatus::Importing => "importing",
            ImageStatus::Active => "active",
            ImageStatus::Killed => "killed",
            ImageStatus::Deactivated => "deactivated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => ImageStatus::Queued,
            "saving" => ImageStatus::Saving,
            "uploading" => ImageStatus::Uploading,
            "importing" => ImageStatus::Importing,
            "active" => ImageStatus::Active,
            "killed" => ImageStatus::Killed,
            "deactivated" => ImageStatus::Deactivated,
            _ => return None,
        })
    }

    /// Whether the machine allows `self → to`.
    pub fn can_become(self, to: ImageStatus) -> bool {
        use ImageStatus::*;
        matches!(
            (self, to),
            (Queued, Saving)
                | (Queued, Uploading)
                | (Saving, Active)
                | (Saving, Queued)
                | (Saving, Killed)
                | (Uploading, Queued)
                | (Uploading, Importing)
                | (Importing, Active)
                | (Importing, Queued)
                | (Importing, Killed)
                | (Active, Deactivated)
                | (Deactivated, Active)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Public,
    Private,
    Shared,
    Community,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
            Visibility::Shared => "shared",
            Visibility::Community => "community",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "public" => Visibility::Public,
            "private" => Visibility::Private,
            "shared" => Visibility::Shared,
            "community" => Visibility::Community,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub id: String,
    pub name: Option<String>,
    pub status: ImageStatus,
    pub visibility: Visibility,
    pub protected: bool,
    pub os_hidden: bool,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub min_disk: i64,
    pub min_ram: i64,
    pub size: Option<i64>,
    pub virtual_size: Option<i64>,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    pub owner: Option<String>,
    pub tags: Vec<String>,
    /// Custom properties (`architecture`, `hypervisor_type`, `kernel_id` …).
    pub properties: BTreeMap<String, String>,
    /// The id of the store holding the data (`file`, `swift`); `None` before there is data,
    /// and for images stored before stores were recorded (which are all in `file`).
    pub store: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberStatus {
    Pending,
    Accepted,
    Rejected,
}

impl MemberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Pending => "pending",
            MemberStatus::Accepted => "accepted",
            MemberStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => MemberStatus::Pending,
            "accepted" => MemberStatus::Accepted,
            "rejected" => MemberStatus::Rejected,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub image_id: String,
    pub member_id: String,
    pub status: MemberStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The attributes glance computes or owns: a client may never set them.
pub const READ_ONLY: &[&str] = &[
    "id",
    "status",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "size",
    "virtual_size",
    "created_at",
    "updated_at",
    "self",
    "file",
    "schema",
    "direct_url",
    "locations",
    "stores",
    "location",
    "deleted",
    "deleted_at",
];

/// Core attributes a client may set.
pub const CORE_WRITABLE: &[&str] = &[
    "name",
    "visibility",
    "protected",
    "os_hidden",
    "disk_format",
    "container_format",
    "min_disk",
    "min_ram",
    "tags",
    "owner",
];

#[cfg(test)]
mod tests {
    use super::ImageStatus::*;

    #[test]
    fn upload_path() {
        assert!(Queued.can_become(Saving));
        assert!(Saving.can_become(Active));
        assert!(Saving.can_become(Queued), "an interrupted upload returns to queued");
        assert!(Saving.can_become(Killed), "bad data kills the image");
        assert!(!Killed.can_become(Active));
        assert!(!Active.can_become(Saving), "data is written once");
        assert!(!Queued.can_become(Active));
    }

    #[test]
    fn import_and_deactivation() {
        assert!(
            Queued.can_become(Uploading) && Uploading.can_become(Importing) && Importing.can_become(Active)
        );
        assert!(Active.can_become(Deactivated) && Deactivated.can_become(Active));
        assert!(!Deactivated.can_become(Saving));
        for s in [Queued, Saving, Uploading, Importing, Active, Killed, Deactivated] {
            assert_eq!(super::ImageStatus::parse(s.as_str()), Some(s));
        }
    }
}
