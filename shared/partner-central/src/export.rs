//! The ACE export (Partner Central, issue #16): the request bodies a partner sends to file an
//! application with AWS, `CreateOpportunity` (Selling API, `partnercentral-selling`) and
//! `CreateBenefitApplication` (Benefits API, `partnercentral-benefits`), in AWS's PascalCase exactly
//! as `aws partnercentral-selling create-opportunity --cli-input-json file://…` takes them, and the
//! Sandpiper state as Partner Central's `ReviewStatus` / `BenefitApplicationStatus`.
//!
//! Pure: no I/O, no clock. The mapping was designed from the input shapes of botocore's models
//! (the version `scripts/install-deps` pins), and every body is checked against them by
//! `scripts/validate-ace.py` in the integration tests. Choices the models leave open:
//!
//! - Lengths and patterns are the model's: a long text is cut at a word boundary with an ellipsis
//!   ([`fit`]) and the cut is listed in the export's `notes`; nothing is emitted that the model
//!   refuses. A draft lacking what the bodies need is [`AceError::Incomplete`] (422 naming every
//!   field), never a partial body.
//! - `ClientToken` is derived from the application id alone ([`opportunity_client_token`],
//!   [`benefit_client_token`]), and the bodies depend only on the application's body, id, parent
//!   link and submission time, never on its later state: a re-export files the same thing once
//!   (Partner Central takes a second create with the same token as the same request, and refuses
//!   one with the same token and another body).
//! - The budget total is the sum of the monthly lines, a range at its midpoint rounded down: the
//!   figure the classifier records as `total_monthly_usd` (C2, T4), so the partner sees one number.
//!   The high end would overstate the opportunity to the AWS reviewer.
//! - `LifeCycle.ReviewStatus` is read-only in Partner Central (a created opportunity is `Pending
//!   Submission`): the mapped statuses are served beside the bodies ([`AceStatus`]), not in them.
//! - `Project.RelatedOpportunityIdentifier` is a Partner Central id (`O…`), which Sandpiper learns
//!   only once the parent application is filed there: it is set when the caller knows it, and
//!   otherwise the parent's Sandpiper id is named in `AdditionalComments` and in the notes.

use chrono::{DateTime, Days, Utc};
use sandpiper_contracts::ids::ApplicationId;
use sandpiper_contracts::model::{ApplicationDraft, FieldError, Programme, is_aws_account_id, limits};
use sandpiper_contracts::state::State;
use sandpiper_contracts::view::ApplicationView;
use sandpiper_rules::review::review_period_days;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `CreateOpportunity`'s `Catalog` and `CreateBenefitApplication`'s: where the bodies file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum AceCatalog {
    /// Partner Central's isolated test catalog: the default, so nothing is filed for real by
    /// accident.
    #[default]
    Sandbox,
    #[serde(rename = "AWS")]
    Aws,
}

impl AceCatalog {
    pub fn as_str(self) -> &'static str {
        match self {
            AceCatalog::Sandbox => "Sandbox",
            AceCatalog::Aws => "AWS",
        }
    }

    /// Exactly `Sandbox` or `AWS`, as Partner Central spells them.
    pub fn parse(value: &str) -> Result<AceCatalog, SettingError> {
        match value {
            "Sandbox" => Ok(AceCatalog::Sandbox),
            "AWS" => Ok(AceCatalog::Aws),
            other => Err(SettingError::Catalog(other.to_owned())),
        }
    }
}

/// A setting of the export that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    #[error("{0:?} is not a Partner Central catalog: expected Sandbox or AWS")]
    Catalog(String),
    #[error("{0:?} is not a benefit identifier: expected ben- and 14 of [0-9a-z], or an ARN")]
    Benefit(String),
    #[error(
        "the AWS catalog files for real: set the benefit identifiers (aws partnercentral-benefits list-benefits) instead of the placeholders"
    )]
    PlaceholderBenefit,
}

/// `CreateBenefitApplication`'s `BenefitIdentifier`: the model's pattern
/// `(arn:.+|ben-[0-9a-z]{14})`, checked on construction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct BenefitIdentifier(String);

