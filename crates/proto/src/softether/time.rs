//! SoftEther time and civil dates.
//!
//! Every time SoftEther puts in a PACK and in its configuration file is a
//! *SoftEther time*: **milliseconds since 1970-01-01T09:00:00Z**, i.e. Unix
//! milliseconds minus 32 400 000 (docs/config-format.md §4, docs/admin-rpc.md
//! §2). `SystemToUINT64` subtracts the 9 hours and `UINT64ToSystem` adds them
//! back (`src/Mayaqua/Kernel.c`). Observed on 5.01 build 9674: a hub created
//! at 2026-11-22T02:56:42.605Z is stored and sent as 1795283802605, and
//! vpncmd and the JSON-RPC API show it as 02:56:42 again. 0 means
//! "none/never"; SoftEther converts it like any other value, so it renders
//! as `1970-01-01T09:00:00.000Z` (observed in JSON-RPC).
//!
//! The civil-date functions are Howard Hinnant's `days_from_civil` /
//! `civil_from_days` (proleptic Gregorian calendar, days since 1970-01-01),
//! used for the JSON times of the admin API and the HTTP `Date` header.

/// The difference between Unix time and SoftEther time, in ms (9 hours).
pub const EPOCH_OFFSET_MS: u64 = 32_400_000;

/// Latest Unix time SoftEther converts, in ms (`SafeTime64`, `Kernel.c`):
/// 2099-12-29T16:02:03.123Z.
pub const MAX_UNIX_MS: u64 = 4_102_243_323_123;

/// SoftEther time of a Unix time in ms (`SystemToUINT64`): minus 9 hours,
/// saturating at 0 ("none") for instants before 1970-01-01T09:00:00Z.
///
/// Difference from SoftEther: `SystemToUINT64` also gives 0 for every
/// instant before 1971-01-11T00:00:00Z, because its guard compares Unix
/// *seconds* with the millisecond offset. No real clock or stored time is
/// that old; saturating instead keeps [`to_unix_ms`] and this function
/// exact inverses for every non-zero SoftEther time (the JSON-RPC times of
/// docs/admin-rpc.md §9 round-trip).
pub fn from_unix_ms(unix_ms: u64) -> u64 {
    unix_ms.saturating_sub(EPOCH_OFFSET_MS)
}

/// Unix time in ms of a SoftEther time, as `UINT64ToSystem` computes it:
/// the 9 hours added back, clamped to [`MAX_UNIX_MS`] (`SafeTime64`).
/// 0 ("none/never") gives the SoftEther epoch, 32 400 000
/// (1970-01-01T09:00:00Z), as SoftEther shows it; use [`to_unix_ms_opt`]
/// where "never" must stay distinct.
pub fn to_unix_ms(t: u64) -> u64 {
    t.saturating_add(EPOCH_OFFSET_MS).min(MAX_UNIX_MS)
}

/// Unix time in ms of a SoftEther time, `None` for 0 ("none/never").
pub fn to_unix_ms_opt(t: u64) -> Option<u64> {
    (t != 0).then(|| to_unix_ms(t))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (`month` 1–12,
/// `day` 1–31; out-of-range values are not checked and give a date
/// arithmetically, e.g. February 30 = March 2).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Proleptic Gregorian `(year, month 1–12, day 1–31)` of a day count since
/// 1970-01-01 (negative before).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // both in range by construction: d 1..=31, m 1..=12
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Day of the week of a day count since 1970-01-01: 0 = Sunday … 6 =
/// Saturday (1970-01-01 was a Thursday).
pub fn weekday(days: i64) -> u32 {
    (days + 4).rem_euclid(7) as u32
}

/// A UTC instant broken into calendar fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UtcTime {
    /// Year (proleptic Gregorian).
    pub year: i64,
    /// Month, 1–12.
    pub month: u32,
    /// Day of the month, 1–31.
    pub day: u32,
    /// Hour, 0–23.
    pub hour: u32,
    /// Minute, 0–59.
    pub minute: u32,
    /// Second, 0–59.
    pub second: u32,
    /// Millisecond, 0–999.
    pub millis: u32,
    /// Day of the week, 0 = Sunday (see [`weekday`]).
    pub weekday: u32,
}

impl UtcTime {
    /// The calendar fields of a Unix time in ms.
    pub fn from_unix_ms(unix_ms: u64) -> UtcTime {
        let secs = unix_ms / 1000;
        let days = (secs / 86_400) as i64;
        let rem = (secs % 86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        UtcTime {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
            millis: (unix_ms % 1000) as u32,
            weekday: weekday(days),
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` (RFC 3339 with milliseconds), the form of
    /// SoftEther's JSON times (`SystemTime64ToJsonStr`, docs/admin-rpc.md §9).
    pub fn rfc3339_ms(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.millis
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_values() {
        // docs/admin-rpc.md §2: config and PACK value of a hub created
        // 2026-11-22T02:56:42.605Z
        assert_eq!(from_unix_ms(1_795_316_202_605), 1_795_283_802_605);
        assert_eq!(to_unix_ms(1_795_283_802_605), 1_795_316_202_605);
        assert_eq!(
            UtcTime::from_unix_ms(to_unix_ms(1_795_283_802_605)).rfc3339_ms(),
            "2026-11-22T02:56:42.605Z"
        );
    }

    #[test]
    fn zero_is_the_softether_epoch() {
        // UINT64ToSystem(0) adds the 9 hours like for any other value
        assert_eq!(to_unix_ms(0), EPOCH_OFFSET_MS);
        assert_eq!(
            UtcTime::from_unix_ms(to_unix_ms(0)).rfc3339_ms(),
            "1970-01-01T09:00:00.000Z"
        );
        assert_eq!(to_unix_ms_opt(0), None);
        assert_eq!(to_unix_ms_opt(1), Some(EPOCH_OFFSET_MS + 1));
    }

    #[test]
    fn from_unix_saturates_and_inverts_to_unix() {
        assert_eq!(from_unix_ms(0), 0);
        assert_eq!(from_unix_ms(5), 0);
        assert_eq!(from_unix_ms(EPOCH_OFFSET_MS), 0);
        assert_eq!(from_unix_ms(EPOCH_OFFSET_MS + 1), 1);
        // every non-zero SoftEther time up to SafeTime64's limit round-trips
        for t in [
            1,
            999,
            86_399_999,
            1_795_283_802_605,
            MAX_UNIX_MS - EPOCH_OFFSET_MS,
        ] {
            assert_eq!(from_unix_ms(to_unix_ms(t)), t);
        }
        // 0 does not: it is shown as the SoftEther epoch, which maps back to 0
        assert_eq!(from_unix_ms(to_unix_ms(0)), 0);
    }

    #[test]
    fn safe_time64_clamps_the_top() {
        assert_eq!(to_unix_ms(u64::MAX), MAX_UNIX_MS);
        assert_eq!(to_unix_ms(MAX_UNIX_MS), MAX_UNIX_MS);
        assert_eq!(
            UtcTime::from_unix_ms(MAX_UNIX_MS).rfc3339_ms(),
            "2099-12-29T16:02:03.123Z"
        );
    }

    #[test]
    fn civil_round_trip_and_known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(
            civil_from_days(days_from_civil(2100, 3, 1) - 1),
            (2100, 2, 28)
        );
        assert_eq!(weekday(0), 4); // Thursday
        assert_eq!(weekday(-1), 3);
        assert_eq!(weekday(days_from_civil(2026, 11, 22)), 0); // a Sunday
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert!((1..=12).contains(&m) && (1..=31).contains(&d));
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
