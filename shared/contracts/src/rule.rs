//! The rule ids of `DOMAIN.md`, as a type: every decision names the rules that produced it, and a
//! misspelt id does not compile. On the wire a rule id is its string (`"TR3"`), as before.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! rule_ids {
    ($($(#[$doc:meta])* $id:ident,)*) => {
        /// A rule of `DOMAIN.md`, by its id.
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        pub enum RuleId { $($(#[$doc])* $id,)* }

        impl RuleId {
            /// Every rule, in `DOMAIN.md`'s order.
            pub const ALL: &'static [RuleId] = &[$(RuleId::$id,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(RuleId::$id => stringify!($id),)* }
            }

            pub fn parse(id: &str) -> Option<RuleId> {
                match id { $(stringify!($id) => Some(RuleId::$id),)* _ => None }
            }
        }
    };
}

rule_ids! {
    /// §1 Programmes: a Bedrock POC's tier and window.
    P1,
    /// §2 The catalog: maturity redirects, emerging dates, the table, versions.
    K1, K2, K3, K4,
    /// §3 Eligibility.
    E1, E2, E3, E4, E5,
    /// §4 Pool classification.
    C1, C2, C3, C4, C4a, C4b,
    /// §5 The four components and the review.
    U, U1, U2, U3, U4, M, W, B, T1, T2, T3, T4, T5, T6,
    /// §6 Credits and tranches.
    TR1, TR2, TR3, TR4, TR5, TR6, TR7, TR8,
    /// §7 Office hours.
    OH1, OH2, OH3, OH4, OH5, OH6,
    /// §8 Graduation and retirement.
    G1, G2, G3, G4,
    /// §9 Credit position.
    CP1,
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for RuleId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for RuleId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_their_strings_on_the_wire() {
        for rule in RuleId::ALL {
            assert_eq!(serde_json::to_value(rule).unwrap(), serde_json::json!(rule.as_str()));
            assert_eq!(RuleId::parse(rule.as_str()), Some(*rule));
        }
        assert_eq!(RuleId::ALL.len(), 49);
        assert_eq!(serde_json::from_str::<RuleId>("\"C4b\"").unwrap(), RuleId::C4b);
        assert!(serde_json::from_str::<RuleId>("\"TR9\"").is_err());
    }

    #[test]
    fn every_rule_id_of_the_domain_is_known() {
        let domain = include_str!("../../../../shared/spec/DOMAIN.md");
        for line in domain.lines() {
            let words = line.trim_start_matches(['-', ' ']).split_whitespace();
            let Some(first) = words.into_iter().next() else {
                continue;
            };
            let looks_like_an_id = first.len() <= 4
                && first.starts_with(|c: char| c.is_ascii_uppercase())
                && first.chars().skip(1).any(|c| c.is_ascii_digit())
                && first.chars().all(|c| c.is_ascii_alphanumeric());
            if line.trim_start().starts_with('-') && looks_like_an_id {
                assert!(
                    RuleId::parse(first).is_some(),
                    "DOMAIN.md names {first}, RuleId does not"
                );
            }
        }
    }
}
