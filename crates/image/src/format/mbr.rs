//! Partition-table checks on raw images, after oslo.utils' GPT inspector.
//!
//! A raw image whose first sector ends in `55 AA` (and is not a filesystem
//! boot sector) carries an MBR; one whose only partition is of type `0xEE` is
//! the protective MBR of a GPT disk. Such tables are checked to be well formed
//! (valid boot flags, a correct protective entry, at least one partition),
//! which Glance makes fatal by default.

use std::io::{Read, Seek};

use super::source::Source;
use super::{FormatError, FormatInfo, PartitionTable};

const ENTRIES_AT: usize = 446;
const GPT_PROTECTIVE: u8 = 0xee;

pub(crate) fn check<R: Read + Seek>(src: &mut Source<R>, info: &mut FormatInfo) -> Result<(), FormatError> {
    let sector = src.read_at(0, 512)?;
    if sector.len() < 512 || sector[510..512] != [0x55, 0xaa] || is_boot_sector_without_table(&sector) {
        return Ok(());
    }
    if is_linux_kernel(src)? {
        return Ok(());
    }
    let mut used = Vec::new();
    let mut gpt = false;
    for i in 0..4 {
        let e = &sector[ENTRIES_AT + 16 * i..ENTRIES_AT + 16 * (i + 1)];
        let (boot, start_chs, kind) = (e[0], [e[1], e[2], e[3]], e[4]);
        let start_lba = u32::from_le_bytes([e[8], e[9], e[10], e[11]]);
        if boot != 0x00 && boot != 0x80 {
            info.unsafe_because(format!("MBR partition entry {i} has an invalid boot flag {boot:#04x}"));
        }
        if kind != 0 {
            used.push(i);
        }
        if kind == GPT_PROTECTIVE {
            gpt = true;
            if start_chs != [0x00, 0x02, 0x00] {
                info.unsafe_because("GPT protective MBR entry has an invalid start CHS");
            }
            if start_lba != 1 {
                info.unsafe_because(format!("GPT protective MBR entry starts at LBA {start_lba}, not 1"));
            }
        }
    }
    if gpt && used != [0] {
        info.unsafe_because("GPT protective MBR defines other partitions besides the protective one");
    }
    if used.is_empty() {
        info.unsafe_because("MBR partition table defines no partitions");
    }
    info.partition_table = Some(if gpt { PartitionTable::Gpt } else { PartitionTable::Mbr });
    Ok(())
}

/// Boot sectors that also end in `55 AA` but hold no partition table: a FAT
/// filesystem (two FATs on a fixed disk, as oslo.utils checks), NTFS, exFAT,
/// and an x86 Linux kernel (`aki` images), whose setup header starts with
/// `HdrS` at 0x202 in the next sector and whose PE header overlaps the table.
fn is_boot_sector_without_table(sector: &[u8]) -> bool {
    let fat = sector[0x10] == 2 && sector[0x15] == 0xf8;
    fat || &sector[3..11] == b"NTFS    " || &sector[3..11] == b"EXFAT   "
}

fn is_linux_kernel<R: Read + Seek>(src: &mut Source<R>) -> Result<bool, FormatError> {
    Ok(src.read_at(0x202, 4)? == b"HdrS")
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::ImageFormat;
    use super::*;

    fn disk(entries: &[(u8, [u8; 3], u8, u32)]) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        b[510] = 0x55;
        b[511] = 0xaa;
        for (i, (boot, chs, kind, lba)) in entries.iter().enumerate() {
            let e = ENTRIES_AT + 16 * i;
            b[e] = *boot;
            put(&mut b, e + 1, chs);
            b[e + 4] = *kind;
            put(&mut b, e + 8, &lba.to_le_bytes());
            put(&mut b, e + 12, &1000u32.to_le_bytes());
        }
        b
    }

    #[test]
    fn valid_tables() {
        let info = inspect_ok(&disk(&[(0x80, [0, 33, 0], 0x83, 2048), (0, [0, 0, 0], 0x82, 4096)]));
        assert_eq!(info.format, ImageFormat::Raw);
        assert_eq!(info.partition_table, Some(PartitionTable::Mbr));
        assert!(info.is_safe(), "{info:?}");

        let info = inspect_ok(&disk(&[(0, [0, 2, 0], GPT_PROTECTIVE, 1)]));
        assert_eq!(info.partition_table, Some(PartitionTable::Gpt));
        assert!(info.is_safe(), "{info:?}");
    }

    #[test]
    fn bad_tables() {
        let info = inspect_ok(&disk(&[(0x12, [0, 33, 0], 0x83, 2048)]));
        assert!(has_issue(&info, "invalid boot flag 0x12"));
        assert!(has_issue(&inspect_ok(&disk(&[])), "defines no partitions"));
        assert!(has_issue(&inspect_ok(&disk(&[(0, [0, 3, 0], GPT_PROTECTIVE, 1)])), "invalid start CHS"));
        assert!(has_issue(&inspect_ok(&disk(&[(0, [0, 2, 0], GPT_PROTECTIVE, 7)])), "LBA 7"));
        let two = disk(&[(0, [0, 2, 0], GPT_PROTECTIVE, 1), (0, [0, 0, 0], 0x83, 99)]);
        assert!(has_issue(&inspect_ok(&two), "other partitions"));
    }

    #[test]
    fn filesystem_boot_sectors_and_plain_data_are_not_tables() {
        let mut fat = disk(&[]);
        fat[0x10] = 2;
        fat[0x15] = 0xf8;
        let info = inspect_ok(&fat);
        assert_eq!(info.partition_table, None);
        assert!(info.is_safe());

        let mut ntfs = disk(&[]);
        put(&mut ntfs, 3, b"NTFS    ");
        assert!(inspect_ok(&ntfs).is_safe());

        // An x86 bzImage: 55 AA, PE section headers where the table would be.
        let mut kernel = disk(&[]);
        put(&mut kernel, 0, b"MZ");
        put(&mut kernel, 446, b".setup\0\0\xff\xff\xff\xff.reloc\0\0\x12\x34");
        put(&mut kernel, 0x202, b"HdrS");
        let info = inspect_ok(&kernel);
        assert_eq!((info.format, info.partition_table), (ImageFormat::Raw, None));
        assert!(info.is_safe(), "{info:?}");
        put(&mut kernel, 0x202, b"XXXX");
        assert!(!inspect_ok(&kernel).is_safe());

        let info = inspect_ok(&[0u8; 4096]);
        assert_eq!(info.partition_table, None);
        let short = &disk(&[])[..300];
        assert!(inspect_ok(short).is_safe());
    }
}
