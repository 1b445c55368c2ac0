//! The emerging-service catalog (DOMAIN §2): data, not code. The built-in version ships as
//! `data/catalog-2026.toml`; later versions are published at run time (K4).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The catalog file shipped with the code.
const BUILTIN: &str = include_str!("../data/catalog-2026.toml");

/// Why a catalog document was refused.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("the catalog is not valid TOML of the expected shape: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("the catalog lists service {0:?} twice")]
    DuplicateService(String),
    #[error("service {0:?}: matured_at must come after emerging_from")]
    MaturesBeforeEmerging(String),
}

/// A service family: decides redirection (K1) and graduation (G2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceFamily {
    Bedrock,
    Q,
    Sagemaker,
}

/// Whether larger scopes get split tranches (TR3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SplitPreference {
    Single,
    SplitForLargerScope,
}

/// Where a graduating engagement goes (G2); `by_maturity` is the sagemaker rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GraduationTarget {
    BedrockPoc,
    ActivatePortfolio,
    ByMaturity,
}

/// One emerging service (K3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogService {
    pub id: String,
    pub display_name: String,
    /// Words that count as naming the service in a use case (U1).
    pub aliases: Vec<String>,
    pub family: ServiceFamily,
    pub split_preference: SplitPreference,
    pub graduation_target: GraduationTarget,
    /// Compared with an application's metrics (M).
    pub typical_metrics: Vec<String>,
    /// Who attends the office hours (OH2).
    pub office_hours_participants: Vec<String>,
    /// The service qualifies from this date (K2).
    pub emerging_from: NaiveDate,
    /// The service no longer qualifies from this date (K1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matured_at: Option<NaiveDate>,
}

/// A version of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Recorded by every decision that used this version (K4).
    pub version: String,
    /// The version is in force from this date.
    pub effective_from: NaiveDate,
    pub services: Vec<CatalogService>,
}

impl Catalog {
    /// The catalog shipped with this build (checked by this crate's tests; services load it once
    /// at start-up and refuse to start if it is broken).
    pub fn builtin() -> Result<Catalog, CatalogError> {
        Catalog::from_toml(BUILTIN)
    }

    /// Parses and checks a catalog document in TOML (the shipped file's format).
    pub fn from_toml(text: &str) -> Result<Catalog, CatalogError> {
        toml::from_str::<Catalog>(text)?.checked()
    }

    /// Checks what the types cannot: unique ids, maturity after emergence.
    pub fn checked(self) -> Result<Catalog, CatalogError> {
        let catalog = self;
        let mut seen = std::collections::HashSet::new();
        for service in &catalog.services {
            if !seen.insert(service.id.as_str()) {
                return Err(CatalogError::DuplicateService(service.id.clone()));
            }
            if service.matured_at.is_some_and(|m| m <= service.emerging_from) {
                return Err(CatalogError::MaturesBeforeEmerging(service.id.clone()));
            }
        }
        Ok(catalog)
    }

    /// The service with this id.
    pub fn service(&self, id: &str) -> Option<&CatalogService> {
        self.services.iter().find(|s| s.id == id)
    }

    /// The service whose display name or alias is `name` (case-insensitive).
    pub fn resolve_alias(&self, name: &str) -> Option<&CatalogService> {
        let name = name.trim();
        self.services.iter().find(|s| {
            s.display_name.eq_ignore_ascii_case(name) || s.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
        })
    }

    pub fn ids(&self) -> Vec<&str> {
        self.services.iter().map(|s| s.id.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalog_parses_and_holds_the_2026_set() {
        let catalog = Catalog::from_toml(BUILTIN).unwrap();
        assert_eq!(
            catalog.ids(),
            [
                "bedrock-agents",
                "bedrock-knowledge-bases-v2",
                "amazon-q-business",
                "amazon-q-developer",
                "sagemaker-hyperpod-recipes",
                "sagemaker-unified-studio"
            ]
        );
        let agents = catalog.service("bedrock-agents").unwrap();
        assert_eq!(agents.split_preference, SplitPreference::SplitForLargerScope);
        assert_eq!(agents.office_hours_participants.len(), 4);
    }

    #[test]
    fn aliases_resolve_case_insensitively() {
        let catalog = Catalog::builtin().unwrap();
        assert_eq!(
            catalog
                .resolve_alias("agents for amazon bedrock")
                .map(|s| s.id.as_str()),
            Some("bedrock-agents")
        );
        assert!(catalog.resolve_alias("Lambda").is_none());
    }

    #[test]
    fn bad_catalogs_are_refused() {
        let dup = format!(
            "{BUILTIN}\n[[services]]\nid = \"bedrock-agents\"\ndisplay_name = \"x\"\naliases = []\nfamily = \"q\"\nsplit_preference = \"single\"\ngraduation_target = \"bedrock_poc\"\ntypical_metrics = []\noffice_hours_participants = []\nemerging_from = \"2026-01-01\"\n"
        );
        assert!(matches!(
            Catalog::from_toml(&dup),
            Err(CatalogError::DuplicateService(_))
        ));
        assert!(matches!(Catalog::from_toml("version = 1"), Err(CatalogError::Parse(_))));
    }
}
