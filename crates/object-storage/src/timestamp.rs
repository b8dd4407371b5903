//! Swift timestamps: seconds since the epoch with five decimals (`1700000000.12345`), unique
//! and increasing within this process so that two writes of one name are always ordered.

use std::sync::atomic::{AtomicU64, Ordering};

/// Time in units of 10 µs since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.normal())
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("bad timestamp {s:?}")))
    }
}

static LAST: AtomicU64 = AtomicU64::new(0);

impl Timestamp {
    pub fn now() -> Timestamp {
        let now = (chrono::Utc::now().timestamp_micros().max(0) as u64) / 10;
        let mut last = LAST.load(Ordering::Relaxed);
        loop {
            let next = now.max(last + 1);
            match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Timestamp(next),
                Err(seen) => last = seen,
            }
        }
    }

    /// `1700000000.12345`, zero-padded to 16 characters as swift's `normal` form.
    pub fn normal(self) -> String {
        format!("{:010}.{:05}", self.0 / 100_000, self.0 % 100_000)
    }

    pub fn parse(s: &str) -> Option<Timestamp> {
        let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
        let secs: u64 = secs.parse().ok()?;
        let mut frac = frac.chars().take(5).collect::<String>();
        if !frac.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        while frac.len() < 5 {
            frac.push('0');
        }
        Some(Timestamp(secs * 100_000 + frac.parse::<u64>().ok()?))
    }

    pub fn secs(self) -> u64 {
        self.0 / 100_000
    }

    /// `Last-Modified`: swift rounds up to the next whole second.
    pub fn http_date(self) -> String {
        let secs = self.0.div_ceil(100_000);
        httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
    }

    /// `2024-01-02T03:04:05.123450` as in JSON listings.
    pub fn iso(self) -> String {
        let micros = (self.0 * 10) as i64;
        chrono::DateTime::from_timestamp_micros(micros)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string())
            .unwrap_or_default()
    }
}

/// Seconds since the epoch, now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_order() {
        let a = Timestamp::now();
        let b = Timestamp::now();
        assert!(b > a);
        assert_eq!(Timestamp::parse(&a.normal()), Some(a));
        assert_eq!(Timestamp(170_000_000_012_345).normal(), "1700000000.12345");
        assert_eq!(Timestamp::parse("1700000000.1"), Some(Timestamp(170_000_000_010_000)));
        assert_eq!(Timestamp(170_000_000_000_001).http_date(), "Tue, 14 Nov 2023 22:13:21 GMT");
    }
}
