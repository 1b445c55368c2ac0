//! The agenda (issue #15): what falls due for one application, in time order, with what each
//! checkpoint will decide.
//!
//! Nothing here re-states a rule of the engagement. What a checkpoint will decide is what
//! [`engagement::at_checkpoint`] decides for the application as it stands: [`items`] runs the
//! scheduler's checkpoints forward from `now` on a copy of the view, folding each stored event into
//! the copy exactly as the read model folds it ([`ApplicationView::apply`]), so the window close
//! sees what the mid-window check-in released and each reminder what the one before left owed.
//!
//! [`revisions`] gives each item a calendar `SEQUENCE` and `LAST-MODIFIED` derived from the
//! application's history alone: the items are derived after every event, and an item's sequence
//! is how many times what it says changed since it first appeared, its last modification the time
//! of the event that changed it last (changes stored at one time, the effects of one cause, count
//! once). The same history always gives the same numbers, on every
//! replica, and they only grow.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use sandpiper_contracts::agenda::{AgendaItem, AgendaKind, ItemStatus, Outcome};
use sandpiper_contracts::engagement::{Checkpoint, SessionKind, TrancheStatus};
use sandpiper_contracts::events::{Envelope, Event, EventType, Payload};
use sandpiper_contracts::ids::EventId;
use sandpiper_contracts::model::Programme;
use sandpiper_contracts::names::ServiceName;
use sandpiper_contracts::rule::RuleId;
use sandpiper_contracts::state::State;
use sandpiper_contracts::view::{ApplicationView, FoldError};

use crate::engagement::{self, Effect, REMINDER_EVERY_DAYS};
use crate::text::usd;

/// How many checkpoints one projection runs at most (a window's reminders are about 25).
const MAX_CHECKPOINTS: usize = 100;

/// One checkpoint of the projection, with what it stored.
struct Decided {
    checkpoint: Checkpoint,
    at: DateTime<Utc>,
    stored: Vec<Event>,
    /// The application just after it.
    after: ApplicationView,
}

/// The reminders (G1) the scheduler has sent by `now`: reminder `n` is due `n` weeks after the
/// window's close (each is set a week after the one before), while validity lasts.
pub fn reminders_sent(view: &ApplicationView, now: DateTime<Utc>) -> u32 {
    let Some(window) = view.window else {
        return 0;
    };
    if view.state != State::WindowClosed {
        return 0;
    }
    (1..)
        .take_while(|n| {
            let due = reminder_due(window.ends_at, *n);
            due < now && due < window.expires_at
        })
        .last()
        .unwrap_or(0)
}

fn reminder_due(closed_at: DateTime<Utc>, number: u32) -> DateTime<Utc> {
    closed_at + Duration::days(REMINDER_EVERY_DAYS * i64::from(number))
}

/// The checkpoints still to come after `now`, as the scheduler holds them for the view's state.
fn pending(view: &ApplicationView, now: DateTime<Utc>) -> Vec<(Checkpoint, DateTime<Utc>)> {
    let Some(window) = view.window else {
        return Vec::new();
    };
    let sandbox = view
        .decision
        .as_ref()
        .is_some_and(|d| d.pool == Programme::InnovationSandbox);
    let mut due = Vec::new();
    match view.state {
        State::Active => {
            if sandbox {
                due.push((Checkpoint::MidWindow, window.mid_window_at));
            }
            due.push((Checkpoint::WindowClose, window.ends_at));
        }
        State::WindowClosed => {
            let number = reminders_sent(view, now) + 1;
            due.push((Checkpoint::Reminder { number }, reminder_due(window.ends_at, number)));
        }
        _ => {}
    }
    if matches!(
        view.state,
        State::Active | State::WindowClosed | State::Graduated | State::Retired | State::ClawedBack
    ) {
        due.push((Checkpoint::Expiry, window.expires_at));
    }
    // Due at `now` or before: the scheduler has decided it (or is deciding it now).
    due.retain(|(_, at)| *at > now);
    due
}

