//! Disk image format inspection, as Glance's format inspector does it.
//!
//! An uploaded image is *data*: nothing stops a user from declaring
//! `disk_format=raw` and uploading a qcow2 whose header points at a host file
//! as its backing file or external data file, or a VMDK whose descriptor names
//! extents elsewhere on the host. If a hypervisor host later opens such an
//! image with the format it claims to be (or lets qemu probe it), it can read
//! host files into the guest. [`inspect`] reads the few header regions of an
//! image that identify its format, computes its virtual size, and lists every
//! safety problem it finds; [`check_matches`] refuses content that is not the
//! declared `disk_format`.
//!
//! Detection never reads an image whole: each format's parser reads fixed,
//! bounded regions (at most a qcow2 cluster, 2 MiB, at once), so a multi-GB
//! upload costs a few reads. The functions do blocking file I/O; call them
//! from `tokio::task::spawn_blocking` in async code.
//!
//! Formats detected: qcow2, vmdk (sparse, stream-optimized and text
//! descriptors), vhd (footer at start or end), vhdx, vdi, iso (ISO 9660 and
//! UDF), plus qed and luks, which Glance has no `disk_format` for. Anything
//! else is `raw`; a raw image that starts with an MBR/GPT partition table gets
//! the partition-table checks of newer oslo.utils.

mod iso;
mod mbr;
mod other;
mod qcow2;
mod source;
mod vdi;
mod vhd;
mod vhdx;
mod vmdk;

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;

use serde::Serialize;

use source::Source;

/// Glance's default `disk_formats`.
pub const DISK_FORMATS: &[&str] =
    &["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"];

/// Glance's default `container_formats`.
pub const CONTAINER_FORMATS: &[&str] = &["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"];

/// What an image's content turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// No known signature: a plain disk (also what ami/ari/aki/ploop look like).
    Raw,
    Qcow2,
    Vmdk,
    /// Microsoft VHD (qemu calls it `vpc`).
    Vhd,
    Vhdx,
    Vdi,
    Iso,
    /// QEMU Enhanced Disk: detected only to be refused.
    Qed,
    /// A LUKS v1/v2 encrypted volume (e.g. an encrypted Cinder volume uploaded as raw).
    Luks,
}

impl ImageFormat {
    /// The name Glance (and the `disk_format` field) uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageFormat::Raw => "raw",
            ImageFormat::Qcow2 => "qcow2",
            ImageFormat::Vmdk => "vmdk",
            ImageFormat::Vhd => "vhd",
            ImageFormat::Vhdx => "vhdx",
            ImageFormat::Vdi => "vdi",
            ImageFormat::Iso => "iso",
            ImageFormat::Qed => "qed",
            ImageFormat::Luks => "luks",
        }
    }
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The partition table found at the start of a raw image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PartitionTable {
    Mbr,
    /// An MBR whose only partition is the GPT protective (type 0xEE) one.
    Gpt,
}

/// The result of inspecting an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FormatInfo {
    pub format: ImageFormat,
    /// Size of the disk the guest sees, in bytes, when the header says.
    pub virtual_size: Option<u64>,
    /// Size of the image file itself, in bytes.
    pub actual_size: u64,
    /// A backing (parent) image named by the header: always a safety issue.
    pub backing_file: Option<String>,
    /// A qcow2 external data file named by the header: always a safety issue.
    pub data_file: Option<String>,
    /// Human-readable reasons the image must not be used; empty when safe.
    pub safety_issues: Vec<String>,
    /// For raw images: the partition table at its start, if any.
    pub partition_table: Option<PartitionTable>,
}

impl FormatInfo {
    fn new(format: ImageFormat, actual_size: u64) -> Self {
        FormatInfo {
            format,
            virtual_size: None,
            actual_size,
            backing_file: None,
            data_file: None,
            safety_issues: Vec::new(),
            partition_table: None,
        }
    }

    fn unsafe_because(&mut self, reason: impl Into<String>) {
        self.safety_issues.push(reason.into());
    }

    /// True when no safety check failed.
    pub fn is_safe(&self) -> bool {
        self.safety_issues.is_empty()
    }

    /// `Err(FormatError::Unsafe)` listing every failed check, if any failed.
    pub fn ensure_safe(&self) -> Result<(), FormatError> {
        if self.is_safe() {
            Ok(())
        } else {
            Err(FormatError::Unsafe(format!(
                "{} image failed safety checks: {}",
                self.format,
                self.safety_issues.join("; ")
            )))
        }
    }
}

/// Why an image was refused or could not be inspected.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The image is well-formed but must not be used (backing file, external
    /// data file or extents, unsupported variant…).
    #[error("Image is unsafe: {0}")]
    Unsafe(String),
    /// The content is not the declared `disk_format`.
    #[error("{}", mismatch_message(declared, detected))]
    Mismatch { declared: String, detected: String },
    #[error("Unable to read image data: {0}")]
    Io(#[from] std::io::Error),
    /// A format signature is present but the structures behind it are
    /// truncated or inconsistent.
    #[error("Image data is corrupt: {0}")]
    Corrupt(String),
    /// The declared `disk_format` is not one Glance knows.
    #[error("Unknown disk_format {0:?}; expected one of: {list}", list = DISK_FORMATS.join(", "))]
    UnknownDiskFormat(String),
}

