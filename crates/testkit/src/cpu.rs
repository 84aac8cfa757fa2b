//! CPU accounting from /proc: per process group and whole machine.

use std::time::Instant;

use serde::Serialize;

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, normally 100).
pub fn clk_tck() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(v)) if v > 0 => v as u64,
        _ => 100,
    }
}

/// Fields of /proc/PID/stat after the `comm` field: index 0 = state,
/// 2 = pgrp, 11 = utime, 12 = stime (proc(5)).
fn stat_fields(text: &str) -> Option<Vec<&str>> {
    let after = &text[text.rfind(')')? + 1..];
    Some(after.split_whitespace().collect())
}

/// (pgrp, utime + stime in ticks) of one /proc/PID/stat text.
pub fn parse_stat(text: &str) -> Option<(i32, u64)> {
    let f = stat_fields(text)?;
    let pgrp = f.get(2)?.parse().ok()?;
    let ut: u64 = f.get(11)?.parse().ok()?;
    let st: u64 = f.get(12)?.parse().ok()?;
    Some((pgrp, ut + st))
}

/// Calls `f(pid, stat_text)` for every process in /proc.
fn for_each_stat(mut f: impl FnMut(i32, &str)) {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            f(pid, &text);
        }
    }
}

/// CPU ticks (user + system, all threads) used so far by the live processes
/// of process group `pgid`. Processes that already exited are not counted.
pub fn pgrp_cpu_ticks(pgid: i32) -> u64 {
    let mut total = 0;
    for_each_stat(|_, text| {
        if let Some((pg, ticks)) = parse_stat(text) {
            if pg == pgid {
                total += ticks;
            }
        }
    });
    total
}

/// CPU ticks (user + system, all threads) used so far by process `pid`
/// alone; `None` if it does not exist.
pub fn pid_cpu_ticks(pid: i32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text).map(|(_, t)| t)
}

/// Pids of the live (not zombie) members of process group `pgid`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let mut v = Vec::new();
    for_each_stat(|pid, text| {
        if let Some(f) = stat_fields(text) {
            if f.get(2).and_then(|p| p.parse::<i32>().ok()) == Some(pgid) && f.first() != Some(&"Z")
            {
                v.push(pid);
            }
        }
    });
    v
}

/// Whole-machine counters from the `cpu` line of /proc/stat (ticks, all cores).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MachineCpu {
    /// Sum of all fields.
    pub total: u64,
    /// total − idle − iowait − steal.
    pub busy: u64,
    /// Time stolen by the hypervisor.
    pub steal: u64,
}

impl MachineCpu {
    /// Parse /proc/stat text.
    pub fn parse(text: &str) -> Option<MachineCpu> {
        let line = text.lines().find(|l| l.starts_with("cpu "))?;
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        if v.len() < 8 {
            return None;
        }
        let total: u64 = v.iter().sum();
        let (idle, iowait, steal) = (v[3], v[4], v[7]);
        Some(MachineCpu {
            total,
            busy: total.saturating_sub(idle + iowait + steal),
            steal,
        })
    }

    /// Read /proc/stat now (zeros if unreadable).
    pub fn read() -> MachineCpu {
        std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|t| MachineCpu::parse(&t))
            .unwrap_or_default()
    }
}

/// CPU use over a time window.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CpuUsage {
    /// Wall-clock length of the window in seconds.
    pub wall_s: f64,
    /// Per process group given to [`CpuWindow::start`]: CPU time / wall time, in % of one core.
    pub group_pct: Vec<f64>,
    /// Whole machine busy time in % of all cores.
    pub machine_busy_pct: f64,
    /// Steal time in % of all cores (high = disturbed by other VMs).
    pub steal_pct: f64,
}

/// A started measurement window (see [`CpuWindow::finish`]).
#[derive(Debug, Clone)]
pub struct CpuWindow {
    groups: Vec<i32>,
    ticks: Vec<u64>,
    machine: MachineCpu,
    t0: Instant,
}

impl CpuWindow {
    /// Start measuring the given process groups (and the machine).
    pub fn start(groups: &[i32]) -> CpuWindow {
        CpuWindow {
            groups: groups.to_vec(),
            ticks: groups.iter().map(|g| pgrp_cpu_ticks(*g)).collect(),
            machine: MachineCpu::read(),
            t0: Instant::now(),
        }
    }

    /// Usage since `start`.
    pub fn finish(&self) -> CpuUsage {
        let wall = self.t0.elapsed().as_secs_f64().max(1e-6);
        let hz = clk_tck() as f64;
        let group_pct = self
            .groups
            .iter()
            .zip(&self.ticks)
            .map(|(g, t0)| {
                let t1 = pgrp_cpu_ticks(*g);
                round1(t1.saturating_sub(*t0) as f64 / hz / wall * 100.0)
            })
            .collect();
        let m = MachineCpu::read();
        let dt = m.total.saturating_sub(self.machine.total) as f64;
        let pct = |a: u64, b: u64| {
            if dt > 0.0 {
                round1(a.saturating_sub(b) as f64 / dt * 100.0)
            } else {
                0.0
            }
        };
        CpuUsage {
            wall_s: wall,
            group_pct,
            machine_busy_pct: pct(m.busy, self.machine.busy),
            steal_pct: pct(m.steal, self.machine.steal),
        }
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_stat_with_spaces_in_comm() {
        let t =
            "1234 (my (odd) prog) S 1 4321 4321 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 100 0 0";
        assert_eq!(parse_stat(t), Some((4321, 300)));
    }

    #[test]
    fn parse_proc_stat() {
        let t = "cpu  100 0 50 800 10 0 0 40 0 0\ncpu0 1 2 3 4 5 6 7 8\n";
        let m = MachineCpu::parse(t).unwrap();
        assert_eq!(m.total, 1000);
        assert_eq!(m.steal, 40);
        assert_eq!(m.busy, 1000 - 800 - 10 - 40);
    }

    #[test]
    fn measures_a_busy_process_group() {
        // A child busy-looping in its own process group uses roughly one core.
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .process_group(0)
            .spawn()
            .unwrap();
        let pg = child.id() as i32;
        let w = CpuWindow::start(&[pg]);
        std::thread::sleep(std::time::Duration::from_millis(600));
        let u = w.finish();
        let own = pid_cpu_ticks(pg);
        let _ = child.kill();
        let _ = child.wait();
        assert!(u.group_pct[0] > 20.0, "{u:?}");
        assert!(u.group_pct[0] < 150.0, "{u:?}");
        assert!(own.is_some_and(|t| t > 0), "{own:?}");
        // Our own (idle) group is not that process group.
        assert!(pgrp_cpu_ticks(i32::MAX) == 0);
    }
}
