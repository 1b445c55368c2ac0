//! A three-node JetStream cluster on loopback (#13): each node a real nats-server with its own
//! store and routes to the other two, started, killed (SIGKILL) and restarted on its store by
//! the fault suite.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sandpiper_cli::local_nats::{LocalNats, free_port};

/// One node: where it keeps its store and configuration, its ports, and the process if running.
struct Node {
    name: String,
    dir: PathBuf,
    config: PathBuf,
    port: u16,
    process: Option<LocalNats>,
}

pub struct Cluster {
    nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Three nodes, started, with a JetStream meta leader elected.
    pub async fn start() -> Cluster {
        // The monitoring requests below go through reqwest on rustls.
        sandpiper_runtime::http::ensure_crypto_provider();
        let dir = tempfile::tempdir().expect("temp dir");
        let routes: Vec<u16> = (0..3).map(|_| free_port().expect("a free port")).collect();
        let route_list = routes
            .iter()
            .map(|p| format!("nats-route://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut nodes = Vec::new();
        for (i, route) in routes.iter().enumerate() {
            let name = format!("n{}", i + 1);
            let node_dir = dir.path().join(&name);
            std::fs::create_dir_all(&node_dir).expect("node dir");
            let config = node_dir.join("node.conf");
            // As deployed: every write flushed before its ack.
            let text = format!(
                "server_name: {name}\njetstream {{\n  store_dir: $SANDPIPER_NATS_STORE_DIR\n  sync_interval: always\n}}\ncluster {{\n  name: sandpiper-test\n  listen: 127.0.0.1:{route}\n  routes: [{route_list}]\n}}\n"
            );
            std::fs::write(&config, text).expect("node config");
            nodes.push(Node {
                name,
                dir: node_dir,
                config,
                port: free_port().expect("a free port"),
                process: None,
            });
        }
        let mut cluster = Cluster { nodes, _dir: dir };
        for i in 0..3 {
            cluster.start_node(i).await;
        }
        cluster.wait_for_meta_leader().await;
        cluster
    }

    /// The client URLs of every node, as a service's `SANDPIPER_NATS_URL` list.
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The client URL of node `i`.
    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[i].port)
    }

    /// The node named `name` (`n1`…`n3`).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    pub fn name(&self, i: usize) -> &str {
        &self.nodes[i].name
    }

    /// Starts node `i` on its store and ports (again, after [`Cluster::kill`]).
    pub async fn start_node(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let process = LocalNats::start_with(&node.dir, node.port, Some(&node.config), &[])
            .await
            .unwrap_or_else(|e| panic!("node {} does not start: {e}", node.name));
        node.process = Some(process);
    }

    /// SIGKILL node `i`: no shutdown, what it had not flushed is gone with it.
    pub async fn kill(&mut self, i: usize) {
        if let Some(process) = self.nodes[i].process.take() {
            process.kill().await;
        }
    }

    /// The monitoring endpoint of node `i`, while it runs.
    fn monitor(&self, i: usize) -> Option<String> {
        self.nodes[i].process.as_ref().map(LocalNats::monitor_url)
    }

    /// Waits until every running node knows the meta leader (JetStream accepts API calls then).
    pub async fn wait_for_meta_leader(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut agreed = true;
            for i in 0..self.nodes.len() {
                let Some(monitor) = self.monitor(i) else { continue };
                let leader = match reqwest::get(format!("{monitor}/jsz")).await {
                    Ok(answer) => answer
                        .json::<serde_json::Value>()
                        .await
                        .ok()
                        .and_then(|jsz| jsz["meta_cluster"]["leader"].as_str().map(str::to_owned)),
                    Err(_) => None,
                };
                agreed &= leader.is_some_and(|l| !l.is_empty());
            }
            if agreed {
                return;
            }
            assert!(Instant::now() < deadline, "no JetStream meta leader within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The server leading `stream`'s replicas, asked of any running node.
    pub async fn stream_leader(&self, stream: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            for i in 0..self.nodes.len() {
                if self.nodes[i].process.is_none() {
                    continue;
                }
                let Ok(client) = async_nats::connect(self.url(i)).await else {
                    continue;
                };
                let js = async_nats::jetstream::new(client);
                if let Ok(mut handle) = js.get_stream(stream).await
                    && let Ok(info) = handle.info().await
                    && let Some(leader) = info.cluster.as_ref().and_then(|c| c.leader.clone())
                {
                    return leader;
                }
            }
            assert!(Instant::now() < deadline, "{stream} has no leader within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Watches, from the nodes still running, for a leader of `stream` other than `old`, and
    /// answers how long after `since` one was first reported: the election's own length, to set
    /// a stall beside. Runs on its own connections (requests answered within 500 ms or tried
    /// again), so it can be spawned while the test goes on filing.
    pub fn watch_election(&self, stream: &str, old: &str, since: Instant) -> tokio::task::JoinHandle<Duration> {
        let urls: Vec<String> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].process.is_some())
            .map(|i| self.url(i))
            .collect();
        let (stream, old) = (stream.to_owned(), old.to_owned());
        tokio::spawn(async move {
            let mut contexts = Vec::new();
            for url in &urls {
                if let Ok(client) = async_nats::connect(url).await {
                    let mut js = async_nats::jetstream::new(client);
                    js.set_timeout(Duration::from_millis(500));
                    contexts.push(js);
                }
            }
            loop {
                for js in &contexts {
                    if let Ok(mut handle) = js.get_stream(&stream).await
                        && let Ok(info) = handle.info().await
                        && let Some(leader) = info.cluster.as_ref().and_then(|c| c.leader.clone())
                        && leader != old
                    {
                        return since.elapsed();
                    }
                }
                assert!(
                    since.elapsed() < Duration::from_secs(60),
                    "{stream}: no new leader within 60 s"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    }

    /// The running node a client named `name` (e.g. `sandpiper-intake`) is connected to, from
    /// each node's `/connz`.
    pub async fn node_of_client(&self, name: &str) -> usize {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            for i in 0..self.nodes.len() {
                let Some(monitor) = self.monitor(i) else { continue };
                let connz = match reqwest::get(format!("{monitor}/connz?limit=1024")).await {
                    Ok(answer) => answer.json::<serde_json::Value>().await.unwrap_or_default(),
                    Err(_) => continue,
                };
                let connected = connz["connections"]
                    .as_array()
                    .is_some_and(|all| all.iter().any(|c| c["name"] == name));
                if connected {
                    return i;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no node has a client named {name} within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Where node `i` keeps its store.
    pub fn store(&self, i: usize) -> &Path {
        &self.nodes[i].dir
    }
}
