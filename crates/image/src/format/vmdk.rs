//! VMware VMDK: hosted sparse extents (`KDMV`), ESX sparse (`COWD`) and
//! text descriptor files.
//!
//! A VMDK is described by a text *descriptor* listing its extents, the files
//! holding the data. In the single-file variants (`monolithicSparse` and
//! `streamOptimized`) the descriptor is embedded in the sparse extent, right
//! after its 512-byte little-endian header, and names the file itself. Every
//! other `createType` (monolithicFlat, twoGbMaxExtent*, vmfs*, …) keeps the
//! data in other files the descriptor names, which on a hypervisor host means
//! *host* files: those are refused, as is a `parentFileNameHint` (a backing
//! file) and any descriptor line we do not understand.

use std::io::{Read, Seek};

use super::source::{printable, Fields, Source};
use super::{FormatError, FormatInfo, ImageFormat};

const SPARSE_MAGIC: &[u8] = b"KDMV";
const COWD_MAGIC: &[u8] = b"COWD";
const SECTOR: u64 = 512;
/// QEMU will not read a larger descriptor.
const DESC_MAX: u64 = 1 << 20;
/// `gdOffset` value meaning "the real header is in the footer".
const GD_AT_END: u64 = u64::MAX;
const MARKER_EOS: u32 = 0;
const MARKER_FOOTER: u32 = 3;

const ALLOWED_CREATE_TYPES: &[&str] = &["monolithicsparse", "streamoptimized"];
const EXTENT_ACCESS: &[&str] = &["rw", "rdonly", "noaccess"];

pub(crate) fn probe<R: Read + Seek>(src: &mut Source<R>) -> Result<Option<FormatInfo>, FormatError> {
    let head = src.read_at(0, 512)?;
    if head.starts_with(SPARSE_MAGIC) {
        sparse(src, &head).map(Some)
    } else if head.starts_with(COWD_MAGIC) {
        let h = Fields::new(&head, "VMDK COWD header");
        let mut info = FormatInfo::new(ImageFormat::Vmdk, src.len());
        info.virtual_size = Some(u64::from(h.le_u32(12)?) * SECTOR);
        info.unsafe_because("VMDK ESX sparse (COWD) extents are not supported");
        Ok(Some(info))
    } else if looks_like_descriptor(&head) {
        text_descriptor(src).map(Some)
    } else {
        Ok(None)
    }
}

struct SparseHeader {
    version: u32,
    capacity: u64,
    desc_offset: u64,
    desc_size: u64,
    gd_offset: u64,
}

fn parse_sparse_header(buf: &[u8], name: &'static str) -> Result<SparseHeader, FormatError> {
    let h = Fields::new(buf, name);
    Ok(SparseHeader {
        version: h.le_u32(4)?,
        capacity: h.le_u64(12)?,
        desc_offset: h.le_u64(28)?,
        desc_size: h.le_u64(36)?,
        gd_offset: h.le_u64(56)?,
    })
}

fn sparse<R: Read + Seek>(src: &mut Source<R>, head: &[u8]) -> Result<FormatInfo, FormatError> {
    let header = parse_sparse_header(head, "VMDK sparse header")?;
    let mut info = FormatInfo::new(ImageFormat::Vmdk, src.len());
    let mut capacity = header.capacity;

    if !(1..=3).contains(&header.version) {
        info.virtual_size = capacity.checked_mul(SECTOR);
        info.unsafe_because(format!("VMDK sparse extent version {} is not supported", header.version));
        return Ok(info);
    }

    if header.gd_offset == GD_AT_END {
        // Stream-optimized images written in one pass keep the authoritative
        // header in a footer: marker, footer header, end-of-stream marker.
        if let Some(footer_capacity) = check_footer(src, &header, &mut info)? {
            capacity = footer_capacity;
        }
    }
    info.virtual_size = Some(
        capacity
            .checked_mul(SECTOR)
            .ok_or_else(|| FormatError::Corrupt(format!("VMDK capacity of {capacity} sectors overflows")))?,
    );

    if header.desc_offset == 0 && header.desc_size == 0 {
        info.unsafe_because("VMDK sparse extent has no embedded descriptor");
        return Ok(info);
    }
    if header.desc_offset != 1 {
        info.unsafe_because(format!(
            "VMDK descriptor is at sector {}, not right after the header",
            header.desc_offset
        ));
    }
    let desc_offset = header.desc_offset.checked_mul(SECTOR);
    let desc_len = header.desc_size.checked_mul(SECTOR);
    let (Some(desc_offset), Some(desc_len)) = (desc_offset, desc_len) else {
        return Err(FormatError::Corrupt("VMDK descriptor location overflows".into()));
    };
    if desc_len > DESC_MAX {
        info.unsafe_because(format!(
            "VMDK descriptor is too large ({desc_len} bytes; the limit is {DESC_MAX})"
        ));
        return Ok(info);
    }
    let desc = src.read_exact_at(desc_offset, desc_len as usize, "VMDK embedded descriptor")?;
    check_descriptor(&parse_descriptor(&desc), &mut info);
    Ok(info)
}