impl BenefitIdentifier {
    pub fn parse(value: &str) -> Result<BenefitIdentifier, SettingError> {
        let benefit = value
            .strip_prefix("ben-")
            .is_some_and(|rest| rest.len() == 14 && rest.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
        let arn = value.strip_prefix("arn:").is_some_and(|rest| !rest.is_empty());
        if benefit || arn {
            Ok(BenefitIdentifier(value.to_owned()))
        } else {
            Err(SettingError::Benefit(value.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BenefitIdentifier {
    type Error = SettingError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        BenefitIdentifier::parse(&value)
    }
}

impl From<BenefitIdentifier> for String {
    fn from(value: BenefitIdentifier) -> String {
        value.0
    }
}

/// The placeholder benefit of `innovation_sandbox` (valid by the model's pattern; not a real
/// benefit): fine for the Sandbox catalog, refused with the AWS catalog.
pub const PLACEHOLDER_INNOVATION_SANDBOX_BENEFIT: &str = "ben-innovationsbox";
/// The placeholder benefit of `bedrock_poc`.
pub const PLACEHOLDER_BEDROCK_POC_BENEFIT: &str = "ben-bedrockpoc0000";

/// What the export needs besides the application: the catalog and each programme's benefit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AceSettings {
    pub catalog: AceCatalog,
    /// The Benefits API benefit an `innovation_sandbox` application applies for.
    pub innovation_sandbox_benefit: BenefitIdentifier,
    /// The Benefits API benefit a `bedrock_poc` application applies for.
    pub bedrock_poc_benefit: BenefitIdentifier,
}

impl Default for AceSettings {
    fn default() -> Self {
        AceSettings {
            catalog: AceCatalog::Sandbox,
            innovation_sandbox_benefit: BenefitIdentifier(PLACEHOLDER_INNOVATION_SANDBOX_BENEFIT.to_owned()),
            bedrock_poc_benefit: BenefitIdentifier(PLACEHOLDER_BEDROCK_POC_BENEFIT.to_owned()),
        }
    }
}

impl AceSettings {
    /// Refuses the AWS catalog with a placeholder benefit: that would file for real against a
    /// benefit that does not exist.
    pub fn checked(self) -> Result<AceSettings, SettingError> {
        let placeholder = [PLACEHOLDER_INNOVATION_SANDBOX_BENEFIT, PLACEHOLDER_BEDROCK_POC_BENEFIT];
        let uses_placeholder = placeholder.contains(&self.innovation_sandbox_benefit.as_str())
            || placeholder.contains(&self.bedrock_poc_benefit.as_str());
        if self.catalog == AceCatalog::Aws && uses_placeholder {
            return Err(SettingError::PlaceholderBenefit);
        }
        Ok(self)
    }

    fn benefit(&self, programme: Programme) -> Option<&BenefitIdentifier> {
        match programme {
            Programme::InnovationSandbox => Some(&self.innovation_sandbox_benefit),
            Programme::BedrockPoc => Some(&self.bedrock_poc_benefit),
            Programme::ActivatePortfolio | Programme::BuildForStartups => None,
        }
    }
}

/// A Partner Central opportunity id (`O` and 1 to 19 digits, the model's pattern), e.g. of the
/// parent application once it is filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpportunityIdentifier(String);

impl OpportunityIdentifier {
    pub fn parse(value: &str) -> Option<OpportunityIdentifier> {
        let digits = value.strip_prefix('O')?;
        ((1..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| OpportunityIdentifier(value.to_owned()))
    }
}

/// Why an application cannot be exported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AceError {
    /// The draft lacks (or has invalid) what the bodies need: every such field, with the AWS field
    /// it would fill.
    #[error("{} field(s) the Partner Central bodies need are missing or invalid", .0.len())]
    Incomplete(Vec<FieldError>),
}

// ---- Selling API: CreateOpportunity ----------------------------------------------------------

/// The `CreateOpportunity` input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateOpportunity {
    pub catalog: AceCatalog,
    /// `sandpiper-opportunity-{application id}`: the same on every export.
    pub client_token: String,
    /// The Sandpiper application id, for the partner's reconciliation.
    pub partner_opportunity_identifier: String,
    pub origin: Origin,
    pub opportunity_type: OpportunityType,
    pub primary_needs_from_aws: Vec<PrimaryNeedFromAws>,
    pub customer: Customer,
    pub project: Project,
    pub life_cycle: LifeCycle,
}

/// `Origin`: only `Partner Referral` is accepted with the AWS catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Origin {
    #[serde(rename = "Partner Referral")]
    PartnerReferral,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum OpportunityType {
    #[serde(rename = "Net New Business")]
    NetNewBusiness,
}

/// What the partner needs from AWS: the office hours with the service team (OH1) are technical
/// consultation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum PrimaryNeedFromAws {
    #[serde(rename = "Co-Sell - Technical Consultation")]
    TechnicalConsultation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Customer {
    pub account: Account,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Account {
    /// The startup's name, at most 120 characters.
    pub company_name: String,
    pub industry: Industry,
    /// The startup's own industry text when it maps to `Other` (at most 255 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_industry: Option<String>,
    /// Twelve digits (E1).
    pub aws_account_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Project {
    /// `{startup}: {service} evaluation`, at most 255 characters.
    pub title: String,
    /// The use case, 20 to 2,000 characters.
    pub customer_business_problem: String,
    /// A value of the model's documented list: every service of the catalog is AI/ML.
    pub customer_use_case: String,
    pub expected_customer_spend: Vec<ExpectedCustomerSpend>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related_opportunity_identifier: Option<String>,
    /// Where the body came from, 1 to 255 characters.
    pub additional_comments: String,
}

/// The monthly AWS spend: the budget total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ExpectedCustomerSpend {
    /// Whole dollars as a decimal string.
    pub amount: String,
    pub currency_code: CurrencyCode,
    pub frequency: Frequency,
    pub target_company: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum CurrencyCode {
    #[serde(rename = "USD")]
    Usd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Frequency {
    Monthly,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LifeCycle {
    pub stage: Stage,
    /// When significant AWS usage starts: the end of the evaluation window as planned at
    /// submission (submission + review period T6 + window).
    pub target_close_date: String,
}

/// A filed application has a use case, a budget and a window agreed with the startup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Stage {
    Qualified,
}

/// `Customer.Account.Industry`: the model's enumeration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Industry {
    Aerospace,
    Agriculture,
    Automotive,
    #[serde(rename = "Computers and Electronics")]
    ComputersAndElectronics,
    #[serde(rename = "Consumer Goods")]
    ConsumerGoods,
    Education,
    #[serde(rename = "Energy - Oil and Gas")]
    EnergyOilAndGas,
    #[serde(rename = "Energy - Power and Utilities")]
    EnergyPowerAndUtilities,
    #[serde(rename = "Financial Services")]
    FinancialServices,
    Gaming,
    Government,
    Healthcare,
    Hospitality,
    #[serde(rename = "Life Sciences")]
    LifeSciences,
    Manufacturing,
    #[serde(rename = "Marketing and Advertising")]
    MarketingAndAdvertising,
    #[serde(rename = "Media and Entertainment")]
    MediaAndEntertainment,
    Mining,
    #[serde(rename = "Non-Profit Organization")]
    NonProfitOrganization,
    #[serde(rename = "Professional Services")]
    ProfessionalServices,
    #[serde(rename = "Real Estate and Construction")]
    RealEstateAndConstruction,
    Retail,
    #[serde(rename = "Software and Internet")]
    SoftwareAndInternet,
    Telecommunications,
    #[serde(rename = "Transportation and Logistics")]
    TransportationAndLogistics,
    Travel,
    #[serde(rename = "Wholesale and Distribution")]
    WholesaleAndDistribution,
    Other,
}

impl Industry {
    /// The startup's free-text industry (`saas`, `developer-tools`, `Financial Services`, …) as
    /// the model's enumeration; `None` for one that maps to nothing (then `Other`).
    pub fn from_text(text: &str) -> Option<Industry> {
        use Industry as I;
        let key: String = text
            .trim()
            .to_lowercase()
            .chars()
            .map(|c| if c == '_' || c == '-' || c == '/' { ' ' } else { c })
            .collect();
        let key = key.split_whitespace().collect::<Vec<_>>().join(" ");
        let industry = match key.as_str() {
            "aerospace" | "space" | "spacetech" | "defense" => I::Aerospace,
            "agriculture" | "agtech" | "agritech" | "farming" => I::Agriculture,
            "automotive" | "auto" => I::Automotive,
            "computers and electronics" | "electronics" | "hardware" | "semiconductors" => I::ComputersAndElectronics,
            "consumer goods" | "cpg" | "consumer" => I::ConsumerGoods,
            "education" | "edtech" => I::Education,
            "energy oil and gas" | "oil and gas" => I::EnergyOilAndGas,
            "energy power and utilities" | "energy" | "utilities" | "cleantech" | "climate" | "climatetech" => {
                I::EnergyPowerAndUtilities
            }
            "financial services" | "fintech" | "finance" | "banking" | "insurance" | "insurtech" | "payments" => {
                I::FinancialServices
            }
            "gaming" | "games" => I::Gaming,
            "government" | "govtech" | "public sector" => I::Government,
            "healthcare" | "health care" | "health" | "healthtech" | "medtech" | "digital health" => I::Healthcare,
            "hospitality" => I::Hospitality,
            "life sciences" | "biotech" | "pharma" | "pharmaceuticals" => I::LifeSciences,
            "manufacturing" | "industrial" => I::Manufacturing,
            "marketing and advertising" | "marketing" | "advertising" | "adtech" | "martech" => {
                I::MarketingAndAdvertising
            }
            "media and entertainment" | "media" | "entertainment" | "streaming" => I::MediaAndEntertainment,
            "mining" => I::Mining,
            "non profit organization" | "non profit" | "nonprofit" => I::NonProfitOrganization,
            "professional services" | "consulting" | "legal" | "legaltech" | "hr" | "hrtech" => I::ProfessionalServices,
            "real estate and construction" | "real estate" | "proptech" | "construction" => {
                I::RealEstateAndConstruction
            }
            "retail" | "ecommerce" | "e commerce" | "commerce" => I::Retail,
            "software and internet"
            | "saas"
            | "software"
            | "internet"
            | "developer tools"
            | "devtools"
            | "ai"
            | "artificial intelligence"
            | "machine learning"
            | "ml"
            | "cybersecurity"
            | "security"
            | "data"
            | "analytics"
            | "technology"
            | "tech"
            | "cloud" => I::SoftwareAndInternet,
            "telecommunications" | "telecom" | "telco" => I::Telecommunications,
            "transportation and logistics" | "logistics" | "transportation" | "mobility" | "supply chain" => {
                I::TransportationAndLogistics
            }
            "travel" | "traveltech" => I::Travel,
            "wholesale and distribution" | "wholesale" | "distribution" => I::WholesaleAndDistribution,
            _ => return None,
        };
        Some(industry)
    }
}

// ---- Benefits API: CreateBenefitApplication --------------------------------------------------

/// The `CreateBenefitApplication` input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateBenefitApplication {
    pub catalog: AceCatalog,
    /// `sandpiper-benefit-{application id}`: the same on every export.
    pub client_token: String,
    /// `{startup}: {programme} for {service}`, 1 to 255 characters.
    pub name: String,
    /// The use case, 1 to 1,000 characters.
    pub description: String,
    pub benefit_identifier: BenefitIdentifier,
    pub fulfillment_types: Vec<FulfillmentType>,
    /// A free-form document: the facts of the application a benefit reviewer reads.
    pub benefit_application_details: BenefitApplicationDetails,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FulfillmentType {
    Credits,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct BenefitApplicationDetails {
    pub sandpiper_application_id: ApplicationId,
    pub programme: Programme,
    pub service: String,
    pub workload: String,
    pub aws_account_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_window_days: Option<i64>,
    pub expected_monthly_spend_usd: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production_monthly_spend_usd: Option<i64>,
    pub target_metrics: Vec<DetailMetric>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DetailMetric {
    pub name: String,
    pub target: String,
}

// ---- Status --------------------------------------------------------------------------------

// The mapping lives with the view, which shows it (`partner_central`); the export serves it too.
pub use sandpiper_contracts::partner_central::{AceStatus, BenefitApplicationStatus, ReviewStatus, status};

// ---- The export ----------------------------------------------------------------------------

/// `GET /v1/applications/{id}/ace`: both bodies, ready for `--cli-input-json`, and the status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AceExport {
    pub application_id: ApplicationId,
    pub state: State,
    pub catalog: AceCatalog,
    pub status: AceStatus,
    /// `aws partnercentral-selling create-opportunity --cli-input-json file://…`
    pub create_opportunity: CreateOpportunity,
    /// `aws partnercentral-benefits create-benefit-application --cli-input-json file://…`
    pub create_benefit_application: CreateBenefitApplication,
    /// What the mapping shortened, left out or could not know, for a person to check before filing.
    pub notes: Vec<String>,
}

/// Model limits (characters) of the fields filled from free text.
pub mod model_limits {
    pub const COMPANY_NAME: usize = 120;
    pub const OTHER_INDUSTRY: usize = 255;
    pub const TITLE: usize = 255;
    pub const BUSINESS_PROBLEM_MIN: usize = 20;
    pub const BUSINESS_PROBLEM: usize = 2000;
    pub const ADDITIONAL_COMMENTS: usize = 255;
    pub const BENEFIT_NAME: usize = 255;
    pub const BENEFIT_DESCRIPTION: usize = 1000;
    pub const CLIENT_TOKEN_BENEFIT: usize = 64;
}

/// The Selling API `ClientToken`: derived from the application id, so every export of one
/// application carries the same token.
pub fn opportunity_client_token(id: ApplicationId) -> String {
    format!("sandpiper-opportunity-{id}")
}

/// The Benefits API `ClientToken` (printable ASCII, at most 64).
pub fn benefit_client_token(id: ApplicationId) -> String {
    format!("sandpiper-benefit-{id}")
}

/// The `CustomerUseCase` of every catalog service (Bedrock, Q, SageMaker: AI/ML).
pub const CUSTOMER_USE_CASE: &str = "AI Machine Learning and Analytics";

/// `text`, trimmed, if it has at most `max` characters; else cut at the last word boundary that
/// leaves room for an ellipsis (or mid-word, when the last boundary is in the first half), with
/// trailing spaces and separators dropped, and `…` appended. The bool says whether it was cut.
pub fn fit(text: &str, max: usize) -> (String, bool) {
    let text = text.trim();
    if text.chars().count() <= max {
        return (text.to_owned(), false);
    }
    let room = max.saturating_sub(1);
    let cut = text.char_indices().nth(room).map_or(text.len(), |(at, _)| at);
    let head = &text[..cut];
    let at_boundary = text[cut..].starts_with(char::is_whitespace);
    let head = match head.rfind(char::is_whitespace) {
        Some(space) if !at_boundary && space >= head.len() / 2 => &head[..space],
        _ => head,
    };
    let head = head.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '-' | '–' | '—'));
    (format!("{head}…"), true)
}

/// A single-line field (a name, a title): runs of whitespace, newlines and tabs included, as one
/// space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Fits `text` into `max` characters and notes a cut against the AWS field.
fn fitted(notes: &mut Vec<String>, field: &str, text: &str, max: usize) -> String {
    let (value, cut) = fit(text, max);
    if cut {
        notes.push(format!(
            "{field} was shortened to {max} characters (the model's limit) at a word boundary"
        ));
    }
    value
}

/// Collects what the bodies need and the draft lacks.
#[derive(Default)]
struct Missing(Vec<FieldError>);

impl Missing {
    fn push(&mut self, field: &str, message: String) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message,
            rule: None,
        });
    }

    /// A required, non-blank text feeding `aws`.
    fn text<'a>(&mut self, field: &str, value: Option<&'a str>, aws: &str) -> &'a str {
        match value.map(str::trim) {
            Some(v) if !v.is_empty() => v,
            Some(_) => {
                self.push(field, format!("must not be blank: it fills {aws}"));
                ""
            }
            None => {
                self.push(field, format!("is required for the ACE export: it fills {aws}"));
                ""
            }
        }
    }
}

