//! SIGINT and SIGTERM: recorded, never fatal.
//!
//! Through `git agent <cmd>`, git runs git-agent with `clean_on_exit`: on Ctrl-C git forwards
//! the signal to git-agent, which got it from the terminal already, so git-agent sees it twice
//! (and SIGTERM sent to the group, twice too). A handler that aborts on the second signal would
//! leave half a spawn, a scratch worktree or a running test behind. This one only records which
//! signal arrived; the commands that write check [`check`] at their safe points, undo what they
//! had started, and exit 130 (SIGINT) or 143 (SIGTERM), see [`exit_code`].

use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::error::{Exit, Fail};

/// Set by the handler; passed to gix as its interrupt flag (checkout stops early).
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// The number of the last signal received (0: none).
static SIGNAL: AtomicUsize = AtomicUsize::new(0);

const SIGNALS: [i32; 2] = [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM];

/// Installs the handler for SIGINT and SIGTERM (once per process; later calls do nothing).
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        for signal in SIGNALS {
            // The number first, then the flag: whoever sees the flag finds the number too.
            let number = signal_hook::flag::register_usize(signal, &SIGNAL, signal as usize);
            let flag = signal_hook::flag::register(signal, &INTERRUPTED);
            if let Err(err) = number.and(flag) {
                // Without the handler a signal ends the process as it did before: say so.
                eprintln!("warning: cannot handle signal {signal}: {err}");
            }
        }
    });
}

/// The flag gix's long operations (checkout) poll.
pub fn flag() -> &'static AtomicBool {
    &INTERRUPTED
}

pub fn is_interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The signal received, if any.
pub fn signal() -> Option<i32> {
    if !is_interrupted() {
        return None;
    }
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        signal => i32::try_from(signal).ok(),
    }
}

/// The exit status for the signal received: 130 for SIGINT, 143 for SIGTERM.
pub fn exit() -> Option<Exit> {
    signal().map(|signal| if signal == signal_hook::consts::SIGTERM { Exit::Terminated } else { Exit::Interrupted })
}

/// The process's exit code once a signal was received, whatever the command returned.
pub fn exit_code() -> Option<i32> {
    exit().map(Exit::code)
}

/// A safe point: fails with the signal's exit status if one was received. `undone` says what
/// the caller's error path guarantees ("nothing was created", "the target is unchanged").
pub fn check(undone: &str) -> anyhow::Result<()> {
    match exit() {
        Some(exit) => {
            // Tests send a second signal here, while the command cleans up.
            crate::pause::point("interrupt-noticed");
            let name = if exit == Exit::Terminated { "SIGTERM" } else { "SIGINT" };
            Err(Fail::new(exit, format!("interrupted by {name}; {undone}")).into())
        }
        None => Ok(()),
    }
}

/// Forgets a SIGINT: it came from the terminal, which sent it to the interactive child that
/// shared it too (an agent that uses Ctrl-C to cancel its current step), and was the child's.
pub fn forget_terminal_interrupt() {
    if SIGNAL.load(Ordering::SeqCst) == signal_hook::consts::SIGINT as usize {
        INTERRUPTED.store(false, Ordering::SeqCst);
        SIGNAL.store(0, Ordering::SeqCst);
    }
}

/// Whether the signal received is SIGTERM (sent to git-agent, maybe not to the child sharing its
/// terminal: it is forwarded to that child).
pub fn is_terminated() -> bool {
    signal() == Some(signal_hook::consts::SIGTERM)
}