/// Validates the stream-optimized footer; returns its capacity when the
/// footer is sound.
fn check_footer<R: Read + Seek>(
    src: &mut Source<R>,
    header: &SparseHeader,
    info: &mut FormatInfo,
) -> Result<Option<u64>, FormatError> {
    let Some(start) = src.len().checked_sub(3 * SECTOR).filter(|s| *s >= SECTOR) else {
        return Err(FormatError::Corrupt("VMDK footer is missing: the image is too short".into()));
    };
    let tail = src.read_exact_at(start, 3 * SECTOR as usize, "VMDK footer")?;
    let (marker, rest) = tail.split_at(SECTOR as usize);
    let (footer, eos) = rest.split_at(SECTOR as usize);

    let mut sound = true;
    let m = Fields::new(marker, "VMDK footer marker");
    if m.le_u32(8)? != 0 || m.le_u32(12)? != MARKER_FOOTER || marker[16..].iter().any(|b| *b != 0) {
        info.unsafe_because("VMDK footer marker is invalid");
        sound = false;
    }
    if Fields::new(eos, "VMDK end-of-stream marker").le_u32(12)? != MARKER_EOS || eos.iter().any(|b| *b != 0)
    {
        info.unsafe_because("VMDK end-of-stream marker is invalid");
        sound = false;
    }
    if !footer.starts_with(SPARSE_MAGIC) {
        info.unsafe_because("VMDK footer has no sparse header signature");
        return Ok(None);
    }
    let f = parse_sparse_header(footer, "VMDK footer")?;
    if f.version != header.version {
        info.unsafe_because("VMDK header and footer versions differ");
        sound = false;
    }
    if f.desc_offset != header.desc_offset || f.desc_size != header.desc_size {
        info.unsafe_because("VMDK footer names a different descriptor than the header");
        sound = false;
    }
    if f.gd_offset == GD_AT_END {
        info.unsafe_because("VMDK footer points at another footer");
        sound = false;
    }
    Ok(sound.then_some(f.capacity))
}

/// Whether a file that is not a sparse extent looks like a text descriptor,
/// as QEMU would probe it: printable ASCII whose first meaningful line is
/// `version=…`, or that declares a `createType`.
fn looks_like_descriptor(head: &[u8]) -> bool {
    if head.is_empty() || !head.iter().all(|b| matches!(b, b'\t' | b'\n' | b'\r' | 0x20..=0x7e)) {
        return false;
    }
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let first = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'));
    first.is_some_and(|l| l.replace(' ', "").starts_with("version=")) || text.contains("createtype")
}

fn text_descriptor<R: Read + Seek>(src: &mut Source<R>) -> Result<FormatInfo, FormatError> {
    let mut info = FormatInfo::new(ImageFormat::Vmdk, src.len());
    let desc = src.read_at(0, DESC_MAX as usize)?;
    let parsed = parse_descriptor(&desc);
    info.virtual_size = parsed.extent_bytes();
    if src.len() > DESC_MAX {
        info.unsafe_because(format!(
            "VMDK descriptor file is too large ({} bytes; the limit is {DESC_MAX})",
            src.len()
        ));
    }
    // A descriptor that is a file of its own holds no data: every extent
    // it lists is some other file.
    info.unsafe_because(
        "VMDK image is a bare descriptor whose data is in separate extent files; only single-file \
         monolithicSparse and streamOptimized images are allowed",
    );
    check_descriptor(&parsed, &mut info);
    Ok(info)
}

#[derive(Debug, Default)]
struct Descriptor {
    create_type: Option<String>,
    parent_hint: Option<String>,
    extents: Vec<Extent>,
    problems: Vec<String>,
}

