//! QEMU copy-on-write v2/v3 (docs/interop/qcow2.txt in QEMU).
//!
//! The big-endian header starts with the magic `QFI\xfb`, the version, the
//! backing file's offset and length, the cluster size (as a bit count) and the
//! virtual size at byte 24. Version 3 adds feature bitmaps at byte 72 and the
//! header length at byte 100; header extensions follow the header inside the
//! first cluster. The dangerous parts are the backing file and the external
//! data file (incompatible feature bit 2 plus the `DATA` header extension that
//! names it): both make qemu open a second file named by the image.

use std::io::{Read, Seek};

use super::source::{printable, Fields, Source};
use super::{FormatError, FormatInfo, ImageFormat};

const MAGIC: &[u8] = b"QFI\xfb";

const V2_HEADER_LEN: u32 = 72;
const V3_MIN_HEADER_LEN: u32 = 104;

/// Incompatible feature bits QEMU knows today: dirty, corrupt, external
/// data file, compression type, extended L2 entries.
const INCOMPAT_DATA_FILE: u64 = 1 << 2;
const INCOMPAT_KNOWN: u64 = 0b1_1111;

const EXT_END: u32 = 0;
const EXT_DATA_FILE: u32 = 0x4441_5441; // "DATA"

/// QEMU refuses longer backing file names.
const MAX_BACKING_NAME: u32 = 1023;

pub(crate) fn probe<R: Read + Seek>(src: &mut Source<R>) -> Result<Option<FormatInfo>, FormatError> {
    let head = src.read_at(0, 512)?;
    if !head.starts_with(MAGIC) {
        return Ok(None);
    }
    let h = Fields::new(&head, "qcow2 header");
    let mut info = FormatInfo::new(ImageFormat::Qcow2, src.len());

    // These fields sit at the same place in versions 1 to 3.
    let version = h.be_u32(4)?;
    let backing_offset = h.be_u64(8)?;
    let backing_len = h.be_u32(16)?;
    info.virtual_size = Some(h.be_u64(24)?);

    if version != 2 && version != 3 {
        info.unsafe_because(format!("qcow2 version {version} is not supported (only versions 2 and 3 are)"));
        if backing_offset != 0 {
            info.unsafe_because("qcow2 image has a backing file; images with backing files are not allowed");
        }
        return Ok(Some(info));
    }

    let cluster_bits = h.be_u32(20)?;
    if !(9..=21).contains(&cluster_bits) {
        return Err(FormatError::Corrupt(format!("qcow2 cluster_bits is {cluster_bits}, outside 9 to 21")));
    }
    let cluster_size: u32 = 1 << cluster_bits;

    let (incompatible, header_len) = if version == 3 {
        let incompatible = h.be_u64(72)?;
        let header_len = h.be_u32(100)?;
        if header_len < V3_MIN_HEADER_LEN || header_len > cluster_size {
            return Err(FormatError::Corrupt(format!(
                "qcow2 header length {header_len} is outside {V3_MIN_HEADER_LEN} to the cluster size {cluster_size}"
            )));
        }
        (incompatible, header_len)
    } else {
        (0, V2_HEADER_LEN)
    };

    // Header extensions run from the end of the header up to the backing
    // file name (or the end of the first cluster), as QEMU reads them.
    let ext_end = if backing_offset != 0 && backing_offset < u64::from(cluster_size) {
        backing_offset as u32
    } else {
        cluster_size
    };
    let data_file_name = if ext_end > header_len {
        let region = src.read_at(u64::from(header_len), (ext_end - header_len) as usize)?;
        data_file_extension(&region)?
    } else {
        None
    };

    if backing_offset != 0 {
        let name = if backing_len > MAX_BACKING_NAME {
            format!("<{backing_len}-byte name>")
        } else {
            printable(&src.read_at(backing_offset, backing_len as usize)?)
        };
        info.unsafe_because(format!(
            "qcow2 image has a backing file ({name:?}); images with backing files are not allowed"
        ));
        info.backing_file = Some(name);
    }

    if incompatible & INCOMPAT_DATA_FILE != 0 || data_file_name.is_some() {
        let shown = data_file_name.as_deref().map(|n| format!(" ({n:?})")).unwrap_or_default();
        info.unsafe_because(format!(
            "qcow2 image uses an external data file{shown}; images with external data files are not allowed"
        ));
        info.data_file = data_file_name;
    }

    let unknown = incompatible & !INCOMPAT_KNOWN;
    if unknown != 0 {
        info.unsafe_because(format!("qcow2 image uses unknown incompatible features (bits {unknown:#x})"));
    }
    Ok(Some(info))
}

