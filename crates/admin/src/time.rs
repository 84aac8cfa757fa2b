//! SoftEther's 64-bit time values.
//!
//! Every time SoftEther puts in a PACK (and in its configuration file) is
//! **milliseconds since 1970-01-01T09:00:00Z**, i.e. Unix milliseconds minus
//! 32 400 000 (`SystemToUINT64` subtracts 9 hours, `UINT64ToSystem` adds
//! them back; `src/Mayaqua/Kernel.c`). Observed on 5.01 build 9674: a hub
//! created at 2026-11-22T02:56:42.605Z is stored and sent as
//! 1795283802605, which is 2026-11-21T17:56:42.605Z read as Unix time, and
//! vpncmd and the JSON-RPC API show it as 02:56:42 again. 0 means
//! "none/never" and renders in JSON as `1970-01-01T09:00:00.000Z`.
//!
//! The RPC structures of this crate carry these SoftEther values unchanged;
//! the server converts when it relates them to its clock.

/// The difference between SoftEther time and Unix time, in ms (9 hours).
pub const EPOCH_OFFSET_MS: u64 = 32_400_000;

/// Latest Unix time SoftEther converts (`SafeTime64`, `Kernel.c`), in ms.
pub const MAX_UNIX_MS: u64 = 4_102_243_323_123;

/// SoftEther time of a Unix time in ms (saturating at 0).
pub fn from_unix_ms(unix_ms: u64) -> u64 {
    unix_ms.saturating_sub(EPOCH_OFFSET_MS)
}

/// Unix time in ms of a SoftEther time (0 = none gives the SoftEther epoch
/// 1970-01-01T09:00:00Z), clamped as `SafeTime64`.
pub fn to_unix_ms(t: u64) -> u64 {
    t.saturating_add(EPOCH_OFFSET_MS).min(MAX_UNIX_MS)
}

/// Unix time in ms of a SoftEther time, `None` for 0 ("none/never").
pub fn to_unix_ms_opt(t: u64) -> Option<u64> {
    (t != 0).then(|| to_unix_ms(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_values() {
        // crates/admin/NOTES.md §4: config and PACK value of a hub created
        // 2026-11-22T02:56:42.605Z
        assert_eq!(from_unix_ms(1_795_316_202_605), 1_795_283_802_605);
        assert_eq!(to_unix_ms(1_795_283_802_605), 1_795_316_202_605);
        assert_eq!(to_unix_ms_opt(0), None);
        assert_eq!(from_unix_ms(5), 0);
        assert_eq!(to_unix_ms(u64::MAX), MAX_UNIX_MS);
    }
}
