//! Parsing and normalising single submitted values (dates, money, integers).
//! Strict on purpose: a value either has one obvious reading or it is
//! rejected. The character rule for text is `crate::text`.

use chrono::NaiveDate;

/// Largest accepted amount of whole euros plus one: at most 12 digits.
const MONEY_EURO_LIMIT: u64 = 1_000_000_000_000;

/// `YYYY-MM-DD` or the German `D.M.YYYY` / `DD.MM.YYYY`, as a real calendar
/// date; normalised to `YYYY-MM-DD`.
pub(crate) fn normalise_date(text: &str) -> Option<String> {
    let (year, month, day) = if let Some((year, rest)) = text.split_once('-') {
        let (month, day) = rest.split_once('-')?;
        if year.len() != 4 || month.len() != 2 || day.len() != 2 {
            return None;
        }
        (year, month, day)
    } else {
        let mut parts = text.split('.');
        let (day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || !(1..=2).contains(&day.len()) || !(1..=2).contains(&month.len()) || year.len() != 4
        {
            return None;
        }
        (year, month, day)
    };
    let year: i32 = parse_digits(year)?.try_into().ok()?;
    let month: u32 = parse_digits(month)?.try_into().ok()?;
    let day: u32 = parse_digits(day)?.try_into().ok()?;
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    Some(date.format("%Y-%m-%d").to_string())
}

/// The years a date may have: a four-digit year a person means, neither a
/// typo like 207 nor 20077.
pub const MIN_YEAR: i32 = 1900;
pub const MAX_YEAR: i32 = 2100;

/// What is wrong with a date given as its three parts (day, month, year).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DatePartsProblem {
    /// Some parts are empty: which (day, month, year). Never all three.
    Missing { day: bool, month: bool, year: bool },
    /// The day is not a number from 1 to 31.
    Day,
    /// The month is not a number from 1 to 12.
    Month,
    /// The year is not four digits.
    Year,
    /// Four digits, but outside `MIN_YEAR..=MAX_YEAR`.
    YearOutOfRange,
    /// Each part is fine, but the day does not exist (31 February).
    NoSuchDay,
}

/// A date from the three fields of a date input (day, month, year; each
/// trimmed, all three non-empty is the caller's check for "absent"),
/// normalised to `YYYY-MM-DD`. Day and month take one or two digits,
/// the year exactly four.
pub(crate) fn date_from_parts(day: &str, month: &str, year: &str) -> Result<String, DatePartsProblem> {
    let (day, month, year) = (day.trim(), month.trim(), year.trim());
    if day.is_empty() || month.is_empty() || year.is_empty() {
        return Err(DatePartsProblem::Missing { day: day.is_empty(), month: month.is_empty(), year: year.is_empty() });
    }
    let small = |text: &str, max: u64| {
        (1..=2).contains(&text.len()).then(|| parse_digits(text)).flatten().filter(|n| (1..=max).contains(n))
    };
    let day = small(day, 31).ok_or(DatePartsProblem::Day)?;
    let month = small(month, 12).ok_or(DatePartsProblem::Month)?;
    let year = (year.len() == 4).then(|| parse_digits(year)).flatten().ok_or(DatePartsProblem::Year)?;
    // Four digits: always fits an i32.
    let year = i32::try_from(year).map_err(|_| DatePartsProblem::Year)?;
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        return Err(DatePartsProblem::YearOutOfRange);
    }
    // Day and month are at most 31 and 12 here.
    let date = NaiveDate::from_ymd_opt(year, month as u32, day as u32).ok_or(DatePartsProblem::NoSuchDay)?;
    Ok(date.format("%Y-%m-%d").to_string())
}