#[derive(Debug)]
struct Extent {
    sectors: u64,
    file: Option<String>,
}

impl Descriptor {
    fn extent_bytes(&self) -> Option<u64> {
        if self.extents.is_empty() {
            return None;
        }
        self.extents.iter().try_fold(0u64, |acc, e| acc.checked_add(e.sectors.checked_mul(SECTOR)?))
    }
}

fn unquote(v: &str) -> &str {
    let v = v.trim();
    v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v)
}

/// Parses descriptor text cautiously: every line must be a comment, a `ddb.`
/// entry, a `key=value` header field or an extent; anything else is a problem.
fn parse_descriptor(raw: &[u8]) -> Descriptor {
    let mut d = Descriptor::default();
    // The embedded descriptor is NUL-padded to whole sectors.
    let raw = raw.split(|b| *b == 0).next().unwrap_or_default();
    let Ok(text) = std::str::from_utf8(raw) else {
        d.problems.push("VMDK descriptor is not ASCII text".into());
        return d;
    };
    if !text.is_ascii() {
        d.problems.push("VMDK descriptor is not ASCII text".into());
        return d;
    }
    for line in text.lines().map(str::trim) {
        let lower = line.to_ascii_lowercase();
        if line.is_empty() || line.starts_with('#') || lower.starts_with("ddb") {
            continue;
        }
        let first_word = lower.split_whitespace().next().unwrap_or_default();
        if let Some((key, value)) = line.split_once('=').filter(|(k, _)| !k.trim().contains([' ', '\t'])) {
            match key.trim().to_ascii_lowercase().as_str() {
                "createtype" => d.create_type = Some(unquote(value).to_string()),
                "parentfilenamehint" => d.parent_hint = Some(unquote(value).to_string()),
                _ => {}
            }
        } else if EXTENT_ACCESS.contains(&first_word) {
            match parse_extent(line) {
                Some(e) => d.extents.push(e),
                None => {
                    d.problems.push(format!("VMDK extent line is malformed: {}", printable(line.as_bytes())))
                }
            }
        } else {
            d.problems
                .push(format!("VMDK descriptor has an unrecognised line: {}", printable(line.as_bytes())));
        }
    }
    d
}

/// `ACCESS SECTORS TYPE ["FILE" [OFFSET]]`
fn parse_extent(line: &str) -> Option<Extent> {
    let mut words = line.splitn(4, char::is_whitespace).filter(|w| !w.is_empty());
    let _access = words.next()?;
    let sectors = words.next()?.parse().ok()?;
    let _kind = words.next()?;
    let file = match words.next().map(str::trim) {
        None | Some("") => None,
        Some(rest) => {
            let rest = rest.strip_prefix('"')?;
            Some(rest[..rest.find('"')?].to_string())
        }
    };
    Some(Extent { sectors, file })
}

