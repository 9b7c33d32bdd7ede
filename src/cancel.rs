//! Cooperative cancellation: Ctrl+C / SIGTERM set a flag that work checks at safe points.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// Returned by work that stopped because the run was cancelled.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Cancelled;

/// A cheap, clonable cancellation flag that can also be awaited.
#[derive(Clone, Default)]
pub struct Cancel {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    flag: AtomicBool,
    notify: Notify,
}

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks the run as cancelled and wakes every waiter.
    pub fn cancel(&self) {
        self.inner.flag.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.flag.load(Ordering::SeqCst)
    }

    /// `Err(Cancelled)` once cancelled: call it at every safe point.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }

    /// Resolves when the run is cancelled.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }

    /// Sleeps for `d`, returning early with `Err(Cancelled)` when cancelled.
    pub async fn sleep(&self, d: std::time::Duration) -> Result<(), Cancelled> {
        tokio::select! {
            _ = tokio::time::sleep(d) => Ok(()),
            _ = self.cancelled() => Err(Cancelled),
        }
    }

    /// Installs the Ctrl+C / SIGTERM handler: the first signal cancels, a second one exits at once.
    pub fn install_signal_handler(&self) {
        let me = self.clone();
        let _ = ctrlc::set_handler(move || {
            if me.is_cancelled() {
                tracing::warn!("second interrupt, exiting now (the next run cleans up)");
                std::process::exit(130);
            }
            tracing::warn!("interrupted, stopping at the next safe point...");
            me.cancel();
        });
    }
}
