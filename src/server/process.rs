//! Process metrics from `/proc/self` (Linux), read at scrape time: resident memory, CPU time,
//! open and maximum file descriptors, threads, start time. A missing file (another OS, a
//! locked-down `/proc`) leaves the family out rather than reporting a made-up zero.

use std::fmt::Write as _;

/// Clock ticks per second of the times in `/proc/[pid]/stat`: the kernel reports them in
/// USER_HZ, which is 100 on every Linux architecture Picket builds for.
const USER_HZ: f64 = 100.0;

/// Append the `process_*` families (Prometheus client conventions) to `out`.
pub fn render(out: &mut String) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line[name.len()..].split_whitespace().next()?.parse().ok()
    };
    if let Some(kb) = field("VmRSS:") {
        gauge(out, "process_resident_memory_bytes", "Resident memory size in bytes.", (kb * 1024) as f64);
    }
    if let Some(kb) = field("VmSize:") {
        gauge(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", (kb * 1024) as f64);
    }
    if let Some(n) = field("Threads:") {
        gauge(out, "process_threads", "OS threads.", n as f64);
    }
    if let Some(stat) = stat_fields() {
        // Fields after the command name: [11] utime, [12] stime, [19] starttime (ticks).
        let ticks = |i: usize| stat.get(i).and_then(|v| v.parse::<f64>().ok());
        if let (Some(user), Some(system)) = (ticks(11), ticks(12)) {
            let _ = writeln!(out, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.");
            let _ = writeln!(out, "# TYPE process_cpu_seconds_total counter");
            let _ = writeln!(out, "process_cpu_seconds_total {}", (user + system) / USER_HZ);
        }
        if let (Some(start), Some(boot)) = (ticks(19), boot_time()) {
            gauge(out, "process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.", boot + start / USER_HZ);
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        gauge(out, "process_open_fds", "Open file descriptors.", fds.count() as f64);
    }
    if let Some(max) = max_fds() {
        gauge(out, "process_max_fds", "Maximum number of open file descriptors.", max);
    }
}

fn gauge(out: &mut String, name: &str, help: &str, value: f64) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
}

/// `/proc/self/stat` split after the `(comm)` field, which may itself hold spaces.
fn stat_fields() -> Option<Vec<String>> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

fn boot_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse().ok())
}

fn max_fds() -> Option<f64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_process() {
        let mut out = String::new();
        super::render(&mut out);
        if std::path::Path::new("/proc/self/stat").exists() {
            for family in
                ["process_resident_memory_bytes ", "process_cpu_seconds_total ", "process_open_fds ", "process_start_time_seconds "]
            {
                assert!(out.contains(family), "{family} missing from\n{out}");
            }
            let rss: f64 = out.lines().find_map(|l| l.strip_prefix("process_resident_memory_bytes ")).unwrap().parse().unwrap();
            assert!(rss > 1e6, "{rss}");
        }
    }
}
