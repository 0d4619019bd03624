//! Test-only pause points between a check and the action it decides, so that races are
//! tested deterministically (like git's `GIT_TEST_*` hooks).
//!
//! In debug builds, `GIT_AGENT_TEST_PAUSE=<point>:<dir>` makes the process stop at the pause
//! point named `<point>`: it creates `<dir>/<point>.reached`, then waits until the test creates
//! `<dir>/<point>.continue` (at most a minute). Release builds ignore the variable: the
//! function is empty there.

/// Stops at `point` if a test asked for it (debug builds only).
#[cfg(debug_assertions)]
pub fn point(point: &str) {
    let Some(value) = std::env::var_os("GIT_AGENT_TEST_PAUSE") else { return };
    let value = value.to_string_lossy();
    let Some((wanted, dir)) = value.split_once(':') else { return };
    if wanted != point {
        return;
    }
    let dir = std::path::Path::new(dir);
    // Written aside and renamed: a test that sees the file can read the pid in it at once.
    let reached = dir.join(format!("{point}.reached"));
    let written = dir.join(format!("{point}.reached.{}", std::process::id()));
    if std::fs::write(&written, std::process::id().to_string()).is_ok() {
        let _ = std::fs::rename(&written, &reached);
    }
    let proceed = dir.join(format!("{point}.continue"));
    let started = std::time::Instant::now();
    while !proceed.exists() && started.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn point(_point: &str) {}