/// A non-negative euro amount with at most two decimals, normalised to
/// `1234.50`. Accepted: `1234`, `1234.5`, `1234,50`, `1.234,50`, `1.234`,
/// `1,234.50`, optionally followed by `€` or `EUR`.
///
/// A single separator followed by one or two digits is the decimal
/// separator. Otherwise `.` groups thousands (German), and with both
/// present the last one is the decimal separator. `1,234` is rejected: in
/// German it would be a fraction of a cent.
pub(crate) fn normalise_money(text: &str) -> Option<String> {
    let text = text.strip_suffix('€').or_else(|| text.strip_suffix("EUR")).unwrap_or(text).trim_end();
    let last_separator = text.rfind([',', '.']);
    let (whole, cents) = match last_separator {
        None => (text, ""),
        Some(position) => {
            let separator = &text[position..position + 1];
            let after = &text[position + 1..];
            let before = &text[..position];
            let other = if separator == "," { '.' } else { ',' };
            if before.contains(other) {
                // Both present: the last is decimal, the other groups.
                (before, after)
            } else if (1..=2).contains(&after.len()) && !before.contains(separator) {
                (before, after)
            } else if separator == "." {
                (text, "")
            } else {
                // `1,234`: a German fraction of a cent or an English 1234?
                return None;
            }
        }
    };
    let euros = parse_grouped(whole)?;
    if euros >= MONEY_EURO_LIMIT {
        return None;
    }
    let cents = match cents.len() {
        0 => 0,
        1 => parse_digits(cents)? * 10,
        2 => parse_digits(cents)?,
        _ => return None,
    };
    Some(format!("{euros}.{cents:02}"))
}

/// Whether an amount that `normalise_money` refused has two readings: a
/// single comma followed by exactly three digits (`1,234`, `12,500 €`), a
/// fraction of a cent in German and a thousands group in English.
pub(crate) fn is_ambiguous_money(text: &str) -> bool {
    let text = text.strip_suffix('€').or_else(|| text.strip_suffix("EUR")).unwrap_or(text).trim_end();
    match text.split_once(',') {
        Some((before, after)) => {
            !before.is_empty()
                && before.len() <= 3
                && before.bytes().all(|byte| byte.is_ascii_digit())
                && after.len() == 3
                && after.bytes().all(|byte| byte.is_ascii_digit())
        }
        None => false,
    }
}

/// Why an integer was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntegerProblem {
    NotAnInteger,
    /// Syntactically an integer, but beyond `i64`.
    TooLarge,
}

/// An optional `-` followed by ASCII digits.
pub(crate) fn parse_integer(text: &str) -> Result<i64, IntegerProblem> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(IntegerProblem::NotAnInteger);
    }
    text.parse::<i64>().map_err(|_| IntegerProblem::TooLarge)
}

