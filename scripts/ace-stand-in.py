#!/usr/bin/env python3
"""A local stand-in for AWS Partner Central Selling and Benefits, checked against AWS's models.

Serves `partnercentral-selling` (JSON 1.0, X-Amz-Target `AWSPartnerCentralSelling.<Op>`) and
`partnercentral-benefits` (JSON 1.0, `PartnerCentralBenefitsService.<Op>`) on one port (POST /), for
the AWS SDKs pointed at it with `endpoint_url`, plus a control API under /_stand-in/. The models are
botocore's service-2.json (the venv scripts/install-deps makes pins botocore).

Usage:
  .tools/venv/bin/python scripts/ace-stand-in.py --state FILE [--host 127.0.0.1] [--port 0]
      [--access-key-id ID] [--region us-east-1] [--after-last-modified inclusive|strict]
Prints `listening http://HOST:PORT` once listening. SIGTERM/SIGINT exit 0. The state (resources,
client tokens, counters, rejections) is written to FILE (temp file + rename) after every change and
read back at start: a stopped stand-in started again on the same FILE remembers everything.

What every AWS call is checked for (a failure is answered as AWS would and recorded in `rejected`):
  * X-Amz-Target names an operation of that service's model (else UnknownOperationException, 400).
  * Content-Type is application/x-amz-json-1.0 and the body is a JSON object (ValidationException).
  * Authorization is SigV4: `AWS4-HMAC-SHA256 Credential=KEY/YYYYMMDD/REGION/SIGNINGNAME/aws4_request,
    SignedHeaders=... (with host and x-amz-date), Signature=<64 hex>`, the signing name from the
    model, the region --region (Partner Central is us-east-1 only), KEY = --access-key-id if given,
    X-Amz-Date present and on the credential's date (AccessDeniedException, 403).
  * The body against the operation's input shape: botocore's ParamValidator (unknown and missing
    members, types, minimums) + validate-ace.py's strict_errors (enums, maximums, list sizes,
    full-match patterns) + timestamps in the model's wire format. Both models mark every timestamp
    `timestampFormat: iso8601`, so they travel as RFC 3339 strings (not JSON 1.0's default epoch
    seconds) both ways; answers carry them with milliseconds ("2026-03-02T09:00:00.123Z").
    Invalid: 400 ValidationException with the service's members (Selling: Message, Reason
    REQUEST_VALIDATION_FAILED, ErrorList[FieldName, Message, Code]; Benefits: Message, Reason
    fieldValidationFailed / cannotParse, FieldList[Name, Message, Code]).
  * Every answer (and error body) is validated against its output/error shape the same way; an
    invalid one is replaced by 500 InternalServerException and recorded in `stand_in_bugs`.
Errors carry `__type` in the body and the X-Amzn-ErrorType header (what the SDKs read); status 400
(Validation, Unknown operation), 403 (AccessDenied), 404 (ResourceNotFound), 409 (Conflict), 429
(Throttling), 500 (InternalServer). The models give no httpError codes; the SDKs go by `__type`.

Quotas (Partner Central's, per partner account = per access key): reads (Get*/List*) 10/s and
100,000/day, writes (everything else) 1/s and 10,000/day. Rule: a call is over the per-second quota
when the calls of its class already accepted from that key in the trailing 0.95 s (1 s less 50 ms
of tolerance for timer jitter) number the limit or more; a client pacing writes at 1.0 s never is,
a second write within 0.95 s always is. Over a quota: ThrottlingException, counted in
`quota_exceeded`, and not counted as accepted. `max_per_second` {reads, writes} is the most accepted
calls of a class in any such trailing window (it never exceeds the limit); `max_attempted_per_second`
counts refused calls too. `per_day` {UTC date: {reads, writes}} counts accepted calls. Quotas are
checked after the headers and before the body. The control API is never counted.

Operations (ids follow the models' patterns: O<digits>, benappl-/benalloc-/eng- + 14 [0-9a-z],
task- + 13; ARNs arn:aws:partnercentral:us-east-1:ACCOUNT:catalog/CATALOG/...; ACCOUNT 123456789012):
  Selling  CreateOpportunity: new Id/Arn, ReviewStatus "Pending Submission"; idempotent by
             ClientToken (same token+body: the same answer; other body: ConflictException).
           StartEngagementFromOpportunityTask: the opportunity (same Catalog) becomes "Submitted";
             TaskStatus COMPLETE with TaskId/TaskArn/StartTime/OpportunityId/EngagementId; idempotent
             by ClientToken; a second start with another token: ConflictException (already submitted).
           GetOpportunity: the stored body as the output shape has it + Id, Arn, CreatedDate,
             LastModifiedDate, LifeCycle (ReviewStatus, ReviewComments, ReviewStatusReason),
             RelatedEntityIdentifiers ({}).
           ListOpportunities: Catalog; LastModifiedDate After (on or after, as the model's docs say:
             "returns opportunities created or updated on or after that date"; --after-last-modified
             strict makes it strictly after) / Before (strictly before); CreatedDate likewise;
             Identifier, LifeCycleReviewStatus, LifeCycleStage, CustomerCompanyName; Sort (default
             LastModifiedDate ASCENDING; the model names no default order); MaxResults 1-100,
             default 20 (the model's docs); opaque NextToken.
  Benefits CreateBenefitApplication: PENDING_SUBMISSION, Revision "1"; idempotent by ClientToken
             like CreateOpportunity; an AssociatedResources ARN of a stored opportunity links them.
           SubmitBenefitApplication: PENDING_SUBMISSION -> IN_REVIEW, else ConflictException.
           RecallBenefitApplication: IN_REVIEW/ACTION_REQUIRED -> PENDING_SUBMISSION, else Conflict;
             a repeated ClientToken answers OK again.
           CancelBenefitApplication: PENDING_SUBMISSION/IN_REVIEW/ACTION_REQUIRED -> CANCELED, else
             Conflict; a repeated ClientToken answers OK again.
           Get/ListBenefitApplications (Catalog, Status, BenefitIdentifiers, FulfillmentTypes,
             AssociatedResourceArns, MaxResults default 20, NextToken), Get/ListBenefitAllocations
             (BenefitApplicationIdentifiers, Status, ...): an APPROVED application has one ACTIVE
             CREDITS allocation of the approved USD amount, CreatedAt = the approval.
           Every status change: UpdatedAt = now, Revision + 1, a line in the application's history.
  Unknown ids, or another Catalog: ResourceNotFoundException. Identifiers may be ids or ARNs.
  Any other operation of the models: 400 ValidationException "not supported by the stand-in"
  (recorded in `rejected`). "now" strictly increases, by at least 1 ms per change, in ms.

Control API (JSON, no auth, never throttled or counted):
  GET|POST /_stand-in/state          the whole state (top-level keys listed in STATE_KEYS).
  POST /_stand-in/review {"benefit_application_id", "status": IN_REVIEW|ACTION_REQUIRED|APPROVED|
       REJECTED, "amount_usd" (APPROVED only, required), "comments"?, "review_status"?}
       AWS's review of an IN_REVIEW/ACTION_REQUIRED application (else 409): status, StatusReason =
       comments, UpdatedAt, Revision + 1; the linked opportunity's ReviewStatus becomes "In review"/
       "Action Required"/"Approved"/"Rejected" (or review_status), ReviewComments = comments,
       LastModifiedDate = now; APPROVED makes the allocation. Answers the application as
       GetBenefitApplication would (UpdatedAt an RFC 3339 string), plus UpdatedAtEpochSeconds,
       Opportunity {Id, ReviewStatus, LastModifiedDate (RFC 3339), LastModifiedDateEpochSeconds} when
       linked, and Allocation {Id, Amount, CurrencyCode} when APPROVED.
  POST /_stand-in/throttle {"seconds": N}   every AWS call answers ThrottlingException for N s
       (counted in `throttled`); 0 ends it.
  POST /_stand-in/hold {"operation", "seconds"}   the next call of that operation is carried out and
       persisted, but answered N s later; recorded in `held`.
  POST /_stand-in/reset-counters   zeroes calls, received, rate windows, max_per_second,
       per_day, quota_exceeded, throttled (not resources, rejected or stand_in_bugs).

What it cannot check: the real services' business rules beyond the above (which members a stage
requires, review outcomes, benefit eligibility), IAM and the signature itself (the secret is not
checked: only the form and scope of the Authorization header), real reviewers' timing, EventBridge
events, and anything the models leave out.
"""