/// Folds what a checkpoint stored into the projected view, as the read model would.
fn fold(view: &mut ApplicationView, event: &Event, at: DateTime<Utc>, label: &str) -> Result<(), FoldError> {
    let id = EventId::derived(&view.id.as_cause(), &format!("agenda.{label}"));
    let envelope = Envelope::new(id, ServiceName::Scheduler, view.partner_id.clone(), view.id, at, event)?;
    let seq = view.version + 1;
    view.apply(&envelope, seq)?;
    Ok(())
}

/// Runs the scheduler's checkpoints forward from `now` on a copy of the view.
fn project(view: &ApplicationView, now: DateTime<Utc>) -> Vec<Decided> {
    let mut current = view.clone();
    let mut queue = pending(view, now);
    let mut sent = reminders_sent(view, now);
    let mut decided = Vec::new();
    while decided.len() < MAX_CHECKPOINTS {
        queue.sort_by_key(|(_, at)| *at);
        if queue.is_empty() {
            break;
        }
        let (checkpoint, at) = queue.remove(0);
        let effects = engagement::at_checkpoint(&current, checkpoint, at, sent);
        let mut stored = Vec::new();
        for effect in effects {
            match effect {
                Effect::Store { key, event } => {
                    if fold(&mut current, &event, at, &key).is_err() {
                        // Not a transition the state allows: the projection stops here.
                        return decided;
                    }
                    stored.push(*event);
                }
                Effect::Set { checkpoint, at } => {
                    queue.retain(|(c, _)| *c != checkpoint);
                    queue.push((checkpoint, at));
                }
            }
        }
        if matches!(checkpoint, Checkpoint::Reminder { .. }) {
            sent += 1;
        }
        decided.push(Decided {
            checkpoint,
            at,
            stored,
            after: current.clone(),
        });
    }
    decided
}

/// What a stored event decides, in its own words.
fn outcome(event: &Event) -> Option<Outcome> {
    let first = |reasons: &[String]| reasons.first().cloned().unwrap_or_default();
    let (amount_usd, rules, reason) = match event {
        Event::TrancheReleased(e) => (Some(e.amount_usd), e.rules.clone(), first(&e.reasons)),
        Event::TrancheWithheld(e) => (Some(e.amount_usd), e.rules.clone(), first(&e.reasons)),
        Event::ClawbackWarning(e) => (Some(e.pro_rata_usd), e.rules.clone(), first(&e.reasons)),
        Event::ClawedBack(e) => (Some(e.amount_usd), e.rules.clone(), first(&e.reasons)),
        Event::WindowClosed(e) => (Some(e.balance_usd), e.rules.clone(), first(&e.reasons)),
        Event::DecisionReminder(e) => (None, e.rules.clone(), first(&e.reasons)),
        Event::CreditsExpired(e) => (
            Some(e.amount_usd),
            e.rules.clone(),
            format!(
                "The {} balance left at the end of validity expires (TR4).",
                usd(e.amount_usd)
            ),
        ),
        _ => return None,
    };
    Some(Outcome {
        event: event.event_type(),
        amount_usd,
        rules,
        reason,
    })
}

fn rules_of(outcomes: &[Outcome], always: &[RuleId]) -> Vec<RuleId> {
    let mut rules: Vec<RuleId> = always.to_vec();
    rules.extend(outcomes.iter().flat_map(|o| o.rules.iter().copied()));
    rules.sort();
    rules.dedup();
    rules
}

/// When the engagement stopped, for a retired or clawed-back one: sessions from then on no longer
/// happen.
fn stopped_at(view: &ApplicationView) -> Option<DateTime<Utc>> {
    match view.state {
        State::Retired => view.team_decision.as_ref().map(|d| d.decided_at),
        // TR6 claws back at the window's close.
        State::ClawedBack => view.window.map(|w| w.ends_at),
        _ => None,
    }
}

