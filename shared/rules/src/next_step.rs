//! What happens after classification (DOMAIN §1, §4, K1, C3, C4a, P1): which body is reviewed in
//! which pool, or that nothing is reviewed here. The classifier acts on it and preflight reports
//! it, so the two cannot give different answers.

use sandpiper_contracts::decision::{Classification, Continuation, Finding};
use sandpiper_contracts::model::{ApplicationBody, Programme};

use crate::components::window_days;

/// The step after classification.
#[derive(Debug, Clone, PartialEq)]
pub enum NextStep {
    /// The application itself is reviewed in `pool`; `failures` (E1–E5, K2, C4b) force T1.
    Review { pool: Programme, failures: Vec<Finding> },
    /// C3 (and K1 for the bedrock family): a new, linked application in `pool` carries on with
    /// `body` and is reviewed under P1; the original goes no further.
    ReviewLinked {
        pool: Programme,
        body: Box<ApplicationBody>,
    },
    /// Nothing is reviewed here: K1 for the q and sagemaker families records the application in
    /// the stack (DOMAIN §1: `activate_portfolio` is not reviewed here), and C4a continues under
    /// the startup's existing Bedrock POC instead of opening a second application.
    Redirected { to: Programme, continues_as: Continuation },
}

/// The body of the new application a redirect to `pool` opens (C3): the original, in `pool`,
/// with the window that pool runs (P1: 60 days for `bedrock_poc`), so the stored application, its
/// review and its credits all say the same.
pub fn linked_application(body: &ApplicationBody, pool: Programme) -> ApplicationBody {
    let mut linked = body.clone();
    linked.programme = pool;
    linked.evaluation_window_days = window_days(body, pool);
    linked
}

/// Decides what follows `classification` of `body`.
pub fn next_step(body: &ApplicationBody, classification: &Classification) -> NextStep {
    match classification {
        Classification::Fits { pool, .. } => NextStep::Review {
            pool: *pool,
            failures: Vec::new(),
        },
        Classification::Ineligible { pool, failures, .. } => NextStep::Review {
            pool: *pool,
            failures: failures.clone(),
        },
        Classification::Redirect {
            to,
            continues_as: Continuation::NewLinkedApplication,
            ..
        } => NextStep::ReviewLinked {
            pool: *to,
            body: Box::new(linked_application(body, *to)),
        },
        Classification::Redirect { to, continues_as, .. } => NextStep::Redirected {
            to: *to,
            continues_as: continues_as.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify;
    use crate::fixtures::{at, catalog, example, worked};
    use sandpiper_contracts::model::{StackEntry, StackStatus};

    fn matured(id: &str) -> sandpiper_contracts::catalog::Catalog {
        let mut c = catalog();
        for s in c.services.iter_mut().filter(|s| s.id == id) {
            s.matured_at = Some(at().date_naive());
        }
        c
    }

    #[test]
    fn k1_outside_the_bedrock_family_is_recorded_in_the_stack_and_not_reviewed() {
        let body = example("amazon-q-business-docs");
        let step = next_step(&body, &classify(&body, true, &matured("amazon-q-business"), at()));
        assert_eq!(
            step,
            NextStep::Redirected {
                to: Programme::ActivatePortfolio,
                continues_as: Continuation::RecordedInStack
            }
        );
    }

    #[test]
    fn c4a_continues_the_existing_bedrock_poc_and_is_not_reviewed() {
        let mut body = worked();
        body.stack = vec![StackEntry {
            programme: Programme::BedrockPoc,
            amount_usd: None,
            workload: Some(body.workload.clone()),
            status: StackStatus::Pending,
        }];
        let step = next_step(&body, &classify(&body, true, &catalog(), at()));
        assert_eq!(
            step,
            NextStep::Redirected {
                to: Programme::BedrockPoc,
                continues_as: Continuation::ExistingStackEntry { stack_index: 0 }
            }
        );
    }

    #[test]
    fn k1_in_the_bedrock_family_and_c3_open_a_linked_bedrock_poc() {
        let body = worked();
        let NextStep::ReviewLinked { pool, body: linked } =
            next_step(&body, &classify(&body, true, &matured("bedrock-agents"), at()))
        else {
            panic!("K1 for bedrock-agents must open a linked application");
        };
        assert_eq!((pool, linked.programme), (Programme::BedrockPoc, Programme::BedrockPoc));

        let mut inference = worked();
        inference.budget[1].monthly_usd = Some(5_000);
        assert!(matches!(
            next_step(&inference, &classify(&inference, true, &catalog(), at())),
            NextStep::ReviewLinked {
                pool: Programme::BedrockPoc,
                ..
            }
        ));
    }

    #[test]
    fn rule_p1_a_linked_bedrock_poc_runs_a_60_day_window() {
        // A 30-day sandbox filing redirected by C3 carries on as a 60-day Bedrock POC.
        let mut body = worked();
        body.evaluation_window_days = 30;
        body.feedback_checkpoints_days = vec![15, 30];
        body.budget[1].monthly_usd = Some(5_000);
        let NextStep::ReviewLinked { body: linked, .. } = next_step(&body, &classify(&body, true, &catalog(), at()))
        else {
            panic!("inference above the emerging service is redirected (C2, C3)");
        };
        assert_eq!(linked.evaluation_window_days, 60, "P1");
        assert_eq!(
            linked_application(&body, Programme::InnovationSandbox).evaluation_window_days,
            30,
            "a sandbox keeps its own window"
        );
    }

    #[test]
    fn fits_and_ineligible_are_reviewed_as_filed() {
        let body = worked();
        assert_eq!(
            next_step(&body, &classify(&body, true, &catalog(), at())),
            NextStep::Review {
                pool: Programme::InnovationSandbox,
                failures: Vec::new()
            }
        );
        let mut gambling = worked();
        gambling.startup.industry = "gambling".into();
        let NextStep::Review { failures, .. } = next_step(&gambling, &classify(&gambling, true, &catalog(), at()))
        else {
            panic!("an ineligible application is reviewed (and rejected, T1)");
        };
        assert_eq!(failures[0].rule, "E2");
    }
}