import argparse
import base64
import datetime
import hashlib
import importlib.util
import json
import os
import re
import signal
import sys
import threading
import time
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

try:
    import botocore.session
    from botocore.validate import ParamValidator
except ImportError as err:  # pragma: no cover - the message is the point
    print(f"ace-stand-in: botocore is not importable ({err}); run scripts/install-deps", file=sys.stderr)
    sys.exit(2)

_spec = importlib.util.spec_from_file_location("validate_ace", Path(__file__).resolve().parent / "validate-ace.py")
validate_ace = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(validate_ace)

ACCOUNT = "123456789012"
SELLING, BENEFITS = "partnercentral-selling", "partnercentral-benefits"
LIMITS = {"reads": (10, 100_000), "writes": (1, 10_000)}
WINDOW = 0.95  # seconds: 1 s less 50 ms of tolerance
STATE_KEYS = [
    "opportunities", "benefit_applications", "allocations", "calls", "rejected", "stand_in_bugs",
    "max_per_second", "max_attempted_per_second", "per_day", "quota_exceeded", "throttled",
    "received", "held", "holds", "throttle_until", "client_tokens", "counters", "windows", "last_now",
]
REVIEW_STATUS = {"IN_REVIEW": "In review", "ACTION_REQUIRED": "Action Required", "APPROVED": "Approved", "REJECTED": "Rejected"}
STATUS_CODE = {
    "ValidationException": 400, "UnknownOperationException": 400, "AccessDeniedException": 403,
    "ResourceNotFoundException": 404, "ConflictException": 409, "ThrottlingException": 429,
    "ServiceQuotaExceededException": 402, "InternalServerException": 500,
}


class AwsError(Exception):
    def __init__(self, code, message, **members):
        super().__init__(message)
        self.code, self.message, self.members = code, message, members
        self.errors, self.body = None, None


def fresh_state():
    state = {k: {} for k in ("opportunities", "benefit_applications", "allocations", "calls", "per_day",
                             "holds", "client_tokens", "counters", "windows")}
    state.update(rejected=[], stand_in_bugs=[], received=[], held=[], quota_exceeded=0, throttled=0,
                 throttle_until=0.0, last_now=0.0, max_per_second={"reads": 0, "writes": 0},
                 max_attempted_per_second={"reads": 0, "writes": 0})
    return state


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ts_format(shape):
    """The wire format of a timestamp shape: the model's timestampFormat, else JSON's epoch seconds."""
    return shape.serialization.get("timestampFormat") or "unixtimestamp"