/// A line's monthly amount as the classifier counts it (C2): exact, or a range's midpoint rounded
/// down.
fn monthly(exact: Option<i64>, range: Option<[i64; 2]>) -> Option<i64> {
    match (exact, range) {
        (Some(amount), None) => Some(amount),
        (None, Some([low, high])) => Some(low + (high - low) / 2),
        _ => None,
    }
}

/// The budget total (sum of the monthly lines, ranges at their midpoint rounded down), or the
/// failing fields.
fn budget_total(draft: &ApplicationDraft, missing: &mut Missing) -> i64 {
    const AWS: &str = "Project.ExpectedCustomerSpend";
    let Some(lines) = draft.budget.as_deref() else {
        missing.push(
            "budget",
            format!("is required for the ACE export: its total fills {AWS}"),
        );
        return 0;
    };
    if lines.is_empty() {
        missing.push(
            "budget",
            format!("needs at least one monthly line: its total fills {AWS}"),
        );
    }
    let positive = 1..=limits::MAX_USD;
    let mut total: i64 = 0;
    for (i, line) in lines.iter().enumerate() {
        let field = |name: &str| format!("budget[{i}].{name}");
        let valid = match (line.monthly_usd, line.monthly_usd_range) {
            (Some(amount), None) => positive.contains(&amount),
            (None, Some([low, high])) => positive.contains(&low) && positive.contains(&high) && low <= high,
            _ => false,
        };
        match monthly(line.monthly_usd, line.monthly_usd_range) {
            Some(amount) if valid => total = total.saturating_add(amount),
            _ => missing.push(
                &field("monthly_usd"),
                format!(
                    "needs exactly one of monthly_usd and monthly_usd_range [low, high], whole dollars from 1 to {}: it counts in {AWS}",
                    limits::MAX_USD
                ),
            ),
        }
    }
    total
}

