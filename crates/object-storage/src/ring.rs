//! Where an object's data lives: swift's ring. A name hashes to a partition; the ring maps
//! each partition to the devices that hold its replicas (in distinct zones). This node's ring
//! ([`LocalRing`]) has one device and one replica; a replicated layout across storage nodes
//! implements the same trait, and the service writes to and reads from what it returns.

use std::path::PathBuf;

use md5::{Digest, Md5};

/// A disk that holds partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: u32,
    pub zone: u32,
    /// The device's mount point on its storage node.
    pub root: PathBuf,
}

pub trait ObjectRing: Send + Sync + 'static {
    /// 2^part_power partitions.
    fn part_power(&self) -> u32;
    /// The replicas' devices of a partition, primary first.
    fn devices(&self, partition: u32) -> Vec<&Device>;

    /// The partition of a hashed name: its top `part_power` bits.
    fn partition(&self, hash: &[u8; 16]) -> u32 {
        let top = u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]]);
        match self.part_power() {
            0 => 0,
            p => top >> (32 - p.min(32)),
        }
    }
}

/// The hash of an object's name (`/account/container/object`), as swift's `hash_path`.
pub fn hash_path(account: &str, container: &str, object: &str) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(b"/");
    h.update(account.as_bytes());
    h.update(b"/");
    h.update(container.as_bytes());
    h.update(b"/");
    h.update(object.as_bytes());
    h.finalize().into()
}

/// One node, one device, one replica.
pub struct LocalRing {
    part_power: u32,
    device: Device,
}

impl LocalRing {
    pub fn new(root: PathBuf, part_power: u32) -> LocalRing {
        LocalRing { part_power: part_power.min(24), device: Device { id: 0, zone: 1, root } }
    }
}

impl ObjectRing for LocalRing {
    fn part_power(&self) -> u32 {
        self.part_power
    }

    fn devices(&self, _partition: u32) -> Vec<&Device> {
        vec![&self.device]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_the_top_bits() {
        let ring = LocalRing::new("/tmp".into(), 10);
        let h = hash_path("AUTH_a", "c", "o");
        let p = ring.partition(&h);
        assert!(p < 1024);
        assert_eq!(p, (u32::from_be_bytes([h[0], h[1], h[2], h[3]])) >> 22);
        assert_eq!(ring.devices(p).len(), 1);
        assert_ne!(hash_path("AUTH_a", "c", "o"), hash_path("AUTH_a", "c", "o2"));
    }
}
