//! The application body (CONTRACT §2) in its two forms, and its validation.
//!
//! A [`ApplicationDraft`] is what a partner is still editing: every field may be missing, but every
//! field present has the right type and no unknown field is accepted (a typo is an error, not a
//! silently dropped value). [`ApplicationDraft::validate`] turns a complete draft into an
//! [`ApplicationBody`] or lists every failing field at once, with the rule id behind each failure.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalog::{Catalog, CatalogService};
use crate::rule::RuleId;

/// E1: an AWS account id is exactly 12 ASCII digits. The one test of it: validation at
/// submission and the rules' eligibility (T1) both call this.
pub fn is_aws_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Where a named service stands in a catalog on a date (E5, K2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CatalogStanding<'c> {
    /// Not in the catalog at all (E5).
    Unknown,
    /// In the catalog, but it enters the set after the date (E5, K2).
    NotYetEmerging(&'c CatalogService),
    /// An emerging service of the catalog; a matured one too, since K1 redirects it rather than
    /// failing it.
    InCatalog(&'c CatalogService),
}

/// E5 with K2: where `service` stands in `catalog` on `on`. The one test of it: validation at
/// submission and the rules' eligibility (T1) both call this.
pub fn catalog_standing<'c>(catalog: &'c Catalog, service: &str, on: NaiveDate) -> CatalogStanding<'c> {
    match catalog.service(service) {
        None => CatalogStanding::Unknown,
        Some(entry) if entry.emerging_from > on => CatalogStanding::NotYetEmerging(entry),
        Some(entry) => CatalogStanding::InCatalog(entry),
    }
}

/// Upper bounds that keep one application a reasonable size. A request body limit also applies.
pub mod limits {
    pub const SHORT_TEXT_CHARS: usize = 200;
    pub const METRIC_CHARS: usize = 500;
    pub const USE_CASE_CHARS: usize = 10_000;
    pub const LIST_ITEMS: usize = 50;
    pub const MAX_USD: i64 = 100_000_000;
    pub const MAX_TEAM_SIZE: i64 = 10_000_000;
    pub const WINDOW_DAYS: std::ops::RangeInclusive<i64> = 30..=60;
}

/// Whether free text may span lines: multi-line text (a use case, a budget basis, a note, a
/// reason) may hold tabs and line breaks; single-line text (a name, an id, a label) may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    SingleLine,
    MultiLine,
}

/// The first control character (Unicode `Cc`: NUL, ESC, DEL, the C1 range, ...) that `kind`
/// does not allow in `text`, with its character offset; tab, LF and CR pass in multi-line text.
/// Control characters reach calendar files, Slack and e-mail verbatim, so they are refused at
/// validation.
pub fn forbidden_control(text: &str, kind: TextKind) -> Option<(usize, char)> {
    text.chars()
        .enumerate()
        .find(|&(_, ch)| ch.is_control() && !(kind == TextKind::MultiLine && matches!(ch, '\t' | '\n' | '\r')))
}

/// The message for a field holding a control character `kind` does not allow, if any.
pub fn control_message(text: &str, kind: TextKind) -> Option<String> {
    forbidden_control(text, kind).map(|(at, ch)| {
        let allowed = match kind {
            TextKind::SingleLine => "no control characters (tabs and line breaks included) are allowed",
            TextKind::MultiLine => "only tabs and line breaks are allowed among control characters",
        };
        format!(
            "holds the control character U+{:04X} at character {at}; {allowed}",
            u32::from(ch)
        )
    })
}

/// The ECMA-262 pattern (for an OpenAPI document) of the text [`forbidden_control`] passes for
/// `kind`; with `not_blank`, also one character that is not white space (a note, a reason).
pub fn text_pattern(kind: TextKind, not_blank: bool) -> String {
    let forbidden = match kind {
        TextKind::SingleLine => r"\u0000-\u001F\u007F-\u009F",
        TextKind::MultiLine => r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F",
    };
    if not_blank {
        format!("^[^{forbidden}]*[^{forbidden}\\s][^{forbidden}]*$")
    } else {
        format!("^[^{forbidden}]*$")
    }
}

/// A credit pool (DOMAIN §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Programme {
    InnovationSandbox,
    BedrockPoc,
    ActivatePortfolio,
    BuildForStartups,
}