/// Walks the header extensions in `region` (which starts right after the
/// header) and returns the external data file name, if one is given.
fn data_file_extension(region: &[u8]) -> Result<Option<String>, FormatError> {
    let f = Fields::new(region, "qcow2 header extension area");
    let mut off = 0usize;
    let mut data_file = None;
    // Bytes past the end of a short file read as zeros in QEMU, which is the
    // end-of-extensions marker; stop the same way.
    while off + 8 <= region.len() {
        let kind = f.be_u32(off)?;
        let len = f.be_u32(off + 4)? as usize;
        off += 8;
        if kind == EXT_END {
            break;
        }
        if len > region.len() - off {
            return Err(FormatError::Corrupt(format!(
                "qcow2 header extension {kind:#010x} ({len} bytes) runs past the first cluster"
            )));
        }
        if kind == EXT_DATA_FILE {
            data_file = Some(printable(f.bytes(off, len)?));
        }
        off += len.div_ceil(8) * 8;
    }
    Ok(data_file)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    /// A version-3 header in a 64 KiB first cluster, with room after it.
    fn header(version: u32, size: u64) -> Vec<u8> {
        let mut b = vec![0u8; 70_000];
        put(&mut b, 0, MAGIC);
        put(&mut b, 4, &version.to_be_bytes());
        put(&mut b, 20, &16u32.to_be_bytes());
        put(&mut b, 24, &size.to_be_bytes());
        put(&mut b, 96, &4u32.to_be_bytes());
        put(&mut b, 100, &112u32.to_be_bytes());
        b
    }

    fn extension(b: &mut [u8], off: usize, kind: u32, data: &[u8]) -> usize {
        put(b, off, &kind.to_be_bytes());
        put(b, off + 4, &(data.len() as u32).to_be_bytes());
        put(b, off + 8, data);
        off + 8 + data.len().div_ceil(8) * 8
    }

    #[test]
    fn plain_v3_and_v2() {
        let info = inspect_ok(&header(3, 1 << 30));
        assert_eq!(info.format, ImageFormat::Qcow2);
        assert_eq!(info.virtual_size, Some(1 << 30));
        assert!(info.is_safe(), "{info:?}");
        assert_eq!(info.actual_size, 70_000);

        // Version 2 has no feature fields: its header extensions start at 72.
        let mut v2 = header(2, 12345 * 512);
        extension(&mut v2, 72, 0x1234_5678, &[0xff; 12]);
        let info = inspect_ok(&v2);
        assert_eq!(info.virtual_size, Some(12345 * 512));
        assert!(info.is_safe(), "{info:?}");
    }

    #[test]
    fn backing_file_is_unsafe() {
        let mut b = header(3, 1 << 20);
        put(&mut b, 8, &512u64.to_be_bytes());
        put(&mut b, 16, &11u32.to_be_bytes());
        put(&mut b, 512, b"/etc/passwd");
        let info = inspect_ok(&b);
        assert_eq!(info.backing_file.as_deref(), Some("/etc/passwd"));
        assert!(has_issue(&info, "backing file (\"/etc/passwd\")"), "{info:?}");
    }

    #[test]
    fn data_file_bit_and_extension_are_unsafe() {
        let mut b = header(3, 1 << 20);
        put(&mut b, 72, &INCOMPAT_DATA_FILE.to_be_bytes());
        let info = inspect_ok(&b);
        assert!(has_issue(&info, "external data file"), "{info:?}");
        assert_eq!(info.data_file, None);

        // The extension alone (bit clear) is refused too, and names the file.
        let mut b = header(3, 1 << 20);
        let next = extension(&mut b, 112, 0xe279_2aca, b"raw");
        extension(&mut b, next, EXT_DATA_FILE, b"/dev/sda");
        let info = inspect_ok(&b);
        assert_eq!(info.data_file.as_deref(), Some("/dev/sda"));
        assert!(has_issue(&info, "external data file (\"/dev/sda\")"), "{info:?}");
    }

    #[test]
    fn unknown_incompatible_feature_is_unsafe_known_ones_are_not() {
        let mut b = header(3, 1 << 20);
        put(&mut b, 72, &0b1_1011u64.to_be_bytes()); // dirty, corrupt, compression, extended L2
        assert!(inspect_ok(&b).is_safe());
        put(&mut b, 72, &(1u64 << 5).to_be_bytes());
        assert!(has_issue(&inspect_ok(&b), "unknown incompatible features (bits 0x20)"));
        put(&mut b, 72, &(1u64 << 63).to_be_bytes());
        assert!(has_issue(&inspect_ok(&b), "unknown incompatible features"));
    }

    #[test]
    fn unsupported_version_is_unsafe() {
        let mut b = header(1, 1 << 20);
        put(&mut b, 8, &512u64.to_be_bytes());
        let info = inspect_ok(&b);
        assert!(has_issue(&info, "version 1 is not supported"));
        assert!(has_issue(&info, "backing file"));
        assert!(has_issue(&inspect_ok(&header(4, 1)), "version 4"));
    }

    #[test]
    fn corrupt_headers() {
        let b = header(3, 1 << 20);
        assert_corrupt(&b[..30], "qcow2 header is truncated");
        assert_corrupt(&b[..90], "qcow2 header is truncated");
        let mut bad = b.clone();
        put(&mut bad, 20, &40u32.to_be_bytes());
        assert_corrupt(&bad, "cluster_bits is 40");
        let mut bad = b.clone();
        put(&mut bad, 100, &8u32.to_be_bytes());
        assert_corrupt(&bad, "header length 8");
        let mut bad = b.clone();
        put(&mut bad, 112, &7u32.to_be_bytes());
        put(&mut bad, 116, &u32::MAX.to_be_bytes());
        assert_corrupt(&bad, "runs past the first cluster");
        // Every prefix of a valid header either parses or is Corrupt.
        for cut in 0..200 {
            let _ = inspect_bytes(&b[..cut]);
        }
    }
}
