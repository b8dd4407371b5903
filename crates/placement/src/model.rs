//! Domain types of placement: providers, inventories, allocations, consumers. No HTTP, no SQL.

use std::collections::BTreeMap;

/// Placement's largest integer (`MAX_INT` of its schema): a 32-bit signed integer.
pub const MAX_INT: i64 = 2_147_483_647;
/// The largest allocation ratio (a single-precision float's maximum, as placement).
pub const MAX_RATIO: f64 = 3.402_823_466e38;
/// The project and user recorded for allocations written before microversion 1.8
/// (placement's `incomplete_consumer_project_id` / `_user_id`).
pub const INCOMPLETE_CONSUMER_ID: &str = "00000000-0000-0000-0000-000000000000";
/// How `GET /usages` names allocations written without a consumer type.
pub const UNKNOWN_CONSUMER_TYPE: &str = "unknown";
/// The trait that makes a provider share its inventory with its aggregates' members.
pub const SHARING_TRAIT: &str = "MISC_SHARES_VIA_AGGREGATE";

#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    pub uuid: String,
    pub name: String,
    pub generation: i64,
    pub parent_uuid: Option<String>,
    pub root_uuid: String,
    pub created_at: String,
    pub updated_at: String,
}

/// One inventory record of a provider, with the sum of its allocations (`used`), kept in the
/// same transaction as the allocations themselves.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    pub resource_class: String,
    pub total: i64,
    pub reserved: i64,
    pub min_unit: i64,
    pub max_unit: i64,
    pub step_size: i64,
    pub allocation_ratio: f64,
    pub used: i64,
}

impl Inventory {
    /// What may be allocated in all: `(total - reserved) * allocation_ratio`, truncated, as
    /// placement reports it.
    pub fn capacity(&self) -> i64 {
        capacity(self.total, self.reserved, self.allocation_ratio)
    }

    /// Whether one allocation of `amount` respects min_unit, max_unit and step_size.
    pub fn fits_constraints(&self, amount: i64) -> bool {
        amount >= self.min_unit
            && amount <= self.max_unit
            && self.step_size > 0
            && amount % self.step_size == 0
    }

    /// Whether `amount` more fits next to what is used (placement compares in floating point).
    pub fn has_room(&self, amount: i64) -> bool {
        ((self.used + amount) as f64) <= ((self.total - self.reserved) as f64) * self.allocation_ratio
    }
}

pub fn capacity(total: i64, reserved: i64, ratio: f64) -> i64 {
    (((total - reserved) as f64) * ratio) as i64
}

/// A consumer's allocations: provider uuid → resource class → amount.
pub type AllocationMap = BTreeMap<String, BTreeMap<String, i64>>;

/// What one consumer's allocations should become (an empty map removes them).
#[derive(Debug, Clone)]
pub struct ConsumerWrite {
    pub consumer: String,
    pub allocations: AllocationMap,
    pub project_id: String,
    pub user_id: String,
    /// From 1.28 the generation the caller last saw (None: it expects a new consumer);
    /// `check_generation` is false for older microversions.
    pub generation: Option<i64>,
    pub check_generation: bool,
    /// From 1.38; None keeps the stored type.
    pub consumer_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Consumer {
    pub uuid: String,
    pub project_id: String,
    pub user_id: String,
    pub consumer_type: Option<String>,
    pub generation: i64,
}

/// `[A-Z0-9_]+`: the shape of resource class and trait names.
pub fn is_rc_or_trait_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// `CUSTOM_[A-Z0-9_]+`, at most 255 characters.
pub fn is_custom_name(s: &str) -> bool {
    s.len() <= 255 && s.strip_prefix("CUSTOM_").is_some_and(is_rc_or_trait_name)
}

/// A UUID in any form placement accepts (with or without dashes), normalized to the dashed,
/// lower-case form.
pub fn normalize_uuid(s: &str) -> Option<String> {
    uuid::Uuid::parse_str(s.trim()).ok().map(|u| u.hyphenated().to_string())
}

/// Placement's looser check for path and query UUIDs (`is_uuid_like`).
pub fn is_uuid_like(s: &str) -> bool {
    normalize_uuid(s).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(total: i64, reserved: i64, ratio: f64, used: i64) -> Inventory {
        Inventory {
            resource_class: "VCPU".into(),
            total,
            reserved,
            min_unit: 1,
            max_unit: total,
            step_size: 2,
            allocation_ratio: ratio,
            used,
        }
    }

    #[test]
    fn capacity_and_room() {
        let i = inv(8, 2, 1.5, 6);
        assert_eq!(i.capacity(), 9);
        assert!(i.has_room(2) && i.has_room(3) && !i.has_room(4));
        assert!(i.fits_constraints(2) && !i.fits_constraints(3) && !i.fits_constraints(10));
    }

    #[test]
    fn names() {
        assert!(is_custom_name("CUSTOM_GOLD_1") && !is_custom_name("CUSTOM_") && !is_custom_name("GOLD"));
        assert!(!is_custom_name("CUSTOM_gold"));
        assert_eq!(
            normalize_uuid("8F2C3E0A5B6D4E7F8A9B0C1D2E3F4A5B").as_deref(),
            Some("8f2c3e0a-5b6d-4e7f-8a9b-0c1d2e3f4a5b")
        );
    }
}
