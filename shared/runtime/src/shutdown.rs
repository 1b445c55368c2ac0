//! Graceful shutdown. A service's `run_until_stopped` takes the stop trigger as a future (the OS
//! signals in production, a oneshot in tests) and fans it out to its tasks as a [`Shutdown`]: each
//! stops taking new work, finishes what it holds, and returns.

use std::future::Future;

use tokio::sync::watch;

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (Kubernetes, `docker stop`).
pub async fn signal() {
    let interrupt = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received: shutting down"),
        () = terminate => tracing::info!("SIGTERM received: shutting down"),
    }
}

/// A task's view of the shutdown: cheap to clone, checked between units of work.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// A shutdown that fires when `stop` resolves.
    pub fn on(stop: impl Future<Output = ()> + Send + 'static) -> Shutdown {
        let (sender, receiver) = watch::channel(false);
        tokio::spawn(async move {
            stop.await;
            let _ = sender.send(true);
        });
        Shutdown(receiver)
    }

    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once shutdown is triggered (or its trigger is gone).
    pub async fn triggered(&self) {
        let mut receiver = self.0.clone();
        let _ = receiver.wait_for(|stop| *stop).await;
    }
}
