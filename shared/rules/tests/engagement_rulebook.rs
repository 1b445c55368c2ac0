//! One table per rule id of DOMAIN §6–§9. Each starts from a baseline engagement (the seed's
//! worked example, approved and folded the way the services fold it), edits it just enough to
//! trip or not trip the rule, and states what the decision must say. A table whose rows all say
//! what the baseline says would not test its rule, so `table` refuses it.
//!
//! OH4 (the iCalendar feed) and OH6 (feedback notes) are not decisions: the intake renders and
//! records them, and `integration-tests` (`engagement`, `lifecycle`) test them end to end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use common::{at, catalog, seed_ceiling_budget, worked};
use sandpiper_contracts::catalog::CatalogService;
use sandpiper_contracts::decision::Outcome;
use sandpiper_contracts::engagement::{Checkpoint, Concern, Consumption, Outcome as TeamOutcome, TeamDecision};
use sandpiper_contracts::events::{
    Approved, Classified, ConcernRecorded, ConsumptionRecorded, Drafted, Envelope, Event, Payload, Submitted,
};
use sandpiper_contracts::ids::{ApplicationId, EventId, PartnerId};
use sandpiper_contracts::model::{ApplicationBody, Programme, StackEntry, StackStatus};
use sandpiper_contracts::names::ServiceName;
use sandpiper_contracts::record::{ApplicationRecord, Folded};
use sandpiper_contracts::rule::RuleId;
use sandpiper_contracts::state::State;
use sandpiper_contracts::view::ApplicationView;
use sandpiper_rules::engagement::{self, Effect};
use sandpiper_rules::{credits, graduation, position, review};

/// Runs a rule's table: each row edits a copy of `baseline`, and `decide` must say `expected`.
/// At least one row must say something other than the baseline does: the rule changes outcomes.
/// A row: its name, its edit of the baseline, what the decision must then say.
type Row<'a, S> = (&'a str, fn(&mut S), &'a str);

