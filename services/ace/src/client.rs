//! Partner Central through the AWS SDK for Rust: the one place the SDK's types appear. Every call
//! takes a quota slot first ([`crate::pace`]); the SDK's own retries are off, so that a retry
//! takes a slot too, and a throttled call is tried again here with backoff and jitter.
//!
//! What the rest of the connector sees are Sandpiper's own types: the export's bodies in, AWS's
//! ids, statuses and times out ([`OpportunityChange`], [`BenefitChange`]).

use std::future::Future;
use std::sync::Arc;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_partnercentralbenefits as benefits;
use aws_sdk_partnercentralselling as selling;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use chrono::{DateTime, Utc};
use sandpiper_contracts::partner_central::{BenefitApplicationStatus, ReviewStatus};
use sandpiper_partner_central::export::{CreateBenefitApplication, CreateOpportunity};
use serde::Serialize;

use crate::config::ConnectorSettings;
use crate::pace::{Class, Pacer, backoff};

/// Partner Central is served from us-east-1 only.
const REGION: &str = "us-east-1";

/// Tries of a call that failed for a reason worth retrying (throttled, a 5xx, no answer) before
/// the failure is handed back (as transient: the event is redelivered later, never dropped).
const ATTEMPTS: u32 = 6;

/// Why a Partner Central call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Throttled, unreachable or failing on AWS's side, still after [`ATTEMPTS`] tries.
    #[error("{operation}: Partner Central is unavailable ({reason})")]
    Unavailable { operation: &'static str, reason: String },
    /// `ConflictException`: the resource is not in a state that allows the call.
    #[error("{operation}: conflict: {message}")]
    Conflict { operation: &'static str, message: String },
    /// `ResourceNotFoundException`.
    #[error("{operation}: not found: {message}")]
    NotFound { operation: &'static str, message: String },
    /// Refused for good (`ValidationException`, `AccessDeniedException`, …): retrying the same
    /// request cannot help.
    #[error("{operation}: refused ({code}): {message}")]
    Refused {
        operation: &'static str,
        code: String,
        message: String,
    },
    /// AWS's answer lacks what the model says it holds.
    #[error("{operation}: the answer has no {member}")]
    Incomplete {
        operation: &'static str,
        member: &'static str,
    },
}

/// What AWS answers about an opportunity in `ListOpportunities`.
#[derive(Debug, Clone, PartialEq)]
pub struct OpportunityChange {
    pub id: String,
    pub last_modified: DateTime<Utc>,
    pub review_status: Option<ReviewStatus>,
    pub review_comments: Option<String>,
}

/// What AWS answers about a benefit application in `ListBenefitApplications`.
#[derive(Debug, Clone, PartialEq)]
pub struct BenefitChange {
    pub id: String,
    pub updated_at: DateTime<Utc>,
    pub status: Option<BenefitApplicationStatus>,
}

/// A partner's withdrawal, as Partner Central takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawal {
    /// `RecallBenefitApplication`: back to `PENDING_SUBMISSION`, editable.
    Recall,
    /// `CancelBenefitApplication`: `CANCELED`, for good.
    Cancel,
}

impl Withdrawal {
    /// For logs and ClientTokens.
    pub fn label(self) -> &'static str {
        match self {
            Withdrawal::Recall => "recall",
            Withdrawal::Cancel => "cancel",
        }
    }
}

/// A page of a listing and the token of the next.
pub type Page<T> = (Vec<T>, Option<String>);

/// Both Partner Central APIs, paced.
#[derive(Clone)]
pub struct PartnerCentral {
    selling: selling::Client,
    benefits: benefits::Client,
    pacer: Arc<Pacer>,
    max_backoff: std::time::Duration,
}

/// The SDK's HTTPS client on rustls with ring, the workspace's crypto provider.
fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https()
}

