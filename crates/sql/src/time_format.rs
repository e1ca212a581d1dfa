//! Date patterns for `parse_time` (Joda-Time `DateTimeFormat` letters, formatting) and
//! `time_to_epoch` (JDK `DateTimeFormatter` letters, parsing).
//!
//! Time zones: `UTC`, `GMT`, `Z`, `Etc/UTC` and fixed offsets (`+01:00`, `-0600`,
//! `UTC+01:00`, `GMT-5`) are supported. Region zones such as `America/Belize` need the IANA
//! database, which this crate (pure, without IO or bundled data) does not carry; they give
//! `Undefined`.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// One element of a pattern: a run of one letter, or literal text.
#[derive(Debug, PartialEq)]
enum Item {
    Field(char, usize),
    Literal(String),
}

fn compile(pattern: &str) -> Option<Vec<Item>> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut items = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // Quoted literal text; '' is a single quote, inside or outside quotes.
            if chars.get(i + 1) == Some(&'\'') {
                items.push(Item::Literal("'".to_owned()));
                i += 2;
                continue;
            }
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return None,
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        text.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(other) => {
                        text.push(*other);
                        i += 1;
                    }
                }
            }
            items.push(Item::Literal(text));
        } else if c.is_ascii_alphabetic() {
            let start = i;
            while chars.get(i) == Some(&c) {
                i += 1;
            }
            items.push(Item::Field(c, i - start));
        } else {
            items.push(Item::Literal(c.to_string()));
            i += 1;
        }
    }
    Some(items)
}

/// Parses a zone: UTC and its aliases, or a fixed offset with an optional UTC/GMT prefix.
fn parse_zone(zone: &str) -> Option<UtcOffset> {
    let zone = zone.trim();
    let upper = zone.to_ascii_uppercase();
    if matches!(
        upper.as_str(),
        "UTC" | "GMT" | "Z" | "UT" | "ETC/UTC" | "ETC/GMT" | "ZULU" | "UCT"
    ) {
        return Some(UtcOffset::UTC);
    }
    let offset = upper
        .strip_prefix("UTC")
        .or_else(|| upper.strip_prefix("GMT"))
        .or_else(|| upper.strip_prefix("UT"))
        .unwrap_or(&upper);
    parse_offset(offset)
}

/// `+hh`, `+hhmm`, `+hh:mm`, `+h`.
fn parse_offset(text: &str) -> Option<UtcOffset> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        1 | 2 => (digits.parse::<i8>().ok()?, 0),
        3 => (
            digits[..1].parse::<i8>().ok()?,
            digits[1..].parse::<i8>().ok()?,
        ),
        _ => (
            digits[..2].parse::<i8>().ok()?,
            digits[2..].parse::<i8>().ok()?,
        ),
    };
    if hours > 18 || minutes > 59 {
        return None;
    }
    UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()
}

fn offset_text(offset: UtcOffset, colon: bool) -> String {
    let (h, m, _) = offset.as_hms();
    let sign = if offset.is_negative() { '-' } else { '+' };
    if colon {
        format!("{sign}{:02}:{:02}", h.unsigned_abs(), m.unsigned_abs())
    } else {
        format!("{sign}{:02}{:02}", h.unsigned_abs(), m.unsigned_abs())
    }
}

fn padded(value: i64, width: usize) -> String {
    if value < 0 {
        format!("-{:0width$}", value.unsigned_abs(), width = width)
    } else {
        format!("{value:0width$}")
    }
}