/// Plain ASCII digits only (no sign, no `+`, no spaces), at most 18.
fn parse_digits(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Digits, optionally grouped in threes by a single kind of separator:
/// `1234`, `1.234`, `1,234,567`.
fn parse_grouped(text: &str) -> Option<u64> {
    let separator = if text.contains('.') { '.' } else { ',' };
    let mut groups = text.split(separator);
    let first = groups.next()?;
    if first.is_empty() || first.contains([',', '.']) {
        return None;
    }
    let mut digits = first.to_owned();
    let mut grouped = false;
    for group in groups {
        if group.len() != 3 || first.len() > 3 {
            return None;
        }
        grouped = true;
        digits.push_str(group);
    }
    if grouped && first.starts_with('0') {
        return None;
    }
    parse_digits(&digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_normalise_to_iso() {
        for (input, expected) in [
            ("2024-02-29", "2024-02-29"),
            ("1970-01-01", "1970-01-01"),
            ("29.02.2024", "2024-02-29"),
            ("1.2.2024", "2024-02-01"),
            ("01.12.1999", "1999-12-01"),
        ] {
            assert_eq!(normalise_date(input).as_deref(), Some(expected), "{input}");
        }
    }

    #[test]
    fn bad_dates_are_rejected() {
        for input in [
            "",
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-1-5",
            "24-01-05",
            "+2024-01-05",
            "2024-01-05T00:00",
            "2024/01/05",
            "31.04.2024",
            "1.2.24",
            "01.02.2024.",
            "+1.2.2024",
            "a.b.cdef",
            "2024-01-0x",
            "１２.０１.２０２４",
        ] {
            assert_eq!(normalise_date(input), None, "{input:?}");
        }
    }

    #[test]
    fn dates_from_three_parts() {
        assert_eq!(date_from_parts("27", "3", "2007").as_deref(), Ok("2007-03-27"));
        assert_eq!(date_from_parts(" 01", "10 ", "2026").as_deref(), Ok("2026-10-01"));
        assert_eq!(date_from_parts("29", "02", "2024").as_deref(), Ok("2024-02-29"));
        use DatePartsProblem as P;
        for ((day, month, year), expected) in [
            (("31", "02", "2026"), P::NoSuchDay),
            (("29", "2", "2023"), P::NoSuchDay),
            (("31", "4", "2026"), P::NoSuchDay),
            (("", "3", "2007"), P::Missing { day: true, month: false, year: false }),
            (("", "", "2007"), P::Missing { day: true, month: true, year: false }),
            (("1", "3", " "), P::Missing { day: false, month: false, year: true }),
            (("0", "3", "2007"), P::Day),
            (("32", "3", "2007"), P::Day),
            (("001", "3", "2007"), P::Day),
            (("x", "3", "2007"), P::Day),
            (("-1", "3", "2007"), P::Day),
            (("1", "13", "2007"), P::Month),
            (("1", "0", "2007"), P::Month),
            (("1", "März", "2007"), P::Month),
            (("1", "3", "07"), P::Year),
            (("1", "3", "20077"), P::Year),
            (("1", "3", "２００７"), P::Year),
            (("1", "3", "1899"), P::YearOutOfRange),
            (("1", "3", "2101"), P::YearOutOfRange),
        ] {
            assert_eq!(date_from_parts(day, month, year), Err(expected), "{day}.{month}.{year}");
        }
    }

    #[test]
    fn money_normalises_to_cents() {
        for (input, expected) in [
            ("1234", "1234.00"),
            ("1234.5", "1234.50"),
            ("1234.50", "1234.50"),
            ("1234,50", "1234.50"),
            ("1234,5", "1234.50"),
            ("1.234,50", "1234.50"),
            ("1.234", "1234.00"),
            ("1.234.567", "1234567.00"),
            ("1,234.50", "1234.50"),
            ("1,234,567.89", "1234567.89"),
            ("0,99", "0.99"),
            ("0", "0.00"),
            ("007", "7.00"),
            ("12 €", "12.00"),
            ("12,30€", "12.30"),
            ("12 EUR", "12.00"),
            ("999999999999,99", "999999999999.99"),
            ("3.250,00 €", "3250.00"),
            ("3250", "3250.00"),
        ] {
            assert_eq!(normalise_money(input).as_deref(), Some(expected), "{input}");
        }
    }

    #[test]
    fn bad_money_is_rejected() {
        for input in [
            "",
            "€",
            "-5",
            "+5",
            "1,234",
            "12.345,678",
            "1234.567",
            "12,3,4",
            "1.23.456",
            "12.34.56",
            "1.2345,00",
            "1234.",
            ",50",
            ".50",
            "1 234",
            "1e3",
            "abc",
            "1.234,50.00",
            "1.234.5",
            "0.123.456",
            "1000000000000",
            "1.000.000.000.000,00",
            "99999999999999999999999",
            "12 USD",
            "€ 12",
        ] {
            assert_eq!(normalise_money(input), None, "{input:?}");
        }
    }

    #[test]
    fn an_amount_with_two_readings_is_told_apart() {
        for input in ["1,234", "12,500 €", "999,999EUR"] {
            assert_eq!(normalise_money(input), None, "{input}");
            assert!(is_ambiguous_money(input), "{input}");
        }
        for input in ["1,23", "1234,567", "1,234,567", "abc", "1.234,500", ",500"] {
            assert!(!is_ambiguous_money(input), "{input}");
        }
    }

    #[test]
    fn integers_parse_strictly() {
        assert_eq!(parse_integer("42"), Ok(42));
        assert_eq!(parse_integer("-7"), Ok(-7));
        assert_eq!(parse_integer("007"), Ok(7));
        for input in ["", "-", "+5", "4.0", "1.000", " 4", "4 ", "0x10", "--1", "٣"] {
            assert_eq!(parse_integer(input), Err(IntegerProblem::NotAnInteger), "{input:?}");
        }
        assert_eq!(parse_integer("99999999999999999999"), Err(IntegerProblem::TooLarge));
    }
}
