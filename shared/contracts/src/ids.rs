//! Identifiers. Each is validated on construction so that it is always a safe NATS subject token
//! (CONTRACT §1: no `.`, `*`, `>` or whitespace) and can be formatted into a subject without checks.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use ulid::Ulid;

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("partner id {0:?} must match [a-z0-9][a-z0-9-]{{0,62}}")]
    Partner(String),
    #[error("{kind} id {value:?} must be a ULID (26 Crockford base32 characters)")]
    Ulid { kind: &'static str, value: String },
}

/// A partner organisation's id: a slug `[a-z0-9][a-z0-9-]{0,62}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartnerId(String);

impl PartnerId {
    pub fn parse(value: &str) -> Result<Self, IdError> {
        let bytes = value.as_bytes();
        let valid = !bytes.is_empty()
            && bytes.len() <= 63
            && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(IdError::Partner(value.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! ulid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Ulid);

        impl $name {
            /// A fresh, unique id.
            pub fn generate() -> Self {
                Self(Ulid::new())
            }

            pub fn parse(value: &str) -> Result<Self, IdError> {
                // Ulid::from_string accepts lower case too; ids are canonical upper case.
                if value.len() != 26 || value.bytes().any(|b| b.is_ascii_lowercase()) {
                    return Err(IdError::Ulid { kind: $kind, value: value.to_owned() });
                }
                Ulid::from_string(value)
                    .map(Self)
                    .map_err(|_| IdError::Ulid { kind: $kind, value: value.to_owned() })
            }

            pub fn ulid(&self) -> Ulid {
                self.0
            }

            /// An id caused by an event: the same for every redelivery of the cause, so a handler
            /// that runs twice produces the same id (and JetStream drops the duplicate event).
            /// It keeps the cause's timestamp and takes its random part from a hash of
            /// (cause, label).
            pub fn derived(cause: &EventId, label: &str) -> Self {
                let mut hasher = Sha256::new();
                hasher.update(cause.0.to_bytes());
                hasher.update($kind.as_bytes());
                hasher.update(label.as_bytes());
                let digest = hasher.finalize();
                let mut random = [0u8; 16];
                random[6..16].copy_from_slice(&digest[..10]);
                Self(Ulid::from_parts(cause.0.timestamp_ms(), u128::from_be_bytes(random)))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Self::parse(&value).map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some("^[0-9A-HJKMNP-TV-Z]{26}$"))
                    .description(Some(concat!("A ", $kind, " id (ULID).")))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

ulid_id!(
    /// An application's id (ULID).
    ApplicationId,
    "application"
);
ulid_id!(
    /// An event's id (ULID); also its `Nats-Msg-Id`, so a re-published event is de-duplicated.
    EventId,
    "event"
);

impl ApplicationId {
    /// The application as the cause of ids derived from it, for a step it takes at most once
    /// (its graduation, G2): however often that step is retried, the derived ids are the same.
    pub fn as_cause(&self) -> EventId {
        EventId(self.0)
    }
}

impl fmt::Display for PartnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PartnerId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for PartnerId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PartnerId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Self::parse(&value).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for PartnerId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[a-z0-9][a-z0-9-]{0,62}$"))
            .description(Some("A partner organisation's id (slug)."))
            .into()
    }
}

impl utoipa::ToSchema for PartnerId {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partner_ids_are_slugs() {
        for ok in ["acme", "a", "0day", "acme-partners-2", &"a".repeat(63)] {
            assert!(PartnerId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-acme",
            "Acme",
            "ac.me",
            "ac*",
            "a>",
            "a b",
            "acme_x",
            &"a".repeat(64),
        ] {
            assert!(PartnerId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ulid_ids_are_canonical() {
        let id = ApplicationId::generate();
        assert_eq!(ApplicationId::parse(&id.to_string()), Ok(id));
        assert!(ApplicationId::parse(&id.to_string().to_lowercase()).is_err());
        assert!(ApplicationId::parse("not-a-ulid").is_err());
        assert!(ApplicationId::parse("01ARZ3NDEKTSV4RRFFQ69G5FA.").is_err());
    }

    #[test]
    fn derived_event_ids_are_stable_and_distinct() {
        let cause = EventId::generate();
        assert_eq!(
            EventId::derived(&cause, "classified"),
            EventId::derived(&cause, "classified")
        );
        assert_ne!(
            EventId::derived(&cause, "classified"),
            EventId::derived(&cause, "redirected")
        );
        assert_ne!(EventId::derived(&cause, "classified"), cause);
        assert_eq!(
            EventId::derived(&cause, "x").ulid().timestamp_ms(),
            cause.ulid().timestamp_ms()
        );
    }
}