impl Programme {
    pub fn as_str(self) -> &'static str {
        match self {
            Programme::InnovationSandbox => "innovation_sandbox",
            Programme::BedrockPoc => "bedrock_poc",
            Programme::ActivatePortfolio => "activate_portfolio",
            Programme::BuildForStartups => "build_for_startups",
        }
    }

    /// Only these two are reviewed and run here; the others are recorded in a startup's stack.
    pub fn is_filed_here(self) -> bool {
        matches!(self, Programme::InnovationSandbox | Programme::BedrockPoc)
    }
}

/// What a budget line pays for (DOMAIN §5 B, C2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BudgetCategory {
    EmergingService,
    ModelInference,
    Supporting,
    Other,
}

/// Where a stack entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StackStatus {
    Approved,
    Pending,
}

/// A quantitative target the use case commits to (U2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetMetric {
    pub name: String,
    pub target: String,
}

/// Another credit programme the startup holds or applied for (C4, CP1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StackEntry {
    pub programme: Programme,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_usd: Option<i64>,
    /// The workload label, compared with the application's for stacking overlap (C4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    pub status: StackStatus,
}

/// The startup as drafted: every field optional until submission.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartupDraft {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Twelve digits (E1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_size: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_recurring_revenue_usd: Option<i64>,
}

/// A monthly budget line as drafted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetLineDraft {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<BudgetCategory>,
    /// An exact monthly amount; exactly one of this and `monthly_usd_range`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_usd: Option<i64>,
    /// A range estimate `[low, high]`; reviewers downgrade it (B).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_usd_range: Option<[i64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
}

/// An application as a partner drafts it (CONTRACT §2, "the application body").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationDraft {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<StartupDraft>,
    /// Defaults to `innovation_sandbox` at submission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub programme: Option<Programme>,
    /// The one emerging service under evaluation: a catalog id (E5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_case: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_metrics: Option<Vec<TargetMetric>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback_checkpoints_days: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_window_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Vec<BudgetLineDraft>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production_monthly_usd: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<Vec<StackEntry>>,
}

/// The startup of a submitted application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Startup {
    pub name: String,
    pub aws_account_id: String,
    pub industry: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_size: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_recurring_revenue_usd: Option<i64>,
}

/// A validated budget line: exactly one of `monthly_usd` and `monthly_usd_range` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BudgetLine {
    pub item: String,
    pub category: BudgetCategory,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_usd: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_usd_range: Option<[i64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
}

/// A submitted application: complete and valid as a form (the review judges the rest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApplicationBody {
    pub startup: Startup,
    pub programme: Programme,
    pub service: String,
    pub workload: String,
    pub use_case: String,
    pub target_metrics: Vec<TargetMetric>,
    pub metrics: Vec<String>,
    pub feedback_checkpoints_days: Vec<i64>,
    pub evaluation_window_days: i64,
    pub budget: Vec<BudgetLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production_monthly_usd: Option<i64>,
    pub stack: Vec<StackEntry>,
}

/// One failing field: the JSON path of the field, what is wrong, and the rule behind it if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleId>,
}

/// Every failing field of one draft.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} field(s) failed validation", .0.len())]
pub struct ValidationErrors(pub Vec<FieldError>);

/// Collects field errors while a validation walks the draft.
#[derive(Default)]
struct Collector(Vec<FieldError>);

impl Collector {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>, rule: Option<RuleId>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
            rule,
        });
    }

    /// A required text: present and not blank. Its size and characters are `bounds`' to check,
    /// once, for drafts and submissions alike.
    fn text(&mut self, field: &str, value: &Option<String>, rule: Option<RuleId>) -> String {
        match value {
            None => {
                self.push(field, "is required", rule);
                String::new()
            }
            Some(v) => {
                if v.trim().is_empty() {
                    self.push(field, "must not be blank", rule);
                }
                v.clone()
            }
        }
    }

    /// A single-line text: at most `max` characters, no control characters.
    fn bounded_text(&mut self, field: &str, value: &str, max: usize) {
        self.bounded(field, value, max, TextKind::SingleLine);
    }

    fn bounded(&mut self, field: &str, value: &str, max: usize, kind: TextKind) {
        let chars = value.chars().count();
        if chars > max {
            self.push(field, format!("is {chars} characters; at most {max} are allowed"), None);
        }
        if let Some(message) = control_message(value, kind) {
            self.push(field, message, None);
        }
    }

    fn bounded_list<T>(&mut self, field: &str, list: &[T]) {
        if list.len() > limits::LIST_ITEMS {
            self.push(
                field,
                format!("has {} items; at most {} are allowed", list.len(), limits::LIST_ITEMS),
                None,
            );
        }
    }

    fn money(&mut self, field: &str, value: i64, allow_zero: bool) {
        if value < 0 || (value == 0 && !allow_zero) {
            let floor = if allow_zero {
                "zero or more"
            } else {
                "a positive whole number of dollars"
            };
            self.push(field, format!("is {value}; it must be {floor}"), None);
        } else if value > limits::MAX_USD {
            self.push(
                field,
                format!("is {value}; at most {} is accepted", limits::MAX_USD),
                None,
            );
        }
    }
}

