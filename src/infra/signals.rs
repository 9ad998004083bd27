//! Ctrl-C, SIGTERM and SIGHUP during a run that writes a file, and a closed
//! pipe on stdout.
//!
//! A command that writes `--out`, and `stance models fetch`, call [`install`]
//! first. The handler only records the signal in an atomic (`CAUGHT`); the
//! command checks it with [`check`] between articles and windows (and the
//! model download, assembly and extraction between megabytes), returns an
//! [`Interrupted`] error, and so unwinds like any other failure: the
//! temporary file of an atomic `--out` and the model's scratch files are
//! removed by their destructors, a `--resume` file is left holding complete
//! articles only.
//! [`crate::cli::run`] then re-raises the signal with its default action, so
//! the parent sees the process end by that signal (exit status 130 for
//! SIGINT, 143 for SIGTERM in a shell), as it would without the handler.
//!
//! A command that prints to stdout wraps only its model loading in
//! [`during`]: the first run's download then unwinds too (its scratch files,
//! a gigabyte for EmbeddingGemma, would otherwise stay in the cache), and
//! afterwards Ctrl-C ends the run at once, as it would without the handler.
//!
//! The handler is installed with `SA_RESETHAND`: a second signal of the same
//! kind ends the process at once (its temporary file, named `.FILE.tmp-PID`,
//! may then stay behind). A signal that was ignored when `stance` started
//! (`nohup`, a background job) stays ignored.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// The signal caught, or 0.
static CAUGHT: AtomicI32 = AtomicI32::new(0);

/// Whether [`install`] ran: the handler then stays for the whole run.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The run was stopped by a signal; the output was left as before the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted(pub i32);

impl Interrupted {
    pub fn name(&self) -> String {
        match self.0 {
            libc::SIGINT => "SIGINT".into(),
            libc::SIGTERM => "SIGTERM".into(),
            libc::SIGHUP => "SIGHUP".into(),
            n => format!("signal {n}"),
        }
    }
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by {}", self.name())
    }
}

impl std::error::Error for Interrupted {}

extern "C" fn on_signal(sig: libc::c_int) {
    // Async-signal-safe: one atomic store, nothing else.
    CAUGHT.store(sig, Ordering::SeqCst);
}

/// [`on_signal`] as `sigaction` stores it.
fn handler() -> libc::sighandler_t {
    on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t
}

/// The signals that stop a run gracefully.
const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Installs the handler for SIGINT, SIGTERM and SIGHUP (each left alone if
/// it was ignored at start), for the rest of the run.
pub fn install() {
    INSTALLED.store(true, Ordering::SeqCst);
    set_handler();
}

/// Runs `work` with the handler installed, so a signal during it (a model
/// download) unwinds it like an error; then puts the default actions back,
/// unless [`install`] ran before. A signal caught during `work` is returned
/// as [`Interrupted`] even if `work` itself finished.
pub fn during<T, E: From<Interrupted>>(work: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    if INSTALLED.load(Ordering::SeqCst) {
        return work();
    }
    set_handler();
    let result = work();
    for sig in SIGNALS {
        // SAFETY: sigaction queries, and resets to the default action only a
        // signal whose handler is still ours (not one ignored at start).
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut current) == 0
                && current.sa_sigaction == handler()
            {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
    }
    check()?;
    result
}

fn set_handler() {
    for sig in SIGNALS {
        // SAFETY: sigaction with a zeroed, then filled, struct; the handler
        // only stores to an atomic.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) != 0
                || old.sa_sigaction == libc::SIG_IGN
            {
                continue;
            }
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler();
            action.sa_flags = libc::SA_RESTART | libc::SA_RESETHAND;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

/// The signal caught since [`install`], if any.
pub fn caught() -> Option<Interrupted> {
    match CAUGHT.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(Interrupted(sig)),
    }
}

/// `Err` once a signal was caught.
pub fn check() -> Result<(), Interrupted> {
    caught().map_or(Ok(()), Err)
}

/// Ends the process by `sig` with its default action (after the caller has
/// cleaned up), falling back to exit status 128 + `sig`.
pub fn die_by(sig: Interrupted) -> ! {
    // SAFETY: plain libc calls, outside any signal handler.
    unsafe {
        libc::signal(sig.0, libc::SIG_DFL);
        libc::raise(sig.0);
    }
    std::process::exit(128 + sig.0)
}

/// The signal an error carries, if it (or one of its causes, or an I/O
/// error wrapping one) is [`Interrupted`].
pub fn interrupted(e: &anyhow::Error) -> Option<Interrupted> {
    e.chain().find_map(|cause| {
        cause.downcast_ref::<Interrupted>().copied().or_else(|| {
            cause
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<Interrupted>())
                .copied()
        })
    })
}

/// Whether an error is a write to a closed pipe (`stance score | head`),
/// however it was wrapped (I/O, JSON and CSV writers).
pub fn broken_pipe(e: &anyhow::Error) -> bool {
    let pipe = |k: std::io::ErrorKind| k == std::io::ErrorKind::BrokenPipe;
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| pipe(io.kind()))
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                .is_some_and(pipe)
            || cause
                .downcast_ref::<csv::Error>()
                .is_some_and(|c| matches!(c.kind(), csv::ErrorKind::Io(io) if pipe(io.kind())))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_pipes_and_interruptions_are_found_through_wrappers() {
        let pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let e = anyhow::Error::new(pipe).context("cannot write");
        assert!(broken_pipe(&e));
        let json = serde_json::Error::io(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(broken_pipe(&anyhow::Error::new(json)));
        assert!(!broken_pipe(&anyhow::anyhow!("other")));

        let e = anyhow::Error::new(Interrupted(libc::SIGTERM)).context("scoring");
        assert_eq!(interrupted(&e), Some(Interrupted(libc::SIGTERM)));
        let io = std::io::Error::other(Interrupted(libc::SIGINT));
        assert_eq!(
            interrupted(&anyhow::Error::new(io)),
            Some(Interrupted(libc::SIGINT))
        );
        assert_eq!(interrupted(&anyhow::anyhow!("other")), None);
    }

    #[test]
    fn during_puts_the_default_action_back() {
        let action = |sig| unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut current);
            current.sa_sigaction
        };
        let ours = handler();
        // SIGHUP: the one the other tests of this binary never raise; under
        // `nohup` it is ignored, and stays so.
        let before = action(libc::SIGHUP);
        let seen = during(|| Ok::<_, Interrupted>(action(libc::SIGHUP))).unwrap();
        if before == libc::SIG_IGN {
            assert_eq!((seen, action(libc::SIGHUP)), (libc::SIG_IGN, libc::SIG_IGN));
        } else {
            assert_eq!((seen, action(libc::SIGHUP)), (ours, libc::SIG_DFL));
        }
    }
}
