//! Formats Glance has no `disk_format` for but must still recognise: QED
//! (always refused, as in oslo.utils) and LUKS (an encrypted volume, accepted
//! as raw content).

use std::io::{Read, Seek};

use super::source::{printable, Fields, Source};
use super::{FormatError, FormatInfo, ImageFormat};

const QED_MAGIC: &[u8] = b"QED\0";
const QED_HAS_BACKING: u64 = 1;

const LUKS_MAGIC: &[u8] = b"LUKS\xba\xbe";

/// QEMU Enhanced Disk: little-endian header, image size at byte 48, backing
/// file name offset/length at 56/60 when feature bit 0 is set.
pub(crate) fn probe_qed<R: Read + Seek>(src: &mut Source<R>) -> Result<Option<FormatInfo>, FormatError> {
    let head = src.read_at(0, 512)?;
    if !head.starts_with(QED_MAGIC) {
        return Ok(None);
    }
    let h = Fields::new(&head, "QED header");
    let mut info = FormatInfo::new(ImageFormat::Qed, src.len());
    info.virtual_size = Some(h.le_u64(48)?);
    info.unsafe_because("QED images are not supported");
    if h.le_u64(16)? & QED_HAS_BACKING != 0 {
        let (offset, len) = (h.le_u32(56)?, h.le_u32(60)?);
        let name = printable(&src.read_at(u64::from(offset), len.min(1023) as usize)?);
        info.unsafe_because(format!("QED image has a backing file ({name:?})"));
        info.backing_file = Some(name);
    }
    Ok(Some(info))
}

/// LUKS: big-endian header, version at byte 6; in version 1 the payload
/// starts at the sector given at byte 104.
pub(crate) fn probe_luks<R: Read + Seek>(src: &mut Source<R>) -> Result<Option<FormatInfo>, FormatError> {
    let head = src.read_at(0, 512)?;
    if !head.starts_with(LUKS_MAGIC) {
        return Ok(None);
    }
    let h = Fields::new(&head, "LUKS header");
    let mut info = FormatInfo::new(ImageFormat::Luks, src.len());
    match h.be_u16(6)? {
        1 => {
            let payload = u64::from(h.be_u32(104)?) * 512;
            info.virtual_size = Some(src.len().saturating_sub(payload));
        }
        v => info.unsafe_because(format!("LUKS version {v} is not supported")),
    }
    Ok(Some(info))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn qed_is_refused() {
        let mut b = vec![0u8; 1024];
        put(&mut b, 0, QED_MAGIC);
        put(&mut b, 48, &(1u64 << 30).to_le_bytes());
        let info = inspect_ok(&b);
        assert_eq!((info.format, info.virtual_size), (ImageFormat::Qed, Some(1 << 30)));
        assert!(has_issue(&info, "QED images are not supported"));

        put(&mut b, 16, &QED_HAS_BACKING.to_le_bytes());
        put(&mut b, 56, &600u32.to_le_bytes());
        put(&mut b, 60, &4u32.to_le_bytes());
        put(&mut b, 600, b"base");
        assert_eq!(inspect_ok(&b).backing_file.as_deref(), Some("base"));
        assert_corrupt(&b[..50], "QED header is truncated");
    }

    #[test]
    fn luks_versions() {
        let mut b = vec![0u8; 8192];
        put(&mut b, 0, LUKS_MAGIC);
        put(&mut b, 6, &1u16.to_be_bytes());
        put(&mut b, 104, &4u32.to_be_bytes());
        let info = inspect_ok(&b);
        assert_eq!((info.format, info.virtual_size), (ImageFormat::Luks, Some(8192 - 2048)));
        assert!(info.is_safe());
        put(&mut b, 6, &2u16.to_be_bytes());
        assert!(has_issue(&inspect_ok(&b), "LUKS version 2"));
        assert_corrupt(&b[..7], "LUKS header is truncated");
    }
}