impl PartnerCentral {
    /// Clients for both APIs from `settings`: the standard credential chain (or a stand-in's
    /// static keys), us-east-1, the stand-in's endpoint if one is set, and no SDK retries.
    pub async fn connect(settings: &ConnectorSettings) -> PartnerCentral {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .http_client(http_client())
            .retry_config(RetryConfig::disabled());
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some((key, secret)) = &settings.static_credentials {
            let credentials = aws_credential_types::Credentials::from_keys(key, secret, None);
            loader = loader.credentials_provider(credentials);
        }
        let sdk = loader.load().await;
        PartnerCentral {
            selling: selling::Client::new(&sdk),
            benefits: benefits::Client::new(&sdk),
            pacer: Arc::new(Pacer::new(settings.quotas)),
            max_backoff: settings.max_backoff,
        }
    }

    /// Runs one call: a slot, the call, and the retry policy of the module doc.
    async fn call<T, E, R, F, Fut>(&self, class: Class, operation: &'static str, send: F) -> Result<T, CallError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, aws_smithy_runtime_api::client::result::SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.pacer.slot(class).await;
            let err = match send().await {
                Ok(out) => return Ok(out),
                Err(err) => err,
            };
            let code = err.code().unwrap_or_default().to_owned();
            let message = err.message().unwrap_or_default().to_owned();
            let retry = match err.as_service_error() {
                None => true,
                Some(_) => matches!(code.as_str(), "ThrottlingException" | "InternalServerException"),
            };
            if !retry {
                return Err(match code.as_str() {
                    "ConflictException" => CallError::Conflict { operation, message },
                    "ResourceNotFoundException" => CallError::NotFound { operation, message },
                    _ => CallError::Refused {
                        operation,
                        code,
                        message,
                    },
                });
            }
            let reason = if code.is_empty() {
                aws_smithy_types::error::display::DisplayErrorContext(&err).to_string()
            } else {
                format!("{code}: {message}")
            };
            if attempt >= ATTEMPTS {
                return Err(CallError::Unavailable { operation, reason });
            }
            let wait = backoff(attempt, self.max_backoff);
            tracing::warn!(operation, attempt, wait_ms = wait.as_millis() as u64, %reason, "backing off");
            tokio::time::sleep(wait).await;
        }
    }

    /// `CreateOpportunity`: the opportunity's `Id`. Its `ClientToken` makes a repeat the same
    /// opportunity.
    pub async fn create_opportunity(&self, body: &CreateOpportunity) -> Result<String, CallError> {
        use selling::types as t;
        const OP: &str = "CreateOpportunity";
        let built = |member: &'static str| move |_| CallError::Incomplete { operation: OP, member };
        let a = &body.customer.account;
        let account = t::Account::builder()
            .company_name(&a.company_name)
            .industry(t::Industry::from(wire(&a.industry).as_str()))
            .set_other_industry(a.other_industry.clone())
            .aws_account_id(&a.aws_account_id)
            .build()
            .map_err(built("Customer.Account"))?;
        let p = &body.project;
        let mut project = t::Project::builder()
            .title(&p.title)
            .customer_business_problem(&p.customer_business_problem)
            .customer_use_case(&p.customer_use_case)
            .set_related_opportunity_identifier(p.related_opportunity_identifier.clone())
            .additional_comments(&p.additional_comments);
        for spend in &p.expected_customer_spend {
            project = project.expected_customer_spend(
                t::ExpectedCustomerSpend::builder()
                    .amount(&spend.amount)
                    .currency_code(t::CurrencyCode::from(wire(&spend.currency_code).as_str()))
                    .frequency(t::PaymentFrequency::from(wire(&spend.frequency).as_str()))
                    .target_company(&spend.target_company)
                    .build()
                    .map_err(built("Project.ExpectedCustomerSpend"))?,
            );
        }
        let life_cycle = t::LifeCycle::builder()
            .stage(t::Stage::from(wire(&body.life_cycle.stage).as_str()))
            .target_close_date(&body.life_cycle.target_close_date)
            .build();
        let needs: Vec<t::PrimaryNeedFromAws> = body
            .primary_needs_from_aws
            .iter()
            .map(|n| t::PrimaryNeedFromAws::from(wire(n).as_str()))
            .collect();
        let request = self
            .selling
            .create_opportunity()
            .catalog(body.catalog.as_str())
            .client_token(&body.client_token)
            .partner_opportunity_identifier(&body.partner_opportunity_identifier)
            .origin(t::OpportunityOrigin::from(wire(&body.origin).as_str()))
            .opportunity_type(t::OpportunityType::from(wire(&body.opportunity_type).as_str()))
            .set_primary_needs_from_aws(Some(needs))
            .customer(t::Customer::builder().account(account).build())
            .project(project.build())
            .life_cycle(life_cycle);
        let out = self.call(Class::Write, OP, || request.clone().send()).await?;
        Ok(out.id().to_owned())
    }

    /// `GetOpportunity`: the opportunity's ARN (what a benefit application names it by).
    pub async fn opportunity_arn(&self, catalog: &str, id: &str) -> Result<String, CallError> {
        const OP: &str = "GetOpportunity";
        let request = self.selling.get_opportunity().catalog(catalog).identifier(id);
        let out = self.call(Class::Read, OP, || request.clone().send()).await?;
        out.arn().map(str::to_owned).ok_or(CallError::Incomplete {
            operation: OP,
            member: "Arn",
        })
    }

    /// `StartEngagementFromOpportunityTask`: submits the opportunity to AWS; the task's id.
    pub async fn start_engagement(
        &self,
        catalog: &str,
        opportunity: &str,
        client_token: &str,
        involvement: &str,
    ) -> Result<Option<String>, CallError> {
        use selling::types as t;
        const OP: &str = "StartEngagementFromOpportunityTask";
        let submission = t::AwsSubmission::builder()
            .involvement_type(t::SalesInvolvementType::from(involvement))
            .visibility(t::Visibility::Full)
            .build()
            .map_err(|_| CallError::Incomplete {
                operation: OP,
                member: "AwsSubmission",
            })?;
        let request = self
            .selling
            .start_engagement_from_opportunity_task()
            .catalog(catalog)
            .client_token(client_token)
            .identifier(opportunity)
            .aws_submission(submission);
        let out = self.call(Class::Write, OP, || request.clone().send()).await?;
        Ok(out.task_id().map(str::to_owned))
    }

    /// `CreateBenefitApplication`, naming the opportunity among its associated resources: its `Id`.
    pub async fn create_benefit_application(
        &self,
        body: &CreateBenefitApplication,
        opportunity_arn: &str,
    ) -> Result<String, CallError> {
        use benefits::types as t;
        const OP: &str = "CreateBenefitApplication";
        let details = serde_json::to_value(&body.benefit_application_details).map_err(|_| CallError::Incomplete {
            operation: OP,
            member: "BenefitApplicationDetails",
        })?;
        let mut request = self
            .benefits
            .create_benefit_application()
            .catalog(body.catalog.as_str())
            .client_token(&body.client_token)
            .name(&body.name)
            .description(&body.description)
            .benefit_identifier(body.benefit_identifier.as_str())
            .benefit_application_details(document(&details))
            .associated_resources(opportunity_arn);
        for fulfillment in &body.fulfillment_types {
            request = request.fulfillment_types(t::FulfillmentType::from(wire(fulfillment).as_str()));
        }
        let out = self.call(Class::Write, OP, || request.clone().send()).await?;
        out.id().map(str::to_owned).ok_or(CallError::Incomplete {
            operation: OP,
            member: "Id",
        })
    }

    /// `SubmitBenefitApplication`.
    pub async fn submit_benefit_application(&self, catalog: &str, id: &str) -> Result<(), CallError> {
        let request = self
            .benefits
            .submit_benefit_application()
            .catalog(catalog)
            .identifier(id);
        self.call(Class::Write, "SubmitBenefitApplication", || request.clone().send())
            .await
            .map(drop)
    }

    /// `GetBenefitApplication`: its status and AWS's reason for it.
    pub async fn benefit_application(
        &self,
        catalog: &str,
        id: &str,
    ) -> Result<(Option<BenefitApplicationStatus>, Option<String>), CallError> {
        let request = self.benefits.get_benefit_application().catalog(catalog).identifier(id);
        let out = self
            .call(Class::Read, "GetBenefitApplication", || request.clone().send())
            .await?;
        Ok((
            out.status().and_then(|s| status(s.as_str())),
            out.status_reason().map(str::to_owned),
        ))
    }

    /// `RecallBenefitApplication` (back to `PENDING_SUBMISSION`) or `CancelBenefitApplication`
    /// (`CANCELED`), with the partner's reason.
    pub async fn withdraw_benefit_application(
        &self,
        withdrawal: Withdrawal,
        catalog: &str,
        id: &str,
        reason: &str,
        client_token: &str,
    ) -> Result<(), CallError> {
        match withdrawal {
            Withdrawal::Recall => {
                let request = self
                    .benefits
                    .recall_benefit_application()
                    .catalog(catalog)
                    .identifier(id)
                    .reason(reason)
                    .client_token(client_token);
                self.call(Class::Write, "RecallBenefitApplication", || request.clone().send())
                    .await
                    .map(drop)
            }
            Withdrawal::Cancel => {
                let request = self
                    .benefits
                    .cancel_benefit_application()
                    .catalog(catalog)
                    .identifier(id)
                    .reason(reason)
                    .client_token(client_token);
                self.call(Class::Write, "CancelBenefitApplication", || request.clone().send())
                    .await
                    .map(drop)
            }
        }
    }

    /// One page of `ListOpportunities`, oldest change first, of the opportunities changed after
    /// `after` (AWS's own `LastModifiedDate`).
    pub async fn opportunities_changed(
        &self,
        catalog: &str,
        after: Option<DateTime<Utc>>,
        next: Option<String>,
    ) -> Result<Page<OpportunityChange>, CallError> {
        use selling::types as t;
        const OP: &str = "ListOpportunities";
        let sort = t::OpportunitySort::builder()
            .sort_by(t::OpportunitySortName::LastModifieddate) // sic: the SDK's spelling of `LastModifiedDate`
            .sort_order(t::SortOrder::Ascending)
            .build()
            .map_err(|_| CallError::Incomplete {
                operation: OP,
                member: "Sort",
            })?;
        let mut request = self
            .selling
            .list_opportunities()
            .catalog(catalog)
            .max_results(100)
            .sort(sort)
            .set_next_token(next);
        if let Some(after) = after {
            let filter = t::LastModifiedDate::builder()
                .after_last_modified_date(aws_smithy_types::DateTime::from_millis(after.timestamp_millis()))
                .build();
            request = request.last_modified_date(filter);
        }
        let out = self.call(Class::Read, OP, || request.clone().send()).await?;
        let changes = out
            .opportunity_summaries()
            .iter()
            .filter_map(|s| {
                let life_cycle = s.life_cycle();
                Some(OpportunityChange {
                    id: s.id()?.to_owned(),
                    last_modified: time(s.last_modified_date()?)?,
                    review_status: life_cycle
                        .and_then(|l| l.review_status())
                        .and_then(|r| serde_json::from_value(serde_json::Value::from(r.as_str())).ok()),
                    review_comments: life_cycle.and_then(|l| l.review_comments()).map(str::to_owned),
                })
            })
            .collect();
        Ok((changes, out.next_token().map(str::to_owned)))
    }

    /// One page of `ListBenefitApplications` (which has no time filter: the caller keeps its own
    /// cursor of `UpdatedAt`).
    pub async fn benefit_applications(
        &self,
        catalog: &str,
        next: Option<String>,
    ) -> Result<Page<BenefitChange>, CallError> {
        let request = self
            .benefits
            .list_benefit_applications()
            .catalog(catalog)
            .max_results(50)
            .set_next_token(next);
        let out = self
            .call(Class::Read, "ListBenefitApplications", || request.clone().send())
            .await?;
        let changes = out
            .benefit_application_summaries()
            .iter()
            .filter_map(|s| {
                Some(BenefitChange {
                    id: s.id()?.to_owned(),
                    updated_at: time(s.updated_at()?)?,
                    status: s.status().and_then(|st| status(st.as_str())),
                })
            })
            .collect();
        Ok((changes, out.next_token().map(str::to_owned)))
    }

    /// The credits AWS allocated to an approved benefit application, in whole dollars: its
    /// allocation's `CreditDetails.AllocatedAmount` (`ListBenefitAllocations`, then
    /// `GetBenefitAllocation`).
    pub async fn allocated_usd(&self, catalog: &str, application: &str) -> Result<Option<i64>, CallError> {
        let list = self
            .benefits
            .list_benefit_allocations()
            .catalog(catalog)
            .benefit_application_identifiers(application);
        let out = self
            .call(Class::Read, "ListBenefitAllocations", || list.clone().send())
            .await?;
        let Some(id) = out.benefit_allocation_summaries().iter().find_map(|a| a.id()) else {
            return Ok(None);
        };
        let get = self.benefits.get_benefit_allocation().catalog(catalog).identifier(id);
        let allocation = self
            .call(Class::Read, "GetBenefitAllocation", || get.clone().send())
            .await?;
        let amount = allocation
            .fulfillment_detail()
            .and_then(|d| d.as_credit_details().ok())
            .and_then(|c| c.allocated_amount())
            .and_then(|m| m.amount().parse::<f64>().ok());
        Ok(amount.map(|a| a.round() as i64))
    }
}

