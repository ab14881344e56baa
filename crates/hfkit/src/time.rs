//! Dates from unix seconds, without a date crate: the day a token expires (`hf auth list`,
//! `hf auth status`) and the Hub's ISO 8601 timestamps (`whoami-v2` of `hf serve`).

/// `YYYY-MM-DD` (UTC) of a unix time.
pub fn date(unix_secs: i64) -> String {
    let (y, m, d) = civil_from_days(unix_secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DDTHH:MM:SS.000Z` of a unix time, as the Hub writes times.
pub fn iso8601(unix_secs: i64) -> String {
    let of_day = unix_secs.rem_euclid(86_400);
    format!("{}T{:02}:{:02}:{:02}.000Z", date(unix_secs), of_day / 3600, of_day / 60 % 60, of_day % 60)
}

/// Seconds since 1970 now (0 if the clock is before 1970).
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
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
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(21_989), (2030, 3, 16));
        assert_eq!(iso8601(4_102_444_800 + 3661), "2100-01-01T01:01:01.000Z");
        assert_eq!(date(-1), "1969-12-31");
    }
}