/// Everything on the application's agenda at `now`: its office-hours sessions (past ones too,
/// with those that no longer happen marked canceled), the feedback summary owed after the closing
/// session, and the scheduler's checkpoints still to come with what each will decide. Unsorted;
/// see [`sort`].
pub fn items(view: &ApplicationView, now: DateTime<Utc>) -> Vec<AgendaItem> {
    let (Some(window), Some(credits)) = (view.window, view.credits.as_ref()) else {
        return Vec::new();
    };
    let startup = view.body.startup_name().unwrap_or_default().to_owned();
    let service = view.body.service.clone().unwrap_or_default();
    let item = |id: String, kind: AgendaKind, at: DateTime<Utc>, rules: Vec<RuleId>, title: String| AgendaItem {
        id,
        application_id: view.id,
        startup_name: startup.clone(),
        service: service.clone(),
        kind,
        at,
        ends_at: None,
        rules,
        title,
        decides: Vec::new(),
        amount_usd: None,
        reminder: None,
        participants: Vec::new(),
        feedback: Vec::new(),
        status: ItemStatus::Scheduled,
    };
    let mut out = Vec::new();

    // OH1, OH3: every session; those after a retirement or a clawback no longer happen.
    let stopped = stopped_at(view);
    for session in &view.office_hours {
        let rules = if session.kind == SessionKind::AdHoc {
            vec![RuleId::OH3]
        } else {
            vec![RuleId::OH1]
        };
        let kind = session.kind.as_str().replace('_', "-");
        let mut it = item(
            session.id.clone(),
            AgendaKind::OfficeHours,
            session.starts_at,
            rules,
            format!("{startup}: {service} office hours ({kind})"),
        );
        it.ends_at = Some(session.ends_at);
        it.participants = session.participants.clone();
        it.feedback = session
            .feedback
            .iter()
            .map(|f| format!("{}: {}", f.recorded_at.date_naive(), f.note))
            .collect();
        if stopped.is_some_and(|at| session.starts_at >= at) {
            it.status = ItemStatus::Canceled;
        }
        out.push(it);
    }

    // OH6, G3: the closing session's feedback is the summary owed to the service team, however
    // the engagement ended.
    let closing = view.office_hours.iter().find(|s| s.kind == SessionKind::Closing);
    if let Some(closing) = closing
        && closing.feedback.is_empty()
        && matches!(
            view.state,
            State::Active | State::WindowClosed | State::Graduated | State::Retired | State::ClawedBack | State::Closed
        )
    {
        let mut rules = vec![RuleId::OH6];
        if view.state == State::Retired {
            rules.push(RuleId::G3);
        }
        out.push(item(
            "due.feedback".into(),
            AgendaKind::FeedbackOwed,
            closing.ends_at,
            rules,
            format!("{startup}: the closing session's feedback summary is owed to the service team"),
        ));
    }

    // The scheduler's checkpoints, run forward.
    let decided = project(view, now);
    let mut graced: Option<(i64, bool)> = match view.state {
        State::WindowClosed => Some((credits.balance_usd, false)),
        State::Graduated => Some((credits.balance_usd, true)),
        _ => None,
    };
    for d in &decided {
        let outcomes: Vec<Outcome> = d.stored.iter().filter_map(outcome).collect();
        match d.checkpoint {
            Checkpoint::MidWindow => {
                let pending = credits.tranches.iter().any(|t| t.status == TrancheStatus::Pending);
                let always = if pending {
                    vec![RuleId::TR3, RuleId::TR8]
                } else {
                    vec![RuleId::TR8]
                };
                let what: Vec<String> = outcomes
                    .iter()
                    .map(|o| match (o.event, o.amount_usd) {
                        (EventType::TrancheReleased, Some(a)) => format!("tranche 2 ({}) released", usd(a)),
                        (EventType::TrancheWithheld, Some(a)) => format!("tranche 2 ({}) withheld", usd(a)),
                        (EventType::ClawbackWarning, _) => "a clawback-risk warning".to_owned(),
                        _ => o.event.as_str().replace('_', " "),
                    })
                    .collect();
                let what = if what.is_empty() {
                    "consumption on track, nothing to release".to_owned()
                } else {
                    what.join(", ")
                };
                let mut it = item(
                    "due.mid_window".into(),
                    AgendaKind::MidWindow,
                    d.at,
                    rules_of(&outcomes, &always),
                    format!("{startup}: mid-window check-in: {what}"),
                );
                it.decides = outcomes;
                out.push(it);
            }
            Checkpoint::WindowClose => {
                let clawback = outcomes.iter().find(|o| o.event == EventType::ClawedBack);
                let (title, amount) = match clawback {
                    Some(c) => (
                        format!(
                            "{startup}: the window closes; with no consumption yet, {} is clawed back",
                            usd(c.amount_usd.unwrap_or(0))
                        ),
                        c.amount_usd,
                    ),
                    None => (
                        format!("{startup}: the window closes; the decision (graduate or retire) is owed"),
                        None,
                    ),
                };
                if clawback.is_none() {
                    graced = d.after.credits.as_ref().map(|c| (c.balance_usd, false));
                }
                let mut it = item(
                    "due.window_close".into(),
                    AgendaKind::WindowClose,
                    d.at,
                    rules_of(&outcomes, &[]),
                    title,
                );
                it.amount_usd = amount;
                it.decides = outcomes;
                out.push(it);
            }
            Checkpoint::Reminder { number } => {
                let mut it = item(
                    format!("due.reminder-{number}"),
                    AgendaKind::DecisionOwed,
                    d.at,
                    rules_of(&outcomes, &[RuleId::G1]),
                    format!(
                        "{startup}: the decision (graduate or retire) is owed since {}: reminder {number}",
                        window.ends_at.date_naive()
                    ),
                );
                it.reminder = Some(number);
                it.decides = outcomes;
                out.push(it);
            }
            Checkpoint::Expiry => {
                let amount = outcomes
                    .iter()
                    .find(|o| o.event == EventType::CreditsExpired)
                    .and_then(|o| o.amount_usd)
                    .unwrap_or(0);
                if amount > 0 {
                    let mut it = item(
                        "due.expiry".into(),
                        AgendaKind::Expiry,
                        d.at,
                        rules_of(&outcomes, &[RuleId::TR4]),
                        format!("{startup}: credits expire; {} left will expire", usd(amount)),
                    );
                    it.amount_usd = Some(amount);
                    it.decides = outcomes;
                    out.push(it);
                }
            }
        }
    }

    // TR5, G4: the grace period after a close that left a balance (none after a clawback or a
    // retirement, whose balance is gone).
    if let Some((balance, graduated)) = graced
        && window.grace_ends_at >= now
    {
        let rules = if graduated {
            vec![RuleId::TR5, RuleId::G4]
        } else {
            vec![RuleId::TR5]
        };
        let mut it = item(
            "due.grace_end".into(),
            AgendaKind::GraceEnd,
            window.grace_ends_at,
            rules,
            format!(
                "{startup}: the grace period ends; the {} balance stops serving consumption",
                usd(balance)
            ),
        );
        it.amount_usd = Some(balance);
        out.push(it);
    }
    out
}

