//! The format inspector against real images made by `qemu-img` at test time.
//!
//! These tests need `qemu-img` (Debian: qemu-utils). Without it they fail with
//! a message saying so: they must not pass by skipping.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use stratus_image::format::{
    check_matches, inspect, validate, FormatError, FormatInfo, ImageFormat, DISK_FORMATS,
};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("stratus-format-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs `qemu-img` in `dir`, panicking (never skipping) when it is missing.
fn qemu_img(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = match Command::new("qemu-img").args(args).current_dir(dir).output() {
        Ok(out) => out,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!(
            "qemu-img is not installed: the format inspector tests build real disk images with it \
             (install the qemu-utils package)"
        ),
        Err(e) => panic!("cannot run qemu-img: {e}"),
    };
    assert!(out.status.success(), "qemu-img {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn create(dir: &TempDir, qemu_format: &str, name: &str, size: &str, opts: &[&str]) -> PathBuf {
    let mut args = vec!["create", "-q", "-f", qemu_format];
    args.extend_from_slice(opts);
    args.extend_from_slice(&[name, size]);
    qemu_img(&dir.0, &args);
    dir.path(name)
}

/// `qemu-img info` of `path` opened explicitly as `qemu_format`.
fn qemu_info(path: &Path, qemu_format: &str) -> Value {
    let out = qemu_img(
        path.parent().unwrap(),
        &["info", "-f", qemu_format, "--output=json", path.to_str().unwrap()],
    );
    serde_json::from_slice(&out).expect("qemu-img info JSON")
}

/// Inspects `path`, asserting the format and that the virtual size is
/// exactly what qemu-img reports.
fn inspect_as(path: &Path, qemu_format: &str, expected: ImageFormat) -> FormatInfo {
    let info = inspect(path).unwrap_or_else(|e| panic!("inspecting {}: {e}", path.display()));
    assert_eq!(info.format, expected, "{}: {info:?}", path.display());
    let qemu = qemu_info(path, qemu_format);
    assert_eq!(info.virtual_size, qemu["virtual-size"].as_u64(), "virtual size of {}", path.display());
    assert_eq!(info.actual_size, fs::metadata(path).unwrap().len());
    info
}

fn assert_safe(info: &FormatInfo) {
    assert!(info.is_safe(), "expected safe: {info:?}");
    info.ensure_safe().unwrap();
}

fn assert_unsafe(info: &FormatInfo, needle: &str) {
    assert!(
        info.safety_issues.iter().any(|i| i.contains(needle)),
        "expected a safety issue mentioning {needle:?}: {info:?}"
    );
    match info.ensure_safe() {
        Err(FormatError::Unsafe(msg)) => assert!(msg.contains(needle), "{msg}"),
        other => panic!("expected Unsafe, got {other:?}"),
    }
}

/// The declared formats `info` is accepted under.
fn accepted(info: &FormatInfo) -> Vec<&'static str> {
    DISK_FORMATS.iter().copied().filter(|d| check_matches(d, info).is_ok()).collect()
}

fn mismatch_message(declared: &str, info: &FormatInfo) -> String {
    match check_matches(declared, info) {
        Err(e @ FormatError::Mismatch { .. }) => e.to_string(),
        other => panic!("expected a mismatch declaring {declared}, got {other:?}"),
    }
}

fn patch(path: &Path, offset: u64, bytes: &[u8]) {
    let mut data = fs::read(path).unwrap();
    let at = offset as usize;
    data[at..at + bytes.len()].copy_from_slice(bytes);
    fs::write(path, data).unwrap();
}

#[test]
fn qcow2_images() {
    let dir = TempDir::new("qcow2");
    let img = create(&dir, "qcow2", "disk.qcow2", "1G", &[]);
    let info = inspect_as(&img, "qcow2", ImageFormat::Qcow2);
    assert_eq!(info.virtual_size, Some(1 << 30));
    assert_safe(&info);
    assert_eq!(accepted(&info), ["qcow2"]);
    assert_eq!(mismatch_message("raw", &info), "Image data is qcow2 but disk_format is raw");
    assert_eq!(mismatch_message("ami", &info), "Image data is qcow2 but disk_format is ami");
    assert_eq!(mismatch_message("iso", &info), "Image data is qcow2 but disk_format is iso");
    assert_eq!(validate(&img, "qcow2").unwrap(), info);
    assert!(matches!(validate(&img, "raw"), Err(FormatError::Mismatch { .. })));

    // Version 2 headers, tiny and huge clusters, odd sizes, encryption off/on.
    let variants: [(&str, &str, &[&str]); 4] = [
        ("v2.qcow2", "10M", &["-o", "compat=0.10"]),
        ("c512.qcow2", "12345K", &["-o", "cluster_size=512"]),
        ("c2m.qcow2", "3G", &["-o", "cluster_size=2M,extended_l2=on"]),
        ("zstd.qcow2", "1T", &["-o", "compression_type=zstd"]),
    ];
    for (name, size, opts) in variants {
        let img = create(&dir, "qcow2", name, size, opts);
        assert_safe(&inspect_as(&img, "qcow2", ImageFormat::Qcow2));
    }

    // Converted with real data in it.
    let raw = dir.path("data.raw");
    fs::write(&raw, (0..3_000_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>()).unwrap();
    qemu_img(&dir.0, &["convert", "-f", "raw", "-O", "qcow2", "data.raw", "conv.qcow2"]);
    assert_safe(&inspect_as(&dir.path("conv.qcow2"), "qcow2", ImageFormat::Qcow2));
}

#[test]
fn qcow2_with_backing_file_is_unsafe() {
    let dir = TempDir::new("qcow2-backing");
    create(&dir, "qcow2", "base.qcow2", "1G", &[]);
    let top = create(&dir, "qcow2", "top.qcow2", "1G", &["-b", "base.qcow2", "-F", "qcow2"]);
    let info = inspect_as(&top, "qcow2", ImageFormat::Qcow2);
    let qemu = qemu_info(&top, "qcow2");
    assert_eq!(info.backing_file.as_deref(), qemu["backing-filename"].as_str());
    assert_eq!(info.backing_file.as_deref(), Some("base.qcow2"));
    assert_unsafe(&info, "backing file");
    // It is qcow2, so the declared format matches; it is still refused.
    check_matches("qcow2", &info).unwrap();
    assert!(matches!(validate(&top, "qcow2"), Err(FormatError::Unsafe(_))));
    assert!(matches!(validate(&top, "raw"), Err(FormatError::Mismatch { .. })));

    // Absolute backing path, also refused.
    let base = dir.path("base.qcow2");
    let abs = create(&dir, "qcow2", "abs.qcow2", "1G", &["-b", base.to_str().unwrap(), "-F", "qcow2"]);
    let info = inspect(&abs).unwrap();
    assert_eq!(info.backing_file.as_deref(), base.to_str());
    assert_unsafe(&info, "backing file");
}

#[test]
fn qcow2_with_external_data_file_is_unsafe() {
    let dir = TempDir::new("qcow2-datafile");
    for (name, opts) in
        [("df.qcow2", "data_file={}/df.data"), ("dfraw.qcow2", "data_file={}/dfraw.data,data_file_raw=on")]
    {
        let opts = opts.replace("{}", dir.0.to_str().unwrap());
        let img = create(&dir, "qcow2", name, "1G", &["-o", &opts]);
        let info = inspect_as(&img, "qcow2", ImageFormat::Qcow2);
        let qemu = qemu_info(&img, "qcow2");
        let qemu_data_file = qemu["format-specific"]["data"]["data-file"].as_str();
        assert!(qemu_data_file.is_some());
        assert_eq!(info.data_file.as_deref(), qemu_data_file);
        assert_eq!(info.backing_file, None);
        assert_unsafe(&info, "external data file");
        assert!(matches!(validate(&img, "qcow2"), Err(FormatError::Unsafe(_))));
    }
}

#[test]
fn qcow2_with_unknown_incompatible_feature_is_unsafe() {
    let dir = TempDir::new("qcow2-feature");
    let img = create(&dir, "qcow2", "disk.qcow2", "1G", &[]);
    // Incompatible features: big-endian u64 at byte 72; set bit 5.
    patch(&img, 79, &[0x20]);
    let info = inspect(&img).unwrap();
    assert_eq!(info.format, ImageFormat::Qcow2);
    assert_unsafe(&info, "unknown incompatible features");
}

#[test]
fn truncated_qcow2_is_corrupt() {
    let dir = TempDir::new("qcow2-trunc");
    let img = create(&dir, "qcow2", "disk.qcow2", "1G", &[]);
    let data = fs::read(&img).unwrap();
    fs::write(&img, &data[..40]).unwrap();
    match inspect(&img) {
        Err(FormatError::Corrupt(msg)) => assert!(msg.contains("qcow2"), "{msg}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn vmdk_single_file_images_are_safe() {
    let dir = TempDir::new("vmdk");
    for (name, subformat) in [("sparse.vmdk", "monolithicSparse"), ("stream.vmdk", "streamOptimized")] {
        let img = create(&dir, "vmdk", name, "1G", &["-o", &format!("subformat={subformat}")]);
        let info = inspect_as(&img, "vmdk", ImageFormat::Vmdk);
        assert_eq!(info.virtual_size, Some(1 << 30));
        assert_safe(&info);
        assert_eq!(accepted(&info), ["vmdk"]);
        assert_eq!(mismatch_message("raw", &info), "Image data is vmdk but disk_format is raw");
    }
    let raw = dir.path("data.raw");
    fs::write(&raw, (0..3_000_000u32).map(|i| (i % 253) as u8).collect::<Vec<_>>()).unwrap();
    for subformat in ["monolithicSparse", "streamOptimized"] {
        let opt = format!("subformat={subformat}");
        qemu_img(&dir.0, &["convert", "-f", "raw", "-O", "vmdk", "-o", &opt, "data.raw", "conv.vmdk"]);
        assert_safe(&inspect_as(&dir.path("conv.vmdk"), "vmdk", ImageFormat::Vmdk));
        fs::remove_file(dir.path("conv.vmdk")).unwrap();
    }
}

#[test]
fn vmdk_with_external_extents_is_unsafe() {
    let dir = TempDir::new("vmdk-extents");
    let flat = create(&dir, "vmdk", "flat.vmdk", "1G", &["-o", "subformat=monolithicFlat"]);
    let info = inspect_as(&flat, "vmdk", ImageFormat::Vmdk);
    assert_unsafe(&info, "monolithicFlat");
    assert_unsafe(&info, "separate extent files");
    assert!(matches!(validate(&flat, "vmdk"), Err(FormatError::Unsafe(_))));
    assert!(matches!(validate(&flat, "raw"), Err(FormatError::Mismatch { .. })));

    let split = create(&dir, "vmdk", "split.vmdk", "5G", &["-o", "subformat=twoGbMaxExtentSparse"]);
    let info = inspect_as(&split, "vmdk", ImageFormat::Vmdk);
    assert_unsafe(&info, "twoGbMaxExtentSparse");

    // A hand-edited descriptor pointing at a host file.
    fs::write(
        dir.path("evil.vmdk"),
        "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n\
         RW 2048 FLAT \"/etc/hostname\" 0\n",
    )
    .unwrap();
    assert_unsafe(&inspect(&dir.path("evil.vmdk")).unwrap(), "/etc/hostname");
}

#[test]
fn vmdk_with_parent_is_unsafe() {
    let dir = TempDir::new("vmdk-parent");
    create(&dir, "vmdk", "base.vmdk", "1G", &[]);
    let child = create(&dir, "vmdk", "child.vmdk", "1G", &["-b", "base.vmdk", "-F", "vmdk"]);
    let info = inspect_as(&child, "vmdk", ImageFormat::Vmdk);
    assert_eq!(info.backing_file.as_deref(), qemu_info(&child, "vmdk")["backing-filename"].as_str());
    assert_eq!(info.backing_file.as_deref(), Some("base.vmdk"));
    assert_unsafe(&info, "parent disk");
}

#[test]
fn vhd_images() {
    let dir = TempDir::new("vhd");
    let cases: [(&str, &str, &[&str]); 5] = [
        ("dyn.vhd", "1G", &[]),
        ("dyn-odd.vhd", "100M", &[]),
        ("fixed.vhd", "64M", &["-o", "subformat=fixed"]),
        ("forced.vhd", "1G", &["-o", "force_size=on"]),
        ("fixed-forced.vhd", "10M", &["-o", "subformat=fixed,force_size=on"]),
    ];
    for (name, size, opts) in cases {
        let img = create(&dir, "vpc", name, size, opts);
        let info = inspect_as(&img, "vpc", ImageFormat::Vhd);
        assert_safe(&info);
        assert_eq!(accepted(&info), ["vhd"], "{name}");
        assert_eq!(mismatch_message("raw", &info), "Image data is vhd but disk_format is raw");
        assert_eq!(mismatch_message("vhdx", &info), "Image data is vhd but disk_format is vhdx");
    }
    // qemu rounds a dynamic disk up to whole CHS geometry: 1G is not 1 GiB.
    assert_eq!(inspect(&dir.path("dyn.vhd")).unwrap().virtual_size, Some(1_073_995_776));
    assert_eq!(inspect(&dir.path("forced.vhd")).unwrap().virtual_size, Some(1 << 30));
}

#[test]
fn vhd_differencing_disk_is_unsafe() {
    let dir = TempDir::new("vhd-diff");
    let img = create(&dir, "vpc", "diff.vhd", "64M", &[]);
    // Disk type (big-endian u32 at byte 60) in both footer copies: 4 = differencing.
    let len = fs::metadata(&img).unwrap().len();
    patch(&img, 60, &4u32.to_be_bytes());
    patch(&img, len - 512 + 60, &4u32.to_be_bytes());
    let info = inspect(&img).unwrap();
    assert_eq!(info.format, ImageFormat::Vhd);
    assert_unsafe(&info, "differencing disk");
}

#[test]
fn vhdx_images() {
    let dir = TempDir::new("vhdx");
    let cases: [(&str, &str, &[&str]); 3] = [
        ("dyn.vhdx", "1G", &[]),
        ("odd.vhdx", "12345K", &["-o", "block_size=1M"]),
        ("fixed.vhdx", "32M", &["-o", "subformat=fixed"]),
    ];
    for (name, size, opts) in cases {
        let img = create(&dir, "vhdx", name, size, opts);
        let info = inspect_as(&img, "vhdx", ImageFormat::Vhdx);
        assert_safe(&info);
        assert_eq!(accepted(&info), ["vhdx"]);
        assert_eq!(mismatch_message("vhd", &info), "Image data is vhdx but disk_format is vhd");
    }
    assert_eq!(inspect(&dir.path("dyn.vhdx")).unwrap().virtual_size, Some(1 << 30));
}

#[test]
fn vdi_images() {
    let dir = TempDir::new("vdi");
    for (name, size, opts) in [("dyn.vdi", "1G", &[][..]), ("static.vdi", "16M", &["-o", "static=on"][..])] {
        let img = create(&dir, "vdi", name, size, opts);
        let info = inspect_as(&img, "vdi", ImageFormat::Vdi);
        assert_safe(&info);
        assert_eq!(accepted(&info), ["vdi"]);
        assert_eq!(mismatch_message("raw", &info), "Image data is vdi but disk_format is raw");
    }
}

#[test]
fn raw_images() {
    let dir = TempDir::new("raw");
    let img = create(&dir, "raw", "disk.raw", "1G", &[]);
    let info = inspect_as(&img, "raw", ImageFormat::Raw);
    assert_eq!(info.virtual_size, Some(1 << 30));
    assert_safe(&info);
    assert_eq!(accepted(&info), ["ami", "ari", "aki", "raw", "ploop"]);
    assert_eq!(
        mismatch_message("qcow2", &info),
        "Image data is raw (not in any recognised disk image format) but disk_format is qcow2"
    );
    assert!(mismatch_message("iso", &info).contains("disk_format is iso"));
    assert_eq!(validate(&img, "raw").unwrap().format, ImageFormat::Raw);
    assert_eq!(validate(&img, "aki").unwrap().format, ImageFormat::Raw);

    // A raw image made from a qcow2 is raw again.
    create(&dir, "qcow2", "src.qcow2", "8M", &[]);
    qemu_img(&dir.0, &["convert", "-f", "qcow2", "-O", "raw", "src.qcow2", "conv.raw"]);
    assert_safe(&inspect_as(&dir.path("conv.raw"), "raw", ImageFormat::Raw));
}

/// A minimal ISO 9660 image: system area, primary volume descriptor at
/// 32 KiB, set terminator, padded to `blocks` 2048-byte blocks.
fn minimal_iso(blocks: u32) -> Vec<u8> {
    let mut b = vec![0u8; blocks as usize * 2048];
    let p = 16 * 2048;
    b[p] = 1;
    b[p + 1..p + 7].copy_from_slice(b"CD001\x01");
    b[p + 40..p + 48].copy_from_slice(b"STRATUS ");
    b[p + 80..p + 84].copy_from_slice(&blocks.to_le_bytes());
    b[p + 84..p + 88].copy_from_slice(&blocks.to_be_bytes());
    b[p + 120..p + 122].copy_from_slice(&1u16.to_le_bytes());
    b[p + 122..p + 124].copy_from_slice(&1u16.to_be_bytes());
    b[p + 124..p + 126].copy_from_slice(&1u16.to_le_bytes());
    b[p + 126..p + 128].copy_from_slice(&1u16.to_be_bytes());
    b[p + 128..p + 130].copy_from_slice(&2048u16.to_le_bytes());
    b[p + 130..p + 132].copy_from_slice(&2048u16.to_be_bytes());
    let t = p + 2048;
    b[t] = 255;
    b[t + 1..t + 7].copy_from_slice(b"CD001\x01");
    b
}

#[test]
fn iso_images() {
    let dir = TempDir::new("iso");
    let img = dir.path("min.iso");
    fs::write(&img, minimal_iso(40)).unwrap();
    let info = inspect(&img).unwrap();
    assert_eq!(info.format, ImageFormat::Iso);
    assert_eq!(info.virtual_size, Some(40 * 2048));
    assert_safe(&info);
    assert_eq!(accepted(&info), ["iso"]);
    assert_eq!(mismatch_message("raw", &info), "Image data is iso but disk_format is raw");
    assert_eq!(validate(&img, "iso").unwrap(), info);

    // With a real ISO authoring tool, when one is installed.
    fs::create_dir_all(dir.path("content")).unwrap();
    fs::write(dir.path("content/hello.txt"), "hello\n").unwrap();
    let tools: [(&str, &[&str]); 3] = [
        ("xorriso", &["-as", "mkisofs", "-quiet", "-o", "real.iso", "content"]),
        ("genisoimage", &["-quiet", "-o", "real.iso", "content"]),
        ("mkisofs", &["-quiet", "-o", "real.iso", "content"]),
    ];
    let built = tools.iter().find(|(tool, args)| {
        Command::new(tool).args(*args).current_dir(&dir.0).output().is_ok_and(|o| o.status.success())
    });
    match built {
        Some((tool, _)) => {
            let real = dir.path("real.iso");
            let info = inspect(&real).unwrap();
            assert_eq!(info.format, ImageFormat::Iso, "{tool}");
            assert_eq!(info.virtual_size, Some(fs::metadata(&real).unwrap().len()), "{tool}");
            assert_safe(&info);
        }
        None => eprintln!("note: no xorriso/genisoimage/mkisofs; checked the hand-made ISO only"),
    }
}

#[test]
fn polyglot_qcow2_and_iso_is_unsafe() {
    let dir = TempDir::new("polyglot");
    let img = create(&dir, "qcow2", "poly.qcow2", "1G", &[]);
    let iso = minimal_iso(18);
    patch(&img, 16 * 2048, &iso[16 * 2048..]);
    // qemu still opens it as qcow2 ...
    assert_eq!(qemu_info(&img, "qcow2")["format"], "qcow2");
    // ... but content valid as two formats at once is refused.
    let info = inspect(&img).unwrap();
    assert_eq!(info.format, ImageFormat::Qcow2);
    assert_unsafe(&info, "more than one disk format (qcow2, iso)");
}

#[test]
fn io_errors_and_unknown_disk_formats() {
    let missing = std::env::temp_dir().join("stratus-format-does-not-exist.img");
    assert!(matches!(inspect(&missing), Err(FormatError::Io(_))));
    let info = FormatInfo {
        format: ImageFormat::Raw,
        virtual_size: Some(0),
        actual_size: 0,
        backing_file: None,
        data_file: None,
        safety_issues: vec![],
        partition_table: None,
    };
    assert!(matches!(check_matches("vpc", &info), Err(FormatError::UnknownDiskFormat(_))));
}