fn mismatch_message(declared: &str, detected: &str) -> String {
    if detected == "raw" {
        format!("Image data is raw (not in any recognised disk image format) but disk_format is {declared}")
    } else {
        format!("Image data is {detected} but disk_format is {declared}")
    }
}

/// Inspects the image at `path`; see the module documentation.
///
/// Returns `Err` only for I/O failures and for corrupt structures behind a
/// recognised signature; an unsafe image is `Ok` with `safety_issues` filled
/// (use [`FormatInfo::ensure_safe`] or [`validate`]).
pub fn inspect(path: &Path) -> Result<FormatInfo, FormatError> {
    inspect_reader(File::open(path)?)
}

/// [`inspect`] over any seekable reader (a file, an in-memory buffer…).
pub fn inspect_reader<R: Read + Seek>(reader: R) -> Result<FormatInfo, FormatError> {
    let mut src = Source::new(reader)?;
    inspect_source(&mut src)
}

type Probe<R> = fn(&mut Source<R>) -> Result<Option<FormatInfo>, FormatError>;

fn inspect_source<R: Read + Seek>(src: &mut Source<R>) -> Result<FormatInfo, FormatError> {
    // Every inspector runs, so content that is valid as two formats at once
    // (a polyglot, e.g. a qcow2 header with an ISO volume descriptor behind
    // it) is caught rather than resolved by probe order.
    let probes: [Probe<R>; 8] = [
        qcow2::probe,
        other::probe_qed,
        vmdk::probe,
        vhdx::probe,
        vhd::probe,
        vdi::probe,
        other::probe_luks,
        iso::probe,
    ];
    let mut matches = Vec::new();
    for probe in probes {
        if let Some(info) = probe(src)? {
            matches.push(info);
        }
    }
    if matches.is_empty() {
        let mut info = FormatInfo::new(ImageFormat::Raw, src.len());
        info.virtual_size = Some(src.len());
        mbr::check(src, &mut info)?;
        return Ok(info);
    }
    let names: Vec<&str> = matches.iter().map(|m| m.format.as_str()).collect();
    let names = names.join(", ");
    let mut info = matches.swap_remove(0);
    if !matches.is_empty() {
        info.unsafe_because(format!("image data matches more than one disk format ({names})"));
    }
    Ok(info)
}

/// Checks that the content `info` describes is what `declared_disk_format`
/// claims.
///
/// Rich formats must match exactly (`vhd` content for `vhd`, and so on;
/// `iso` must be an ISO). `raw`, `ami`, `ari`, `aki` and `ploop` carry no
/// signature we check, so for them the content must be unrecognised (raw):
/// like Glance since the 2024 format-confusion fixes, a qcow2/vmdk/vhd/…
/// declared as raw is refused, because a host that trusts the declared format
/// would otherwise hand it to qemu unchecked. LUKS content is accepted as
/// `raw`, since that is how encrypted Cinder volumes are uploaded.
pub fn check_matches(declared_disk_format: &str, info: &FormatInfo) -> Result<(), FormatError> {
    if !DISK_FORMATS.contains(&declared_disk_format) {
        return Err(FormatError::UnknownDiskFormat(declared_disk_format.to_string()));
    }
    let ok = match declared_disk_format {
        "raw" => matches!(info.format, ImageFormat::Raw | ImageFormat::Luks),
        "ami" | "ari" | "aki" | "ploop" => info.format == ImageFormat::Raw,
        declared => info.format.as_str() == declared,
    };
    if ok {
        Ok(())
    } else {
        Err(FormatError::Mismatch {
            declared: declared_disk_format.to_string(),
            detected: info.format.as_str().to_string(),
        })
    }
}

/// The whole upload check: [`inspect`], then [`check_matches`], then
/// [`FormatInfo::ensure_safe`]. Returns the inspection on success.
pub fn validate(path: &Path, declared_disk_format: &str) -> Result<FormatInfo, FormatError> {
    let info = inspect(path)?;
    check_matches(declared_disk_format, &info)?;
    info.ensure_safe()?;
    Ok(info)
}

#[cfg(test)]
pub(crate) mod testutil {
    use std::io::Cursor;

    use super::*;

    /// Inspects an in-memory image, also returning how many bytes were read.
    pub(crate) fn inspect_bytes(buf: &[u8]) -> (Result<FormatInfo, FormatError>, u64) {
        let mut src = Source::new(Cursor::new(buf)).unwrap();
        let res = inspect_source(&mut src);
        (res, src.bytes_read)
    }

    pub(crate) fn inspect_ok(buf: &[u8]) -> FormatInfo {
        match inspect_bytes(buf).0 {
            Ok(info) => info,
            Err(e) => panic!("inspection failed: {e}"),
        }
    }