fn table<S: Clone>(rule: &str, baseline: S, decide: impl Fn(&S) -> String, rows: &[Row<'_, S>]) {
    let base = decide(&baseline);
    for (name, edit, expected) in rows {
        let mut input = baseline.clone();
        edit(&mut input);
        assert_eq!(decide(&input), *expected, "{rule} / {name}");
    }
    assert!(
        rows.iter().any(|(_, _, expected)| *expected != base),
        "{rule}: no row changes the outcome ({base})"
    );
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn time(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn service(id: &str) -> CatalogService {
    catalog().service(id).cloned().unwrap()
}

/// What a list of effects says, one line each: `type key` for an event, `set checkpoint date`.
fn said(effects: &[Effect]) -> String {
    effects
        .iter()
        .map(|effect| match effect {
            Effect::Store { key, event } => format!("{} {key}", event.event_type().as_str()),
            Effect::Set { checkpoint, at } => format!("set {checkpoint:?} {}", at.date_naive()),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The events of a list of effects.
fn events(effects: &[Effect]) -> impl Iterator<Item = &Event> {
    effects.iter().filter_map(|e| match e {
        Effect::Store { event, .. } => Some(event.as_ref()),
        Effect::Set { .. } => None,
    })
}

/// The amounts the `credits_expired` events of a list of effects expire (TR4).
fn expired(effects: &[Effect]) -> Vec<i64> {
    events(effects)
        .filter_map(|ev| match ev {
            Event::CreditsExpired(x) => Some(x.amount_usd),
            _ => None,
        })
        .collect()
}

/// A filing about to be approved: the body, the pool, the tier, the service's catalog entry.
#[derive(Clone)]
struct Filing {
    body: ApplicationBody,
    pool: Programme,
    tier_usd: i64,
    service: Option<CatalogService>,
    approved_at: DateTime<Utc>,
    grace_days: i64,
}

impl Filing {
    fn worked() -> Filing {
        Filing {
            body: worked(),
            pool: Programme::InnovationSandbox,
            tier_usd: 20_000,
            service: Some(service("bedrock-agents")),
            approved_at: time("2026-06-15T09:00:00Z"),
            grace_days: credits::DEFAULT_GRACE_DAYS,
        }
    }

    /// A $25K split: the seed's $3,150/month budget on a service that prefers split tranches.
    fn split() -> Filing {
        let mut filing = Filing::worked();
        filing.body.budget = seed_ceiling_budget();
        filing.tier_usd = 25_000;
        filing.service = Some(service("bedrock-agents"));
        filing
    }

    fn approved(&self) -> Approved {
        let mut review = review(&self.body, self.pool, &catalog(), &[]);
        review.outcome = Outcome::Approved {
            tier_usd: self.tier_usd,
        };
        Approved {
            tier_usd: self.tier_usd,
            review,
            catalog_version: catalog().version,
            aws: None,
        }
    }

    fn decide(&self) -> Vec<Effect> {
        engagement::on_approval(
            &self.body,
            &self.approved(),
            self.service.as_ref(),
            self.approved_at,
            self.grace_days,
        )
    }
}

/// An approved engagement as the services hold it: every event folded into its record.
#[derive(Clone)]
struct Engagement {
    record: ApplicationRecord,
    now: DateTime<Utc>,
    reminders_sent: u32,
}

impl Engagement {
    /// The filing approved, and what the approval decided folded in.
    fn of(filing: &Filing) -> Engagement {
        let partner = PartnerId::parse("acme").unwrap();
        let app = ApplicationId::generate();
        let submitted = filing.approved_at - Duration::days(14);
        let envelope = |payload: &Event, at| {
            Envelope::new(
                EventId::generate(),
                ServiceName::Intake,
                partner.clone(),
                app,
                at,
                payload,
            )
            .unwrap()
        };
        let drafted = envelope(
            &Drafted {
                draft: filing.body.clone().into(),
                originated_from: None,
            }
            .into(),
            submitted,
        );
        let mut engagement = Engagement {
            record: ApplicationRecord::create(&drafted, 1).unwrap(),
            now: submitted,
            reminders_sent: 0,
        };
        let classified = Classified {
            pool: filing.pool,
            rules: vec![RuleId::C1],
            reasons: Vec::new(),
            catalog_version: catalog().version,
            figures: Default::default(),
            eligibility_failures: Vec::new(),
            submitted_at: submitted,
            submission_id: None,
        };
        for event in [
            Event::from(Submitted {
                application: filing.body.clone(),
            }),
            classified.into(),
        ] {
            engagement.fold(event, submitted);
        }
        engagement.fold(filing.approved().into(), filing.approved_at);
        let decided = filing.decide();
        engagement.apply(&decided, filing.approved_at);
        engagement
    }

    fn worked() -> Engagement {
        Engagement::of(&Filing::worked())
    }

    fn view(&self) -> &ApplicationView {
        &self.record.view
    }

    fn window_ends(&self) -> DateTime<Utc> {
        self.view().window.unwrap().ends_at
    }

    fn fold(&mut self, event: Event, at: DateTime<Utc>) {
        let envelope = Envelope::new(
            EventId::generate(),
            ServiceName::Scheduler,
            self.record.partner().clone(),
            self.record.id(),
            at,
            &event,
        )
        .unwrap();
        let sequence = self.record.last_sequence() + 1;
        match self.record.fold(&envelope, sequence) {
            Folded::Applied => {}
            other => panic!("{} not folded: {other:?}", event.event_type().as_str()),
        }
        if event.event_type() == sandpiper_contracts::events::EventType::DecisionReminder {
            self.reminders_sent += 1;
        }
        self.now = at;
    }

    /// Folds the events a decision stored, as the scheduler would.
    fn apply(&mut self, effects: &[Effect], at: DateTime<Utc>) {
        for event in events(effects) {
            self.fold(event.clone(), at);
        }
    }

    fn consume(&mut self, amount_usd: i64, on: NaiveDate) {
        let consumption = Consumption {
            date: on,
            amount_usd,
            note: None,
        };
        self.fold(ConsumptionRecorded { consumption }.into(), self.now);
    }

    fn concern(&mut self, blocking: bool, at: DateTime<Utc>) -> Concern {
        let concern = Concern {
            id: format!("c{}", self.view().concerns.len() + 1),
            blocking,
            note: "the agent loops on refunds".into(),
            recorded_at: at,
        };
        self.fold(
            ConcernRecorded {
                concern: concern.clone(),
            }
            .into(),
            at,
        );
        concern
    }

    /// What `checkpoint` decides when it falls due, at its due time.
    fn at(&self, checkpoint: Checkpoint) -> Vec<Effect> {
        let window = self.view().window.unwrap();
        let due = match checkpoint {
            Checkpoint::MidWindow => window.mid_window_at,
            Checkpoint::WindowClose => window.ends_at,
            Checkpoint::Reminder { number } => window.ends_at + Duration::days(7 * i64::from(number)),
            Checkpoint::Expiry => window.expires_at,
        };
        engagement::at_checkpoint(self.view(), checkpoint, due, self.reminders_sent)
    }

    /// Runs `checkpoint` and folds what it stored.
    fn run(&mut self, checkpoint: Checkpoint) {
        let effects = self.at(checkpoint);
        let at = self.now.max(self.view().window.unwrap().ends_at);
        self.apply(&effects, at);
    }

    /// Consumption in the window, then the close: `window_closed` (G1).
    fn closed() -> Engagement {
        let mut e = Engagement::worked();
        e.consume(500, date("2026-07-01"));
        e.run(Checkpoint::WindowClose);
        e
    }

    fn team(&mut self, decision: TeamDecision) {
        let view = self.view().clone();
        let event: Event = match decision {
            TeamDecision::Retire => graduation::retired(&view, None).into(),
            TeamDecision::Graduate => {
                let g = graduation::graduation(&view, Some(&service("bedrock-agents")), false);
                graduation::graduated(g, None, None, catalog().version).into()
            }
        };
        let at = self.window_ends() + Duration::days(2);
        self.fold(event, at);
    }
}

// ---------------------------------------------------------------------------------------------
// §6 Credits and tranches

#[test]
fn rule_tr1_the_window_starts_at_approval_and_runs_its_days() {
    fn window(f: &Filing) -> String {
        let e = Engagement::of(f);
        let w = e.view().window.unwrap();
        format!("{} to {}", w.starts_at.date_naive(), w.ends_at.date_naive())
    }
    table(
        "TR1",
        Filing::worked(),
        window,
        &[
            ("as filed, 60 days", |_| {}, "2026-06-15 to 2026-08-14"),
            (
                "a 30-day window",
                |f| f.body.evaluation_window_days = 30,
                "2026-06-15 to 2026-07-15",
            ),
            (
                "approved a week later",
                |f| f.approved_at += Duration::days(7),
                "2026-06-22 to 2026-08-21",
            ),
        ],
    );
}

/// The tranches of an approval: `number $amount status`.
fn tranches(f: &Filing) -> String {
    let e = Engagement::of(f);
    let credits = e.view().credits.clone().unwrap();
    credits
        .tranches
        .iter()
        .map(|t| format!("{} ${} {:?}", t.number, t.amount_usd, t.status))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn rule_tr2_a_single_tranche_by_default() {
    table(
        "TR2",
        Filing::split(),
        tranches,
        &[
            (
                "the $20K worked example",
                |f| *f = Filing::worked(),
                "1 $20000 Released",
            ),
            ("a $10K tier", |f| f.tier_usd = 10_000, "1 $10000 Released"),
        ],
    );
}

#[test]
fn rule_tr3_split_for_larger_scope_and_tranche_2_at_the_check_in() {
    table(
        "TR3 at approval",
        Filing::worked(),
        tranches,
        &[
            (
                "split service, 60 days, $3,150, $25K",
                |f| *f = Filing::split(),
                "1 $10000 Released, 2 $15000 Pending",
            ),
            (
                "$20K is enough",
                |f| {
                    *f = Filing::split();
                    f.tier_usd = 20_000;
                },
                "1 $10000 Released, 2 $10000 Pending",
            ),
            (
                "30 days",
                |f| {
                    *f = Filing::split();
                    f.body.evaluation_window_days = 30;
                },
                "1 $25000 Released",
            ),
            ("under $3,000 a month", |_| {}, "1 $20000 Released"),
            (
                "a $10K tier",
                |f| {
                    *f = Filing::split();
                    f.tier_usd = 10_000;
                },
                "1 $10000 Released",
            ),
            (
                "a service preferring single",
                |f| {
                    *f = Filing::split();
                    f.service = Some(service("bedrock-knowledge-bases-v2"));
                },
                "1 $25000 Released",
            ),
        ],
    );
    fn check_in(e: &Engagement) -> String {
        said(&e.at(Checkpoint::MidWindow))
    }
    let split = Engagement::of(&Filing::split());
    table(
        "TR3 at the check-in",
        {
            let mut e = split.clone();
            e.consume(2_000, date("2026-06-20"));
            e
        },
        check_in,
        &[
            ("no concern", |_| {}, "tranche_released tranche.2"),
            (
                "a blocking concern by day 30",
                |e| {
                    let at = e.view().window.unwrap().starts_at + Duration::days(29);
                    e.concern(true, at);
                },
                "tranche_withheld tranche.2",
            ),
            (
                "a concern that does not block",
                |e| {
                    let at = e.view().window.unwrap().starts_at + Duration::days(10);
                    e.concern(false, at);
                },
                "tranche_released tranche.2",
            ),
            (
                "a blocking concern after day 30",
                |e| {
                    let at = e.view().window.unwrap().starts_at + Duration::days(31);
                    e.concern(true, at);
                },
                "tranche_released tranche.2",
            ),
        ],
    );
}

#[test]
fn rule_tr4_credits_expire_after_their_validity() {
    fn validity(f: &Filing) -> String {
        let e = Engagement::of(f);
        e.view().window.unwrap().expires_at.date_naive().to_string()
    }
    table(
        "TR4 validity",
        Filing::worked(),
        validity,
        &[
            ("six months for a sandbox", |_| {}, "2026-12-15"),
            (
                "twelve for a bedrock_poc",
                |f| f.pool = Programme::BedrockPoc,
                "2027-06-15",
            ),
        ],
    );
    fn at_expiry(e: &Engagement) -> String {
        let effects = e.at(Checkpoint::Expiry);
        let amounts = expired(&effects);
        format!("{} {amounts:?}", said(&effects))
    }
    table(
        "TR4 at expiry",
        Engagement::closed(),
        at_expiry,
        &[
            ("window closed, $19,500 left", |_| {}, "credits_expired expired [19500]"),
            (
                "retired: the balance was forfeited",
                |e| {
                    e.team(TeamDecision::Retire);
                    let forfeit = engagement::on_retirement(e.view());
                    let at = e.now;
                    e.apply(&forfeit, at);
                },
                "credits_expired expired [0]",
            ),
        ],
    );
}

#[test]
fn rule_tr5_the_balance_serves_a_grace_period_after_the_window() {
    fn grace(f: &Filing) -> String {
        let mut e = Engagement::of(f);
        e.consume(100, e.view().window.unwrap().starts_at.date_naive());
        let effects = e.at(Checkpoint::WindowClose);
        events(&effects)
            .map(|ev| match ev {
                Event::WindowClosed(w) => format!("grace to {}", w.grace_ends_at.date_naive()),
                other => other.event_type().as_str().to_owned(),
            })
            .collect()
    }
    table(
        "TR5",
        Filing::worked(),
        grace,
        &[
            ("the default 90 days", |_| {}, "grace to 2026-11-12"),
            ("a 60-day policy", |f| f.grace_days = 60, "grace to 2026-10-13"),
        ],
    );
}

#[test]
fn rule_tr6_no_consumption_in_the_window_is_clawed_back_at_its_close() {
    fn close(e: &Engagement) -> String {
        said(&e.at(Checkpoint::WindowClose))
    }
    table(
        "TR6",
        Engagement::worked(),
        close,
        &[
            ("nothing consumed", |_| {}, "clawed_back clawback"),
            (
                "consumption inside the window",
                |e| e.consume(50, date("2026-08-14")),
                "window_closed closed; set Reminder { number: 1 } 2026-08-21",
            ),
            (
                "consumption only after the window",
                |e| e.consume(50, date("2026-08-15")),
                "clawed_back clawback",
            ),
        ],
    );
}

#[test]
fn rule_tr7_consumption_draws_the_oldest_tranche_first_never_below_zero() {
    fn position(e: &Engagement) -> String {
        let c = e.view().credits.clone().unwrap();
        let tranches: Vec<i64> = c.tranches.iter().map(|t| t.balance_usd).collect();
        format!(
            "balance {} consumed {} overage {} tranches {tranches:?}",
            c.balance_usd, c.consumed_usd, c.overage_usd
        )
    }
    let mut split = Engagement::of(&Filing::split());
    split.run(Checkpoint::MidWindow);
    table(
        "TR7",
        split,
        position,
        &[
            (
                "nothing consumed",
                |_| {},
                "balance 25000 consumed 0 overage 0 tranches [10000, 15000]",
            ),
            (
                "$12,000: tranche 1 first",
                |e| e.consume(12_000, date("2026-07-01")),
                "balance 13000 consumed 12000 overage 0 tranches [0, 13000]",
            ),
            (
                "$30,000: the excess is overage",
                |e| e.consume(30_000, date("2026-07-01")),
                "balance 0 consumed 25000 overage 5000 tranches [0, 0]",
            ),
        ],
    );
}

#[test]
fn rule_tr8_under_a_quarter_of_pro_rata_at_the_check_in_warns() {
    fn check_in(e: &Engagement) -> String {
        said(&e.at(Checkpoint::MidWindow))
    }
    // $20K released over 60 days: pro rata at day 30 is $10,000, a quarter of it $2,500.
    table(
        "TR8",
        Engagement::worked(),
        check_in,
        &[
            ("nothing consumed", |_| {}, "clawback_warning warning"),
            (
                "$2,499",
                |e| e.consume(2_499, date("2026-06-20")),
                "clawback_warning warning",
            ),
            ("$2,500", |e| e.consume(2_500, date("2026-06-20")), ""),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// §7 Office hours

/// The sessions an approval schedules, `id date`, and whether the mid-window checkpoint is set.
fn sessions(f: &Filing) -> String {
    let effects = f.decide();
    let mut out: Vec<String> = events(&effects)
        .filter_map(|ev| match ev {
            Event::OfficeHoursScheduled(s) => Some(format!("{} {}", s.session.id, s.session.starts_at.date_naive())),
            _ => None,
        })
        .collect();
    if effects.iter().any(|e| {
        matches!(
            e,
            Effect::Set {
                checkpoint: Checkpoint::MidWindow,
                ..
            }
        )
    }) {
        out.push("mid-window set".into());
    }
    out.join(", ")
}

#[test]
fn rule_oh1_three_sessions_on_weekdays_inside_the_window() {
    // Approved Monday 2026-06-15: day 3 Thursday, day 30 Wednesday 07-15, day 60 Friday 08-14.
    table(
        "OH1",
        Filing::worked(),
        sessions,
        &[
            (
                "60 days from a Monday",
                |_| {},
                "kickoff 2026-06-18, mid_window 2026-07-15, closing 2026-08-14, mid-window set",
            ),
            (
                "from a Wednesday: day 3 is Saturday, moved to Friday",
                |f| f.approved_at = time("2026-06-17T09:00:00Z"),
                "kickoff 2026-06-19, mid_window 2026-07-17, closing 2026-08-14, mid-window set",
            ),
            (
                "30 days: the check-in on day 15",
                |f| f.body.evaluation_window_days = 30,
                "kickoff 2026-06-18, mid_window 2026-06-30, closing 2026-07-15, mid-window set",
            ),
        ],
    );
}

#[test]
fn rule_oh2_participants_come_from_the_catalog() {
    fn participants(f: &Filing) -> String {
        let effects = f.decide();
        events(&effects)
            .find_map(|ev| match ev {
                Event::OfficeHoursScheduled(s) => Some(s.session.participants.len().to_string()),
                _ => None,
            })
            .unwrap_or_default()
    }
    table(
        "OH2",
        Filing::worked(),
        participants,
        &[
            ("bedrock-agents lists four", |_| {}, "4"),
            ("a service the catalog no longer has", |f| f.service = None, "0"),
        ],
    );
}

#[test]
fn rule_oh3_a_blocking_concern_asks_for_an_ad_hoc_session() {
    fn ad_hoc(e: &Engagement) -> String {
        let Some(concern) = e.view().concerns.last().cloned() else {
            return "no concern".into();
        };
        let effects = engagement::on_concern(e.view(), &concern, &[]);
        events(&effects)
            .map(|ev| match ev {
                Event::OfficeHoursScheduled(s) => format!("{} {}", s.session.id, s.session.starts_at.date_naive()),
                other => other.event_type().as_str().to_owned(),
            })
            .collect()
    }
    table(
        "OH3",
        Engagement::worked(),
        ad_hoc,
        &[
            // Thursday 07-02 → Monday 07-06.
            (
                "blocking, on a Thursday",
                |e| drop(e.concern(true, time("2026-07-02T10:00:00Z"))),
                "ad-hoc-1 2026-07-06",
            ),
            (
                "not blocking",
                |e| drop(e.concern(false, time("2026-07-02T10:00:00Z"))),
                "",
            ),
            (
                "two business days later is past the window: the closing session takes it up",
                |e| drop(e.concern(true, time("2026-08-13T10:00:00Z"))),
                "closing 2026-08-14",
            ),
            (
                "after the window closed",
                |e| {
                    e.consume(10, date("2026-07-01"));
                    e.run(Checkpoint::WindowClose);
                    drop(e.concern(true, time("2026-08-17T10:00:00Z")));
                },
                "",
            ),
        ],
    );
}

#[test]
fn rule_oh5_a_bedrock_poc_has_no_office_hours() {
    table(
        "OH5",
        Filing::worked(),
        sessions,
        &[
            (
                "innovation_sandbox",
                |_| {},
                "kickoff 2026-06-18, mid_window 2026-07-15, closing 2026-08-14, mid-window set",
            ),
            ("bedrock_poc", |f| f.pool = Programme::BedrockPoc, ""),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// §8 Graduation and retirement

#[test]
fn rule_g1_a_decision_is_owed_at_window_close_and_asked_for_weekly() {
    fn owed(e: &Engagement) -> String {
        let next = Checkpoint::Reminder {
            number: e.reminders_sent + 1,
        };
        let decided = graduation::decision_owed(e.view()).map_or("not owed", |()| "owed");
        format!(
            "{decided}; close: {}; next: {}",
            said(&e.at(Checkpoint::WindowClose)),
            said(&e.at(next))
        )
    }
    table(
        "G1",
        Engagement::closed(),
        owed,
        &[
            (
                "just closed",
                |_| {},
                "owed; close: set Reminder { number: 1 } 2026-08-21; next: decision_reminder reminder; set Reminder { number: 2 } 2026-08-28",
            ),
            (
                "reminder 1 sent: the close, fired again, sets nothing",
                |e| e.run(Checkpoint::Reminder { number: 1 }),
                "owed; close: ; next: decision_reminder reminder; set Reminder { number: 3 } 2026-09-04",
            ),
            (
                "no reminder is set past validity",
                |e| {
                    for number in 1..=16 {
                        e.run(Checkpoint::Reminder { number });
                    }
                },
                "owed; close: ; next: decision_reminder reminder",
            ),
            (
                "still active",
                |e| *e = Engagement::worked(),
                "not owed; close: clawed_back clawback; next: ",
            ),
            ("retired", |e| e.team(TeamDecision::Retire), "not owed; close: ; next: "),
        ],
    );
}

#[test]
fn rule_g2_the_graduation_target_by_family() {
    #[derive(Clone)]
    struct Asked {
        service: &'static str,
        matured: bool,
        production_monthly_usd: Option<i64>,
    }
    fn target(a: &Asked) -> String {
        let mut view = Engagement::closed().view().clone();
        view.body.service = Some(a.service.into());
        view.body.production_monthly_usd = a.production_monthly_usd;
        let g = graduation::graduation(&view, Some(&service(a.service)), a.matured);
        let draft = g.linked_draft.map(|d| {
            let budget = d.budget.unwrap_or_default();
            let first = budget
                .first()
                .map(|l| format!("{} ${}", l.item.clone().unwrap_or_default(), l.monthly_usd.unwrap_or(0)));
            format!(
                " + linked {:?} {}d, {} budget lines from {first:?}",
                d.programme.unwrap(),
                d.evaluation_window_days.unwrap_or(0),
                budget.len()
            )
        });
        format!("{:?}{}", g.target, draft.unwrap_or_default())
    }
    table(
        "G2",
        Asked {
            service: "bedrock-agents",
            matured: false,
            production_monthly_usd: Some(9_000),
        },
        target,
        &[
            (
                "bedrock: a linked POC at the production projection",
                |_| {},
                "BedrockPoc + linked BedrockPoc 60d, 1 budget lines from Some(\"Bedrock Agents at production scale $9000\")",
            ),
            (
                "q: activate_portfolio",
                |a| a.service = "amazon-q-developer",
                "ActivatePortfolio",
            ),
            (
                "sagemaker, not matured: a linked sandbox",
                |a| a.service = "sagemaker-hyperpod-recipes",
                "InnovationSandbox + linked InnovationSandbox 60d, 5 budget lines from Some(\"Bedrock Agents invocations $1200\")",
            ),
            (
                "sagemaker, matured",
                |a| {
                    a.service = "sagemaker-hyperpod-recipes";
                    a.matured = true;
                },
                "ActivatePortfolio",
            ),
        ],
    );
    // K1 as of the decision date: a service gone from the catalog in force has matured.
    let agents = service("bedrock-agents");
    assert!(!graduation::matured(Some(&agents), date("2026-09-01")));
    assert!(graduation::matured(None, date("2026-09-01")));
}

#[test]
fn rule_g3_a_retirement_forfeits_the_balance() {
    fn forfeited(e: &Engagement) -> String {
        let effects = engagement::on_retirement(e.view());
        events(&effects)
            .map(|ev| match ev {
                Event::CreditsForfeited(f) => format!("forfeited ${}", f.amount_usd),
                other => other.event_type().as_str().to_owned(),
            })
            .collect()
    }
    table(
        "G3",
        Engagement::closed(),
        forfeited,
        &[
            ("$19,500 left", |e| e.team(TeamDecision::Retire), "forfeited $19500"),
            (
                "all of it consumed",
                |e| {
                    e.consume(19_500, date("2026-08-20"));
                    e.team(TeamDecision::Retire);
                },
                "forfeited $0",
            ),
        ],
    );
    let retired = graduation::retired(Engagement::closed().view(), Some("no fit".into()));
    assert_eq!(retired.rules, ["G1", "G3"]);
}

#[test]
fn rule_g4_after_graduation_the_balance_serves_grace_until_validity_ends() {
    fn after(e: &Engagement) -> String {
        let effects = e.at(Checkpoint::Expiry);
        let amounts = expired(&effects);
        let balance = e.view().credits.as_ref().map_or(0, |c| c.balance_usd);
        format!("balance {balance}, expires {amounts:?}")
    }
    table(
        "G4",
        Engagement::closed(),
        after,
        &[
            (
                "graduated: nothing forfeited",
                |e| e.team(TeamDecision::Graduate),
                "balance 19500, expires [19500]",
            ),
            (
                "graduated, then consumption in grace",
                |e| {
                    e.team(TeamDecision::Graduate);
                    e.consume(4_500, date("2026-10-01"));
                },
                "balance 15000, expires [15000]",
            ),
            (
                "consumption after grace is billed directly",
                |e| {
                    e.team(TeamDecision::Graduate);
                    e.consume(4_500, date("2026-11-20"));
                },
                "balance 19500, expires [19500]",
            ),
        ],
    );
    let g = graduation::graduation(Engagement::closed().view(), Some(&service("bedrock-agents")), false);
    assert_eq!(
        graduation::graduated(g, None, None, String::new()).rules,
        ["G1", "G2", "G4"]
    );
}

// ---------------------------------------------------------------------------------------------
// §9 Credit position

#[test]
fn rule_cp1_the_position_sums_the_stack_and_the_approvals() {
    #[derive(Clone)]
    struct Startup(Vec<ApplicationView>);
    fn total(s: &Startup) -> String {
        let p = position::credit_position(&s.0);
        let parts: Vec<String> = p
            .parts
            .iter()
            .map(|x| format!("{:?} {}", x.programme, x.amount_usd))
            .collect();
        format!("${} = {}", p.total_usd, parts.join(" + "))
    }
    fn stacked(view: &mut ApplicationView, programme: Programme, amount: i64, status: StackStatus) {
        view.body.stack.get_or_insert_with(Vec::new).push(StackEntry {
            programme,
            amount_usd: Some(amount),
            workload: Some("support".into()),
            status,
        });
    }
    let mut first = Engagement::worked().view().clone();
    first.body.stack = Some(Vec::new());
    stacked(&mut first, Programme::ActivatePortfolio, 100_000, StackStatus::Approved);
    stacked(&mut first, Programme::BedrockPoc, 50_000, StackStatus::Approved);
    table(
        "CP1",
        Startup(vec![first]),
        total,
        &[
            (
                "the standard stack and a $20K sandbox",
                |_| {},
                "$170000 = ActivatePortfolio 100000 + BedrockPoc 50000 + InnovationSandbox 20000",
            ),
            (
                "a pending entry does not count",
                |s| stacked(&mut s.0[0], Programme::BuildForStartups, 10_000, StackStatus::Pending),
                "$170000 = ActivatePortfolio 100000 + BedrockPoc 50000 + InnovationSandbox 20000",
            ),
            (
                "the same stack declared by a second application counts once",
                |s| {
                    let mut second = s.0[0].clone();
                    second.id = ApplicationId::generate();
                    second.decision = None;
                    s.0.push(second);
                },
                "$170000 = ActivatePortfolio 100000 + BedrockPoc 50000 + InnovationSandbox 20000",
            ),
            (
                "clawed back (TR6): only what stays approved",
                |s| {
                    s.0[0].state = State::ClawedBack;
                    s.0[0].credits.as_mut().unwrap().clawed_back_usd = 20_000;
                },
                "$150000 = ActivatePortfolio 100000 + BedrockPoc 50000",
            ),
            (
                "graduated to Activate Portfolio: recorded, its amount not decided here",
                |s| {
                    s.0[0].team_decision = Some(TeamOutcome {
                        decision: TeamDecision::Graduate,
                        notes: None,
                        decided_at: at(),
                        target: Some(Programme::ActivatePortfolio),
                    });
                },
                "$170000 = ActivatePortfolio 100000 + BedrockPoc 50000 + InnovationSandbox 20000 + ActivatePortfolio 0",
            ),
        ],
    );
    assert_eq!(position::STANDARD_STACK_CEILING_USD, 150_000);
    assert_eq!(position::TYPICAL_WITH_SANDBOX_USD, [160_000, 175_000]);
}
