//! The draft form: the four components (use case, metrics with their feedback checkpoints,
//! window, budget lines) and the startup, as HTML fields, to and from the API's
//! [`ApplicationDraft`].
//!
//! Each input is named by the JSON path the API reports a failing field under
//! (`startup.name`, `budget[2].monthly_usd`), so the API's validation errors land next to the
//! input they are about without a translation table. Lists a person types one per line (the
//! target metrics, the other metrics, the checkpoints) are one text area each; an error inside
//! one (`target_metrics[1].target`) is shown on the area.

use std::collections::HashMap;

use sandpiper_contracts::model::{
    ApplicationDraft, BudgetCategory, BudgetLineDraft, FieldError, Programme, StackEntry, StackStatus, StartupDraft,
    TargetMetric,
};

/// Budget lines the form offers (empty rows are left out of the draft).
pub const BUDGET_ROWS: usize = 6;
/// Stack entries the form offers.
pub const STACK_ROWS: usize = 2;

/// What an input is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Text,
    Number,
    Area,
    /// A select: (value, label) pairs; the first is the "none" choice when its value is empty.
    Choice(Vec<(String, String)>),
}

/// One input, as the template draws it.
#[derive(Debug, Clone)]
pub struct Field {
    /// The name and id: the API's path for it.
    pub name: String,
    pub label: String,
    pub hint: String,
    pub kind: Kind,
    pub value: String,
    /// What is wrong with it, if anything (with the rule id, when one applies).
    pub error: String,
}

impl Field {
    pub fn is_area(&self) -> bool {
        self.kind == Kind::Area
    }

    pub fn is_number(&self) -> bool {
        self.kind == Kind::Number
    }

    pub fn choices(&self) -> &[(String, String)] {
        match &self.kind {
            Kind::Choice(choices) => choices,
            _ => &[],
        }
    }

    pub fn is_choice(&self) -> bool {
        matches!(self.kind, Kind::Choice(_))
    }

    /// The id of the element holding the error text (for `aria-describedby`).
    pub fn error_id(&self) -> String {
        format!("{}-error", self.name)
    }
}

/// A group of inputs under one heading.
#[derive(Debug, Clone)]
pub struct Section {
    pub title: String,
    /// Rows of four inputs (a budget line, a stack entry) are laid out as a table would be.
    pub rows_of_four: bool,
    pub fields: Vec<Field>,
}

/// The form's values, by input name, as submitted or as drawn from a draft.
#[derive(Debug, Clone, Default)]
pub struct Values(HashMap<String, String>);

impl Values {
    /// Reads `application/x-www-form-urlencoded` pairs (a later duplicate wins).
    pub fn parse(body: &[u8]) -> Values {
        Values(form_urlencoded::parse(body).into_owned().collect())
    }

    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).map(String::as_str).unwrap_or("")
    }

    fn text(&self, name: &str) -> Option<String> {
        Some(self.get(name).trim()).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }
}

/// A form that could not become a draft: the inputs that are not even the right kind of value.
/// (Whether the draft is complete and scores well is the API's to say.)
#[derive(Debug, Default)]
pub struct FormErrors(pub Vec<FieldError>);

impl FormErrors {
    fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
            rule: None,
        });
    }

    fn number(&mut self, values: &Values, name: &str) -> Option<i64> {
        let text = values.text(name)?;
        match text.replace([',', '$', '_'], "").parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.push(name, format!("{text:?} is not a whole number"));
                None
            }
        }
    }
}