impl ApplicationDraft {
    /// The startup's name, if drafted.
    pub fn startup_name(&self) -> Option<&str> {
        self.startup.as_ref().and_then(|s| s.name.as_deref())
    }

    /// Checks that only bound sizes, so a draft can be stored while still incomplete.
    pub fn check_bounds(&self) -> Result<(), ValidationErrors> {
        let mut c = Collector::default();
        self.bounds(&mut c);
        if c.0.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(c.0))
        }
    }

    fn bounds(&self, c: &mut Collector) {
        let short = limits::SHORT_TEXT_CHARS;
        if let Some(s) = &self.startup {
            for (field, value) in [
                ("startup.name", &s.name),
                ("startup.aws_account_id", &s.aws_account_id),
                ("startup.industry", &s.industry),
                ("startup.stage", &s.stage),
            ] {
                if let Some(v) = value {
                    c.bounded_text(field, v, short);
                }
            }
        }
        for (field, value, max) in [("service", &self.service, short), ("workload", &self.workload, short)] {
            if let Some(v) = value {
                c.bounded_text(field, v, max);
            }
        }
        if let Some(v) = &self.use_case {
            c.bounded("use_case", v, limits::USE_CASE_CHARS, TextKind::MultiLine);
        }
        if let Some(list) = &self.target_metrics {
            c.bounded_list("target_metrics", list);
            for (i, t) in list.iter().enumerate() {
                c.bounded_text(&format!("target_metrics[{i}].name"), &t.name, limits::METRIC_CHARS);
                c.bounded_text(&format!("target_metrics[{i}].target"), &t.target, short);
            }
        }
        if let Some(list) = &self.metrics {
            c.bounded_list("metrics", list);
            for (i, m) in list.iter().enumerate() {
                c.bounded_text(&format!("metrics[{i}]"), m, limits::METRIC_CHARS);
            }
        }
        if let Some(list) = &self.feedback_checkpoints_days {
            c.bounded_list("feedback_checkpoints_days", list);
        }
        if let Some(list) = &self.budget {
            c.bounded_list("budget", list);
            for (i, line) in list.iter().enumerate() {
                for (name, value, kind) in [
                    ("item", &line.item, TextKind::SingleLine),
                    ("basis", &line.basis, TextKind::MultiLine),
                ] {
                    if let Some(v) = value {
                        c.bounded(&format!("budget[{i}].{name}"), v, limits::METRIC_CHARS, kind);
                    }
                }
            }
        }
        if let Some(list) = &self.stack {
            c.bounded_list("stack", list);
            for (i, entry) in list.iter().enumerate() {
                if let Some(v) = &entry.workload {
                    c.bounded_text(&format!("stack[{i}].workload"), v, short);
                }
            }
        }
    }

    /// Validates everything a form can (E1, E5, the window range W, budget line shapes, amounts,
    /// sizes) as of `at` against `catalog`, listing every failing field. E3 (a filing partner) is
    /// the caller's to check: the partner comes from credentials, not the body.
    pub fn validate(&self, catalog: &Catalog, at: DateTime<Utc>) -> Result<ApplicationBody, ValidationErrors> {
        let mut c = Collector::default();
        self.bounds(&mut c);

        let empty_startup = StartupDraft::default();
        if self.startup.is_none() {
            c.push("startup", "is required", None);
        }
        let s = self.startup.as_ref().unwrap_or(&empty_startup);
        let startup = Startup {
            name: c.text("startup.name", &s.name, None),
            aws_account_id: c.text("startup.aws_account_id", &s.aws_account_id, Some(RuleId::E1)),
            industry: c.text("startup.industry", &s.industry, None),
            stage: s.stage.clone(),
            team_size: s.team_size,
            monthly_recurring_revenue_usd: s.monthly_recurring_revenue_usd,
        };
        let account = startup.aws_account_id.as_str();
        if !account.is_empty() && !is_aws_account_id(account) {
            c.push("startup.aws_account_id", "must be exactly 12 digits", Some(RuleId::E1));
        }
        if let Some(size) = startup.team_size
            && !(1..=limits::MAX_TEAM_SIZE).contains(&size)
        {
            c.push(
                "startup.team_size",
                format!("is {size}; it must be between 1 and {}", limits::MAX_TEAM_SIZE),
                None,
            );
        }
        if let Some(mrr) = startup.monthly_recurring_revenue_usd {
            c.money("startup.monthly_recurring_revenue_usd", mrr, true);
        }

        let programme = self.programme.unwrap_or(Programme::InnovationSandbox);
        if !programme.is_filed_here() {
            c.push(
                "programme",
                format!(
                    "{} is recorded in a startup's stack, not filed here; use innovation_sandbox or bedrock_poc",
                    programme.as_str()
                ),
                None,
            );
        }

        let service = c.text("service", &self.service, Some(RuleId::E5));
        if !service.trim().is_empty() {
            match catalog_standing(catalog, &service, at.date_naive()) {
                CatalogStanding::Unknown => {
                    let hint = catalog
                        .resolve_alias(&service)
                        .map(|s| format!("; did you mean {:?}?", s.id))
                        .unwrap_or_else(|| format!("; known services: {}", catalog.ids().join(", ")));
                    c.push(
                        "service",
                        format!("{service:?} is not in the emerging-service catalog{hint}"),
                        Some(RuleId::E5),
                    );
                }
                CatalogStanding::NotYetEmerging(entry) => c.push(
                    "service",
                    format!(
                        "{service:?} enters the catalog on {}; until then it is not an emerging service (E5)",
                        entry.emerging_from
                    ),
                    Some(RuleId::K2),
                ),
                CatalogStanding::InCatalog(_) => {}
            }
        }

        let workload = c.text("workload", &self.workload, Some(RuleId::C4));
        let use_case = c.text("use_case", &self.use_case, Some(RuleId::U));

        let target_metrics = self.target_metrics.clone().unwrap_or_default();
        for (i, t) in target_metrics.iter().enumerate() {
            if t.name.trim().is_empty() {
                c.push(format!("target_metrics[{i}].name"), "must not be blank", None);
            }
            if t.target.trim().is_empty() {
                c.push(format!("target_metrics[{i}].target"), "must not be blank", None);
            }
        }
        let metrics = self.metrics.clone().unwrap_or_default();
        for (i, m) in metrics.iter().enumerate() {
            if m.trim().is_empty() {
                c.push(format!("metrics[{i}]"), "must not be blank", None);
            }
        }

        let window = self.evaluation_window_days;
        match window {
            None => c.push("evaluation_window_days", "is required", Some(RuleId::W)),
            Some(days) if !limits::WINDOW_DAYS.contains(&days) => c.push(
                "evaluation_window_days",
                format!("is {days} days; the evaluation window must be 30 to 60 days inclusive"),
                Some(RuleId::W),
            ),
            Some(_) => {}
        }
        let feedback_checkpoints_days = self.feedback_checkpoints_days.clone().unwrap_or_default();
        for (i, day) in feedback_checkpoints_days.iter().enumerate() {
            if *day < 1 {
                c.push(
                    format!("feedback_checkpoints_days[{i}]"),
                    format!("is {day}; a checkpoint is a day of the window, 1 or later"),
                    Some(RuleId::M),
                );
            }
        }

        let mut budget = Vec::new();
        match &self.budget {
            None => c.push("budget", "is required", Some(RuleId::B)),
            Some(lines) if lines.is_empty() => c.push("budget", "needs at least one monthly line", Some(RuleId::B)),
            Some(lines) => {
                for (i, line) in lines.iter().enumerate() {
                    let at = |name: &str| format!("budget[{i}].{name}");
                    let item = c.text(&at("item"), &line.item, None);
                    if line.category.is_none() {
                        c.push(
                            at("category"),
                            "is required (emerging_service, model_inference, supporting or other)",
                            Some(RuleId::B),
                        );
                    }
                    match (line.monthly_usd, line.monthly_usd_range) {
                        (Some(_), Some(_)) => c.push(
                            at("monthly_usd"),
                            "give exactly one of monthly_usd and monthly_usd_range, not both",
                            Some(RuleId::B),
                        ),
                        (None, None) => c.push(
                            at("monthly_usd"),
                            "give exactly one of monthly_usd (exact) and monthly_usd_range ([low, high])",
                            Some(RuleId::B),
                        ),
                        (Some(amount), None) => c.money(&at("monthly_usd"), amount, false),
                        (None, Some([low, high])) => {
                            c.money(&at("monthly_usd_range[0]"), low, false);
                            c.money(&at("monthly_usd_range[1]"), high, false);
                            if low > high {
                                c.push(
                                    at("monthly_usd_range"),
                                    format!("low {low} is above high {high}"),
                                    Some(RuleId::B),
                                );
                            }
                        }
                    }
                    if let Some(category) = line.category {
                        budget.push(BudgetLine {
                            item,
                            category,
                            monthly_usd: line.monthly_usd,
                            monthly_usd_range: line.monthly_usd_range,
                            basis: line.basis.clone(),
                        });
                    }
                }
            }
        }

        if let Some(amount) = self.production_monthly_usd {
            c.money("production_monthly_usd", amount, false);
        }
        let stack = self.stack.clone().unwrap_or_default();
        for (i, entry) in stack.iter().enumerate() {
            if let Some(amount) = entry.amount_usd {
                c.money(&format!("stack[{i}].amount_usd"), amount, false);
            }
            if entry.workload.as_deref().is_some_and(|w| w.trim().is_empty()) {
                c.push(
                    format!("stack[{i}].workload"),
                    "must not be blank when given",
                    Some(RuleId::C4),
                );
            }
        }

        if !c.0.is_empty() {
            return Err(ValidationErrors(c.0));
        }
        Ok(ApplicationBody {
            startup,
            programme,
            service,
            workload,
            use_case,
            target_metrics,
            metrics,
            feedback_checkpoints_days,
            evaluation_window_days: window.unwrap_or_default(),
            budget,
            production_monthly_usd: self.production_monthly_usd,
            stack,
        })
    }
}

