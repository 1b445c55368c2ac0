//! Which partner a Slack workspace acts for: an explicit mapping an admin sets, kept in a
//! key-value bucket (one key per Slack team id). Nothing is inferred: a workspace nobody mapped
//! sees no data, and a mapping may narrow it to some channels.

use async_nats::jetstream::kv;
use sandpiper_contracts::ids::PartnerId;
use sandpiper_contracts::names;
use sandpiper_runtime::bus::{Bus, BusError};
use serde::{Deserialize, Serialize};

/// A workspace's mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workspace {
    /// The partner whose applications the workspace sees and acts on.
    pub partner_id: PartnerId,
    /// The channel ids it may be used in; empty: every channel of the workspace.
    #[serde(default)]
    pub channels: Vec<String>,
}

impl Workspace {
    pub fn allows(&self, channel: &str) -> bool {
        self.channels.is_empty() || self.channels.iter().any(|c| c == channel)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("the Slack workspace store failed ({what})")]
    Store {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the mapping of Slack team {team} is unreadable")]
    Corrupt {
        team: String,
        #[source]
        source: serde_json::Error,
    },
}

/// A Slack team id as Slack spells them (`T` then upper-case letters and digits): also what makes
/// it a valid key.
pub fn is_team_id(team: &str) -> bool {
    team.len() >= 2
        && team.len() <= 32
        && team.starts_with(['T', 'E'])
        && team.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

#[derive(Clone)]
pub struct WorkspaceStore {
    store: kv::Store,
}

impl WorkspaceStore {
    pub async fn open(bus: &Bus) -> Result<WorkspaceStore, WorkspaceError> {
        let store = bus
            .bucket(names::SLACK_WORKSPACES_BUCKET, 1, std::time::Duration::ZERO)
            .await?;
        Ok(WorkspaceStore { store })
    }

    /// The mapping of `team`, read from the bucket (a change by another replica counts at once).
    pub async fn get(&self, team: &str) -> Result<Option<Workspace>, WorkspaceError> {
        if !is_team_id(team) {
            return Ok(None);
        }
        let entry = self.store.get(team).await.map_err(|e| WorkspaceError::Store {
            what: "reading a mapping",
            source: e.into(),
        })?;
        entry
            .map(|bytes| {
                serde_json::from_slice(&bytes).map_err(|source| WorkspaceError::Corrupt {
                    team: team.to_owned(),
                    source,
                })
            })
            .transpose()
    }

    pub async fn put(&self, team: &str, workspace: &Workspace) -> Result<(), WorkspaceError> {
        let bytes = serde_json::to_vec(workspace).map_err(|source| WorkspaceError::Corrupt {
            team: team.to_owned(),
            source,
        })?;
        self.store
            .put(team, bytes.into())
            .await
            .map_err(|e| WorkspaceError::Store {
                what: "writing a mapping",
                source: e.into(),
            })?;
        Ok(())
    }

    pub async fn delete(&self, team: &str) -> Result<(), WorkspaceError> {
        self.store.delete(team).await.map_err(|e| WorkspaceError::Store {
            what: "deleting a mapping",
            source: e.into(),
        })
    }

    /// Every mapping, by team id.
    pub async fn list(&self) -> Result<Vec<(String, Workspace)>, WorkspaceError> {
        use futures::StreamExt;
        let mut keys = self.store.keys().await.map_err(|e| WorkspaceError::Store {
            what: "listing mappings",
            source: e.into(),
        })?;
        let mut out = Vec::new();
        while let Some(key) = keys.next().await {
            let key = key.map_err(|e| WorkspaceError::Store {
                what: "listing mappings",
                source: e.into(),
            })?;
            if let Some(workspace) = self.get(&key).await? {
                out.push((key, workspace));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_ids_and_channels() {
        assert!(is_team_id("T1DC2JH3J") && is_team_id("E0123ABC"));
        for bad in ["", "T", "t123", "T12.3", "U123", "T12>", "T1 2"] {
            assert!(!is_team_id(bad), "{bad:?}");
        }
        let any = Workspace {
            partner_id: PartnerId::parse("acme").unwrap(),
            channels: vec![],
        };
        assert!(any.allows("C1"));
        let some = Workspace {
            channels: vec!["C1".into()],
            ..any
        };
        assert!(some.allows("C1") && !some.allows("C2"));
    }
}
