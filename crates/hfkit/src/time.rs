//! Dates from unix seconds, without a calendar crate: the one implementation of the calendar
//! arithmetic that the token expiry (`hf auth list`, `hf auth status`), the Hub's ISO 8601
//! timestamps (`whoami-v2` of `hf serve`) and the dates of a served cache (from file times)
//! share.

use std::time::{SystemTime, UNIX_EPOCH};

/// `YYYY-MM-DD` (UTC) of a unix time.
pub fn date(unix_secs: i64) -> String {
    let (y, m, d) = civil_from_days(unix_secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DDTHH:MM:SS.000Z` of a unix time, as the Hub writes times.
pub fn iso8601(unix_secs: i64) -> String {
    timestamp(unix_secs, 0)
}

/// A time as the Hub's JSON writes it: `YYYY-MM-DDTHH:MM:SS.mmmZ` (times before 1970 are
/// written as 1970-01-01).
pub fn hub_date(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    timestamp(i64::try_from(since.as_secs()).unwrap_or(i64::MAX / 2), since.subsec_millis())
}

fn timestamp(unix_secs: i64, millis: u32) -> String {
    let of_day = unix_secs.rem_euclid(86_400);
    format!("{}T{:02}:{:02}:{:02}.{millis:03}Z", date(unix_secs), of_day / 3600, of_day / 60 % 60, of_day % 60)
}

/// Seconds since 1970 now (0 if the clock is before 1970).
pub fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Days since 1970-01-01 to a proleptic Gregorian `(year, month, day)` (Howard Hinnant's
/// algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(21_989), (2030, 3, 16));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(iso8601(4_102_444_800 + 3661), "2100-01-01T01:01:01.000Z");
        assert_eq!(date(-1), "1969-12-31");
    }

    #[test]
    fn hub_dates() {
        assert_eq!(hub_date(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(hub_date(UNIX_EPOCH + Duration::from_millis(1_714_979_289_250)), "2024-05-06T07:08:09.250Z");
        assert_eq!(hub_date(UNIX_EPOCH - Duration::from_secs(5)), "1970-01-01T00:00:00.000Z");
    }
}