/// Parses a JSON document into `T`, naming the failing field's path in the error.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    let mut document: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|err| JsonError::Syntax(err.to_string()))?;
    integral_numbers_as_integers(&mut document);
    serde_path_to_error::deserialize(document).map_err(|err| {
        let field = err.path().to_string();
        JsonError::Shape(FieldError {
            field: if field == "." { String::new() } else { field },
            // Speak of JSON, not of Rust's integer types.
            message: err
                .into_inner()
                .to_string()
                .replace("i64", "a whole number")
                .replace("u64", "a whole number"),
            rule: None,
        })
    })
}

/// Where a body sent an array for what reads as an object: serde fills a struct from an array
/// too, field by field in order (`"startup": [null, null]` as a startup's first two fields), which
/// no client means and the schema does not allow. `parsed`, written back, shows where the
/// objects are; the path of the first array sent in an object's place, if any (`""` for the
/// whole body, `budget[0]` for a budget line).
pub fn array_for_object<T: Serialize>(raw: &[u8], parsed: &T) -> Option<String> {
    fn walk(sent: &serde_json::Value, read: &serde_json::Value, path: &str) -> Option<String> {
        use serde_json::Value;
        match (sent, read) {
            (Value::Array(_), Value::Object(_)) => Some(path.to_owned()),
            (Value::Object(sent), Value::Object(read)) => read.iter().find_map(|(name, inner)| {
                let at = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                sent.get(name).and_then(|s| walk(s, inner, &at))
            }),
            (Value::Array(sent), Value::Array(read)) => sent
                .iter()
                .zip(read)
                .enumerate()
                .find_map(|(i, (s, r))| walk(s, r, &format!("{path}[{i}]"))),
            _ => None,
        }
    }
    let sent: serde_json::Value = serde_json::from_slice(raw).ok()?;
    let read = serde_json::to_value(parsed).ok()?;
    walk(&sent, &read, "")
}

