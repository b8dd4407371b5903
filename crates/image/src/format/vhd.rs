//! Microsoft VHD (QEMU's `vpc`).
//!
//! A 512-byte big-endian footer (`conectix`) ends every VHD; dynamic and
//! differencing disks also keep a copy at offset 0, fixed disks have it only
//! at the end. A differencing disk names a parent (backing) disk.

use std::io::{Read, Seek};

use super::source::{Fields, Source};
use super::{FormatError, FormatInfo, ImageFormat};

const COOKIE: &[u8] = b"conectix";
const FOOTER_LEN: u64 = 512;

const DISK_FIXED: u32 = 2;
const DISK_DYNAMIC: u32 = 3;
const DISK_DIFFERENCING: u32 = 4;

/// CHS geometry QEMU treats as "too big to trust" (65535 cylinders, 16 heads, 255 sectors).
const MAX_CHS_SECTORS: u64 = 65535 * 16 * 255;

pub(crate) fn probe<R: Read + Seek>(src: &mut Source<R>) -> Result<Option<FormatInfo>, FormatError> {
    let mut footer = src.read_at(0, FOOTER_LEN as usize)?;
    if !footer.starts_with(COOKIE) {
        let Some(end) = src.len().checked_sub(FOOTER_LEN) else { return Ok(None) };
        footer = src.read_at(end, FOOTER_LEN as usize)?;
        if !footer.starts_with(COOKIE) {
            return Ok(None);
        }
    }
    let f = Fields::new(&footer, "VHD footer");
    let data_offset = f.be_u64(16)?;
    let creator = f.bytes(28, 4)?;
    let current_size = f.be_u64(48)?;
    let chs_sectors = u64::from(f.be_u16(56)?) * u64::from(f.u8(58)?) * u64::from(f.u8(59)?);
    let disk_type = f.be_u32(60)?;

    let mut info = FormatInfo::new(ImageFormat::Vhd, src.len());
    // Like QEMU: Virtual PC and old QEMU size the disk by its CHS geometry
    // (unless it is the maximum one); everyone else by `current_size`.
    let by_chs = (creator == b"vpc " || creator == b"qemu") && chs_sectors != MAX_CHS_SECTORS;
    info.virtual_size = Some(if by_chs { chs_sectors * 512 } else { current_size / 512 * 512 });

    match disk_type {
        DISK_FIXED | DISK_DYNAMIC => {}
        DISK_DIFFERENCING => {
            let parent = parent_name(src, data_offset)?;
            let shown = parent.as_deref().map(|p| format!(" ({p:?})")).unwrap_or_default();
            info.unsafe_because(format!(
                "VHD image is a differencing disk with a parent disk{shown}; images with backing files are \
                 not allowed"
            ));
            info.backing_file = parent;
        }
        other => info.unsafe_because(format!("VHD disk type {other} is not supported")),
    }
    Ok(Some(info))
}

/// The parent's name from a differencing disk's dynamic header (UTF-16BE at
/// byte 64), if the header is where the footer says.
fn parent_name<R: Read + Seek>(src: &mut Source<R>, offset: u64) -> Result<Option<String>, FormatError> {
    let header = src.read_at(offset, 1024)?;
    if header.len() < 576 || !header.starts_with(b"cxsparse") {
        return Ok(None);
    }
    let units: Vec<u16> = header[64..576]
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .take_while(|u| *u != 0)
        .collect();
    let name = String::from_utf16_lossy(&units);
    Ok((!name.is_empty()).then_some(name))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    fn footer(creator: &[u8; 4], disk_type: u32, current: u64, chs: (u16, u8, u8)) -> Vec<u8> {
        let mut f = vec![0u8; 512];
        put(&mut f, 0, COOKIE);
        put(&mut f, 16, &512u64.to_be_bytes());
        put(&mut f, 28, creator);
        put(&mut f, 40, &current.to_be_bytes());
        put(&mut f, 48, &current.to_be_bytes());
        put(&mut f, 56, &chs.0.to_be_bytes());
        f[58] = chs.1;
        f[59] = chs.2;
        put(&mut f, 60, &disk_type.to_be_bytes());
        f
    }

    #[test]
    fn dynamic_footer_at_start_sized_by_chs_for_qemu() {
        let mut b = footer(b"qemu", DISK_DYNAMIC, 1 << 30, (2081, 16, 63));
        b.resize(4096, 0);
        let info = inspect_ok(&b);
        assert_eq!(info.format, ImageFormat::Vhd);
        assert_eq!(info.virtual_size, Some(2081 * 16 * 63 * 512));
        assert!(info.is_safe());
    }

    #[test]
    fn fixed_footer_at_end_sized_by_current_size() {
        let mut b = vec![0u8; 8192];
        b.extend(footer(b"win ", DISK_FIXED, 8192 + 100, (1, 1, 1)));
        let info = inspect_ok(&b);
        assert_eq!(info.virtual_size, Some(8192));
        assert!(info.is_safe());
        // Maximum geometry: QEMU trusts current_size even for its own images.
        let mut b = vec![0u8; 512];
        b.extend(footer(b"qemu", DISK_FIXED, 1 << 40, (65535, 16, 255)));
        assert_eq!(inspect_ok(&b).virtual_size, Some(1 << 40));
    }

    #[test]
    fn differencing_and_unknown_types_are_unsafe() {
        let mut b = footer(b"win ", DISK_DIFFERENCING, 1 << 20, (1, 1, 1));
        b.resize(2048, 0);
        put(&mut b, 512, b"cxsparse");
        let name: Vec<u8> = "..\\base.vhd".encode_utf16().flat_map(u16::to_be_bytes).collect();
        put(&mut b, 512 + 64, &name);
        let info = inspect_ok(&b);
        assert_eq!(info.backing_file.as_deref(), Some("..\\base.vhd"));
        assert!(has_issue(&info, "differencing disk"));

        // Without a readable dynamic header it is still refused.
        let b = footer(b"win ", DISK_DIFFERENCING, 1 << 20, (1, 1, 1));
        let info = inspect_ok(&b);
        assert_eq!(info.backing_file, None);
        assert!(has_issue(&info, "differencing disk"));

        let b = footer(b"win ", 5, 1 << 20, (1, 1, 1));
        assert!(has_issue(&inspect_ok(&b), "disk type 5"));
    }

    #[test]
    fn truncated_footer_is_corrupt() {
        let b = footer(b"qemu", DISK_DYNAMIC, 1 << 20, (1, 1, 1));
        assert_corrupt(&b[..40], "VHD footer is truncated");
        for cut in 0..512 {
            let _ = inspect_bytes(&b[..cut]);
        }
    }
}