def parse_ts(value):
    """Epoch seconds (ms) from a wire timestamp: an RFC 3339 string or a number."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a timestamp")
    if isinstance(value, (int, float)):
        return round(float(value), 3)
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)", str(value), re.IGNORECASE)
    if not m:
        raise ValueError(f"{value!r} is not an RFC 3339 date-time")
    whole = datetime.datetime.fromisoformat(m.group(1) + ("+00:00" if m.group(3).upper() == "Z" else m.group(3)))
    return round(whole.timestamp() + float("0." + (m.group(2) or "0")), 3)


def wire_ts(t, fmt):
    return rfc3339(t) if fmt == "iso8601" else t


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def wire_errors(value, shape, path):
    """Timestamps in the wire format the model names (ParamValidator takes strings and numbers)."""
    errors = []
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict) and not getattr(shape, "is_document_type", False):
        for name, member in shape.members.items():
            if name in value:
                errors += wire_errors(value[name], member, f"{path}.{name}")
    elif kind == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            errors += wire_errors(item, shape.member, f"{path}[{i}]")
    elif kind == "map" and isinstance(value, dict):
        for k, v in value.items():
            errors += wire_errors(v, shape.value, f"{path}[{k!r}]")
    elif kind == "timestamp":
        if ts_format(shape) == "iso8601":
            try:
                if not isinstance(value, str):
                    raise ValueError(f"{value!r} is not a string")
                parse_ts(value)
            except ValueError as err:
                errors.append(f"{path}: the model's timestampFormat is iso8601 (an RFC 3339 string): {err}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            errors.append(f"{path}: {value!r} is not an epoch-seconds number (JSON 1.0's default timestamps)")
    elif kind in ("integer", "long") and isinstance(value, bool):
        errors.append(f"{path}: {value!r} is not an integer")
    return errors


def shape_errors(value, shape, name):
    errors = []
    report = ParamValidator().validate(value, shape)
    if report.has_errors():
        errors += [line.strip() for line in report.generate_report().splitlines() if line.strip()]
        errors = [e for e in errors if not e.startswith("Parameter validation failed")]
    errors += validate_ace.strict_errors(value, shape, name)
    errors += wire_errors(value, shape, name)
    return errors


def project(value, shape):
    """`value` with only what `shape` has (recursively), for answers built from stored bodies."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        if getattr(shape, "is_document_type", False):
            return value
        return {k: project(v, shape.members[k]) for k, v in value.items() if k in shape.members and v is not None}
    if kind == "list" and isinstance(value, list):
        return [project(v, shape.member) for v in value]
    if kind == "timestamp" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return wire_ts(value, ts_format(shape))
    return value


def field_entry(error, service):
    """One ErrorList/FieldList entry from a validation message."""
    m = (re.search(r'input: "([^"]+)"', error) or re.search(r"parameter ([\w.\[\]]+)", error)
         or re.match(r"([\w.\[\]-]+):", error))
    field = m.group(1) if m else ("Content-Type" if error.startswith("Content-Type") else "body")
    if "Missing required" in error:
        code = "REQUIRED_FIELD_MISSING"
    elif "model's values" in error:
        code = "INVALID_ENUM_VALUE"
    elif "pattern" in error:
        code = "INVALID_STRING_FORMAT"
    elif "items, at most" in error:
        code = "TOO_MANY_VALUES"
    elif "Invalid length" in error or "at most" in error or "Invalid range" in error:
        code = "VALUE_OUT_OF_RANGE"
    else:
        code = "INVALID_VALUE"
    if service == SELLING:
        return {"FieldName": field, "Message": error[:1000], "Code": code}
    return {"Name": field, "Message": error[:1000], "Code": code}


def validation_error(service, errors, reason=None, body=None):
    err = _validation_error(service, errors, reason)
    err.errors, err.body = list(errors), body
    return err


def _validation_error(service, errors, reason=None):
    entries = [field_entry(e, service) for e in errors[:50]]
    message = "; ".join(errors)[:2000] or "invalid request"
    if service == SELLING:
        return AwsError("ValidationException", message, Reason=reason or "REQUEST_VALIDATION_FAILED", ErrorList=entries)
    return AwsError("ValidationException", message, Reason=reason or "fieldValidationFailed", FieldList=entries)