/// The agenda's order: by time, then application, then item id.
pub fn sort(items: &mut [AgendaItem]) {
    items.sort_by(|a, b| (a.at, a.application_id, &a.id).cmp(&(b.at, b.application_id, &b.id)));
}

/// Everything scheduled on the agenda of `views` in `[from, to)` of `kinds`, in order (sessions
/// that no longer happen left out): what the API's agenda and Slack's `/sandpiper agenda` list.
pub fn between(
    views: &[ApplicationView],
    now: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    kinds: &BTreeSet<AgendaKind>,
) -> Vec<AgendaItem> {
    let mut out: Vec<AgendaItem> = views
        .iter()
        .flat_map(|view| items(view, now))
        .filter(|i| i.status == ItemStatus::Scheduled && i.at >= from && i.at < to && kinds.contains(&i.kind))
        .collect();
    sort(&mut out);
    out
}

/// Whether an application in `state` has an engagement, so anything on an agenda: it was
/// approved, whatever came after.
pub fn engaged(state: State) -> bool {
    matches!(
        state,
        State::Active | State::WindowClosed | State::Graduated | State::Retired | State::ClawedBack | State::Closed
    )
}

/// An item as a calendar feed shows it, with its revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revised {
    pub item: AgendaItem,
    /// RFC 5545 `SEQUENCE`: how many times the item changed since it first appeared.
    pub sequence: u32,
    /// RFC 5545 `LAST-MODIFIED` (and `DTSTAMP`): the time of the event that changed it last.
    pub last_modified: DateTime<Utc>,
}