fn choice<T: serde::de::DeserializeOwned>(errors: &mut FormErrors, values: &Values, name: &str) -> Option<T> {
    let text = values.text(name)?;
    match serde_json::from_value(serde_json::Value::String(text.clone())) {
        Ok(value) => Some(value),
        Err(_) => {
            errors.push(name, format!("{text:?} is not one of the choices"));
            None
        }
    }
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// Which form row each budget line of the draft came from: the API numbers the lines it was
/// sent, which skip the empty rows.
#[derive(Debug, Clone, Default)]
pub struct RowMap {
    budget: Vec<usize>,
    stack: Vec<usize>,
}

impl RowMap {
    /// The input an API error is about: its path, with a list index renumbered to the form's row,
    /// cut back to the nearest input the form has.
    pub fn input_for(&self, api_field: &str) -> String {
        let renumbered = renumber(api_field, "budget[", &self.budget);
        let renumbered = renumber(&renumbered, "stack[", &self.stack);
        // A range estimate is typed in the same input as an exact figure.
        let renumbered = renumbered.replace("monthly_usd_range", "monthly_usd");
        let known = input_names();
        let mut candidate = renumbered.as_str();
        loop {
            if known.iter().any(|k| k == candidate) {
                return candidate.to_owned();
            }
            match candidate.rfind(['.', '[']) {
                Some(cut) => candidate = &candidate[..cut],
                None => return renumbered,
            }
        }
    }
}

fn renumber(field: &str, prefix: &str, rows: &[usize]) -> String {
    let Some(rest) = field.strip_prefix(prefix) else {
        return field.to_owned();
    };
    let Some((index, tail)) = rest.split_once(']') else {
        return field.to_owned();
    };
    match index.parse::<usize>().ok().and_then(|i| rows.get(i)) {
        Some(row) => format!("{prefix}{row}]{tail}"),
        None => field.to_owned(),
    }
}

/// Builds the draft the form describes; every input that is not the right kind of value is
/// named in the errors, and the rest is still built (so the preflight can say what it can).
pub fn to_draft(values: &Values) -> (ApplicationDraft, RowMap, FormErrors) {
    let mut errors = FormErrors::default();
    let mut rows = RowMap::default();
    let startup = StartupDraft {
        name: values.text("startup.name"),
        aws_account_id: values.text("startup.aws_account_id"),
        industry: values.text("startup.industry"),
        stage: values.text("startup.stage"),
        team_size: errors.number(values, "startup.team_size"),
        monthly_recurring_revenue_usd: errors.number(values, "startup.monthly_recurring_revenue_usd"),
    };
    let target_metrics: Vec<TargetMetric> = lines(values.get("target_metrics"))
        .filter_map(|line| match line.rsplit_once(':') {
            Some((name, target)) if !name.trim().is_empty() && !target.trim().is_empty() => Some(TargetMetric {
                name: name.trim().to_owned(),
                target: target.trim().to_owned(),
            }),
            _ => {
                errors.push("target_metrics", format!("{line:?}: write each as name: target"));
                None
            }
        })
        .collect();
    let metrics: Vec<String> = lines(values.get("metrics")).map(str::to_owned).collect();
    let checkpoints: Vec<i64> = values
        .get("feedback_checkpoints_days")
        .split([',', ' ', ';'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .filter_map(|t| match t.parse::<i64>() {
            Ok(day) => Some(day),
            Err(_) => {
                errors.push("feedback_checkpoints_days", format!("{t:?} is not a day number"));
                None
            }
        })
        .collect();
    let mut budget = Vec::new();
    for row in 0..BUDGET_ROWS {
        let at = |name: &str| format!("budget[{row}].{name}");
        let cells = ["item", "category", "monthly_usd", "basis"];
        if cells.iter().all(|c| values.text(&at(c)).is_none()) {
            continue;
        }
        let (monthly_usd, monthly_usd_range) = money_or_range(&mut errors, values, &at("monthly_usd"));
        budget.push(BudgetLineDraft {
            item: values.text(&at("item")),
            category: choice::<BudgetCategory>(&mut errors, values, &at("category")),
            monthly_usd,
            monthly_usd_range,
            basis: values.text(&at("basis")),
        });
        rows.budget.push(row);
    }
    let mut stack = Vec::new();
    for row in 0..STACK_ROWS {
        let at = |name: &str| format!("stack[{row}].{name}");
        let Some(programme) = choice::<Programme>(&mut errors, values, &at("programme")) else {
            continue;
        };
        stack.push(StackEntry {
            programme,
            amount_usd: errors.number(values, &at("amount_usd")),
            workload: values.text(&at("workload")),
            status: choice::<StackStatus>(&mut errors, values, &at("status")).unwrap_or(StackStatus::Pending),
        });
        rows.stack.push(row);
    }
    let draft = ApplicationDraft {
        startup: Some(startup).filter(|s| *s != StartupDraft::default()),
        programme: choice::<Programme>(&mut errors, values, "programme"),
        service: values.text("service"),
        workload: values.text("workload"),
        use_case: values.text("use_case"),
        target_metrics: some_list(target_metrics),
        metrics: some_list(metrics),
        feedback_checkpoints_days: some_list(checkpoints),
        evaluation_window_days: errors.number(values, "evaluation_window_days"),
        budget: some_list(budget),
        production_monthly_usd: errors.number(values, "production_monthly_usd"),
        stack: some_list(stack),
    };
    (draft, rows, errors)
}

/// A list, or nothing when it is empty (an empty text area is an absent field).
fn some_list<T>(list: Vec<T>) -> Option<Vec<T>> {
    Some(list).filter(|l| !l.is_empty())
}

/// `1200` is an exact figure, `900-1500` a range estimate (which reviewers downgrade, B).
fn money_or_range(errors: &mut FormErrors, values: &Values, name: &str) -> (Option<i64>, Option<[i64; 2]>) {
    let Some(text) = values.text(name) else {
        return (None, None);
    };
    let clean = text.replace([',', '$', '_', ' '], "");
    let number = |t: &str| t.parse::<i64>().ok();
    if let Some(n) = number(&clean) {
        return (Some(n), None);
    }
    if let Some((low, high)) = clean.split_once(['-', '–'])
        && let (Some(low), Some(high)) = (number(low), number(high))
    {
        return (None, Some([low, high]));
    }
    errors.push(
        name,
        format!("{text:?} is not a whole number of dollars (or a range such as 900-1500)"),
    );
    (None, None)
}

/// The form's values for a stored draft (editing it).
pub fn from_draft(draft: &ApplicationDraft) -> Values {
    let mut values = Values::default();
    let mut put = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            values.set(name, value);
        }
    };
    if let Some(s) = &draft.startup {
        put("startup.name", s.name.clone());
        put("startup.aws_account_id", s.aws_account_id.clone());
        put("startup.industry", s.industry.clone());
        put("startup.stage", s.stage.clone());
        put("startup.team_size", s.team_size.map(|n| n.to_string()));
        put(
            "startup.monthly_recurring_revenue_usd",
            s.monthly_recurring_revenue_usd.map(|n| n.to_string()),
        );
    }
    put("programme", draft.programme.map(|p| p.as_str().to_owned()));
    put("service", draft.service.clone());
    put("workload", draft.workload.clone());
    put("use_case", draft.use_case.clone());
    put(
        "target_metrics",
        draft.target_metrics.as_ref().map(|list| {
            list.iter()
                .map(|t| format!("{}: {}", t.name, t.target))
                .collect::<Vec<_>>()
                .join("\n")
        }),
    );
    put("metrics", draft.metrics.as_ref().map(|list| list.join("\n")));
    put(
        "feedback_checkpoints_days",
        draft
            .feedback_checkpoints_days
            .as_ref()
            .map(|days| days.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")),
    );
    put(
        "evaluation_window_days",
        draft.evaluation_window_days.map(|n| n.to_string()),
    );
    put(
        "production_monthly_usd",
        draft.production_monthly_usd.map(|n| n.to_string()),
    );
    for (row, line) in draft.budget.iter().flatten().enumerate().take(BUDGET_ROWS) {
        let at = |name: &str| format!("budget[{row}].{name}");
        put(&at("item"), line.item.clone());
        put(&at("category"), line.category.map(|c| enum_str(&c)));
        let money = line
            .monthly_usd
            .map(|n| n.to_string())
            .or(line.monthly_usd_range.map(|[low, high]| format!("{low}-{high}")));
        put(&at("monthly_usd"), money);
        put(&at("basis"), line.basis.clone());
    }
    for (row, entry) in draft.stack.iter().flatten().enumerate().take(STACK_ROWS) {
        let at = |name: &str| format!("stack[{row}].{name}");
        put(&at("programme"), Some(entry.programme.as_str().to_owned()));
        put(&at("amount_usd"), entry.amount_usd.map(|n| n.to_string()));
        put(&at("workload"), entry.workload.clone());
        put(&at("status"), Some(enum_str(&entry.status)));
    }
    values
}

/// A unit enum's wire name (its serde string).
fn enum_str<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn options(pairs: &[(&str, &str)]) -> Kind {
    Kind::Choice(pairs.iter().map(|(v, l)| ((*v).to_owned(), (*l).to_owned())).collect())
}

fn programme_choices(none: &str) -> Kind {
    options(&[
        ("", none),
        ("innovation_sandbox", "Innovation Sandbox"),
        ("bedrock_poc", "Bedrock POC"),
        ("activate_portfolio", "Activate Portfolio"),
        ("build_for_startups", "Build for Startups"),
    ])
}

/// The label of the input `name`, for a message that names it.
pub fn label_of(name: &str) -> Option<String> {
    sections(&Values::default(), &[], &[])
        .into_iter()
        .flat_map(|s| s.fields)
        .find(|f| f.name == name)
        .map(|f| f.label)
}

/// Every input name the form has.
fn input_names() -> Vec<String> {
    sections(&Values::default(), &[], &[])
        .into_iter()
        .flat_map(|s| s.fields.into_iter().map(|f| f.name))
        .collect()
}

/// The form, section by section, with `values` filled in and `errors` placed by their input.
/// `services` are the catalog's (id, name) pairs for the service choice.
pub fn sections(values: &Values, errors: &[(String, String)], services: &[(String, String)]) -> Vec<Section> {
    let field = |name: &str, label: &str, hint: &str, kind: Kind| Field {
        name: name.to_owned(),
        label: label.to_owned(),
        hint: hint.to_owned(),
        kind,
        value: values.get(name).to_owned(),
        error: errors
            .iter()
            .filter(|(input, _)| input == name)
            .map(|(_, message)| message.as_str())
            .collect::<Vec<_>>()
            .join("; "),
    };
    let mut service_choices = vec![(String::new(), "Choose a service".to_owned())];
    service_choices.extend(services.iter().cloned());
    let mut budget = Vec::new();
    for row in 0..BUDGET_ROWS {
        let n = row + 1;
        budget.push(field(
            &format!("budget[{row}].item"),
            &format!("Line {n}: item"),
            "",
            Kind::Text,
        ));
        budget.push(field(
            &format!("budget[{row}].category"),
            &format!("Line {n}: category"),
            "",
            options(&[
                ("", "Choose a category"),
                ("emerging_service", "Emerging service"),
                ("model_inference", "Model inference"),
                ("supporting", "Supporting"),
                ("other", "Other"),
            ]),
        ));
        budget.push(field(
            &format!("budget[{row}].monthly_usd"),
            &format!("Line {n}: USD per month"),
            "A figure, or a range such as 900-1500",
            Kind::Text,
        ));
        budget.push(field(
            &format!("budget[{row}].basis"),
            &format!("Line {n}: basis"),
            "How the figure was worked out",
            Kind::Text,
        ));
    }
    let mut stack = Vec::new();
    for row in 0..STACK_ROWS {
        let n = row + 1;
        stack.push(field(
            &format!("stack[{row}].programme"),
            &format!("Other credit {n}: programme"),
            "",
            programme_choices("None"),
        ));
        stack.push(field(
            &format!("stack[{row}].amount_usd"),
            &format!("Other credit {n}: USD"),
            "",
            Kind::Number,
        ));
        stack.push(field(
            &format!("stack[{row}].workload"),
            &format!("Other credit {n}: workload"),
            "",
            Kind::Text,
        ));
        stack.push(field(
            &format!("stack[{row}].status"),
            &format!("Other credit {n}: status"),
            "",
            options(&[("pending", "Pending"), ("approved", "Approved")]),
        ));
    }
    vec![
        Section {
            title: "Startup".into(),
            rows_of_four: false,
            fields: vec![
                field("startup.name", "Startup name", "", Kind::Text),
                field("startup.aws_account_id", "AWS account id", "12 digits (E1)", Kind::Text),
                field("startup.industry", "Industry", "", Kind::Text),
                field("startup.stage", "Stage", "seed, series_a, …", Kind::Text),
                field("startup.team_size", "Team size", "", Kind::Number),
                field(
                    "startup.monthly_recurring_revenue_usd",
                    "Monthly recurring revenue (USD)",
                    "",
                    Kind::Number,
                ),
            ],
        },
        Section {
            title: "Service and use case".into(),
            rows_of_four: false,
            fields: vec![
                field(
                    "programme",
                    "Programme",
                    "",
                    programme_choices("Innovation Sandbox (default)"),
                ),
                field(
                    "service",
                    "Emerging service",
                    "One service from the catalog (E5)",
                    Kind::Choice(service_choices),
                ),
                field(
                    "workload",
                    "Workload",
                    "A short label, e.g. customer-support",
                    Kind::Text,
                ),
                field(
                    "use_case",
                    "Use case",
                    "What will be built, with what, and how success is measured (U1–U4)",
                    Kind::Area,
                ),
            ],
        },
        Section {
            title: "Metrics".into(),
            rows_of_four: false,
            fields: vec![
                field(
                    "target_metrics",
                    "Target metrics",
                    "One per line, as name: target (U2)",
                    Kind::Area,
                ),
                field("metrics", "What you will measure", "One per line (M1, M2)", Kind::Area),
                field(
                    "feedback_checkpoints_days",
                    "Feedback checkpoints (days)",
                    "e.g. 30, 60 (M3)",
                    Kind::Text,
                ),
            ],
        },
        Section {
            title: "Window".into(),
            rows_of_four: false,
            fields: vec![field(
                "evaluation_window_days",
                "Evaluation window (days)",
                "30 to 60 (W1, W2)",
                Kind::Number,
            )],
        },
        Section {
            title: "Budget lines (per month)".into(),
            rows_of_four: true,
            fields: budget,
        },
        Section {
            title: "After the evaluation".into(),
            rows_of_four: false,
            fields: vec![field(
                "production_monthly_usd",
                "Production spend (USD per month)",
                "What the workload would spend in production (graduation, G2)",
                Kind::Number,
            )],
        },
        Section {
            title: "Other credits the startup holds or applied for".into(),
            rows_of_four: true,
            fields: stack,
        },
    ]
}

/// The RFC 7396 merge patch that turns `old` into `new`: changed members as they are now,
/// removed ones as `null`, nested objects patched member by member (arrays replace whole).
pub fn merge_patch_between(old: &serde_json::Value, new: &serde_json::Value) -> serde_json::Value {
    use serde_json::{Map, Value};
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            let mut patch = Map::new();
            for key in old.keys() {
                if !new.contains_key(key) {
                    patch.insert(key.clone(), Value::Null);
                }
            }
            for (key, value) in new {
                match old.get(key) {
                    Some(before) if before == value => {}
                    Some(before) if before.is_object() && value.is_object() => {
                        patch.insert(key.clone(), merge_patch_between(before, value));
                    }
                    _ => {
                        patch.insert(key.clone(), value.clone());
                    }
                }
            }
            Value::Object(patch)
        }
        _ => new.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> Values {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        Values::parse(body.as_bytes())
    }

    #[test]
    fn a_filled_form_becomes_the_draft_and_back() {
        let form = values(&[
            ("startup.name", " Helpdesk <Autopilot> "),
            ("startup.aws_account_id", "111122223333"),
            ("startup.team_size", "11"),
            ("service", "bedrock-agents"),
            ("use_case", "Resolve tickets"),
            ("target_metrics", "auto-resolution rate: 30%\n\nhandling time: -40%"),
            ("metrics", "latency\naccuracy"),
            ("feedback_checkpoints_days", "30, 60"),
            ("evaluation_window_days", "60"),
            ("budget[0].item", "Agents"),
            ("budget[0].category", "emerging_service"),
            ("budget[0].monthly_usd", "$1,200"),
            ("budget[2].item", "Lambda"),
            ("budget[2].category", "supporting"),
            ("budget[2].monthly_usd", "100-200"),
            ("stack[0].programme", "activate_portfolio"),
            ("stack[0].amount_usd", "80000"),
            ("stack[0].status", "pending"),
        ]);
        let (draft, rows, errors) = to_draft(&form);
        assert!(errors.0.is_empty(), "{errors:?}");
        let startup = draft.startup.as_ref().unwrap();
        assert_eq!(startup.name.as_deref(), Some("Helpdesk <Autopilot>"));
        assert_eq!(startup.team_size, Some(11));
        assert_eq!(draft.target_metrics.as_ref().unwrap().len(), 2);
        assert_eq!(draft.feedback_checkpoints_days, Some(vec![30, 60]));
        let budget = draft.budget.as_ref().unwrap();
        assert_eq!(budget.len(), 2);
        assert_eq!(budget[0].monthly_usd, Some(1200));
        assert_eq!(budget[1].monthly_usd_range, Some([100, 200]));
        // The API's second line is the form's third row.
        assert_eq!(rows.input_for("budget[1].monthly_usd_range"), "budget[2].monthly_usd");
        assert_eq!(rows.input_for("target_metrics[1].target"), "target_metrics");
        assert_eq!(rows.input_for("startup.aws_account_id"), "startup.aws_account_id");

        let back = from_draft(&draft);
        let (again, _, _) = to_draft(&back);
        assert_eq!(again, draft);
    }

    #[test]
    fn values_of_the_wrong_kind_are_named() {
        let form = values(&[
            ("startup.team_size", "eleven"),
            ("budget[0].item", "Agents"),
            ("budget[0].monthly_usd", "lots"),
            ("budget[0].category", "snacks"),
            ("target_metrics", "no colon here"),
            ("feedback_checkpoints_days", "30, sixty"),
        ]);
        let (_, _, errors) = to_draft(&form);
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "startup.team_size",
                "target_metrics",
                "feedback_checkpoints_days",
                "budget[0].monthly_usd",
                "budget[0].category"
            ]
        );
    }

    #[test]
    fn the_patch_removes_what_the_form_cleared() {
        let old = serde_json::json!({"startup": {"name": "A", "stage": "seed"}, "service": "x", "metrics": ["a", "b"]});
        let new = serde_json::json!({"startup": {"name": "B"}, "metrics": ["a"]});
        assert_eq!(
            merge_patch_between(&old, &new),
            serde_json::json!({"startup": {"name": "B", "stage": null}, "service": null, "metrics": ["a"]})
        );
    }

    #[test]
    fn an_empty_form_is_an_empty_draft() {
        let (draft, _, errors) = to_draft(&Values::default());
        assert_eq!(draft, ApplicationDraft::default());
        assert!(errors.0.is_empty());
    }

    #[test]
    fn every_input_has_a_label() {
        for section in sections(&Values::default(), &[], &[]) {
            for field in section.fields {
                assert!(!field.label.is_empty(), "{}", field.name);
            }
        }
    }
}