class StandIn:
    def __init__(self, state_file, access_key_id, region, after_inclusive):
        self.state_file = Path(state_file)
        self.access_key_id, self.region, self.after_inclusive = access_key_id, region, after_inclusive
        self.lock = threading.RLock()
        session = botocore.session.get_session()
        self.models = {SELLING: session.get_service_model(SELLING), BENEFITS: session.get_service_model(BENEFITS)}
        self.prefixes = {m.metadata["targetPrefix"]: name for name, m in self.models.items()}
        self.state = fresh_state()
        if self.state_file.exists() and self.state_file.stat().st_size:
            loaded = json.loads(self.state_file.read_text(encoding="utf-8"))
            self.state.update(loaded)

    # ---- persistence, time, ids -------------------------------------------------------------
    def save(self):
        tmp = self.state_file.with_name(self.state_file.name + ".tmp")
        tmp.write_text(json.dumps(self.state, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.state_file)

    def now(self):
        """Wall time in ms, at least 1 ms after the previous change."""
        t = max(round(time.time(), 3), round(self.state["last_now"] + 0.001, 3))
        self.state["last_now"] = t
        return t

    def next_id(self, kind, width=14):
        n = self.state["counters"].get(kind, 0) + 1
        self.state["counters"][kind] = n
        digits, alphabet, x = "", "0123456789abcdefghijklmnopqrstuvwxyz", n * 7919 + zlib.crc32(kind.encode())
        while x:
            x, r = divmod(x, 36)
            digits = alphabet[r] + digits
        return digits.rjust(width, "0")[-width:], n

    # ---- the AWS side -------------------------------------------------------------------------
    def check_headers(self, service, headers):
        model = self.models[service]
        if headers.get("Content-Type", "").split(";")[0].strip().lower() != "application/x-amz-json-1.0":
            raise validation_error(service, [f"Content-Type must be application/x-amz-json-1.0, not {headers.get('Content-Type')!r}"],
                                   None if service == SELLING else "cannotParse")
        auth = headers.get("Authorization", "")
        m = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
                         r"SignedHeaders=([a-z0-9;\-]+),\s*Signature=([0-9a-f]{64})", auth.strip())
        if not m:
            raise AwsError("AccessDeniedException", f"Authorization is not a SigV4 header: {auth[:200]!r}")
        key, day, region, signing, signed, _ = m.groups()
        signing_name = model.metadata.get("signingName", model.metadata["endpointPrefix"])
        problems = []
        if signing != signing_name:
            problems.append(f"credential scope names service {signing!r}, not {signing_name!r}")
        if region != self.region:
            problems.append(f"credential scope names region {region!r}; Partner Central is {self.region} only")
        if self.access_key_id and key != self.access_key_id:
            problems.append(f"access key {key!r} is not the stand-in's {self.access_key_id!r}")
        amz_date = headers.get("X-Amz-Date", "")
        if not re.fullmatch(r"\d{8}T\d{6}Z", amz_date):
            problems.append(f"X-Amz-Date missing or malformed: {amz_date!r}")
        elif amz_date[:8] != day:
            problems.append(f"X-Amz-Date {amz_date} is not on the credential's date {day}")
        for needed in ("host", "x-amz-date"):
            if needed not in signed.split(";"):
                problems.append(f"SignedHeaders lacks {needed}")
        if problems:
            raise AwsError("AccessDeniedException", "; ".join(problems))
        return key

    def check_quota(self, key, klass, now):
        windows = self.state["windows"].setdefault(key, {"reads": [], "writes": []})
        recent = [t for t in windows[klass] if now - t < WINDOW]
        windows[klass] = recent
        per_second, per_day = LIMITS[klass]
        self.state["max_attempted_per_second"][klass] = max(self.state["max_attempted_per_second"][klass], len(recent) + 1)
        day = self.state["per_day"].setdefault(datetime.datetime.fromtimestamp(now, datetime.timezone.utc).date().isoformat(),
                                               {"reads": 0, "writes": 0})
        if len(recent) >= per_second or day[klass] >= per_day:
            self.state["quota_exceeded"] += 1
            which = f"{per_second} per second" if len(recent) >= per_second else f"{per_day} per day"
            raise AwsError("ThrottlingException", f"Rate exceeded: {klass} are limited to {which} per partner account")
        recent.append(now)
        day[klass] += 1
        self.state["max_per_second"][klass] = max(self.state["max_per_second"][klass], len(recent))

    def handle_aws(self, headers, raw):
        """(status, headers, body, hold seconds)"""
        target = headers.get("X-Amz-Target", "")
        prefix, _, operation = target.partition(".")
        service = self.prefixes.get(prefix)
        at = time.time()
        with self.lock:
            hold = 0.0
            try:
                if service is None or operation not in self.models[service].operation_names:
                    raise AwsError("UnknownOperationException", f"unknown operation {target!r}")
                self.state["calls"][operation] = self.state["calls"].get(operation, 0) + 1
                key = self.check_headers(service, headers)
                if at < self.state["throttle_until"]:
                    self.state["throttled"] += 1
                    raise AwsError("ThrottlingException", "Rate exceeded (scripted throttle)")
                klass = "reads" if operation.startswith(("Get", "List")) else "writes"
                self.check_quota(key, klass, at)
                try:
                    body = json.loads(raw.decode("utf-8") or "{}")
                except ValueError as err:
                    raise validation_error(service, [f"the body is not JSON: {err}"], None if service == SELLING else "cannotParse")
                if not isinstance(body, dict):
                    raise validation_error(service, ["the body is not a JSON object"])
                op_model = self.models[service].operation_model(operation)
                errors = shape_errors(body, op_model.input_shape, operation)
                if errors:
                    raise validation_error(service, errors, body=body)
                handler = getattr(self, "op_" + operation, None)
                if handler is None:
                    raise validation_error(service, [f"{operation} is not supported by the stand-in"])
                answer = handler(body)
                out_errors = shape_errors(answer, op_model.output_shape, operation + "Output") if op_model.output_shape else []
                if out_errors:
                    self.state["stand_in_bugs"].append({"operation": operation, "errors": out_errors, "answer": answer, "at": at})
                    raise AwsError("InternalServerException", "the stand-in built an invalid answer (a stand_in_bug)")
                if operation in self.state["holds"]:
                    hold = float(self.state["holds"].pop(operation))
                    self.state["held"].append({"operation": operation, "seconds": hold, "at": at})
                status, payload, outcome = 200, answer, "ok"
            except AwsError as err:
                payload = {"Message": err.message, **err.members}
                model = self.models.get(service)
                if model is not None and err.code in model.shape_names:
                    bad = shape_errors(payload, model.shape_for(err.code), err.code)
                    if bad:
                        self.state["stand_in_bugs"].append({"operation": operation, "errors": bad, "answer": payload, "at": at})
                if err.code in ("ValidationException", "AccessDeniedException", "UnknownOperationException"):
                    rejection = {"operation": operation or target, "errors": err.errors or [err.message], "at": at}
                    if err.body is not None:
                        rejection["body"] = err.body
                    self.state["rejected"].append(rejection)
                payload = {"__type": err.code, **payload}
                status, outcome = STATUS_CODE.get(err.code, 400), err.code
            self.state["received"].append({"operation": operation or target, "at": at, "outcome": outcome})
            self.save()
        extra = {} if status == 200 else {"X-Amzn-ErrorType": payload["__type"]}
        return status, extra, payload, hold

    # ---- Selling ------------------------------------------------------------------------------
    def idempotent(self, operation, body, token_member="ClientToken"):
        """The earlier answer for this token and body, or None; Conflict for another body."""
        token = body.get(token_member)
        if token is None:
            return None, None
        key = f"{operation}:{body.get('Catalog')}:{token}"
        seen = self.state["client_tokens"].get(key)
        if seen is None:
            return None, key
        if seen["body"] != canonical(body):
            raise AwsError("ConflictException", f"ClientToken {token!r} was used by another {operation} request with a different body")
        return seen["answer"], key

    def remember(self, key, body, answer, resource):
        if key is not None:
            self.state["client_tokens"][key] = {"body": canonical(body), "answer": answer, "resource": resource}
        return answer

    def opportunity(self, catalog, identifier):
        opp = self.state["opportunities"].get(identifier)
        if opp is None:
            for candidate in self.state["opportunities"].values():
                if candidate["Arn"] == identifier:
                    opp = candidate
        if opp is None or opp["Catalog"] != catalog:
            raise AwsError("ResourceNotFoundException", f"opportunity {identifier} not found in catalog {catalog}")
        return opp

    def op_CreateOpportunity(self, body):
        earlier, key = self.idempotent("CreateOpportunity", body)
        if earlier is not None:
            self.state["opportunities"][earlier["Id"]]["creates"] += 1
            return earlier
        now = self.now()
        _, n = self.next_id("opportunity")
        oid = f"O{1_000_000_000 + n}"
        life = dict(body.get("LifeCycle") or {})
        life["ReviewStatus"] = "Pending Submission"
        opp = {
            "Id": oid, "Arn": f"arn:aws:partnercentral:{self.region}:{ACCOUNT}:catalog/{body['Catalog']}/opportunity/{oid}",
            "Catalog": body["Catalog"], "ReviewStatus": "Pending Submission", "LifeCycle": life, "body": body,
            "CreatedDate": now, "LastModifiedDate": now, "creates": 1, "client_token": body.get("ClientToken"),
            "engagement": None, "benefit_applications": [], "history": [{"ReviewStatus": "Pending Submission", "at": now}],
        }
        if body.get("PartnerOpportunityIdentifier") is not None:
            opp["PartnerOpportunityIdentifier"] = body["PartnerOpportunityIdentifier"]
        self.state["opportunities"][oid] = opp
        answer = {"Id": oid, "LastModifiedDate": rfc3339(now)}
        if "PartnerOpportunityIdentifier" in opp:
            answer["PartnerOpportunityIdentifier"] = opp["PartnerOpportunityIdentifier"]
        return self.remember(key, body, answer, oid)

    def set_review(self, opp, status, comments=None, reason=None):
        now = self.now()
        opp["ReviewStatus"] = opp["LifeCycle"]["ReviewStatus"] = status
        if comments is not None:
            opp["LifeCycle"]["ReviewComments"] = comments
        if reason is not None:
            opp["LifeCycle"]["ReviewStatusReason"] = reason
        opp["LastModifiedDate"] = now
        opp["history"].append({"ReviewStatus": status, "at": now})
        return now

    def op_StartEngagementFromOpportunityTask(self, body):
        earlier, key = self.idempotent("StartEngagementFromOpportunityTask", body)
        if earlier is not None:
            return earlier
        opp = self.opportunity(body["Catalog"], body["Identifier"])
        if opp["engagement"] is not None:
            raise AwsError("ConflictException", f"opportunity {opp['Id']} was already submitted (engagement {opp['engagement']['EngagementId']})")
        now = self.set_review(opp, "Submitted")
        task, _ = self.next_id("task", 13)
        engagement, _ = self.next_id("engagement")
        answer = {
            "TaskId": f"task-{task}", "TaskArn": f"arn:aws:partnercentral:{self.region}:{ACCOUNT}:catalog/{body['Catalog']}/engagement-from-opportunity-task/task-{task}",
            "StartTime": rfc3339(now), "TaskStatus": "COMPLETE", "OpportunityId": opp["Id"], "EngagementId": f"eng-{engagement}",
        }
        opp["engagement"] = {**answer, "AwsSubmission": body["AwsSubmission"]}
        return self.remember(key, body, answer, opp["Id"])

    def opportunity_view(self, opp):
        shape = self.models[SELLING].operation_model("GetOpportunity").output_shape
        view = {k: v for k, v in opp["body"].items() if k not in ("ClientToken", "LifeCycle")}
        view.update(Id=opp["Id"], Arn=opp["Arn"], Catalog=opp["Catalog"], LastModifiedDate=opp["LastModifiedDate"],
                    CreatedDate=opp["CreatedDate"], LifeCycle=opp["LifeCycle"], RelatedEntityIdentifiers={})
        return project(view, shape)

    def op_GetOpportunity(self, body):
        return self.opportunity_view(self.opportunity(body["Catalog"], body["Identifier"]))

    def op_ListOpportunities(self, body):
        opps = [o for o in self.state["opportunities"].values() if o["Catalog"] == body["Catalog"]]
        stamp = lambda v: None if v is None else parse_ts(v)
        after = stamp((body.get("LastModifiedDate") or {}).get("AfterLastModifiedDate"))
        before = stamp((body.get("LastModifiedDate") or {}).get("BeforeLastModifiedDate"))
        if after is not None:
            opps = [o for o in opps if o["LastModifiedDate"] > after or (self.after_inclusive and o["LastModifiedDate"] == after)]
        if before is not None:
            opps = [o for o in opps if o["LastModifiedDate"] < before]
        created = body.get("CreatedDate") or {}
        if created.get("AfterCreatedDate") is not None:
            opps = [o for o in opps if o["CreatedDate"] >= stamp(created["AfterCreatedDate"])]
        if created.get("BeforeCreatedDate") is not None:
            opps = [o for o in opps if o["CreatedDate"] < stamp(created["BeforeCreatedDate"])]
        if body.get("Identifier"):
            opps = [o for o in opps if o["Id"] in body["Identifier"]]
        if body.get("LifeCycleReviewStatus"):
            opps = [o for o in opps if o["ReviewStatus"] in body["LifeCycleReviewStatus"]]
        if body.get("LifeCycleStage"):
            opps = [o for o in opps if o["LifeCycle"].get("Stage") in body["LifeCycleStage"]]
        if body.get("CustomerCompanyName"):
            names = body["CustomerCompanyName"]
            opps = [o for o in opps if ((o["body"].get("Customer") or {}).get("Account") or {}).get("CompanyName") in names]
        sort = body.get("Sort") or {"SortBy": "LastModifiedDate", "SortOrder": "ASCENDING"}
        keys = {
            "LastModifiedDate": lambda o: (o["LastModifiedDate"], int(o["Id"][1:])),
            "CreatedDate": lambda o: (o["CreatedDate"], int(o["Id"][1:])),
            "Identifier": lambda o: (int(o["Id"][1:]),),
            "CustomerCompanyName": lambda o: (str(((o["body"].get("Customer") or {}).get("Account") or {}).get("CompanyName", "")), int(o["Id"][1:])),
            "TargetCloseDate": lambda o: (str(o["LifeCycle"].get("TargetCloseDate", "")), int(o["Id"][1:])),
        }
        opps.sort(key=keys[sort["SortBy"]], reverse=sort["SortOrder"] == "DESCENDING")
        page, token = self.paginate(opps, body, "ListOpportunities")
        summary_shape = self.models[SELLING].shape_for("OpportunitySummary")
        answer = {"OpportunitySummaries": [project(self.opportunity_view(o), summary_shape) for o in page]}
        if token:
            answer["NextToken"] = token
        return answer

    def paginate(self, items, body, operation):
        size = body.get("MaxResults", 20)
        start = 0
        if body.get("NextToken"):
            try:
                decoded = json.loads(base64.urlsafe_b64decode(body["NextToken"].encode()).decode())
                start = int(decoded["offset"])
                assert decoded["operation"] == operation
            except Exception:
                raise validation_error(SELLING if operation == "ListOpportunities" else BENEFITS, [f"NextToken: {body['NextToken']!r} is not a token this operation gave"])
        end = start + size
        token = None
        if end < len(items):
            token = base64.urlsafe_b64encode(json.dumps({"operation": operation, "offset": end}).encode()).decode()
        return items[start:end], token

    # ---- Benefits -----------------------------------------------------------------------------
    def application(self, catalog, identifier):
        app = self.state["benefit_applications"].get(identifier)
        if app is None:
            app = next((a for a in self.state["benefit_applications"].values() if a["Arn"] == identifier), None)
        if app is None or app["Catalog"] != catalog:
            raise AwsError("ResourceNotFoundException", f"benefit application {identifier} not found in catalog {catalog}")
        return app

    def set_status(self, app, status, reason=None):
        now = self.now()
        app["Status"] = status
        if reason is not None:
            app["StatusReason"] = reason
        app["UpdatedAt"] = now
        app["Revision"] = str(int(app["Revision"]) + 1)
        app["history"].append({"status": status, "at": now, "at_rfc3339": rfc3339(now)})
        return now

    def op_CreateBenefitApplication(self, body):
        earlier, key = self.idempotent("CreateBenefitApplication", body)
        if earlier is not None:
            self.state["benefit_applications"][earlier["Id"]]["creates"] += 1
            return earlier
        now = self.now()
        suffix, _ = self.next_id("benefit_application")
        aid = f"benappl-{suffix}"
        app = {
            "Id": aid, "Arn": f"arn:aws:partnercentral:{self.region}:{ACCOUNT}:catalog/{body['Catalog']}/benefit-application/{aid}",
            "Catalog": body["Catalog"], "BenefitId": body["BenefitIdentifier"], "Status": "PENDING_SUBMISSION",
            "Revision": "1", "CreatedAt": now, "UpdatedAt": now, "body": body, "creates": 1,
            "history": [{"status": "PENDING_SUBMISSION", "at": now, "at_rfc3339": rfc3339(now)}], "opportunity": None,
            "client_token": body["ClientToken"],
        }
        for member in ("Name", "Description", "FulfillmentTypes", "BenefitApplicationDetails", "AssociatedResources", "PartnerContacts"):
            if member in body:
                app[member] = body[member]
        for arn in body.get("AssociatedResources") or []:
            for opp in self.state["opportunities"].values():
                if opp["Arn"] == arn or arn.endswith(f"/opportunity/{opp['Id']}"):
                    app["opportunity"] = opp["Id"]
                    opp["benefit_applications"].append(aid)
        self.state["benefit_applications"][aid] = app
        return self.remember(key, body, {"Id": aid, "Arn": app["Arn"], "Revision": "1"}, aid)

    def op_SubmitBenefitApplication(self, body):
        app = self.application(body["Catalog"], body["Identifier"])
        if app["Status"] != "PENDING_SUBMISSION":
            raise AwsError("ConflictException", f"benefit application {app['Id']} is {app['Status']}, not PENDING_SUBMISSION")
        self.set_status(app, "IN_REVIEW")
        return {}

    def op_RecallBenefitApplication(self, body):
        earlier, key = self.idempotent("RecallBenefitApplication", body)
        if earlier is not None:
            return earlier
        app = self.application(body["Catalog"], body["Identifier"])
        if app["Status"] not in ("IN_REVIEW", "ACTION_REQUIRED"):
            raise AwsError("ConflictException", f"benefit application {app['Id']} is {app['Status']}; only IN_REVIEW or ACTION_REQUIRED can be recalled")
        self.set_status(app, "PENDING_SUBMISSION", body["Reason"])
        return self.remember(key, body, {}, app["Id"])

    def op_CancelBenefitApplication(self, body):
        earlier, key = self.idempotent("CancelBenefitApplication", body)
        if earlier is not None:
            return earlier
        app = self.application(body["Catalog"], body["Identifier"])
        if app["Status"] not in ("PENDING_SUBMISSION", "IN_REVIEW", "ACTION_REQUIRED"):
            raise AwsError("ConflictException", f"benefit application {app['Id']} is {app['Status']} and cannot be canceled")
        self.set_status(app, "CANCELED", body.get("Reason"))
        return self.remember(key, body, {}, app["Id"])

    def application_view(self, app):
        shape = self.models[BENEFITS].operation_model("GetBenefitApplication").output_shape
        return project({k: v for k, v in app.items() if k != "body"}, shape)

    def op_GetBenefitApplication(self, body):
        return self.application_view(self.application(body["Catalog"], body["Identifier"]))

    def op_ListBenefitApplications(self, body):
        apps = [a for a in self.state["benefit_applications"].values() if a["Catalog"] == body["Catalog"]]
        if body.get("Status"):
            apps = [a for a in apps if a["Status"] in body["Status"]]
        if body.get("BenefitIdentifiers"):
            apps = [a for a in apps if a["BenefitId"] in body["BenefitIdentifiers"]]
        if body.get("FulfillmentTypes"):
            apps = [a for a in apps if set(a.get("FulfillmentTypes") or []) & set(body["FulfillmentTypes"])]
        if body.get("AssociatedResourceArns"):
            apps = [a for a in apps if set(a.get("AssociatedResources") or []) & set(body["AssociatedResourceArns"])]
        apps.sort(key=lambda a: (a["CreatedAt"], a["Id"]))
        page, token = self.paginate(apps, body, "ListBenefitApplications")
        shape = self.models[BENEFITS].shape_for("BenefitApplicationSummary")
        answer = {"BenefitApplicationSummaries": [project({k: v for k, v in a.items() if k not in ("body", "BenefitApplicationDetails")}, shape) for a in page]}
        if token:
            answer["NextToken"] = token
        return answer

    def allocation(self, catalog, identifier):
        alloc = self.state["allocations"].get(identifier)
        if alloc is None:
            alloc = next((a for a in self.state["allocations"].values() if a["Arn"] == identifier), None)
        if alloc is None or alloc["Catalog"] != catalog:
            raise AwsError("ResourceNotFoundException", f"benefit allocation {identifier} not found in catalog {catalog}")
        return alloc

    def op_GetBenefitAllocation(self, body):
        shape = self.models[BENEFITS].operation_model("GetBenefitAllocation").output_shape
        return project(self.allocation(body["Catalog"], body["Identifier"]), shape)

    def op_ListBenefitAllocations(self, body):
        allocs = [a for a in self.state["allocations"].values() if a["Catalog"] == body["Catalog"]]
        if body.get("BenefitApplicationIdentifiers"):
            wanted = set(body["BenefitApplicationIdentifiers"])
            allocs = [a for a in allocs if a["BenefitApplicationId"] in wanted
                      or self.state["benefit_applications"].get(a["BenefitApplicationId"], {}).get("Arn") in wanted]
        if body.get("BenefitIdentifiers"):
            allocs = [a for a in allocs if a["BenefitId"] in body["BenefitIdentifiers"]]
        if body.get("Status"):
            allocs = [a for a in allocs if a["Status"] in body["Status"]]
        if body.get("FulfillmentTypes"):
            allocs = [a for a in allocs if a["FulfillmentType"] in body["FulfillmentTypes"]]
        allocs.sort(key=lambda a: (a["CreatedAt"], a["Id"]))
        page, token = self.paginate(allocs, body, "ListBenefitAllocations")
        shape = self.models[BENEFITS].shape_for("BenefitAllocationSummary")
        answer = {"BenefitAllocationSummaries": [project({**a, "FulfillmentTypes": [a["FulfillmentType"]]}, shape) for a in page]}
        if token:
            answer["NextToken"] = token
        return answer

    # ---- control ------------------------------------------------------------------------------
    def control(self, path, body):
        """(status, body)"""
        with self.lock:
            if path == "/_stand-in/state":
                return 200, self.state
            if path == "/_stand-in/throttle":
                seconds = float(body.get("seconds", 0))
                self.state["throttle_until"] = time.time() + seconds if seconds > 0 else 0.0
                self.save()
                return 200, {"throttle_until": self.state["throttle_until"]}
            if path == "/_stand-in/hold":
                operation = body.get("operation")
                if not any(operation in m.operation_names for m in self.models.values()):
                    return 400, {"error": f"unknown operation {operation!r}"}
                self.state["holds"][operation] = float(body.get("seconds", 0))
                self.save()
                return 200, {"holds": self.state["holds"]}
            if path == "/_stand-in/reset-counters":
                fresh = fresh_state()
                for k in ("calls", "received", "windows", "max_per_second", "max_attempted_per_second", "per_day", "quota_exceeded", "throttled"):
                    self.state[k] = fresh[k]
                self.save()
                return 200, {"reset": True}
            if path == "/_stand-in/review":
                return self.review(body)
        return 404, {"error": f"no control endpoint {path}"}

    def review(self, body):
        app = self.state["benefit_applications"].get(body.get("benefit_application_id"))
        if app is None:
            return 404, {"error": f"no benefit application {body.get('benefit_application_id')!r}"}
        status = body.get("status")
        if status not in REVIEW_STATUS:
            return 400, {"error": f"status must be one of {sorted(REVIEW_STATUS)}"}
        if app["Status"] not in ("IN_REVIEW", "ACTION_REQUIRED"):
            return 409, {"error": f"{app['Id']} is {app['Status']}: only an IN_REVIEW or ACTION_REQUIRED application is reviewed"}
        amount = body.get("amount_usd")
        if status == "APPROVED" and (isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount <= 0):
            return 400, {"error": "APPROVED needs a positive amount_usd"}
        if status != "APPROVED" and amount is not None:
            return 400, {"error": "amount_usd is for APPROVED only"}
        comments = body.get("comments")
        now = self.set_status(app, status, comments)
        answer = dict(self.application_view(app))
        answer["UpdatedAtEpochSeconds"] = now
        opp = self.state["opportunities"].get(app.get("opportunity") or "")
        if opp is not None:
            at = self.set_review(opp, body.get("review_status") or REVIEW_STATUS[status], comments)
            answer["Opportunity"] = {"Id": opp["Id"], "ReviewStatus": opp["ReviewStatus"], "LastModifiedDate": rfc3339(at), "LastModifiedDateEpochSeconds": at}
        if status == "APPROVED":
            suffix, _ = self.next_id("allocation")
            alloc_id = f"benalloc-{suffix}"
            money = {"Amount": str(int(amount)) if float(amount).is_integer() else f"{amount:.2f}", "CurrencyCode": "USD"}
            expires = now + 365 * 86400
            code = hashlib.sha256(alloc_id.encode()).hexdigest()[:12].upper()
            alloc = {
                "Id": alloc_id, "Catalog": app["Catalog"], "Arn": f"arn:aws:partnercentral:us-east-1:{ACCOUNT}:catalog/{app['Catalog']}/benefit-allocation/{alloc_id}",
                "Name": app.get("Name", app["Id"]), "Status": "ACTIVE", "BenefitApplicationId": app["Id"], "BenefitId": app["BenefitId"],
                "FulfillmentType": "CREDITS", "ApplicableBenefitIds": [app["BenefitId"]],
                "FulfillmentDetail": {"CreditDetails": {"AllocatedAmount": money, "IssuedAmount": money, "Codes": [{
                    "AwsAccountId": ACCOUNT, "Value": money, "AwsCreditCode": f"PC{code}", "Status": "ACTIVE", "IssuedAt": now, "ExpiresAt": expires}]}},
                "CreatedAt": now, "UpdatedAt": now, "StartsAt": now, "ExpiresAt": expires,
            }
            if comments:
                alloc["StatusReason"] = comments
            self.state["allocations"][alloc_id] = alloc
            app["allocation"] = alloc_id
            answer["Allocation"] = {"Id": alloc_id, "Amount": money["Amount"], "CurrencyCode": "USD"}
        self.save()
        return 200, answer