fn check_descriptor(d: &Descriptor, info: &mut FormatInfo) {
    for p in d.problems.iter().take(3) {
        info.unsafe_because(p.clone());
    }
    match d.create_type.as_deref() {
        None => info.unsafe_because("VMDK descriptor has no createType"),
        Some(t) if !ALLOWED_CREATE_TYPES.contains(&t.to_ascii_lowercase().as_str()) => {
            info.unsafe_because(format!(
                "VMDK createType {:?} is not allowed (only monolithicSparse and streamOptimized are); it \
                 keeps data in separate files",
                printable(t.as_bytes())
            ))
        }
        Some(_) => {}
    }
    if d.extents.is_empty() {
        info.unsafe_because("VMDK descriptor defines no extents");
    }
    for file in d.extents.iter().filter_map(|e| e.file.as_deref()) {
        if file.contains(['/', '\\']) {
            info.unsafe_because(format!(
                "VMDK extent refers to a file path ({:?}) outside the image",
                printable(file.as_bytes())
            ));
        }
    }
    if let Some(parent) = &d.parent_hint {
        let parent = printable(parent.as_bytes());
        info.unsafe_because(format!(
            "VMDK image has a parent disk (parentFileNameHint={parent:?}); images with backing files are not \
             allowed"
        ));
        info.backing_file = Some(parent);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    const SPARSE_DESC: &str = "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n\
        createType=\"monolithicSparse\"\n\n# Extent description\nRW 2097152 SPARSE \"disk.vmdk\"\n\n\
        # The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"4\"\nddb.adapterType = \"ide\"\n";

    /// A sparse extent: header, descriptor at sector 1 (20 sectors), some data.
    fn sparse_image(desc: &str, capacity: u64) -> Vec<u8> {
        let mut b = vec![0u8; 64 * 1024];
        put(&mut b, 0, SPARSE_MAGIC);
        put(&mut b, 4, &1u32.to_le_bytes());
        put(&mut b, 12, &capacity.to_le_bytes());
        put(&mut b, 20, &128u64.to_le_bytes());
        put(&mut b, 28, &1u64.to_le_bytes());
        put(&mut b, 36, &20u64.to_le_bytes());
        put(&mut b, 56, &21u64.to_le_bytes());
        put(&mut b, 512, desc.as_bytes());
        b
    }

    #[test]
    fn monolithic_sparse_is_safe() {
        let info = inspect_ok(&sparse_image(SPARSE_DESC, 2_097_152));
        assert_eq!(info.format, ImageFormat::Vmdk);
        assert_eq!(info.virtual_size, Some(1 << 30));
        assert!(info.is_safe(), "{info:?}");
    }

    #[test]
    fn descriptor_checks() {
        let flat = SPARSE_DESC.replace("monolithicSparse", "monolithicFlat");
        assert!(has_issue(
            &inspect_ok(&sparse_image(&flat, 8)),
            "createType \"monolithicFlat\" is not allowed"
        ));

        let path = SPARSE_DESC.replace("\"disk.vmdk\"", "\"/etc/shadow\"");
        assert!(has_issue(&inspect_ok(&sparse_image(&path, 8)), "file path (\"/etc/shadow\")"));

        let odd = SPARSE_DESC.replace("#DDB", "include /etc/passwd");
        assert!(has_issue(&inspect_ok(&sparse_image(&odd, 8)), "unrecognised line: include /etc/passwd"));

        let none = SPARSE_DESC.replace("RW 2097152 SPARSE \"disk.vmdk\"", "");
        assert!(has_issue(&inspect_ok(&sparse_image(&none, 8)), "defines no extents"));

        let bad = SPARSE_DESC.replace("RW 2097152", "RW lots");
        assert!(has_issue(&inspect_ok(&sparse_image(&bad, 8)), "extent line is malformed"));

        let no_type = SPARSE_DESC.replace("createType=\"monolithicSparse\"", "");
        assert!(has_issue(&inspect_ok(&sparse_image(&no_type, 8)), "no createType"));

        let child =
            SPARSE_DESC.replace("parentCID=ffffffff", "parentCID=1\nparentFileNameHint=\"base.vmdk\"");
        let info = inspect_ok(&sparse_image(&child, 8));
        assert_eq!(info.backing_file.as_deref(), Some("base.vmdk"));
        assert!(has_issue(&info, "parent disk"));

        let mut b = sparse_image(SPARSE_DESC, 8);
        put(&mut b, 600, &[0xc3, 0xa9]);
        assert!(has_issue(&inspect_ok(&b), "not ASCII"));
    }

    #[test]
    fn descriptor_location_and_size() {
        let mut b = sparse_image(SPARSE_DESC, 8);
        put(&mut b, 36, &4096u64.to_le_bytes());
        assert!(has_issue(&inspect_ok(&b), "descriptor is too large"));

        let mut b = sparse_image(SPARSE_DESC, 8);
        put(&mut b, 28, &0u64.to_le_bytes());
        put(&mut b, 36, &0u64.to_le_bytes());
        assert!(has_issue(&inspect_ok(&b), "no embedded descriptor"));

        let mut b = sparse_image(SPARSE_DESC, 8);
        put(&mut b, 28, &2u64.to_le_bytes());
        assert!(has_issue(&inspect_ok(&b), "not right after the header"));

        let mut b = sparse_image(SPARSE_DESC, 8);
        put(&mut b, 28, &1000u64.to_le_bytes());
        assert_corrupt(&b, "VMDK embedded descriptor is truncated");

        let mut b = sparse_image(SPARSE_DESC, 8);
        put(&mut b, 28, &u64::MAX.to_le_bytes());
        assert_corrupt(&b, "overflows");
    }

    #[test]
    fn version_and_truncation() {
        let mut b = sparse_image(SPARSE_DESC, 8);
        put(&mut b, 4, &7u32.to_le_bytes());
        assert!(has_issue(&inspect_ok(&b), "version 7 is not supported"));
        let b = sparse_image(SPARSE_DESC, 8);
        assert_corrupt(&b[..40], "VMDK sparse header is truncated");
        for cut in 0..700 {
            let _ = inspect_bytes(&b[..cut]);
        }
    }

    fn with_footer(capacity: u64, footer_capacity: u64) -> Vec<u8> {
        let desc = SPARSE_DESC.replace("monolithicSparse", "streamOptimized");
        let mut b = sparse_image(&desc, capacity);
        put(&mut b, 4, &3u32.to_le_bytes());
        put(&mut b, 56, &GD_AT_END.to_le_bytes());
        let mut footer = b[..512].to_vec();
        put(&mut footer, 12, &footer_capacity.to_le_bytes());
        put(&mut footer, 56, &100u64.to_le_bytes());
        let mut marker = vec![0u8; 512];
        put(&mut marker, 0, &1u64.to_le_bytes());
        put(&mut marker, 12, &MARKER_FOOTER.to_le_bytes());
        b.extend_from_slice(&marker);
        b.extend_from_slice(&footer);
        b.extend_from_slice(&[MARKER_EOS as u8; 512]);
        b
    }

    #[test]
    fn stream_optimized_footer() {
        let info = inspect_ok(&with_footer(0, 2048));
        assert!(info.is_safe(), "{info:?}");
        assert_eq!(info.virtual_size, Some(2048 * 512));

        let mut b = with_footer(0, 2048);
        let len = b.len();
        b[len - 1] = 1;
        assert!(has_issue(&inspect_ok(&b), "end-of-stream marker is invalid"));

        let mut b = with_footer(0, 2048);
        let len = b.len();
        put(&mut b, len - 1536 + 12, &7u32.to_le_bytes());
        assert!(has_issue(&inspect_ok(&b), "footer marker is invalid"));

        let mut b = with_footer(0, 2048);
        let len = b.len();
        put(&mut b, len - 1024 + 56, &GD_AT_END.to_le_bytes());
        assert!(has_issue(&inspect_ok(&b), "another footer"));

        let mut b = with_footer(0, 2048);
        let len = b.len();
        put(&mut b, len - 1024 + 28, &5u64.to_le_bytes());
        assert!(has_issue(&inspect_ok(&b), "different descriptor"));

        let b = with_footer(0, 2048);
        assert_corrupt(&b[..1000], "too short");
    }

    #[test]
    fn text_descriptor_is_always_unsafe() {
        let desc =
            "# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n\
                    RW 2097152 FLAT \"disk-flat.vmdk\" 0\nRW 1024 FLAT \"disk-f2.vmdk\" 0\n";
        let info = inspect_ok(desc.as_bytes());
        assert_eq!(info.format, ImageFormat::Vmdk);
        assert_eq!(info.virtual_size, Some((2_097_152 + 1024) * 512));
        assert!(has_issue(&info, "bare descriptor"));
        assert!(has_issue(&info, "monolithicFlat"));

        // Claiming a single-file type does not make a bare descriptor safe.
        let sneaky = desc.replace("monolithicFlat", "monolithicSparse");
        assert!(has_issue(&inspect_ok(sneaky.as_bytes()), "bare descriptor"));
    }

    #[test]
    fn text_that_is_not_a_descriptor_is_raw() {
        for text in ["hello world\n", "# just a comment\nname=value\n", ""] {
            assert_eq!(inspect_ok(text.as_bytes()).format, ImageFormat::Raw, "{text:?}");
        }
        assert_eq!(inspect_ok(b"version = 2\n").format, ImageFormat::Vmdk);
    }

    #[test]
    fn cowd_is_refused() {
        let mut b = vec![0u8; 2048];
        put(&mut b, 0, COWD_MAGIC);
        put(&mut b, 12, &100u32.to_le_bytes());
        let info = inspect_ok(&b);
        assert_eq!(info.virtual_size, Some(51_200));
        assert!(has_issue(&info, "COWD"));
    }

    #[test]
    fn extent_parsing() {
        let e = parse_extent("RW 100 FLAT \"a file.vmdk\" 0").unwrap();
        assert_eq!((e.sectors, e.file.as_deref()), (100, Some("a file.vmdk")));
        assert!(parse_extent("RW 5 ZERO").unwrap().file.is_none());
        assert!(parse_extent("RW 5 FLAT \"unterminated").is_none());
        assert!(parse_extent("RW").is_none());
    }
}