    pub(crate) fn assert_corrupt(buf: &[u8], needle: &str) {
        match inspect_bytes(buf).0 {
            Err(FormatError::Corrupt(msg)) => {
                assert!(msg.contains(needle), "corrupt message {msg:?} lacks {needle:?}")
            }
            other => panic!("expected Corrupt({needle:?}), got {other:?}"),
        }
    }

    pub(crate) fn put(buf: &mut [u8], off: usize, bytes: &[u8]) {
        buf[off..off + bytes.len()].copy_from_slice(bytes);
    }

    pub(crate) fn has_issue(info: &FormatInfo, needle: &str) -> bool {
        info.safety_issues.iter().any(|i| i.contains(needle))
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    fn info(format: ImageFormat) -> FormatInfo {
        FormatInfo::new(format, 0)
    }

    #[test]
    fn empty_and_small_files_are_raw() {
        for buf in [&[][..], b"hello", &[0u8; 4096]] {
            let info = inspect_ok(buf);
            assert_eq!(info.format, ImageFormat::Raw);
            assert_eq!(info.virtual_size, Some(buf.len() as u64));
            assert_eq!(info.actual_size, buf.len() as u64);
            assert!(info.is_safe(), "{info:?}");
        }
    }

    #[test]
    fn large_raw_image_is_not_read_whole() {
        let buf = vec![0u8; 64 * 1024 * 1024];
        let (res, read) = inspect_bytes(&buf);
        assert_eq!(res.unwrap().format, ImageFormat::Raw);
        assert!(read < 1024 * 1024, "read {read} bytes of a 64 MiB image");
    }

    #[test]
    fn check_matches_rules() {
        assert!(check_matches("qcow2", &info(ImageFormat::Qcow2)).is_ok());
        for declared in ["raw", "ami", "ari", "aki", "ploop"] {
            assert!(check_matches(declared, &info(ImageFormat::Raw)).is_ok(), "{declared}");
            let err = check_matches(declared, &info(ImageFormat::Qcow2)).unwrap_err();
            assert_eq!(err.to_string(), format!("Image data is qcow2 but disk_format is {declared}"));
        }
        assert!(check_matches("raw", &info(ImageFormat::Luks)).is_ok());
        assert!(check_matches("ami", &info(ImageFormat::Luks)).is_err());
        assert!(check_matches("raw", &info(ImageFormat::Iso)).is_err());
        assert!(check_matches("iso", &info(ImageFormat::Iso)).is_ok());
        let err = check_matches("iso", &info(ImageFormat::Raw)).unwrap_err();
        assert!(
            matches!(&err, FormatError::Mismatch { declared, detected } if declared == "iso" && detected == "raw")
        );
        assert_eq!(
            err.to_string(),
            "Image data is raw (not in any recognised disk image format) but disk_format is iso"
        );
        assert!(check_matches("vhd", &info(ImageFormat::Vhdx)).is_err());
        assert!(check_matches("qcow2", &info(ImageFormat::Qed)).is_err());
        let err = check_matches("QCOW2", &info(ImageFormat::Qcow2)).unwrap_err();
        assert!(matches!(err, FormatError::UnknownDiskFormat(_)));
        assert!(err.to_string().contains("qcow2"));
    }

    #[test]
    fn every_disk_format_has_a_rule() {
        for declared in DISK_FORMATS {
            // Each declared format accepts exactly the content it names.
            let accepted: Vec<ImageFormat> = [
                ImageFormat::Raw,
                ImageFormat::Qcow2,
                ImageFormat::Vmdk,
                ImageFormat::Vhd,
                ImageFormat::Vhdx,
                ImageFormat::Vdi,
                ImageFormat::Iso,
                ImageFormat::Qed,
                ImageFormat::Luks,
            ]
            .into_iter()
            .filter(|f| check_matches(declared, &info(*f)).is_ok())
            .collect();
            assert!(!accepted.is_empty(), "{declared} accepts nothing");
            assert!(!accepted.contains(&ImageFormat::Qed), "{declared} accepts qed");
        }
    }

    #[test]
    fn ensure_safe_lists_issues() {
        let mut i = info(ImageFormat::Qcow2);
        assert!(i.ensure_safe().is_ok());
        i.unsafe_because("one");
        i.unsafe_because("two");
        let msg = i.ensure_safe().unwrap_err().to_string();
        assert_eq!(msg, "Image is unsafe: qcow2 image failed safety checks: one; two");
    }

    #[test]
    fn constants_match_glance() {
        assert_eq!(DISK_FORMATS.len(), 11);
        assert!(DISK_FORMATS.contains(&"ploop"));
        assert_eq!(CONTAINER_FORMATS.len(), 8);
        assert!(CONTAINER_FORMATS.contains(&"compressed"));
    }

    #[test]
    fn format_info_serializes() {
        let v = serde_json::to_value(info(ImageFormat::Vhdx)).unwrap();
        assert_eq!(v["format"], "vhdx");
    }
}