/// The export of `view` with `settings`. `related` is the parent application's Partner Central
/// opportunity id when the caller knows it (the parent is `links.originated_from`).
pub fn export(
    view: &ApplicationView,
    settings: &AceSettings,
    related: Option<&OpportunityIdentifier>,
) -> Result<AceExport, AceError> {
    use model_limits as L;
    let body = &view.body;
    let startup = body.startup.as_ref();
    let mut missing = Missing::default();
    let mut notes = Vec::new();

    let name = missing.text(
        "startup.name",
        startup.and_then(|s| s.name.as_deref()),
        "Customer.Account.CompanyName",
    );
    let account = missing.text(
        "startup.aws_account_id",
        startup.and_then(|s| s.aws_account_id.as_deref()),
        "Customer.Account.AwsAccountId",
    );
    if !account.is_empty() && !is_aws_account_id(account) {
        missing.push(
            "startup.aws_account_id",
            "must be exactly 12 digits (E1): it fills Customer.Account.AwsAccountId".to_owned(),
        );
    }
    let industry_text = missing.text(
        "startup.industry",
        startup.and_then(|s| s.industry.as_deref()),
        "Customer.Account.Industry",
    );
    let service = missing.text("service", body.service.as_deref(), "Project.Title");
    let workload = missing.text(
        "workload",
        body.workload.as_deref(),
        "BenefitApplicationDetails.Workload",
    );
    let use_case = missing.text(
        "use_case",
        body.use_case.as_deref(),
        "Project.CustomerBusinessProblem and Description",
    );
    let programme = body.programme.unwrap_or(Programme::InnovationSandbox);
    let benefit = settings.benefit(programme);
    if benefit.is_none() {
        missing.push(
            "programme",
            format!(
                "{} is not filed here: the ACE export is for innovation_sandbox or bedrock_poc",
                programme.as_str()
            ),
        );
    }
    let total = budget_total(body, &mut missing);
    let benefit = match benefit {
        Some(benefit) if missing.0.is_empty() => benefit,
        _ => return Err(AceError::Incomplete(missing.0)),
    };

    let id = view.id;
    let company_name = fitted(
        &mut notes,
        "Customer.Account.CompanyName",
        &one_line(name),
        L::COMPANY_NAME,
    );
    let (industry, other_industry) = match Industry::from_text(industry_text) {
        Some(industry) => (industry, None),
        None => (
            Industry::Other,
            Some(fitted(
                &mut notes,
                "Customer.Account.OtherIndustry",
                &one_line(industry_text),
                L::OTHER_INDUSTRY,
            )),
        ),
    };
    if industry == Industry::Government {
        notes.push(
            "Customer.Account.Industry is Government: Partner Central asks whether it is a national-security project (NationalSecurity), which Sandpiper does not know; set it before filing".to_owned(),
        );
    }
    notes.push(
        "Customer.Account.WebsiteUrl is left out: Sandpiper does not collect the startup's website, which Partner Central needs before the opportunity is submitted for review".to_owned(),
    );

    let title = fitted(
        &mut notes,
        "Project.Title",
        &one_line(&format!("{name}: {service} evaluation")),
        L::TITLE,
    );
    let mut problem = fitted(
        &mut notes,
        "Project.CustomerBusinessProblem",
        use_case,
        L::BUSINESS_PROBLEM,
    );
    if problem.chars().count() < L::BUSINESS_PROBLEM_MIN {
        // The model wants at least 20 characters: say what the evaluation is rather than refuse
        // an application the review accepted.
        problem = format!("{problem} (evaluation of {service} for {workload})");
        problem = fit(&problem, L::BUSINESS_PROBLEM).0;
        notes.push(format!(
            "Project.CustomerBusinessProblem: the use case is under {} characters (the model's minimum); the service and workload were added",
            L::BUSINESS_PROBLEM_MIN
        ));
    }

    let parent = view.links.originated_from;
    let mut comments = format!("Filed from Sandpiper application {id} ({}).", programme.as_str());
    let related_opportunity_identifier = match (related, parent) {
        (Some(opportunity), _) => Some(opportunity.0.clone()),
        (None, Some(parent)) => {
            comments.push_str(&format!(" Follows Sandpiper application {parent}."));
            notes.push(format!(
                "Project.RelatedOpportunityIdentifier is left out: the Partner Central opportunity of the parent application {parent} is not known to Sandpiper; set it (O…) before filing"
            ));
            None
        }
        (None, None) => None,
    };
    let additional_comments = fitted(
        &mut notes,
        "Project.AdditionalComments",
        &comments,
        L::ADDITIONAL_COMMENTS,
    );

    let base = view.submitted_at.unwrap_or(view.created_at);
    let window = body.evaluation_window_days.filter(|d| limits::WINDOW_DAYS.contains(d));
    let target_close_date = close_date(
        base,
        review_period_days(programme) + window.unwrap_or(*limits::WINDOW_DAYS.end()),
    );

    let create_opportunity = CreateOpportunity {
        catalog: settings.catalog,
        client_token: opportunity_client_token(id),
        partner_opportunity_identifier: id.to_string(),
        origin: Origin::PartnerReferral,
        opportunity_type: OpportunityType::NetNewBusiness,
        primary_needs_from_aws: vec![PrimaryNeedFromAws::TechnicalConsultation],
        customer: Customer {
            account: Account {
                company_name,
                industry,
                other_industry,
                aws_account_id: account.to_owned(),
            },
        },
        project: Project {
            title,
            customer_business_problem: problem,
            customer_use_case: CUSTOMER_USE_CASE.to_owned(),
            expected_customer_spend: vec![ExpectedCustomerSpend {
                amount: total.to_string(),
                currency_code: CurrencyCode::Usd,
                frequency: Frequency::Monthly,
                target_company: "AWS".to_owned(),
            }],
            related_opportunity_identifier,
            additional_comments,
        },
        life_cycle: LifeCycle {
            stage: Stage::Qualified,
            target_close_date,
        },
    };

    let programme_label = match programme {
        Programme::BedrockPoc => "Bedrock POC",
        _ => "Innovation Sandbox",
    };
    let create_benefit_application = CreateBenefitApplication {
        catalog: settings.catalog,
        client_token: benefit_client_token(id),
        name: fitted(
            &mut notes,
            "Name",
            &one_line(&format!("{name}: {programme_label} for {service}")),
            L::BENEFIT_NAME,
        ),
        description: fitted(&mut notes, "Description", use_case, L::BENEFIT_DESCRIPTION),
        benefit_identifier: benefit.clone(),
        fulfillment_types: vec![FulfillmentType::Credits],
        benefit_application_details: BenefitApplicationDetails {
            sandpiper_application_id: id,
            programme,
            service: service.to_owned(),
            workload: workload.to_owned(),
            aws_account_id: account.to_owned(),
            evaluation_window_days: window,
            expected_monthly_spend_usd: total,
            production_monthly_spend_usd: body.production_monthly_usd,
            target_metrics: body
                .target_metrics
                .iter()
                .flatten()
                .map(|t| DetailMetric {
                    name: t.name.clone(),
                    target: t.target.clone(),
                })
                .collect(),
        },
    };

    Ok(AceExport {
        application_id: id,
        state: view.state,
        catalog: settings.catalog,
        status: status(view.state),
        create_opportunity,
        create_benefit_application,
        notes,
    })
}

