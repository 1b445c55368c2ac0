//! The review simulation's calibration against AWS's real decisions (issue #17, `review = ace`):
//! for every application AWS has decided in Partner Central, whether the simulation's forecast had
//! the same outcome (approved or rejected) and the same tier (an approval's amount, or both
//! rejections). Pure: the intake serves it (`GET /v1/reports/forecast`).

use sandpiper_contracts::answers::{ForecastCalibration, ForecastComparison};
use sandpiper_contracts::decision::Outcome;
use sandpiper_contracts::view::ApplicationView;

/// The tier an outcome stands for: the amount of an approval, none for a rejection.
fn tier(outcome: Outcome) -> Option<i64> {
    match outcome {
        Outcome::Approved { tier_usd } => Some(tier_usd),
        Outcome::Rejected => None,
    }
}

/// The calibration over `views`: those with a forecast and AWS's decision are compared; those with
/// a forecast still waiting for AWS are counted as pending.
pub fn calibrate(views: &[ApplicationView]) -> ForecastCalibration {
    let mut applications = Vec::new();
    let mut pending = 0;
    for view in views {
        let Some(forecast) = view.forecast.as_ref().and_then(|f| f.outcome) else {
            continue;
        };
        let Some(actual) = view.decision.as_ref().and_then(|d| d.outcome) else {
            pending += 1;
            continue;
        };
        let same_outcome = matches!(
            (forecast, actual),
            (Outcome::Approved { .. }, Outcome::Approved { .. }) | (Outcome::Rejected, Outcome::Rejected)
        );
        applications.push(ForecastComparison {
            application_id: view.id,
            forecast,
            actual,
            outcome_matched: same_outcome,
            tier_matched: same_outcome && tier(forecast) == tier(actual),
        });
    }
    let decided = applications.len() as u64;
    let outcome_matched = applications.iter().filter(|c| c.outcome_matched).count() as u64;
    let tier_matched = applications.iter().filter(|c| c.tier_matched).count() as u64;
    let rate = |matched: u64| (decided > 0).then(|| matched as f64 / decided as f64);
    ForecastCalibration {
        decided,
        pending,
        outcome_matched,
        tier_matched,
        outcome_match_rate: rate(outcome_matched),
        tier_match_rate: rate(tier_matched),
        applications,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use sandpiper_contracts::view::Decision;

    fn view(forecast: Option<Outcome>, actual: Option<Outcome>) -> ApplicationView {
        let decision = |outcome: Option<Outcome>| Decision {
            pool: sandpiper_contracts::model::Programme::InnovationSandbox,
            tier_usd: outcome.and_then(tier),
            components: None,
            outcome,
            rules: vec![],
            reasons: vec![],
            next_tier: vec![],
            figures: Default::default(),
            catalog_version: "test".into(),
            decided_at: chrono::Utc::now(),
        };
        let drafted = sandpiper_contracts::events::Envelope::new(
            sandpiper_contracts::ids::EventId::generate(),
            sandpiper_contracts::names::ServiceName::Intake,
            sandpiper_contracts::ids::PartnerId::parse("acme").unwrap(),
            sandpiper_contracts::ids::ApplicationId::generate(),
            chrono::Utc::now(),
            &sandpiper_contracts::events::Drafted {
                draft: Default::default(),
                originated_from: None,
            },
        )
        .unwrap();
        let mut view = ApplicationView::create(&drafted, 1).unwrap();
        view.forecast = forecast.map(|f| decision(Some(f)));
        view.decision = Some(decision(actual));
        view
    }

    #[test]
    fn outcome_and_tier_are_matched_separately_and_pending_ones_counted() {
        let approve = |tier_usd| Outcome::Approved { tier_usd };
        let views = [
            view(Some(approve(20_000)), Some(approve(20_000))),
            view(Some(approve(25_000)), Some(approve(20_000))),
            view(Some(approve(10_000)), Some(Outcome::Rejected)),
            view(Some(Outcome::Rejected), Some(Outcome::Rejected)),
            view(Some(approve(20_000)), None),
            view(None, Some(approve(20_000))),
        ];
        let report = calibrate(&views);
        assert_eq!((report.decided, report.pending), (4, 1));
        assert_eq!((report.outcome_matched, report.tier_matched), (3, 2));
        assert_eq!(report.outcome_match_rate, Some(0.75));
        assert_eq!(report.tier_match_rate, Some(0.5));
        assert!(!report.applications[2].outcome_matched);
        assert_eq!(calibrate(&[]).outcome_match_rate, None, "nothing decided: no rate");
    }
}