/// `72.0` is an integer to JSON (and to JSON Schema's `integer`, which the OpenAPI document
/// speaks), but not to serde: a number with no fractional part, within the range a float holds
/// exactly, is read as the integer it is. `72.5` stays a float and is refused where a whole
/// number is expected.
fn integral_numbers_as_integers(value: &mut serde_json::Value) {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match value {
        serde_json::Value::Number(number) => {
            if let Some(float) = number.as_f64()
                && number.is_f64()
                && float.fract() == 0.0
                && float.abs() <= EXACT
            {
                // In range and whole: the cast is exact.
                #[allow(clippy::cast_possible_truncation)]
                let whole = float as i64;
                *number = serde_json::Number::from(whole);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral_numbers_as_integers),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(integral_numbers_as_integers),
        _ => {}
    }
}

/// RFC 7396 JSON merge patch: `patch` applied to `target` (a draft's `PATCH`).
pub fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    let serde_json::Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = serde_json::Value::Object(serde_json::Map::new());
    }
    if let serde_json::Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge_patch(target.entry(key.clone()).or_insert(serde_json::Value::Null), value);
            }
        }
    }
}

/// Why a JSON body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// Not JSON at all (400).
    #[error("the body is not valid JSON: {0}")]
    Syntax(String),
    /// JSON of the wrong shape: a wrong type, an unknown or a missing field (422).
    #[error("{}: {}", .0.field, .0.message)]
    Shape(FieldError),
}

