//! SigV4 timestamps: ISO 8601 basic format (`20261126T000000Z`) and the HTTP `Date` header.
//!
//! Parsed by hand (no date crate): SigV4 needs UTC only, whole seconds, years 1970–9999.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The last second of year 9999, the largest time an ISO 8601 basic timestamp can hold.
const MAX_SECONDS: i64 = 253_402_300_799;

/// A UTC time in whole seconds since the Unix epoch, between 1970 and the end of 9999.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Timestamp(i64);

impl Timestamp {
    /// The time `t`, truncated to the second and clamped to 1970..=9999.
    pub(crate) fn from_system_time(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Self(
                i64::try_from(d.as_secs())
                    .unwrap_or(MAX_SECONDS)
                    .min(MAX_SECONDS),
            ),
            Err(_) => Self(0),
        }
    }

    pub(crate) fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.0.unsigned_abs())
    }

    #[cfg(test)]
    pub(crate) fn seconds(self) -> i64 {
        self.0
    }

    /// This time plus (or minus) `seconds`, clamped to the representable range.
    pub(crate) fn offset(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds).clamp(0, MAX_SECONDS))
    }

    /// Parses `YYYYMMDD'T'HHMMSS'Z'`, exactly 16 characters.
    pub(crate) fn parse_iso8601_basic(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return None;
        }
        let year = digits(&b[0..4])?;
        let month = digits(&b[4..6])?;
        let day = digits(&b[6..8])?;
        let hour = digits(&b[9..11])?;
        let minute = digits(&b[11..13])?;
        let second = digits(&b[13..15])?;
        Self::from_parts(year, month, day, hour, minute, second)
    }

    /// Parses an HTTP date in the IMF-fixdate form of RFC 9110 §5.6.7,
    /// `Sun, 06 Nov 1994 08:49:37 GMT`, the only form HTTP senders may generate.
    pub(crate) fn parse_http_date(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 29
            || &b[3..5] != b", "
            || b[7] != b' '
            || b[11] != b' '
            || b[16] != b' '
            || b[19] != b':'
            || b[22] != b':'
            || &b[25..] != b" GMT"
        {
            return None;
        }
        const DAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
        const MONTHS: [&[u8]; 12] = [
            b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
            b"Dec",
        ];
        if !DAYS.contains(&&b[0..3]) {
            return None;
        }
        let month = MONTHS.iter().position(|m| *m == &b[8..11])?;
        let month = u32::try_from(month).ok()? + 1;
        let day = digits(&b[5..7])?;
        let year = digits(&b[12..16])?;
        let hour = digits(&b[17..19])?;
        let minute = digits(&b[20..22])?;
        let second = digits(&b[23..25])?;
        Self::from_parts(year, month, day, hour, minute, second)
    }

    fn from_parts(year: u32, month: u32, day: u32, hour: u32, min: u32, sec: u32) -> Option<Self> {
        if !(1970..=9999).contains(&year)
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || min > 59
            || sec > 59
        {
            return None;
        }
        let days = days_from_civil(i64::from(year), i64::from(month), i64::from(day));
        Some(Self(
            days * 86_400 + i64::from(hour) * 3_600 + i64::from(min) * 60 + i64::from(sec),
        ))
    }

    /// `YYYYMMDD'T'HHMMSS'Z'`.
    pub(crate) fn iso8601_basic(self) -> String {
        self.to_string()
    }

    /// `YYYYMMDD`, the date of a credential scope.
    pub(crate) fn date_stamp(self) -> String {
        let mut s = self.to_string();
        s.truncate(8);
        s
    }
}

impl fmt::Display for Timestamp {
    /// Formats as ISO 8601 basic, `20261126T000000Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
            secs / 3_600,
            secs % 3_600 / 60,
            secs % 60
        )
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_iso8601_basic() {
        let t = Timestamp::parse_iso8601_basic("20261126T003000Z").unwrap();
        assert_eq!(t.seconds(), 1_795_653_000);
        assert_eq!(t.iso8601_basic(), "20261126T003000Z");
        assert_eq!(t.date_stamp(), "20261126");
        assert_eq!(
            Timestamp::parse_iso8601_basic("19700101T000000Z")
                .unwrap()
                .seconds(),
            0
        );
        assert_eq!(
            Timestamp::parse_iso8601_basic("99991231T235959Z")
                .unwrap()
                .seconds(),
            MAX_SECONDS
        );
        assert_eq!(
            Timestamp::parse_iso8601_basic("20240229T120000Z")
                .unwrap()
                .iso8601_basic(),
            "20240229T120000Z"
        );
    }

    #[test]
    fn rejects_bad_iso8601_basic() {
        for bad in [
            "",
            "20261126T003000",
            "20261126T003000z",
            "20261126 003000Z",
            "2026-11-26T00:30:00Z",
            "20261326T003000Z",
            "20261100T003000Z",
            "20230229T003000Z",
            "20261126T243000Z",
            "20261126T006000Z",
            "20261126T003060Z",
            "19691231T235959Z",
            "2026112６T00300Z",
            "+0261126T003000Z",
        ] {
            assert_eq!(Timestamp::parse_iso8601_basic(bad), None, "{bad}");
        }
    }

    #[test]
    fn parses_http_dates() {
        let t = Timestamp::parse_http_date("Thu, 26 Nov 2026 00:30:00 GMT").unwrap();
        assert_eq!(t.iso8601_basic(), "20261126T003000Z");
        assert_eq!(
            Timestamp::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT")
                .unwrap()
                .iso8601_basic(),
            "19941106T084937Z"
        );
        for bad in [
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT ",
        ] {
            assert_eq!(Timestamp::parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn system_time_round_trip_and_clamping() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_653_000) + Duration::from_millis(999);
        let ts = Timestamp::from_system_time(t);
        assert_eq!(ts.seconds(), 1_795_653_000);
        assert_eq!(
            ts.to_system_time(),
            UNIX_EPOCH + Duration::from_secs(1_795_653_000)
        );
        assert_eq!(
            Timestamp::from_system_time(UNIX_EPOCH - Duration::from_secs(5)).seconds(),
            0
        );
        assert_eq!(ts.offset(i64::MAX).seconds(), MAX_SECONDS);
        assert_eq!(ts.offset(i64::MIN).seconds(), 0);
    }

    #[test]
    fn civil_conversion_round_trips_every_day() {
        for days in 0..(MAX_SECONDS / 86_400) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