/// `base` plus `days`, as the model's `YYYY-MM-DD` (a date past year 9999 cannot occur: the
/// days are bounded; it saturates at `base`).
fn close_date(base: DateTime<Utc>, days: i64) -> String {
    let date = base.date_naive();
    let later = u64::try_from(days)
        .ok()
        .and_then(|days| date.checked_add_days(Days::new(days)))
        .unwrap_or(date);
    later.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use sandpiper_contracts::catalog::Catalog;
    use sandpiper_contracts::events::{Drafted, Envelope, Submitted};
    use sandpiper_contracts::ids::{EventId, PartnerId};
    use sandpiper_contracts::model::parse_json;
    use sandpiper_contracts::names::ServiceName;

    fn example(name: &str) -> ApplicationDraft {
        let path = format!("{}/../../../shared/examples/{name}.json", env!("CARGO_MANIFEST_DIR"));
        parse_json(&std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))).unwrap()
    }

    fn at() -> DateTime<Utc> {
        "2026-03-02T09:00:00Z".parse().unwrap()
    }

    fn drafted(id: ApplicationId, draft: ApplicationDraft) -> ApplicationView {
        let event = Envelope::new(
            EventId::generate(),
            ServiceName::Intake,
            PartnerId::parse("acme").unwrap(),
            id,
            at(),
            &Drafted {
                draft,
                originated_from: None,
            },
        )
        .unwrap();
        ApplicationView::create(&event, 1).unwrap()
    }

    fn submitted(id: ApplicationId, draft: ApplicationDraft) -> ApplicationView {
        let body = draft.validate(&Catalog::builtin().unwrap(), at()).unwrap();
        let mut view = drafted(id, draft);
        let event = Envelope::new(
            EventId::generate(),
            ServiceName::Intake,
            view.partner_id.clone(),
            id,
            at(),
            &Submitted { application: body },
        )
        .unwrap();
        view.apply(&event, 2).unwrap();
        view
    }

    fn export_of(view: &ApplicationView) -> AceExport {
        export(view, &AceSettings::default(), None).unwrap()
    }

    #[test]
    fn the_client_token_is_the_applications_and_stable_across_re_exports() {
        let id = ApplicationId::parse("01J9ZQ4V6S7KX0C2M8N5T3W1Y4").unwrap();
        let view = submitted(id, example("bedrock-agents-support"));
        let first = export_of(&view);
        assert_eq!(
            first.create_opportunity.client_token,
            "sandpiper-opportunity-01J9ZQ4V6S7KX0C2M8N5T3W1Y4"
        );
        assert_eq!(
            first.create_benefit_application.client_token,
            "sandpiper-benefit-01J9ZQ4V6S7KX0C2M8N5T3W1Y4"
        );
        assert!(first.create_benefit_application.client_token.len() <= model_limits::CLIENT_TOKEN_BENEFIT);

        // Later states change the status, never the bodies: a retry files the same thing once.
        let mut later = view.clone();
        later.state = State::Active;
        later.updated_at = at() + chrono::Duration::days(20);
        let again = export_of(&later);
        assert_eq!(again.create_opportunity, first.create_opportunity);
        assert_eq!(again.create_benefit_application, first.create_benefit_application);
        assert_ne!(again.status, first.status);

        let other = export_of(&submitted(ApplicationId::generate(), example("bedrock-agents-support")));
        assert_ne!(
            other.create_opportunity.client_token,
            first.create_opportunity.client_token
        );
    }

    #[test]
    fn the_worked_example_maps_field_by_field() {
        let view = submitted(ApplicationId::generate(), example("bedrock-agents-support"));
        let export = export_of(&view);
        let json = serde_json::to_value(&export).unwrap();
        let opportunity = &json["create_opportunity"];
        assert_eq!(opportunity["Catalog"], "Sandbox");
        assert_eq!(opportunity["Customer"]["Account"]["CompanyName"], "Helpdesk Autopilot");
        assert_eq!(opportunity["Customer"]["Account"]["Industry"], "Software and Internet");
        assert_eq!(opportunity["Customer"]["Account"]["AwsAccountId"], "111122223333");
        assert!(opportunity["Customer"]["Account"].get("OtherIndustry").is_none());
        let spend = &opportunity["Project"]["ExpectedCustomerSpend"][0];
        assert_eq!(spend["Amount"], "2540", "1200 + 850 + 180 + 250 + 60");
        assert_eq!(
            (&spend["CurrencyCode"], &spend["Frequency"], &spend["TargetCompany"]),
            (&"USD".into(), &"Monthly".into(), &"AWS".into())
        );
        assert_eq!(opportunity["Project"]["CustomerUseCase"], CUSTOMER_USE_CASE);
        assert!(
            opportunity["Project"]["CustomerBusinessProblem"]
                .as_str()
                .unwrap()
                .starts_with("Evaluation of Bedrock Agents to autonomously resolve")
        );
        assert_eq!(opportunity["Origin"], "Partner Referral");
        assert_eq!(
            opportunity["LifeCycle"]["TargetCloseDate"], "2026-05-13",
            "2026-03-02 + 12 review days + 60 window days"
        );
        assert!(
            opportunity["LifeCycle"].get("ReviewStatus").is_none(),
            "read-only in Partner Central"
        );
        let benefit = &json["create_benefit_application"];
        assert_eq!(benefit["BenefitIdentifier"], PLACEHOLDER_INNOVATION_SANDBOX_BENEFIT);
        assert_eq!(benefit["FulfillmentTypes"], serde_json::json!(["CREDITS"]));
        assert_eq!(benefit["BenefitApplicationDetails"]["ExpectedMonthlySpendUsd"], 2540);
        assert_eq!(json["status"]["review_status"], "Submitted");
        assert_eq!(json["status"]["benefit_application_status"], "IN_REVIEW");
    }

    #[test]
    fn the_budget_total_is_the_classifiers_figure_with_ranges_at_their_midpoint() {
        let catalog = Catalog::builtin().unwrap();
        for name in ["bedrock-agents-support", "amazon-q-business-docs", "exploring-agents"] {
            let draft = example(name);
            let body = draft.validate(&catalog, at()).unwrap();
            let export = export_of(&submitted(ApplicationId::generate(), draft));
            assert_eq!(
                export.create_opportunity.project.expected_customer_spend[0].amount,
                sandpiper_rules::classify::figures(&body).total_monthly_usd.to_string(),
                "{name}"
            );
        }
        let export = export_of(&submitted(ApplicationId::generate(), example("exploring-agents")));
        assert_eq!(
            export.create_opportunity.project.expected_customer_spend[0].amount, "1250",
            "[500, 2000] counts 1250"
        );
        let mut odd = example("exploring-agents");
        odd.budget.as_mut().unwrap()[0].monthly_usd_range = Some([100, 201]);
        let export = export_of(&submitted(ApplicationId::generate(), odd));
        assert_eq!(
            export.create_opportunity.project.expected_customer_spend[0].amount,
            "150"
        );
    }

    #[test]
    fn long_text_is_cut_at_a_word_boundary_with_an_ellipsis() {
        assert_eq!(fit("short", 10), ("short".to_owned(), false));
        assert_eq!(fit("  padded  ", 6), ("padded".to_owned(), false));
        assert_eq!(fit("the quick brown fox", 12), ("the quick…".to_owned(), true));
        assert_eq!(fit("the quick, brown fox", 12), ("the quick…".to_owned(), true));
        assert_eq!(fit("supercalifragilistic", 8), ("superca…".to_owned(), true));
        let (cut, _) = fit("Café ümlaut 日本語のテキストです とても長い", 12);
        assert!(cut.chars().count() <= 12 && cut.ends_with('…'), "{cut}");
        for max in 1..40 {
            let (cut, _) = fit("a bb ccc dddd eeeee ffffff ggggggg hhhhhhhh iiiiiiiii", max);
            assert!(cut.chars().count() <= max, "{max}: {cut}");
        }

        let mut draft = example("bedrock-agents-support");
        let startup = draft.startup.as_mut().unwrap();
        startup.name = Some(format!("{} \"Quoted\" Ltd", "Very Long Startup Name".repeat(8)));
        draft.use_case = Some("word ".repeat(1900));
        let export = export_of(&drafted(ApplicationId::generate(), draft));
        let name = &export.create_opportunity.customer.account.company_name;
        assert!(
            name.chars().count() <= model_limits::COMPANY_NAME && name.ends_with('…'),
            "{name}"
        );
        let problem = &export.create_opportunity.project.customer_business_problem;
        assert!(problem.chars().count() <= model_limits::BUSINESS_PROBLEM && problem.ends_with("word…"));
        let description = &export.create_benefit_application.description;
        assert!(description.chars().count() <= model_limits::BENEFIT_DESCRIPTION);
        assert!(
            export
                .notes
                .iter()
                .any(|n| n.starts_with("Customer.Account.CompanyName was shortened"))
        );
        assert!(export.notes.iter().any(|n| n.starts_with("Description was shortened")));
    }

    #[test]
    fn names_and_titles_are_one_line() {
        let mut draft = example("bedrock-agents-support");
        draft.startup.as_mut().unwrap().name = Some("Tabs\tand\n  newlines  GmbH".into());
        let export = export_of(&drafted(ApplicationId::generate(), draft));
        assert_eq!(
            export.create_opportunity.customer.account.company_name,
            "Tabs and newlines GmbH"
        );
        assert_eq!(
            export.create_opportunity.project.title,
            "Tabs and newlines GmbH: bedrock-agents evaluation"
        );
        assert!(!export.create_benefit_application.name.contains('\n'));
    }

    #[test]
    fn a_short_use_case_is_completed_to_the_models_minimum() {
        let mut draft = example("exploring-agents");
        draft.use_case = Some("Agents.".into());
        let export = export_of(&drafted(ApplicationId::generate(), draft));
        let problem = &export.create_opportunity.project.customer_business_problem;
        assert_eq!(problem, "Agents. (evaluation of bedrock-agents for customer-support)");
        assert!(problem.chars().count() >= model_limits::BUSINESS_PROBLEM_MIN);
    }

    #[test]
    fn an_incomplete_draft_names_every_missing_field_instead_of_a_body() {
        let err = export(
            &drafted(ApplicationId::generate(), ApplicationDraft::default()),
            &AceSettings::default(),
            None,
        )
        .unwrap_err();
        let AceError::Incomplete(errors) = err;
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "startup.name",
                "startup.aws_account_id",
                "startup.industry",
                "service",
                "workload",
                "use_case",
                "budget"
            ]
        );
        assert!(errors[0].message.contains("Customer.Account.CompanyName"), "{errors:?}");

        let mut draft = example("bedrock-agents-support");
        draft.startup.as_mut().unwrap().aws_account_id = Some("1234-5678".into());
        draft.budget.as_mut().unwrap()[1].monthly_usd = Some(0);
        draft.budget.as_mut().unwrap()[2].monthly_usd_range = Some([1, 2]);
        draft.programme = Some(Programme::ActivatePortfolio);
        let AceError::Incomplete(errors) = export(
            &drafted(ApplicationId::generate(), draft),
            &AceSettings::default(),
            None,
        )
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "startup.aws_account_id",
                "programme",
                "budget[1].monthly_usd",
                "budget[2].monthly_usd"
            ]
        );
    }

    #[test]
    fn every_state_maps_to_both_statuses() {
        use BenefitApplicationStatus as B;
        use ReviewStatus as R;
        for (state, review, benefit) in [
            (State::Draft, R::PendingSubmission, B::PendingSubmission),
            (State::Submitted, R::Submitted, B::InReview),
            (State::InReview, R::InReview, B::InReview),
            (State::Approved, R::Approved, B::Approved),
            (State::Active, R::Approved, B::Approved),
            (State::WindowClosed, R::Approved, B::Approved),
            (State::Graduated, R::Approved, B::Approved),
            (State::Retired, R::Approved, B::Approved),
            (State::Closed, R::Approved, B::Approved),
            (State::ClawedBack, R::Approved, B::Approved),
            (State::Rejected, R::Rejected, B::Rejected),
            (State::Redirected, R::ActionRequired, B::ActionRequired),
            (State::Canceled, R::PendingSubmission, B::Canceled),
        ] {
            assert_eq!(
                status(state),
                AceStatus {
                    review_status: review,
                    benefit_application_status: benefit
                },
                "{state:?}"
            );
        }
        assert_eq!(
            serde_json::to_value(status(State::InReview)).unwrap(),
            serde_json::json!({"review_status": "In review", "benefit_application_status": "IN_REVIEW"})
        );
        assert_eq!(
            serde_json::to_value(ReviewStatus::PendingSubmission).unwrap(),
            "Pending Submission"
        );
        assert_eq!(
            serde_json::to_value(ReviewStatus::ActionRequired).unwrap(),
            "Action Required"
        );
    }

    #[test]
    fn industries_map_to_the_models_enumeration_or_other() {
        assert_eq!(Industry::from_text("saas"), Some(Industry::SoftwareAndInternet));
        assert_eq!(
            Industry::from_text("developer-tools"),
            Some(Industry::SoftwareAndInternet)
        );
        assert_eq!(
            Industry::from_text(" Financial Services "),
            Some(Industry::FinancialServices)
        );
        assert_eq!(Industry::from_text("non_profit"), Some(Industry::NonProfitOrganization));
        assert_eq!(Industry::from_text("underwater basket weaving"), None);

        let mut draft = example("amazon-q-business-docs");
        draft.startup.as_mut().unwrap().industry = Some("Underwater basket weaving".into());
        let account = export_of(&drafted(ApplicationId::generate(), draft))
            .create_opportunity
            .customer
            .account;
        assert_eq!(account.industry, Industry::Other);
        assert_eq!(account.other_industry.as_deref(), Some("Underwater basket weaving"));
    }

    #[test]
    fn a_linked_application_names_its_parent() {
        let parent = ApplicationId::generate();
        let mut view = submitted(ApplicationId::generate(), example("bedrock-agents-support"));
        view.links.originated_from = Some(parent);
        let export = export_of(&view);
        assert_eq!(export.create_opportunity.project.related_opportunity_identifier, None);
        assert!(
            export
                .create_opportunity
                .project
                .additional_comments
                .contains(&parent.to_string())
        );
        assert!(export.notes.iter().any(|n| n.contains("RelatedOpportunityIdentifier")));

        let known = OpportunityIdentifier::parse("O1234567").unwrap();
        let with_known = super::export(&view, &AceSettings::default(), Some(&known)).unwrap();
        assert_eq!(
            with_known
                .create_opportunity
                .project
                .related_opportunity_identifier
                .as_deref(),
            Some("O1234567")
        );
        assert_eq!(OpportunityIdentifier::parse(&parent.to_string()), None);
        assert_eq!(OpportunityIdentifier::parse("O"), None);
    }

    #[test]
    fn settings_refuse_what_the_models_refuse() {
        assert_eq!(AceCatalog::parse("Sandbox"), Ok(AceCatalog::Sandbox));
        assert_eq!(AceCatalog::parse("AWS"), Ok(AceCatalog::Aws));
        assert!(AceCatalog::parse("aws").is_err());
        assert!(AceCatalog::parse("Production").is_err());
        assert!(BenefitIdentifier::parse("ben-0123456789abcd").is_ok());
        assert!(BenefitIdentifier::parse("arn:aws:partnercentral:us-east-1::benefit/x").is_ok());
        assert!(BenefitIdentifier::parse("ben-0123456789ABCD").is_err());
        assert!(BenefitIdentifier::parse("ben-short").is_err());
        assert!(BenefitIdentifier::parse(PLACEHOLDER_INNOVATION_SANDBOX_BENEFIT).is_ok());
        assert!(BenefitIdentifier::parse(PLACEHOLDER_BEDROCK_POC_BENEFIT).is_ok());
        assert_eq!(
            AceSettings {
                catalog: AceCatalog::Aws,
                ..AceSettings::default()
            }
            .checked(),
            Err(SettingError::PlaceholderBenefit)
        );
        assert!(AceSettings::default().checked().is_ok());
    }
}