impl From<ApplicationBody> for ApplicationDraft {
    /// A submitted body in the draft shape: what the API shows as "the body as submitted".
    fn from(body: ApplicationBody) -> Self {
        let s = body.startup;
        ApplicationDraft {
            startup: Some(StartupDraft {
                name: Some(s.name),
                aws_account_id: Some(s.aws_account_id),
                industry: Some(s.industry),
                stage: s.stage,
                team_size: s.team_size,
                monthly_recurring_revenue_usd: s.monthly_recurring_revenue_usd,
            }),
            programme: Some(body.programme),
            service: Some(body.service),
            workload: Some(body.workload),
            use_case: Some(body.use_case),
            target_metrics: Some(body.target_metrics),
            metrics: Some(body.metrics),
            feedback_checkpoints_days: Some(body.feedback_checkpoints_days),
            evaluation_window_days: Some(body.evaluation_window_days),
            budget: Some(
                body.budget
                    .into_iter()
                    .map(|l| BudgetLineDraft {
                        item: Some(l.item),
                        category: Some(l.category),
                        monthly_usd: l.monthly_usd,
                        monthly_usd_range: l.monthly_usd_range,
                        basis: l.basis,
                    })
                    .collect(),
            ),
            production_monthly_usd: body.production_monthly_usd,
            stack: Some(body.stack),
        }
    }
}