/// Formats epoch milliseconds with a Joda-Time pattern in `zone`; `None` for an unsupported
/// letter, zone or instant.
pub(crate) fn format_millis(pattern: &str, millis: i64, zone: &str) -> Option<String> {
    let offset = parse_zone(zone)?;
    let instant = OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()?
        .to_offset(offset);
    let mut out = String::new();
    for item in compile(pattern)? {
        let (letter, count) = match item {
            Item::Literal(text) => {
                out.push_str(&text);
                continue;
            }
            Item::Field(letter, count) => (letter, count),
        };
        let year = i64::from(instant.year());
        let hour = i64::from(instant.hour());
        let two_digit = |value: i64| {
            if count == 2 {
                padded(value.rem_euclid(100), 2)
            } else {
                padded(value, count)
            }
        };
        let text = match letter {
            'G' => (if year > 0 { "AD" } else { "BC" }).to_owned(),
            'C' => padded(year.abs() / 100, count),
            'y' | 'u' => two_digit(year),
            'Y' => two_digit(if year > 0 { year } else { 1 - year }),
            'x' => two_digit(i64::from(instant.to_iso_week_date().0)),
            'w' => padded(i64::from(instant.iso_week()), count),
            'e' => padded(i64::from(instant.weekday().number_from_monday()), count),
            'E' => {
                let name = DAYS[usize::from(instant.weekday().number_days_from_monday())];
                if count >= 4 {
                    name.to_owned()
                } else {
                    name[..3].to_owned()
                }
            }
            'D' => padded(i64::from(instant.ordinal()), count),
            'M' => {
                let month = u8::from(instant.month());
                let name = MONTHS[usize::from(month - 1)];
                match count {
                    1 | 2 => padded(i64::from(month), count),
                    3 => name[..3].to_owned(),
                    _ => name.to_owned(),
                }
            }
            'd' => padded(i64::from(instant.day()), count),
            'a' => (if hour < 12 { "AM" } else { "PM" }).to_owned(),
            'H' => padded(hour, count),
            'k' => padded(if hour == 0 { 24 } else { hour }, count),
            'K' => padded(hour % 12, count),
            'h' => padded(if hour % 12 == 0 { 12 } else { hour % 12 }, count),
            'm' => padded(i64::from(instant.minute()), count),
            's' => padded(i64::from(instant.second()), count),
            'S' => {
                let millis = format!("{:03}", instant.millisecond());
                if count <= 3 {
                    millis[..count].to_owned()
                } else {
                    format!("{millis:0<count$}")
                }
            }
            'z' => {
                if offset == UtcOffset::UTC {
                    (if count >= 4 {
                        "Coordinated Universal Time"
                    } else {
                        "UTC"
                    })
                    .to_owned()
                } else {
                    offset_text(offset, true)
                }
            }
            'Z' => match count {
                1 => offset_text(offset, false),
                2 => offset_text(offset, true),
                _ if offset == UtcOffset::UTC => "UTC".to_owned(),
                _ => offset_text(offset, true),
            },
            _ => return None,
        };
        out.push_str(&text);
    }
    Some(out)
}

/// What a parse has read so far.
#[derive(Default)]
struct Parsed {
    year: Option<i32>,
    month: Option<u8>,
    day: Option<u8>,
    day_of_year: Option<u16>,
    hour: Option<u8>,
    hour12: Option<u8>,
    pm: Option<bool>,
    minute: u8,
    second: u8,
    nanos: u32,
    offset: Option<UtcOffset>,
    bc: bool,
}

struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl Cursor<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn digits(&mut self, max: usize) -> Option<(i64, usize)> {
        let taken: String = self
            .rest()
            .chars()
            .take_while(char::is_ascii_digit)
            .take(max.min(18))
            .collect();
        if taken.is_empty() {
            return None;
        }
        self.pos += taken.len();
        Some((taken.parse().ok()?, taken.len()))
    }

    /// The longest of `names` (or their 3-letter abbreviations) the text starts with, case
    /// insensitively; returns its index.
    fn name(&mut self, names: &[&str], short: bool) -> Option<usize> {
        let rest = self.rest().to_ascii_lowercase();
        for (i, name) in names.iter().enumerate() {
            let candidate = if short { &name[..3] } else { name };
            if rest.starts_with(&candidate.to_ascii_lowercase()) {
                self.pos += candidate.len();
                return Some(i);
            }
        }
        None
    }

    /// A zone or offset token: letters, digits, `/`, `_`, `+`, `-`, `:`.
    fn zone(&mut self) -> Option<UtcOffset> {
        let token: String = self
            .rest()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '+' | '-' | ':'))
            .collect();
        self.pos += token.len();
        parse_zone(&token)
    }
}

fn is_numeric_field(item: Option<&Item>) -> bool {
    matches!(item, Some(Item::Field(c, _)) if "yuMdDHhKkmsSn".contains(*c))
}

