//! Facts about the machine for administration: the server's own IP
//! addresses (the "local administrator" rule), OS and memory information
//! for `GetServerInfo`/`GetServerStatus`.

use rustether_admin::rpc::{MemInfo, OsInfo};

/// `OsType` of Linux in `OS_INFO` (`OSTYPE_LINUX`, `src/Mayaqua/Kernel.h`).
const OSTYPE_LINUX: u32 = 3100;

pub(crate) use crate::hostaddr::local_addrs;

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// The host name (`/proc/sys/kernel/hostname`).
pub(crate) fn hostname() -> String {
    read_trimmed("/proc/sys/kernel/hostname").unwrap_or_else(|| "rustether".to_owned())
}

/// `OS_INFO` of this machine: Linux, the distribution's `PRETTY_NAME` and
/// the kernel release.
pub(crate) fn os_info() -> OsInfo {
    let product = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| std::env::consts::OS.to_owned());
    let kernel = read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_default();
    OsInfo {
        os_type: if cfg!(target_os = "linux") {
            OSTYPE_LINUX
        } else {
            0
        },
        os_system_name: std::env::consts::OS.to_owned(),
        os_product_name: product,
        os_vendor_name: String::new(),
        os_version: kernel.clone(),
        kernel_name: std::env::consts::OS.to_owned(),
        kernel_version: kernel,
        ..OsInfo::default()
    }
}

/// `MEMINFO` from `/proc/meminfo` (bytes); zeros where unknown.
pub(crate) fn mem_info() -> MemInfo {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kib = |key: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            .saturating_mul(1024)
    };
    let total = kib("MemTotal");
    let free = kib("MemAvailable");
    let swap_total = kib("SwapTotal");
    let swap_free = kib("SwapFree");
    MemInfo {
        total_memory: total.saturating_add(swap_total),
        used_memory: total
            .saturating_sub(free)
            .saturating_add(swap_total.saturating_sub(swap_free)),
        free_memory: free.saturating_add(swap_free),
        total_phys: total,
        used_phys: total.saturating_sub(free),
        free_phys: free,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_facts() {
        let addrs = local_addrs();
        // Linux: read from /proc, which is always there (no silent pass).
        if cfg!(target_os = "linux") {
            assert!(
                addrs.iter().any(|a| a.is_loopback()),
                "loopback is up in every namespace the tests use: {addrs:?}"
            );
        }
        let m = mem_info();
        if cfg!(target_os = "linux") {
            assert!(m.total_phys > 0 && m.used_phys <= m.total_phys);
        }
        assert!(!hostname().is_empty());
        let os = os_info();
        assert!(!os.os_system_name.is_empty());
    }
}