/// A unit enum's wire spelling (its serde name), which the SDK's enums take `From<&str>`.
fn wire<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The Benefits API's status, as Sandpiper spells it.
fn status(value: &str) -> Option<BenefitApplicationStatus> {
    serde_json::from_value(serde_json::Value::from(value)).ok()
}

fn time(value: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(value.to_millis().ok()?)
}

/// A JSON value as the SDK's `Document` (the free-form `BenefitApplicationDetails`).
fn document(value: &serde_json::Value) -> aws_smithy_types::Document {
    use aws_smithy_types::{Document, Number};
    use serde_json::Value;
    match value {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => Document::Number(match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Number::PosInt(u),
            (None, Some(i)) => Number::NegInt(i),
            (None, None) => Number::Float(n.as_f64().unwrap_or_default()),
        }),
        Value::String(s) => Document::String(s.clone()),
        Value::Array(items) => Document::Array(items.iter().map(document).collect()),
        Value::Object(members) => Document::Object(members.iter().map(|(k, v)| (k.clone(), document(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_what_partner_central_spells() {
        use sandpiper_partner_central::export::{FulfillmentType, Origin, Stage};
        assert_eq!(wire(&Origin::PartnerReferral), "Partner Referral");
        assert_eq!(wire(&Stage::Qualified), "Qualified");
        assert_eq!(wire(&FulfillmentType::Credits), "CREDITS");
        assert_eq!(status("IN_REVIEW"), Some(BenefitApplicationStatus::InReview));
        assert_eq!(status("SOMETHING_NEW"), None);
    }

    #[test]
    fn documents_keep_every_json_value() {
        let value = serde_json::json!({"a": [1, -2, 2.5, "x", null, true]});
        let aws_smithy_types::Document::Object(members) = document(&value) else {
            panic!("an object")
        };
        assert!(matches!(members.get("a"), Some(aws_smithy_types::Document::Array(items)) if items.len() == 6));
    }
}
