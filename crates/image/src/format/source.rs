//! Bounded random-access reads over an image, and checked field decoding.
//!
//! Every parser reads only the regions it needs through [`Source`], which
//! refuses any single read larger than [`MAX_READ`]: a multi-GB image is never
//! pulled into memory, whatever its headers claim.

use std::io::{self, Read, Seek, SeekFrom};

use super::FormatError;

/// The largest single region any parser may read (a qcow2 cluster can be
/// 2 MiB, the largest thing we ever need whole).
pub(crate) const MAX_READ: usize = 2 * 1024 * 1024;

pub(crate) struct Source<R> {
    inner: R,
    len: u64,
    /// Total bytes handed out so far; unit tests assert it stays small.
    pub(crate) bytes_read: u64,
}

impl<R: Read + Seek> Source<R> {
    pub(crate) fn new(mut inner: R) -> io::Result<Self> {
        let len = inner.seek(SeekFrom::End(0))?;
        Ok(Source { inner, len, bytes_read: 0 })
    }

    /// Size of the whole image in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Reads up to `len` bytes at `offset`; the result is shorter only when
    /// the image ends first (empty when `offset` is at or past the end).
    pub(crate) fn read_at(&mut self, offset: u64, len: usize) -> Result<Vec<u8>, FormatError> {
        if len > MAX_READ {
            return Err(FormatError::Corrupt(format!(
                "refusing to read {len} bytes of metadata at offset {offset} (limit {MAX_READ})"
            )));
        }
        if offset >= self.len || len == 0 {
            return Ok(Vec::new());
        }
        let want = len.min(usize::try_from(self.len - offset).unwrap_or(usize::MAX));
        self.inner.seek(SeekFrom::Start(offset))?;
        let mut buf = Vec::with_capacity(want);
        (&mut self.inner).take(want as u64).read_to_end(&mut buf)?;
        self.bytes_read += buf.len() as u64;
        Ok(buf)
    }

    /// Like [`read_at`](Self::read_at) but the whole region must exist;
    /// otherwise the image is reported corrupt, naming `what` was cut short.
    pub(crate) fn read_exact_at(
        &mut self,
        offset: u64,
        len: usize,
        what: &str,
    ) -> Result<Vec<u8>, FormatError> {
        let buf = self.read_at(offset, len)?;
        if buf.len() < len {
            return Err(FormatError::Corrupt(format!(
                "{what} is truncated: needs {len} bytes at offset {offset}, image is {} bytes",
                self.len
            )));
        }
        Ok(buf)
    }
}

/// A named byte buffer whose field accessors fail with
/// [`FormatError::Corrupt`] instead of panicking when a field lies outside it.
#[derive(Clone, Copy)]
pub(crate) struct Fields<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) name: &'static str,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(buf: &'a [u8], name: &'static str) -> Self {
        Fields { buf, name }
    }

    pub(crate) fn bytes(&self, off: usize, len: usize) -> Result<&'a [u8], FormatError> {
        off.checked_add(len).and_then(|end| self.buf.get(off..end)).ok_or_else(|| {
            FormatError::Corrupt(format!(
                "{} is truncated: field at offset {off} ({len} bytes) lies past its end ({} bytes)",
                self.name,
                self.buf.len()
            ))
        })
    }

    fn array<const N: usize>(&self, off: usize) -> Result<[u8; N], FormatError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(off, N)?);
        Ok(out)
    }

    pub(crate) fn u8(&self, off: usize) -> Result<u8, FormatError> {
        Ok(self.array::<1>(off)?[0])
    }
    pub(crate) fn be_u16(&self, off: usize) -> Result<u16, FormatError> {
        Ok(u16::from_be_bytes(self.array(off)?))
    }
    pub(crate) fn be_u32(&self, off: usize) -> Result<u32, FormatError> {
        Ok(u32::from_be_bytes(self.array(off)?))
    }
    pub(crate) fn be_u64(&self, off: usize) -> Result<u64, FormatError> {
        Ok(u64::from_be_bytes(self.array(off)?))
    }
    pub(crate) fn le_u16(&self, off: usize) -> Result<u16, FormatError> {
        Ok(u16::from_le_bytes(self.array(off)?))
    }
    pub(crate) fn le_u32(&self, off: usize) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.array(off)?))
    }
    pub(crate) fn le_u64(&self, off: usize) -> Result<u64, FormatError> {
        Ok(u64::from_le_bytes(self.array(off)?))
    }
}

/// Renders untrusted bytes for a message: lossy UTF-8, control characters
/// escaped, cut to a readable length.
pub(crate) fn printable(bytes: &[u8]) -> String {
    const LIMIT: usize = 200;
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text.chars().take(LIMIT).flat_map(char::escape_debug).collect();
    if text.chars().count() > LIMIT {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    #[test]
    fn short_reads_at_end_and_past_end() {
        let mut src = Source::new(Cursor::new(vec![1u8, 2, 3, 4])).unwrap();
        assert_eq!(src.len(), 4);
        assert_eq!(src.read_at(2, 10).unwrap(), vec![3, 4]);
        assert!(src.read_at(4, 10).unwrap().is_empty());
        assert!(src.read_at(u64::MAX, 10).unwrap().is_empty());
        assert!(
            matches!(src.read_exact_at(1, 4, "thing"), Err(FormatError::Corrupt(m)) if m.contains("thing"))
        );
        assert!(matches!(src.read_at(0, MAX_READ + 1), Err(FormatError::Corrupt(_))));
    }

    #[test]
    fn fields_never_panic() {
        let f = Fields::new(&[0xde, 0xad, 0xbe, 0xef], "hdr");
        assert_eq!(f.be_u32(0).unwrap(), 0xdead_beef);
        assert_eq!(f.le_u16(2).unwrap(), 0xefbe);
        assert!(f.be_u32(1).is_err());
        assert!(f.be_u64(0).is_err());
        assert!(f.bytes(usize::MAX, 2).is_err());
        assert!(f.u8(4).is_err());
    }

    #[test]
    fn printable_escapes_and_truncates() {
        assert_eq!(printable(b"a\nb"), "a\\nb");
        assert!(printable(&[b'x'; 500]).ends_with('…'));
    }
}
