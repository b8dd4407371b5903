//! Microsoft VHDX (MS-VHDX).
//!
//! Little-endian, GUID-keyed. The file starts with `vhdxfile`; the region
//! table at 192 KiB (copy at 256 KiB) points at the metadata region, whose
//! table lists metadata items: the virtual disk size, the file parameters
//! (with the has-parent flag of a differencing disk) and the parent locator
//! naming the parent disk.

use std::io::{Read, Seek};

use super::source::{Fields, Source};
use super::{FormatError, FormatInfo, ImageFormat};

const SIGNATURE: &[u8] = b"vhdxfile";
const REGION_TABLES: [u64; 2] = [192 * 1024, 256 * 1024];
const TABLE_LEN: usize = 64 * 1024;
const MAX_ENTRIES: u32 = 2047;

/// Builds the on-disk (mixed-endian) form of a GUID written as
/// `d1-d2-d3-d4[0..2]-d4[2..8]`.
const fn guid(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> [u8; 16] {
    let a = d1.to_le_bytes();
    let b = d2.to_le_bytes();
    let c = d3.to_le_bytes();
    [a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4], d4[5], d4[6], d4[7]]
}

// 8B7CA206-4790-4B9A-B8FE-575F050F886E
const METADATA_REGION: [u8; 16] =
    guid(0x8B7C_A206, 0x4790, 0x4B9A, [0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E]);
// 2FA54224-CD1B-4876-B211-5DBED83BF4B8
const VIRTUAL_DISK_SIZE: [u8; 16] =
    guid(0x2FA5_4224, 0xCD1B, 0x4876, [0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8]);
// CAA16737-FA36-4D43-B3B6-33F0AA44E76B
const FILE_PARAMETERS: [u8; 16] =
    guid(0xCAA1_6737, 0xFA36, 0x4D43, [0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B]);
// A8D35F2D-B30B-454D-ABF7-D3D84834AB0C
const PARENT_LOCATOR: [u8; 16] =
    guid(0xA8D3_5F2D, 0xB30B, 0x454D, [0xAB, 0xF7, 0xD3, 0xD8, 0x48, 0x34, 0xAB, 0x0C]);

const HAS_PARENT: u32 = 1 << 1;

pub(crate) fn probe<R: Read + Seek>(src: &mut Source<R>) -> Result<Option<FormatInfo>, FormatError> {
    if !src.read_at(0, SIGNATURE.len())?.starts_with(SIGNATURE) {
        return Ok(None);
    }
    let mut info = FormatInfo::new(ImageFormat::Vhdx, src.len());
    let meta_offset = metadata_region(src)?;

    let table = src.read_at(meta_offset, TABLE_LEN)?;
    let t = Fields::new(&table, "VHDX metadata table");
    if t.bytes(0, 8)? != b"metadata" {
        return Err(FormatError::Corrupt(format!(
            "VHDX metadata table signature not found at offset {meta_offset}"
        )));
    }
    let count = u32::from(t.le_u16(10)?);
    if count > MAX_ENTRIES {
        return Err(FormatError::Corrupt(format!(
            "VHDX metadata table has {count} entries (limit {MAX_ENTRIES})"
        )));
    }
    let mut items = Vec::with_capacity(count as usize);
    for i in 0..count as usize {
        let entry = 32 + i * 32;
        items.push((t.bytes(entry, 16)?, t.le_u32(entry + 16)?, t.le_u32(entry + 20)?));
    }
    let mut item =
        |id: &[u8; 16], min_len: u32, max_len: u32, name: &'static str| -> Result<_, FormatError> {
            let Some(&(_, off, len)) = items.iter().find(|(guid, _, _)| guid == id) else { return Ok(None) };
            if len < min_len {
                return Err(FormatError::Corrupt(format!("VHDX {name} metadata item is {len} bytes")));
            }
            let at = meta_offset + u64::from(off);
            src.read_exact_at(at, len.min(max_len) as usize, name).map(Some)
        };

    let Some(size) = item(&VIRTUAL_DISK_SIZE, 8, 8, "VHDX virtual disk size")? else {
        return Err(FormatError::Corrupt("VHDX metadata has no virtual disk size".into()));
    };
    info.virtual_size = Some(Fields::new(&size, "VHDX virtual disk size").le_u64(0)?);

    let has_parent = match item(&FILE_PARAMETERS, 8, 8, "VHDX file parameters")? {
        Some(p) => Fields::new(&p, "VHDX file parameters").le_u32(4)? & HAS_PARENT != 0,
        None => false,
    };
    let locator = item(&PARENT_LOCATOR, 20, 64 * 1024, "VHDX parent locator")?;
    if has_parent || locator.is_some() {
        let parent = locator.as_deref().and_then(parent_path);
        let shown = parent.as_deref().map(|p| format!(" ({p:?})")).unwrap_or_default();
        info.unsafe_because(format!(
            "VHDX image is a differencing disk with a parent disk{shown}; images with backing files are not \
             allowed"
        ));
        info.backing_file = parent;
    }
    Ok(Some(info))
}

