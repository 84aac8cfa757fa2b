//! Timestamps of our programs' log lines, so that tests show delays with
//! the server's own clock (when it logged what) instead of timing the test
//! process against a wall-clock threshold.
//!
//! Our programs log through `tracing_subscriber`: each line starts with an
//! RFC 3339 UTC timestamp, e.g.
//! `2026-11-22T05:07:41.123456Z  INFO rustether_server::cascade: ...`, or
//! in the daemon's server log with SoftEther's local
//! `2026-11-22 05:07:41.123  INFO …`.

/// Milliseconds since midnight UTC of the timestamp that starts `line`
/// (`YYYY-MM-DDTHH:MM:SS[.fraction]Z`), or `None` when the line does not
/// start with one.
pub fn time_of_day_ms(line: &str) -> Option<u64> {
    let mut words = line.split_whitespace();
    let ts = words.next()?;
    // The daemon's server log: SoftEther's `YYYY-MM-DD HH:MM:SS.mmm`
    // (local time); foreground and tests: `YYYY-MM-DDTHH:MM:SS…Z`.
    let (date, time) = match ts.split_once('T') {
        Some((d, t)) => (d, t.strip_suffix('Z')?),
        None => (ts, words.next()?),
    };
    if date.len() != 10 || date.as_bytes()[4] != b'-' || date.as_bytes()[7] != b'-' {
        return None;
    }
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut parts = hms.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    if parts.next().is_some() || h > 23 || m > 59 || s > 60 {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Milliseconds: the first three digits of the fraction, padded.
    let ms = format!("{frac:0<3}")[..3].parse::<u64>().ok()?;
    Some(((h * 60 + m) * 60 + s) * 1000 + ms)
}

/// Milliseconds from a line logged at `earlier` to one logged at `later`
/// (times of day from [`time_of_day_ms`]); a gap that crosses midnight is
/// counted forward. Meant for gaps well under a day.
pub fn gap_ms(earlier: u64, later: u64) -> u64 {
    const DAY: u64 = 24 * 3600 * 1000;
    (later + DAY - earlier % DAY) % DAY
}

/// The lines of `log` that contain `needle`, each with its time of day
/// (lines without a timestamp are left out).
pub fn timed_lines<'a>(log: &'a str, needle: &str) -> Vec<(u64, &'a str)> {
    log.lines()
        .filter(|l| l.contains(needle))
        .filter_map(|l| Some((time_of_day_ms(l)?, l)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tracing_timestamps() {
        let l = "2026-11-22T05:07:41.123456Z  INFO rustether_server::cascade: x";
        assert_eq!(
            time_of_day_ms(l),
            Some(((5 * 60 + 7) * 60 + 41) * 1000 + 123)
        );
        assert_eq!(time_of_day_ms("2026-11-22T00:00:01.5Z a"), Some(1500));
        assert_eq!(time_of_day_ms("2026-11-22T00:00:01Z a"), Some(1000));
        assert_eq!(time_of_day_ms("INFO no timestamp"), None);
        assert_eq!(time_of_day_ms("2026-11-22T25:00:00Z"), None);
        assert_eq!(
            time_of_day_ms("2026-11-22 00:00:01.250  INFO x"),
            Some(1250)
        );
        assert_eq!(time_of_day_ms(""), None);
    }

    #[test]
    fn gaps_cross_midnight() {
        assert_eq!(gap_ms(1000, 3500), 2500);
        assert_eq!(gap_ms(24 * 3600 * 1000 - 500, 700), 1200);
        let log = "2026-11-22T00:00:01.000Z a x\nno time x\n2026-11-22T00:00:02.000Z b y\n";
        assert_eq!(timed_lines(log, "x").len(), 1);
        assert_eq!(timed_lines(log, " ").len(), 2);
    }
}
