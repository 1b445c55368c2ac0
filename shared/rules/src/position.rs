//! A startup's credit position (DOMAIN §9, CP1): the approved amounts across its stack, with
//! their parts.

use sandpiper_contracts::engagement::PositionPart;
use sandpiper_contracts::model::{Programme, StackStatus};
use sandpiper_contracts::state::State;
use sandpiper_contracts::view::ApplicationView;

/// CP1: the standard stack (Activate Portfolio + Build for Startups + Bedrock POC) tops out here.
pub const STANDARD_STACK_CEILING_USD: i64 = 150_000;
/// CP1: with an Innovation Sandbox layered on, the typical range.
pub const TYPICAL_WITH_SANDBOX_USD: [i64; 2] = [160_000, 175_000];

/// The position: its parts and their sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub parts: Vec<PositionPart>,
    pub total_usd: i64,
}

/// CP1 over the applications of one startup (one AWS account): the approved stack entries they
/// declare, each approval here less what TR6 clawed back, and each graduation recorded in the
/// stack (G2, its amount the Portfolio filing's, not decided here).
pub fn credit_position(views: &[ApplicationView]) -> Position {
    let mut parts = declared_stack(views);
    for view in views {
        if matches!(view.state, State::Rejected | State::Redirected) {
            continue;
        }
        if let Some(tier) = view.decision.as_ref().and_then(|d| d.tier_usd) {
            let clawed_back = view.credits.as_ref().map_or(0, |c| c.clawed_back_usd);
            if tier - clawed_back > 0 {
                parts.push(PositionPart {
                    programme: view.decision.as_ref().map_or(Programme::InnovationSandbox, |d| d.pool),
                    amount_usd: tier - clawed_back,
                    source: if clawed_back > 0 {
                        format!("application {} (${clawed_back} clawed back, TR6)", view.id)
                    } else {
                        format!("application {}", view.id)
                    },
                    application_id: Some(view.id),
                });
            }
        }
        if let Some(outcome) = &view.team_decision
            && outcome.target == Some(Programme::ActivatePortfolio)
        {
            parts.push(PositionPart {
                programme: Programme::ActivatePortfolio,
                amount_usd: 0,
                source: format!(
                    "graduation of application {} (G2): production funded by Activate Portfolio",
                    view.id
                ),
                application_id: Some(view.id),
            });
        }
    }
    let total_usd = parts.iter().map(|p| p.amount_usd).sum();
    Position { parts, total_usd }
}

/// The approved stack entries the applications declare. An entry is its programme, amount and
/// workload: declared by several applications it counts once, while two alike in one application
/// are two entries.
fn declared_stack(views: &[ApplicationView]) -> Vec<PositionPart> {
    /// A stack entry's identity (programme, amount, workload) and how often it was counted.
    type Counted<'a> = Vec<((Programme, i64, Option<&'a str>), usize)>;
    let mut counted: Counted = Vec::new();
    for view in views {
        let mut here: Counted = Vec::new();
        for entry in view.body.stack.iter().flatten() {
            let (Some(amount), StackStatus::Approved) = (entry.amount_usd, entry.status) else {
                continue;
            };
            let key = (entry.programme, amount, entry.workload.as_deref());
            match here.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => here.push((key, 1)),
            }
        }
        for (key, n) in here {
            match counted.iter_mut().find(|(k, _)| *k == key) {
                Some((_, most)) => *most = (*most).max(n),
                None => counted.push((key, n)),
            }
        }
    }
    counted
        .into_iter()
        .flat_map(|((programme, amount_usd, _), n)| {
            std::iter::repeat_n(
                PositionPart {
                    programme,
                    amount_usd,
                    source: "stack".into(),
                    application_id: None,
                },
                n,
            )
        })
        .collect()
}