/// The items at `now` of the application whose whole history (stream sequence and envelope,
/// oldest first) is `history`, each with its revision (see the module's documentation).
pub fn revisions(history: &[(u64, Envelope)], now: DateTime<Utc>) -> Result<Vec<Revised>, FoldError> {
    let Some(((first_seq, first), rest)) = history.split_first() else {
        return Ok(Vec::new());
    };
    let mut view = ApplicationView::create(first, *first_seq)?;
    let mut seen: HashMap<String, (AgendaItem, u32, DateTime<Utc>)> = HashMap::new();
    for (seq, envelope) in rest {
        if !view.apply(envelope, *seq)? {
            continue;
        }
        for it in items(&view, envelope.time) {
            match seen.get_mut(&it.id) {
                Some((last, sequence, modified)) => {
                    if *last != it {
                        // The effects of one cause are stored at one time (an approval's
                        // credits, tranche and sessions): one revision, as a client sees them.
                        if *modified != envelope.time {
                            *sequence = sequence.saturating_add(1);
                            *modified = envelope.time;
                        }
                        *last = it;
                    }
                }
                None => {
                    seen.insert(it.id.clone(), (it, 0, envelope.time));
                }
            }
        }
    }
    Ok(items(&view, now)
        .into_iter()
        .map(|it| match seen.get(&it.id) {
            Some((last, sequence, modified)) if *last == it => Revised {
                item: it,
                sequence: *sequence,
                last_modified: *modified,
            },
            Some((_, sequence, _)) => Revised {
                item: it,
                sequence: sequence.saturating_add(1),
                last_modified: view.updated_at,
            },
            None => Revised {
                item: it,
                sequence: 0,
                last_modified: view.updated_at,
            },
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use sandpiper_contracts::engagement::Concern;
    use sandpiper_contracts::engagement::Consumption;
    use sandpiper_contracts::events::{
        Approved, Classified, ConcernRecorded, ConsumptionRecorded, Drafted, FeedbackRecorded, Retired, Submitted,
    };
    use sandpiper_contracts::ids::{ApplicationId, PartnerId};

    use super::*;
    use crate::fixtures::{at, catalog, worked};

    /// An application's history, built as the services would store it.
    struct History {
        events: Vec<(u64, Envelope)>,
        view: ApplicationView,
    }

    impl History {
        fn push(&mut self, time: DateTime<Utc>, event: impl Into<Event>) {
            let event = event.into();
            let seq = self.view.version + 1;
            let envelope = Envelope::new(
                EventId::generate(),
                ServiceName::Intake,
                self.view.partner_id.clone(),
                self.view.id,
                time,
                &event,
            )
            .unwrap();
            assert!(self.view.apply(&envelope, seq).unwrap());
            self.events.push((seq, envelope));
        }

        fn effects(&mut self, time: DateTime<Utc>, effects: Vec<Effect>) {
            for effect in effects {
                if let Effect::Store { event, .. } = effect {
                    self.push(time, *event);
                }
            }
        }

        fn spend(&mut self, day: i64, amount_usd: i64) {
            let time = at() + Duration::days(day);
            let consumption = Consumption {
                date: time.date_naive(),
                amount_usd,
                note: None,
            };
            self.push(time, ConsumptionRecorded { consumption });
        }

        /// Fires every checkpoint due by `day` as the scheduler does.
        fn run_to(&mut self, day: i64) {
            let until = at() + Duration::days(day);
            loop {
                let Some((checkpoint, due)) = pending(&self.view, self.view.updated_at)
                    .into_iter()
                    .filter(|(_, due)| *due <= until)
                    .min_by_key(|(_, due)| *due)
                else {
                    return;
                };
                let sent = reminders_sent(&self.view, due);
                let effects = engagement::at_checkpoint(&self.view, checkpoint, due, sent);
                self.effects(due, effects);
                if self.view.updated_at < due {
                    // Nothing stored (a check that found nothing to say): move on past it.
                    self.view.updated_at = due;
                }
            }
        }
    }

    /// The worked example (60 days, bedrock-agents prefers split) with $3,040/month (TR3 needs
    /// $3,000), approved at `at()` for $20K: tranche 1 $10K, tranche 2 $10K pending until day 30.
    fn approved() -> History {
        let mut body = worked();
        body.budget[0].monthly_usd = Some(1_700);
        let app = ApplicationId::generate();
        let partner = PartnerId::parse("acme").unwrap();
        let drafted = Envelope::new(
            EventId::generate(),
            ServiceName::Intake,
            partner,
            app,
            at(),
            &Drafted {
                draft: body.clone().into(),
                originated_from: None,
            },
        )
        .unwrap();
        let view = ApplicationView::create(&drafted, 1).unwrap();
        let mut h = History {
            events: vec![(1, drafted)],
            view,
        };
        h.push(
            at(),
            Submitted {
                application: body.clone(),
            },
        );
        let pool = Programme::InnovationSandbox;
        h.push(
            at(),
            Classified {
                pool,
                rules: vec![],
                reasons: vec![],
                catalog_version: "test".into(),
                figures: Default::default(),
                eligibility_failures: vec![],
                submitted_at: at(),
                submission_id: None,
            },
        );
        let review = crate::review(&body, pool, &catalog(), &[]);
        let approved = Approved {
            tier_usd: 20_000,
            review,
            catalog_version: "test".into(),
            aws: None,
        };
        h.push(at(), approved.clone());
        let catalog = catalog();
        let effects = engagement::on_approval(&body, &approved, catalog.service(&body.service), at(), 90);
        h.effects(at(), effects);
        h
    }

    fn kinds(items: &[AgendaItem]) -> Vec<(String, AgendaKind, String)> {
        let mut items = items.to_vec();
        sort(&mut items);
        items
            .iter()
            .map(|i| (i.id.clone(), i.kind, i.at.date_naive().to_string()))
            .collect()
    }

    fn find<'a>(items: &'a [AgendaItem], id: &str) -> &'a AgendaItem {
        items
            .iter()
            .find(|i| i.id == id)
            .unwrap_or_else(|| panic!("no {id} in {items:#?}"))
    }

    fn events(item: &AgendaItem) -> Vec<(EventType, Option<i64>)> {
        item.decides.iter().map(|o| (o.event, o.amount_usd)).collect()
    }

    #[test]
    fn rule_tr3_tr8_tr6_an_unused_split_sandbox_releases_warns_then_claws_back() {
        let h = approved();
        assert!(
            h.view.credits.as_ref().unwrap().split,
            "the worked example splits (TR3)"
        );
        let items = items(&h.view, at());
        // Starts Monday 2026-06-01: kickoff day 3, mid-window day 30 (Wed 07-01), closing day 60
        // (Fri 07-31); the window closes on 07-31 at 09:00.
        assert_eq!(
            kinds(&items),
            [
                ("kickoff".into(), AgendaKind::OfficeHours, "2026-06-04".into()),
                ("due.mid_window".into(), AgendaKind::MidWindow, "2026-07-01".into()),
                ("mid_window".into(), AgendaKind::OfficeHours, "2026-07-01".into()),
                ("due.window_close".into(), AgendaKind::WindowClose, "2026-07-31".into()),
                ("closing".into(), AgendaKind::OfficeHours, "2026-07-31".into()),
                ("due.feedback".into(), AgendaKind::FeedbackOwed, "2026-07-31".into()),
            ]
        );
        let mid = find(&items, "due.mid_window");
        assert_eq!(
            events(mid),
            [
                (EventType::ClawbackWarning, Some(5_000)),
                (EventType::TrancheReleased, Some(10_000)),
            ],
            "nothing consumed: the TR8 warning, and tranche 2 released (no blocking concern)"
        );
        assert_eq!(mid.rules, [RuleId::TR3, RuleId::TR6, RuleId::TR8]);
        let close = find(&items, "due.window_close");
        assert_eq!(
            events(close),
            [(EventType::ClawedBack, Some(20_000))],
            "TR6 takes both tranches"
        );
        assert_eq!(
            (close.amount_usd, close.rules.as_slice()),
            (Some(20_000), &[RuleId::TR6][..])
        );
        assert!(close.title.contains("$20,000 is clawed back"), "{}", close.title);
        assert!(
            !items
                .iter()
                .any(|i| matches!(i.kind, AgendaKind::Expiry | AgendaKind::GraceEnd)),
            "a clawback leaves nothing to serve or expire"
        );
    }

    #[test]
    fn rule_g1_tr5_tr4_a_used_window_owes_a_decision_weekly_then_grace_and_expiry() {
        let mut h = approved();
        h.spend(10, 6_000);
        let items = items(&h.view, h.view.updated_at);
        let mid = find(&items, "due.mid_window");
        assert_eq!(
            events(mid),
            [(EventType::TrancheReleased, Some(10_000))],
            "on track: no TR8 warning"
        );
        let close = find(&items, "due.window_close");
        assert_eq!(events(close), [(EventType::WindowClosed, Some(14_000))]);
        assert_eq!(close.rules, [RuleId::TR5, RuleId::G1]);
        let reminders: Vec<String> = items
            .iter()
            .filter(|i| i.kind == AgendaKind::DecisionOwed)
            .map(|i| i.at.date_naive().to_string())
            .collect();
        // Weekly from the close (07-31) while validity lasts (to 12-01).
        assert_eq!(reminders.first().map(String::as_str), Some("2026-08-07"));
        assert_eq!(reminders.last().map(String::as_str), Some("2026-11-27"));
        assert_eq!(reminders.len(), 17);
        let grace = find(&items, "due.grace_end");
        assert_eq!(
            (grace.at.date_naive().to_string(), grace.amount_usd),
            ("2026-10-29".into(), Some(14_000))
        );
        let expiry = find(&items, "due.expiry");
        assert_eq!(
            (
                expiry.at.date_naive().to_string(),
                expiry.amount_usd,
                expiry.rules.as_slice()
            ),
            ("2026-12-01".into(), Some(14_000), &[RuleId::TR4][..])
        );
    }

    #[test]
    fn rule_tr3_a_blocking_concern_before_day_30_withholds_tranche_2() {
        let mut h = approved();
        let concern = Concern {
            id: "concern-1".into(),
            blocking: true,
            note: "Throttling at 5 TPS".into(),
            recorded_at: at() + Duration::days(5),
        };
        h.push(at() + Duration::days(5), ConcernRecorded { concern });
        let items = items(&h.view, h.view.updated_at);
        let mid = find(&items, "due.mid_window");
        assert!(
            events(mid).contains(&(EventType::TrancheWithheld, Some(10_000))),
            "{mid:?}"
        );
        assert!(mid.title.contains("tranche 2 ($10,000) withheld"), "{}", mid.title);
        // Only tranche 1 to claw back at the close (TR6).
        assert_eq!(find(&items, "due.window_close").amount_usd, Some(10_000));
    }

    #[test]
    fn checkpoints_already_decided_leave_the_agenda_sessions_stay() {
        let mut h = approved();
        h.spend(10, 6_000);
        h.run_to(40);
        let items = items(&h.view, at() + Duration::days(40));
        assert!(!items.iter().any(|i| i.id == "due.mid_window"), "decided on day 30");
        assert!(
            items.iter().any(|i| i.id == "kickoff"),
            "a past session is still listed"
        );
        assert!(items.iter().any(|i| i.id == "due.window_close"));
    }

    #[test]
    fn rule_g1_reminders_sent_count_the_weeks_since_the_close() {
        let mut h = approved();
        h.spend(10, 6_000);
        h.run_to(75);
        assert_eq!(h.view.state, State::WindowClosed);
        let now = at() + Duration::days(75);
        // Closed 07-31; reminders 08-07 and 08-14 went out by 08-15.
        assert_eq!(reminders_sent(&h.view, now), 2);
        let items = items(&h.view, now);
        let next = items
            .iter()
            .filter(|i| i.kind == AgendaKind::DecisionOwed)
            .min_by_key(|i| i.at)
            .unwrap();
        assert_eq!(
            (next.reminder, next.at.date_naive().to_string()),
            (Some(3), "2026-08-21".into())
        );
        assert_eq!(events(next), [(EventType::DecisionReminder, None)]);
        assert!(items.iter().any(|i| i.kind == AgendaKind::GraceEnd));
    }

    #[test]
    fn rule_g3_oh6_a_retirement_cancels_what_is_left_and_still_owes_the_feedback() {
        let mut h = approved();
        h.spend(10, 6_000);
        h.run_to(60);
        assert_eq!(h.view.state, State::WindowClosed);
        // Retired on the close day at 10:00, before the closing session at 16:00.
        let retired_at = at() + Duration::days(60) + Duration::hours(1);
        h.push(
            retired_at,
            Retired {
                notes: None,
                rules: vec![RuleId::G3],
                reasons: vec![],
                catalog_version: "test".into(),
            },
        );
        let items = items(&h.view, retired_at);
        assert_eq!(find(&items, "kickoff").status, ItemStatus::Scheduled, "it happened");
        assert_eq!(find(&items, "closing").status, ItemStatus::Canceled);
        assert_eq!(find(&items, "due.feedback").rules, [RuleId::OH6, RuleId::G3]);
        assert!(!items.iter().any(|i| i.kind == AgendaKind::DecisionOwed), "decided");
    }

    #[test]
    fn revisions_count_each_change_of_an_item_from_the_history_alone() {
        let mut h = approved();
        let now = h.view.updated_at;
        let first = revisions(&h.events, now).unwrap();
        let of = |revised: &[Revised], id: &str| {
            let r = revised.iter().find(|r| r.item.id == id).unwrap();
            (r.sequence, r.last_modified)
        };
        assert_eq!(of(&first, "kickoff"), (0, at()));
        assert_eq!(of(&first, "due.mid_window"), (0, at()));

        // A feedback note changes the kickoff; a blocking concern changes what day 30 decides.
        let day = |n: i64| at() + Duration::days(n);
        h.push(
            day(4),
            FeedbackRecorded {
                session_id: "kickoff".into(),
                note: "Use tool calling".into(),
            },
        );
        let concern = Concern {
            id: "concern-1".into(),
            blocking: true,
            note: "Throttling".into(),
            recorded_at: day(6),
        };
        h.push(day(6), ConcernRecorded { concern });
        let later = revisions(&h.events, day(7)).unwrap();
        assert_eq!(of(&later, "kickoff"), (1, day(4)));
        assert_eq!(of(&later, "due.mid_window"), (1, day(6)));
        assert_eq!(of(&later, "closing"), (0, at()), "unchanged");
        assert_eq!(revisions(&h.events, day(7)).unwrap(), later, "deterministic");
    }

    #[test]
    fn no_credits_no_agenda() {
        let mut h = approved();
        h.view.window = None;
        assert!(items(&h.view, at()).is_empty());
    }
}