/// Finds the metadata region's offset in the first intact region table.
fn metadata_region<R: Read + Seek>(src: &mut Source<R>) -> Result<u64, FormatError> {
    for table_offset in REGION_TABLES {
        let table = src.read_at(table_offset, TABLE_LEN)?;
        if !table.starts_with(b"regi") {
            continue;
        }
        let t = Fields::new(&table, "VHDX region table");
        let count = t.le_u32(8)?;
        if count > MAX_ENTRIES {
            return Err(FormatError::Corrupt(format!(
                "VHDX region table has {count} entries (limit {MAX_ENTRIES})"
            )));
        }
        for i in 0..count as usize {
            let entry = 16 + i * 32;
            if t.bytes(entry, 16)? == METADATA_REGION {
                return t.le_u64(entry + 16);
            }
        }
        return Err(FormatError::Corrupt("VHDX region table has no metadata region".into()));
    }
    Err(FormatError::Corrupt("VHDX region table signature not found".into()))
}

/// The parent's path from a parent locator item: its `relative_path`,
/// `absolute_win32_path` or `volume_path` value (UTF-16LE).
fn parent_path(item: &[u8]) -> Option<String> {
    let f = Fields::new(item, "VHDX parent locator");
    let count = f.le_u16(18).ok()? as usize;
    let text = |off: u32, len: u16| -> Option<String> {
        let units: Vec<u16> = f
            .bytes(off as usize, len as usize)
            .ok()?
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        Some(String::from_utf16_lossy(&units))
    };
    let mut pairs = Vec::new();
    for i in 0..count.min(64) {
        let e = 20 + i * 12;
        let (ko, vo) = (f.le_u32(e).ok()?, f.le_u32(e + 4).ok()?);
        let (kl, vl) = (f.le_u16(e + 8).ok()?, f.le_u16(e + 10).ok()?);
        pairs.push((text(ko, kl)?, text(vo, vl)?));
    }
    ["relative_path", "absolute_win32_path", "volume_path"]
        .iter()
        .find_map(|key| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    const META: usize = 1024 * 1024;

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    /// A minimal VHDX: signature, region table, metadata table with the
    /// virtual disk size and file parameters items.
    fn image(size: u64, flags: u32) -> Vec<u8> {
        let mut b = vec![0u8; META + 128 * 1024];
        put(&mut b, 0, SIGNATURE);
        let rt = REGION_TABLES[0] as usize;
        put(&mut b, rt, b"regi");
        put(&mut b, rt + 8, &2u32.to_le_bytes());
        put(&mut b, rt + 16, &[0x11; 16]); // some other region (the BAT)
        put(&mut b, rt + 48, &METADATA_REGION);
        put(&mut b, rt + 64, &(META as u64).to_le_bytes());
        put(&mut b, rt + 72, &(1024u32 * 1024).to_le_bytes());
        put(&mut b, META, b"metadata");
        put(&mut b, META + 10, &2u16.to_le_bytes());
        put(&mut b, META + 32, &FILE_PARAMETERS);
        put(&mut b, META + 48, &65536u32.to_le_bytes());
        put(&mut b, META + 52, &8u32.to_le_bytes());
        put(&mut b, META + 64, &VIRTUAL_DISK_SIZE);
        put(&mut b, META + 80, &65544u32.to_le_bytes());
        put(&mut b, META + 84, &8u32.to_le_bytes());
        put(&mut b, META + 65536, &(32u32 << 20).to_le_bytes());
        put(&mut b, META + 65540, &flags.to_le_bytes());
        put(&mut b, META + 65544, &size.to_le_bytes());
        b
    }

    #[test]
    fn guid_layout() {
        assert_eq!(METADATA_REGION[..4], [0x06, 0xa2, 0x7c, 0x8b]);
        assert_eq!(METADATA_REGION[8..], [0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E]);
    }

    #[test]
    fn virtual_size_from_metadata() {
        let info = inspect_ok(&image(3 << 30, 0));
        assert_eq!(info.format, ImageFormat::Vhdx);
        assert_eq!(info.virtual_size, Some(3 << 30));
        assert!(info.is_safe(), "{info:?}");
    }

    #[test]
    fn backup_region_table_is_used() {
        let mut b = image(5 << 20, 0);
        let (p, s) = (REGION_TABLES[0] as usize, REGION_TABLES[1] as usize);
        let table = b[p..p + 96].to_vec();
        put(&mut b, s, &table);
        put(&mut b, p, b"XXXX");
        assert_eq!(inspect_ok(&b).virtual_size, Some(5 << 20));
    }

    #[test]
    fn differencing_disk_is_unsafe() {
        let info = inspect_ok(&image(1 << 30, HAS_PARENT));
        assert!(has_issue(&info, "differencing disk"), "{info:?}");
        assert_eq!(info.backing_file, None);

        // With a parent locator the parent's path is reported.
        let mut b = image(1 << 30, HAS_PARENT);
        put(&mut b, META + 10, &3u16.to_le_bytes());
        put(&mut b, META + 96, &PARENT_LOCATOR);
        put(&mut b, META + 112, &70000u32.to_le_bytes());
        put(&mut b, META + 116, &200u32.to_le_bytes());
        let loc = META + 70000;
        put(&mut b, loc + 18, &1u16.to_le_bytes());
        let (key, value) = (utf16("relative_path"), utf16("..\\parent.vhdx"));
        put(&mut b, loc + 20, &100u32.to_le_bytes());
        put(&mut b, loc + 24, &140u32.to_le_bytes());
        put(&mut b, loc + 28, &(key.len() as u16).to_le_bytes());
        put(&mut b, loc + 30, &(value.len() as u16).to_le_bytes());
        put(&mut b, loc + 100, &key);
        put(&mut b, loc + 140, &value);
        let info = inspect_ok(&b);
        assert_eq!(info.backing_file.as_deref(), Some("..\\parent.vhdx"));
        assert!(has_issue(&info, "parent disk (\"..\\\\parent.vhdx\")"), "{info:?}");
    }

    #[test]
    fn corrupt_structures() {
        let good = image(1 << 30, 0);
        assert_corrupt(&good[..4096], "region table signature not found");

        let mut b = good.clone();
        put(&mut b, REGION_TABLES[0] as usize + 8, &5000u32.to_le_bytes());
        assert_corrupt(&b, "region table has 5000 entries");

        let mut b = good.clone();
        put(&mut b, REGION_TABLES[0] as usize + 48, &[0; 16]);
        assert_corrupt(&b, "no metadata region");

        let mut b = good.clone();
        put(&mut b, REGION_TABLES[0] as usize + 64, &u64::MAX.to_le_bytes());
        assert_corrupt(&b, "metadata table is truncated");

        let mut b = good.clone();
        put(&mut b, META, b"garbage!");
        assert_corrupt(&b, "metadata table signature");

        let mut b = good.clone();
        put(&mut b, META + 10, &4000u16.to_le_bytes());
        assert_corrupt(&b, "4000 entries");

        let mut b = good.clone();
        put(&mut b, META + 64, &[0; 16]);
        assert_corrupt(&b, "no virtual disk size");

        let mut b = good.clone();
        put(&mut b, META + 80, &u32::MAX.to_le_bytes());
        assert_corrupt(&b, "virtual disk size is truncated");

        let mut b = good.clone();
        put(&mut b, META + 84, &4u32.to_le_bytes());
        assert_corrupt(&b, "virtual disk size metadata item is 4 bytes");

        assert_corrupt(&good[..META + 100], "VHDX virtual disk size is truncated");
    }

    #[test]
    fn reads_stay_small() {
        let (res, read) = inspect_bytes(&image(1 << 30, 0));
        assert!(res.is_ok());
        assert!(read < 512 * 1024, "read {read} bytes");
    }
}