/// Parses `text` with a JDK `DateTimeFormatter` pattern into epoch milliseconds; UTC when the
/// text names no zone. `None` when the text does not match or names an unsupported zone.
pub(crate) fn parse_epoch_millis(text: &str, pattern: &str) -> Option<i64> {
    let items = compile(pattern)?;
    let mut cursor = Cursor { text, pos: 0 };
    let mut parsed = Parsed::default();
    for (i, item) in items.iter().enumerate() {
        let (letter, count) = match item {
            Item::Literal(literal) => {
                // `get` rather than slicing: the text may have a multi-byte character where the
                // literal ends.
                if cursor
                    .rest()
                    .get(..literal.len())
                    .is_some_and(|prefix| prefix.eq_ignore_ascii_case(literal))
                {
                    cursor.pos += literal.len();
                    continue;
                }
                return None;
            }
            Item::Field(letter, count) => (*letter, *count),
        };
        // Adjacent numeric fields ("yyyyMMdd") are read at their fixed widths.
        let width = if is_numeric_field(items.get(i + 1)) {
            count
        } else {
            18
        };
        let number = |cursor: &mut Cursor<'_>| cursor.digits(width);
        match letter {
            'y' | 'u' | 'Y' => {
                let negative = cursor.rest().starts_with('-');
                if negative {
                    cursor.pos += 1;
                }
                let (value, len) = number(&mut cursor)?;
                let value = if count == 2 && len == 2 {
                    2000 + value
                } else {
                    value
                };
                let value = if negative { -value } else { value };
                parsed.year = Some(i32::try_from(value).ok()?);
            }
            'M' | 'L' => {
                parsed.month = Some(match count {
                    1 | 2 => u8::try_from(number(&mut cursor)?.0).ok()?,
                    3 => u8::try_from(cursor.name(&MONTHS, true)? + 1).ok()?,
                    _ => u8::try_from(cursor.name(&MONTHS, false)? + 1).ok()?,
                });
            }
            'd' => parsed.day = Some(u8::try_from(number(&mut cursor)?.0).ok()?),
            'D' => parsed.day_of_year = Some(u16::try_from(number(&mut cursor)?.0).ok()?),
            'H' => parsed.hour = Some(u8::try_from(number(&mut cursor)?.0).ok()?),
            'k' => parsed.hour = Some(u8::try_from(number(&mut cursor)?.0 % 24).ok()?),
            // Clock hour 1-12 (12 is the hour after midnight or noon) and hour-of-half-day 0-11.
            'h' => {
                let hour = number(&mut cursor)?.0;
                if !(1..=12).contains(&hour) {
                    return None;
                }
                parsed.hour12 = Some(u8::try_from(hour % 12).ok()?);
            }
            'K' => {
                let hour = number(&mut cursor)?.0;
                if !(0..12).contains(&hour) {
                    return None;
                }
                parsed.hour12 = Some(u8::try_from(hour).ok()?);
            }
            'm' => parsed.minute = u8::try_from(number(&mut cursor)?.0).ok()?,
            's' => parsed.second = u8::try_from(number(&mut cursor)?.0).ok()?,
            'S' => {
                let (value, len) = cursor.digits(count)?;
                if len != count || count > 9 {
                    return None;
                }
                parsed.nanos = u32::try_from(value * 10i64.pow((9 - count) as u32)).ok()?;
            }
            'n' => parsed.nanos = u32::try_from(number(&mut cursor)?.0).ok()?,
            'a' => {
                parsed.pm = Some(cursor.name(&["AM", "PM"], false)? == 1);
            }
            'E' => {
                cursor.name(&DAYS, count < 4)?;
            }
            'G' => {
                parsed.bc = cursor.name(&["AD", "BC"], false)? == 1;
            }
            'V' | 'z' | 'O' | 'X' | 'x' | 'Z' => {
                if matches!(letter, 'X') && cursor.rest().starts_with('Z') {
                    cursor.pos += 1;
                    parsed.offset = Some(UtcOffset::UTC);
                } else {
                    parsed.offset = Some(cursor.zone()?);
                }
            }
            _ => return None,
        }
    }
    if !cursor.rest().is_empty() {
        return None;
    }
    let year = parsed.year.unwrap_or(1970);
    let year = if parsed.bc {
        1i32.checked_sub(year)?
    } else {
        year
    };
    let date = match parsed.day_of_year {
        Some(ordinal) => Date::from_ordinal_date(year, ordinal).ok()?,
        None => Date::from_calendar_date(
            year,
            Month::try_from(parsed.month.unwrap_or(1)).ok()?,
            parsed.day.unwrap_or(1),
        )
        .ok()?,
    };
    let hour = match (parsed.hour, parsed.hour12, parsed.pm) {
        (Some(hour), _, _) => hour,
        (None, Some(hour), Some(true)) => hour + 12,
        (None, Some(hour), _) => hour,
        (None, None, _) => 0,
    };
    let time = Time::from_hms_nano(hour, parsed.minute, parsed.second, parsed.nanos).ok()?;
    let instant =
        PrimitiveDateTime::new(date, time).assume_offset(parsed.offset.unwrap_or(UtcOffset::UTC));
    i64::try_from(instant.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Weekday;

    #[test]
    fn weekday_names_line_up_with_the_time_crate() {
        assert_eq!(
            DAYS[usize::from(Weekday::Monday.number_days_from_monday())],
            "Monday"
        );
    }
}
