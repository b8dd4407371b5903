//! VirtualBox VDI: a little-endian header with the signature `0xbeda107f` at
//! byte 64, the image type at 76 and the disk size at 368.

use std::io::{Read, Seek};

use super::source::{Fields, Source};
use super::{FormatError, FormatInfo, ImageFormat};

const SIGNATURE: u32 = 0xbeda_107f;
const VERSION_1_1: u32 = 0x0001_0001;
const TYPE_NORMAL: u32 = 1;
const TYPE_FIXED: u32 = 2;

pub(crate) fn probe<R: Read + Seek>(src: &mut Source<R>) -> Result<Option<FormatInfo>, FormatError> {
    let head = src.read_at(0, 512)?;
    if head.get(0x40..0x44) != Some(&SIGNATURE.to_le_bytes()[..]) {
        return Ok(None);
    }
    let h = Fields::new(&head, "VDI header");
    let version = h.le_u32(0x44)?;
    let image_type = h.le_u32(0x4c)?;
    let mut info = FormatInfo::new(ImageFormat::Vdi, src.len());
    info.virtual_size = Some(h.le_u64(0x170)?);
    if version != VERSION_1_1 {
        info.unsafe_because(format!("VDI version {}.{} is not supported", version >> 16, version & 0xffff));
    }
    match image_type {
        TYPE_NORMAL | TYPE_FIXED => {}
        3 => info.unsafe_because("VDI undo images are not supported"),
        4 => info.unsafe_because("VDI differencing images (which have a parent disk) are not supported"),
        other => info.unsafe_because(format!("VDI image type {other} is not supported")),
    }
    Ok(Some(info))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    fn header(image_type: u32, size: u64) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        put(&mut b, 0, b"<<< Oracle VM VirtualBox Disk Image >>>\n");
        put(&mut b, 0x40, &SIGNATURE.to_le_bytes());
        put(&mut b, 0x44, &VERSION_1_1.to_le_bytes());
        put(&mut b, 0x4c, &image_type.to_le_bytes());
        put(&mut b, 0x170, &size.to_le_bytes());
        b
    }

    #[test]
    fn sizes_and_types() {
        let info = inspect_ok(&header(TYPE_NORMAL, 1 << 30));
        assert_eq!((info.format, info.virtual_size), (ImageFormat::Vdi, Some(1 << 30)));
        assert!(info.is_safe());
        assert!(inspect_ok(&header(TYPE_FIXED, 1)).is_safe());
        assert!(has_issue(&inspect_ok(&header(4, 1)), "differencing"));
        assert!(has_issue(&inspect_ok(&header(3, 1)), "undo"));
        let mut b = header(TYPE_NORMAL, 1);
        put(&mut b, 0x44, &0u32.to_le_bytes());
        assert!(has_issue(&inspect_ok(&b), "VDI version 0.0"));
    }

    #[test]
    fn truncated_is_corrupt() {
        let b = header(TYPE_NORMAL, 1);
        assert_corrupt(&b[..0x100], "VDI header is truncated");
        for cut in 0..0x180 {
            let _ = inspect_bytes(&b[..cut]);
        }
    }
}
