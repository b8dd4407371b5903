//! ISO 9660 and UDF optical disc images.
//!
//! The first 16 sectors (32 KiB) are a system area; the volume descriptor set
//! follows, one 2048-byte descriptor per sector: `CD001` descriptors for
//! ISO 9660 (type 1 is the primary volume descriptor, 255 ends the set) and
//! `BEA01`/`NSR02`/`NSR03`/`TEA01` for UDF. The primary volume descriptor's
//! volume space size (blocks, both-endian at byte 80) times its logical block
//! size (both-endian at byte 128) is the volume size.

use std::io::{Read, Seek};

use super::source::{Fields, Source};
use super::{FormatError, FormatInfo, ImageFormat};

const SET_START: u64 = 32 * 1024;
const DESCRIPTOR_LEN: usize = 2048;
/// Descriptors scanned for the primary one.
const MAX_DESCRIPTORS: usize = 16;

const ISO9660_ID: &[u8] = b"CD001";
const UDF_IDS: &[&[u8]] = &[b"BEA01", b"NSR02", b"NSR03"];
const TYPE_PRIMARY: u8 = 1;
const TYPE_TERMINATOR: u8 = 255;

pub(crate) fn probe<R: Read + Seek>(src: &mut Source<R>) -> Result<Option<FormatInfo>, FormatError> {
    let set = src.read_at(SET_START, DESCRIPTOR_LEN * MAX_DESCRIPTORS)?;
    let Some(first) = set.get(1..6) else { return Ok(None) };
    if first != ISO9660_ID && !UDF_IDS.contains(&first) {
        return Ok(None);
    }
    if set.len() < DESCRIPTOR_LEN {
        return Err(FormatError::Corrupt(format!(
            "ISO volume descriptor is truncated: the image ends {} bytes into it",
            set.len()
        )));
    }
    let mut info = FormatInfo::new(ImageFormat::Iso, src.len());
    for desc in set.chunks_exact(DESCRIPTOR_LEN) {
        if &desc[1..6] != ISO9660_ID {
            continue;
        }
        match desc[0] {
            TYPE_PRIMARY => {
                info.virtual_size = Some(volume_size(desc)?);
                break;
            }
            TYPE_TERMINATOR => break,
            _ => {}
        }
    }
    // A UDF-only disc has no primary volume descriptor: use the file size,
    // as QEMU (which sees an ISO as raw) does.
    if info.virtual_size.is_none() {
        info.virtual_size = Some(src.len());
    }
    Ok(Some(info))
}

fn volume_size(pvd: &[u8]) -> Result<u64, FormatError> {
    let f = Fields::new(pvd, "ISO 9660 primary volume descriptor");
    let (blocks_le, blocks_be) = (f.le_u32(80)?, f.be_u32(84)?);
    let (block_le, block_be) = (f.le_u16(128)?, f.be_u16(130)?);
    if blocks_le != blocks_be || block_le != block_be {
        return Err(FormatError::Corrupt(format!(
            "ISO 9660 primary volume descriptor disagrees with itself: volume space size {blocks_le} vs \
             {blocks_be}, logical block size {block_le} vs {block_be}"
        )));
    }
    if !matches!(block_le, 512 | 1024 | 2048) {
        return Err(FormatError::Corrupt(format!("ISO 9660 logical block size {block_le} is invalid")));
    }
    Ok(u64::from(blocks_le) * u64::from(block_le))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    /// A primary volume descriptor and a terminator at 32 KiB.
    fn iso(blocks: u32, block_size: u16) -> Vec<u8> {
        let mut b = vec![0u8; 40 * 1024];
        let p = SET_START as usize;
        b[p] = TYPE_PRIMARY;
        put(&mut b, p + 1, b"CD001\x01");
        put(&mut b, p + 80, &blocks.to_le_bytes());
        put(&mut b, p + 84, &blocks.to_be_bytes());
        put(&mut b, p + 128, &block_size.to_le_bytes());
        put(&mut b, p + 130, &block_size.to_be_bytes());
        b[p + 2048] = TYPE_TERMINATOR;
        put(&mut b, p + 2049, b"CD001\x01");
        b
    }

    #[test]
    fn primary_volume_descriptor() {
        let info = inspect_ok(&iso(1000, 2048));
        assert_eq!(info.format, ImageFormat::Iso);
        assert_eq!(info.virtual_size, Some(2048 * 1000));
        assert!(info.is_safe());
    }

    #[test]
    fn boot_record_before_primary() {
        let mut b = iso(10, 2048);
        let p = SET_START as usize;
        let pvd = b[p..p + 2048].to_vec();
        b.resize(48 * 1024, 0);
        put(&mut b, p + 2048, &pvd);
        b[p] = 0; // boot record first
        put(&mut b, p + 4096, &[TYPE_TERMINATOR]);
        put(&mut b, p + 4097, b"CD001\x01");
        assert_eq!(inspect_ok(&b).virtual_size, Some(20480));
    }

    #[test]
    fn udf_only_uses_file_size() {
        let mut b = vec![0u8; 40 * 1024];
        put(&mut b, SET_START as usize + 1, b"BEA01");
        put(&mut b, SET_START as usize + 2049, b"NSR03");
        let info = inspect_ok(&b);
        assert_eq!((info.format, info.virtual_size), (ImageFormat::Iso, Some(40 * 1024)));
    }

    #[test]
    fn inconsistent_descriptor_is_corrupt() {
        let mut b = iso(1000, 2048);
        put(&mut b, SET_START as usize + 84, &999u32.to_be_bytes());
        assert_corrupt(&b, "disagrees with itself");
        assert_corrupt(&iso(1000, 3000), "logical block size 3000");
        // Cut inside the descriptor: still detected, but can't be sized.
        assert_corrupt(&iso(1000, 2048)[..32 * 1024 + 100], "ISO volume descriptor is truncated");
    }

    #[test]
    fn no_signature_is_raw() {
        assert_eq!(inspect_ok(&vec![0u8; 40 * 1024]).format, ImageFormat::Raw);
        assert_eq!(inspect_ok(&iso(1, 2048)[..32 * 1024 + 3]).format, ImageFormat::Raw);
    }
}