def make_handler(stand_in):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet: tests read stdout
            pass

        def reply(self, status, body, headers=None):
            data = json.dumps(body).encode()
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def read_body(self):
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def control(self, raw):
            try:
                body = json.loads(raw.decode() or "{}")
                if not isinstance(body, dict):
                    raise ValueError("not an object")
            except ValueError as err:
                return self.reply(400, {"error": f"control bodies are JSON objects: {err}"}, {"Content-Type": "application/json"})
            status, answer = stand_in.control(self.path.split("?")[0], body)
            with stand_in.lock:
                data = json.loads(json.dumps(answer))
            self.reply(status, data, {"Content-Type": "application/json"})

        def do_GET(self):
            self.read_body()
            if self.path.split("?")[0] == "/_stand-in/state":
                return self.control(b"")
            self.reply(404, {"error": "GET serves only /_stand-in/state"}, {"Content-Type": "application/json"})

        def do_POST(self):
            raw = self.read_body()
            if self.path.startswith("/_stand-in/"):
                return self.control(raw)
            status, headers, body, hold = stand_in.handle_aws(self.headers, raw)
            if hold > 0:
                time.sleep(hold)
            request_id = hashlib.sha1(f"{time.time()}{id(self)}".encode()).hexdigest()
            headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": request_id, **headers}
            self.reply(status, body, headers)

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state", required=True, help="the JSON file the state is kept in")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--access-key-id", default=None, help="the only access key id accepted")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--after-last-modified", choices=["inclusive", "strict"], default="inclusive",
                        help="AfterLastModifiedDate: on or after (AWS's docs, default) or strictly after")
    args = parser.parse_args()
    stand_in = StandIn(args.state, args.access_key_id, args.region, args.after_last_modified == "inclusive")
    server = ThreadingHTTPServer((args.host, args.port), make_handler(stand_in))
    server.daemon_threads = True

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"listening http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