impl ApplicationDraft {
    /// The submitted body this draft shape was made from (the inverse of
    /// `From<ApplicationBody>`), or `None` if a field a submitted body has is missing. It checks
    /// no rule: the body was validated when it was submitted.
    pub fn as_submitted(&self) -> Option<ApplicationBody> {
        let s = self.startup.as_ref()?;
        Some(ApplicationBody {
            startup: Startup {
                name: s.name.clone()?,
                aws_account_id: s.aws_account_id.clone()?,
                industry: s.industry.clone()?,
                stage: s.stage.clone(),
                team_size: s.team_size,
                monthly_recurring_revenue_usd: s.monthly_recurring_revenue_usd,
            },
            programme: self.programme?,
            service: self.service.clone()?,
            workload: self.workload.clone()?,
            use_case: self.use_case.clone()?,
            target_metrics: self.target_metrics.clone()?,
            metrics: self.metrics.clone()?,
            feedback_checkpoints_days: self.feedback_checkpoints_days.clone()?,
            evaluation_window_days: self.evaluation_window_days?,
            budget: self
                .budget
                .as_ref()?
                .iter()
                .map(|l| {
                    Some(BudgetLine {
                        item: l.item.clone()?,
                        category: l.category?,
                        monthly_usd: l.monthly_usd,
                        monthly_usd_range: l.monthly_usd_range,
                        basis: l.basis.clone(),
                    })
                })
                .collect::<Option<Vec<_>>>()?,
            production_monthly_usd: self.production_monthly_usd,
            stack: self.stack.clone()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    #[test]
    fn a_submitted_body_survives_the_draft_shape() {
        let catalog = Catalog::builtin().unwrap();
        for name in ["bedrock-agents-support", "amazon-q-business-docs", "exploring-agents"] {
            let body = example(name).validate(&catalog, now()).unwrap();
            let draft: ApplicationDraft = body.clone().into();
            assert_eq!(draft.as_submitted(), Some(body), "{name}");
        }
        assert_eq!(ApplicationDraft::default().as_submitted(), None);
    }

    fn now() -> DateTime<Utc> {
        "2026-06-01T00:00:00Z".parse().unwrap()
    }

    fn example(name: &str) -> ApplicationDraft {
        let path = format!("{}/../../../shared/examples/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        parse_json(&bytes).unwrap()
    }

    fn fields(err: ValidationErrors) -> Vec<String> {
        err.0.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn the_shared_examples_are_valid_forms() {
        let catalog = Catalog::builtin().unwrap();
        for name in ["bedrock-agents-support", "amazon-q-business-docs", "exploring-agents"] {
            let body = example(name).validate(&catalog, now());
            assert!(body.is_ok(), "{name}: {body:?}");
        }
    }

    #[test]
    fn programme_defaults_to_innovation_sandbox() {
        let body = example("exploring-agents")
            .validate(&Catalog::builtin().unwrap(), now())
            .unwrap();
        assert_eq!(body.programme, Programme::InnovationSandbox);
    }

    #[test]
    fn an_empty_draft_lists_every_required_field() {
        let err = ApplicationDraft::default()
            .validate(&Catalog::builtin().unwrap(), now())
            .unwrap_err();
        let fields = fields(err);
        for f in [
            "startup",
            "startup.name",
            "startup.aws_account_id",
            "service",
            "workload",
            "use_case",
            "evaluation_window_days",
            "budget",
        ] {
            assert!(fields.contains(&f.to_owned()), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn every_failing_field_is_listed_with_its_rule() {
        let mut draft = example("bedrock-agents-support");
        draft.evaluation_window_days = Some(90);
        draft.startup.as_mut().unwrap().aws_account_id = Some("12345".into());
        draft.service = Some("bedrock-agent".into());
        let budget = draft.budget.as_mut().unwrap();
        budget[0].monthly_usd_range = Some([100, 200]);
        budget[1].monthly_usd = Some(-5);
        budget[2].monthly_usd = None;
        budget[3].monthly_usd = None;
        budget[3].monthly_usd_range = Some([300, 200]);
        let err = draft.validate(&Catalog::builtin().unwrap(), now()).unwrap_err();
        let by_field: Vec<(String, Option<RuleId>)> = err.0.iter().map(|e| (e.field.clone(), e.rule)).collect();
        for (field, rule) in [
            ("evaluation_window_days", Some(RuleId::W)),
            ("startup.aws_account_id", Some(RuleId::E1)),
            ("service", Some(RuleId::E5)),
            ("budget[0].monthly_usd", Some(RuleId::B)),
            ("budget[1].monthly_usd", None),
            ("budget[2].monthly_usd", Some(RuleId::B)),
            ("budget[3].monthly_usd_range", Some(RuleId::B)),
        ] {
            assert!(
                by_field.contains(&(field.to_owned(), rule)),
                "{field} {rule:?} not in {by_field:?}"
            );
        }
    }

    #[test]
    fn window_bounds_are_inclusive() {
        let catalog = Catalog::builtin().unwrap();
        for (days, ok) in [
            (29, false),
            (30, true),
            (45, true),
            (60, true),
            (61, false),
            (90, false),
        ] {
            let mut draft = example("bedrock-agents-support");
            draft.evaluation_window_days = Some(days);
            assert_eq!(draft.validate(&catalog, now()).is_ok(), ok, "{days} days");
        }
    }

    #[test]
    fn an_alias_is_refused_with_a_hint() {
        let mut draft = example("bedrock-agents-support");
        draft.service = Some("Agents for Amazon Bedrock".into());
        let err = draft.validate(&Catalog::builtin().unwrap(), now()).unwrap_err();
        assert!(
            err.0[0].message.contains("did you mean \"bedrock-agents\""),
            "{:?}",
            err.0
        );
    }

    #[test]
    fn oversized_fields_are_refused_even_in_drafts() {
        let draft = ApplicationDraft {
            use_case: Some("x".repeat(limits::USE_CASE_CHARS + 1)),
            metrics: Some(vec!["m".into(); limits::LIST_ITEMS + 1]),
            ..Default::default()
        };
        assert_eq!(fields(draft.check_bounds().unwrap_err()), ["use_case", "metrics"]);
    }

    #[test]
    fn control_characters_are_refused_naming_the_field() {
        let mut draft = example("bedrock-agents-support");
        draft.startup.as_mut().unwrap().name = Some("Evil\u{0}Corp".into());
        draft.workload = Some("support\tbot".into());
        draft.metrics = Some(vec!["p95\u{1b}[31m".into()]);
        draft.budget.as_mut().unwrap()[0].item = Some("line\nbreak".into());
        draft.budget.as_mut().unwrap()[1].basis = Some("DEL\u{7f}".into());
        draft.use_case = Some("C1 \u{85} next line".into());
        let err = draft.check_bounds().unwrap_err();
        assert_eq!(
            fields(err.clone()),
            [
                "startup.name",
                "workload",
                "use_case",
                "metrics[0]",
                "budget[0].item",
                "budget[1].basis"
            ]
        );
        assert!(err.0[0].message.contains("U+0000"), "{:?}", err.0[0]);
        let err = draft.validate(&Catalog::builtin().unwrap(), now()).unwrap_err();
        assert_eq!(fields(err).iter().filter(|f| *f == "startup.name").count(), 1);
    }

    #[test]
    fn multi_line_fields_keep_tabs_and_line_breaks() {
        let mut draft = example("bedrock-agents-support");
        draft.use_case = Some("Line one.\r\n\tLine two.\nLine three.".into());
        draft.budget.as_mut().unwrap()[0].basis = Some("1,000 calls\n\tat $0.01".into());
        assert!(draft.check_bounds().is_ok());
        assert!(draft.validate(&Catalog::builtin().unwrap(), now()).is_ok());
        assert_eq!(forbidden_control("a\tb", TextKind::SingleLine), Some((1, '\t')));
        assert_eq!(forbidden_control("a\tb\r\n", TextKind::MultiLine), None);
        assert_eq!(forbidden_control("ok é ✓", TextKind::SingleLine), None);
    }

    #[test]
    fn parse_errors_name_the_field() {
        // RFC 7396's own example, less the array-of-objects part.
        let mut doc = serde_json::json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        merge_patch(
            &mut doc,
            &serde_json::json!({"a": "z", "c": {"f": null}, "l": [3], "n": {"x": 1}}),
        );
        assert_eq!(
            doc,
            serde_json::json!({"a": "z", "c": {"d": "e"}, "l": [3], "n": {"x": 1}})
        );
        // A whole number written with a fraction of zero is that number; a real fraction is not.
        let whole = parse_json::<ApplicationDraft>(br#"{"evaluation_window_days": 45.0}"#).unwrap();
        assert_eq!(whole.evaluation_window_days, Some(45));
        for fraction in [
            &br#"{"evaluation_window_days": 45.5}"#[..],
            br#"{"evaluation_window_days": 1e20}"#,
        ] {
            assert!(
                matches!(parse_json::<ApplicationDraft>(fraction), Err(JsonError::Shape(_))),
                "{}",
                String::from_utf8_lossy(fraction)
            );
        }
        let err = parse_json::<ApplicationDraft>(br#"{"evaluation_window_days": "sixty"}"#).unwrap_err();
        assert!(
            matches!(err, JsonError::Shape(ref f) if f.field == "evaluation_window_days"),
            "{err:?}"
        );
        let err = parse_json::<ApplicationDraft>(br#"{"budget": [{"item": "x", "colour": 1}]}"#).unwrap_err();
        assert!(
            matches!(err, JsonError::Shape(ref f) if f.field == "budget[0].colour" && f.message.contains("unknown field")),
            "{err:?}"
        );
        assert!(matches!(
            parse_json::<ApplicationDraft>(b"{\"use_case\": "),
            Err(JsonError::Syntax(_))
        ));
        assert!(matches!(
            parse_json::<ApplicationDraft>(b"{} trailing"),
            Err(JsonError::Syntax(_))
        ));
    }

    #[test]
    fn an_array_sent_for_an_object_is_found_where_it_is() {
        let cases: [(&[u8], Option<&str>); 5] = [
            (br#"{"startup": {"name": "x"}}"#, None),
            (br#"{"startup": [null, null]}"#, Some("startup")),
            (br#"{"budget": [{"item": "a"}, ["b", null]]}"#, Some("budget[1]")),
            (br#"[null, null]"#, Some("")),
            (br#"{"budget": [{"monthly_usd_range": [1, 2]}]}"#, None),
        ];
        for (raw, expected) in cases {
            let draft: ApplicationDraft = parse_json(raw).unwrap();
            assert_eq!(
                array_for_object(raw, &draft).as_deref(),
                expected,
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }
}
