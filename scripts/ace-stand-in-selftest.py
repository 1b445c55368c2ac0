#!/usr/bin/env python3
"""Self-test of scripts/ace-stand-in.py with botocore's own clients (a few seconds).

Starts the stand-in on a free port with a temporary state file and drives it as an SDK would:
idempotent and conflicting CreateOpportunity, StartEngagementFromOpportunityTask, a benefit
application on the opportunity's ARN submitted and approved (control API) for 20000 USD, the
approval seen through ListOpportunities after a LastModifiedDate cursor, the allocation's amount,
a scripted throttle, an invalid request sent past client-side validation, a write-quota breach,
then a restart on the same port with the same state. Exit 0 when all holds, 1 with the reason.

  .tools/venv/bin/python scripts/ace-stand-in-selftest.py
"""

import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import botocore.config
import botocore.session
from botocore.exceptions import ClientError

SCRIPT = Path(__file__).resolve().parent / "ace-stand-in.py"
KEY, SECRET = "AKIDSANDPIPERTEST", "secret"


def start(state, port=0):
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--state", str(state), "--port", str(port), "--access-key-id", KEY],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("listening http://"):
        proc.kill()
        raise SystemExit(f"FAIL: the stand-in printed {line!r}, not a listening line")
    return proc, line.split(" ", 1)[1]


def stop(proc):
    proc.terminate()
    code = proc.wait(timeout=5)
    if code != 0:
        raise SystemExit(f"FAIL: the stand-in exited {code} on SIGTERM")


def control(url, path, body=None):
    request = urllib.request.Request(url + path, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="GET" if body is None else "POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def clients(url, validate=True):
    config = botocore.config.Config(retries={"total_max_attempts": 1}, parameter_validation=validate)
    session = botocore.session.get_session()
    make = lambda name: session.create_client(name, endpoint_url=url, region_name="us-east-1", aws_access_key_id=KEY,
                                              aws_secret_access_key=SECRET, config=config)
    return make("partnercentral-selling"), make("partnercentral-benefits")


def error_code(call):
    try:
        call()
    except ClientError as err:
        return err.response["Error"]["Code"]
    return None


LAST_WRITE = [0.0]


def paced(call):
    """Keeps to the write quota (1 per second): waits until 1 s after the previous write."""
    wait = LAST_WRITE[0] + 1.0 - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    try:
        return call()
    finally:
        LAST_WRITE[0] = time.monotonic()


def check(condition, what):
    if not condition:
        raise SystemExit(f"FAIL: {what}")
    print(f"ok  {what}")


def main():
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        state_file = Path(tmp) / "state.json"
        proc, url = start(state_file)
        try:
            selling, benefits = clients(url)
            opportunity = {
                "Catalog": "Sandbox", "ClientToken": "sandpiper-opp-1", "PartnerOpportunityIdentifier": "app-1",
                "Origin": "Partner Referral", "OpportunityType": "Net New Business", "NationalSecurity": "No",
                "PrimaryNeedsFromAws": ["Co-Sell - Technical Consultation"],
                "Customer": {"Account": {"CompanyName": "Acme Corp", "Industry": "Gaming", "WebsiteUrl": "https://acme.example",
                                         "Address": {"CountryCode": "US", "PostalCode": "94107"}}},
                "Project": {"Title": "Acme on AWS", "CustomerBusinessProblem": "Acme needs to move its game servers to AWS.",
                            "DeliveryModels": ["SaaS or PaaS"], "ExpectedCustomerSpend": [
                                {"Amount": "1000", "CurrencyCode": "USD", "Frequency": "Monthly", "TargetCompany": "AWS"}]},
                "LifeCycle": {"Stage": "Prospect", "TargetCloseDate": "2027-01-31"},
            }
            first = paced(lambda: selling.create_opportunity(**opportunity))
            again = paced(lambda: selling.create_opportunity(**opportunity))
            check(first["Id"] == again["Id"] and first["Id"].startswith("O"), f"one ClientToken, one opportunity ({first['Id']})")
            code = paced(lambda: error_code(lambda: selling.create_opportunity(**{**opportunity, "PartnerOpportunityIdentifier": "other"})))
            check(code == "ConflictException", f"the same token with another body: {code}")
            oid = first["Id"]
            task = paced(lambda: selling.start_engagement_from_opportunity_task(Catalog="Sandbox", ClientToken="sandpiper-start-1", Identifier=oid,
                                                                   AwsSubmission={"InvolvementType": "Co-Sell", "Visibility": "Full"}))
            check(task["TaskStatus"] == "COMPLETE" and task["OpportunityId"] == oid, f"engagement started ({task['TaskId']})")
            got = selling.get_opportunity(Catalog="Sandbox", Identifier=oid)
            check(got["LifeCycle"]["ReviewStatus"] == "Submitted", "GetOpportunity: Submitted")
            check(error_code(lambda: selling.get_opportunity(Catalog="AWS", Identifier=oid)) == "ResourceNotFoundException",
                  "another Catalog: ResourceNotFoundException")
            cursor = got["LastModifiedDate"]

            app = paced(lambda: benefits.create_benefit_application(Catalog="Sandbox", ClientToken="sandpiper-ben-1", BenefitIdentifier="ben-0123456789abcd",
                                                      Name="Acme MAP credits", FulfillmentTypes=["CREDITS"],
                                                      AssociatedResources=[got["Arn"]], BenefitApplicationDetails={"amount": 20000}))
            check(app["Id"].startswith("benappl-") and app["Revision"] == "1", f"benefit application {app['Id']}")
            paced(lambda: benefits.submit_benefit_application(Catalog="Sandbox", Identifier=app["Id"]))
            check(benefits.get_benefit_application(Catalog="Sandbox", Identifier=app["Id"])["Status"] == "IN_REVIEW", "submitted: IN_REVIEW")
            reviewed = control(url, "/_stand-in/review", {"benefit_application_id": app["Id"], "status": "APPROVED", "amount_usd": 20000,
                                                          "comments": "Approved for MAP"})
            check(reviewed["Status"] == "APPROVED" and reviewed["Opportunity"]["ReviewStatus"] == "Approved", "review scripted: APPROVED")

            listed = selling.list_opportunities(Catalog="Sandbox", LastModifiedDate={"AfterLastModifiedDate": cursor})
            summaries = listed["OpportunitySummaries"]
            check([s["Id"] for s in summaries] == [oid] and summaries[0]["LifeCycle"]["ReviewStatus"] == "Approved"
                  and summaries[0]["LastModifiedDate"] > cursor, "ListOpportunities after the cursor shows the approval")
            allocations = benefits.list_benefit_allocations(Catalog="Sandbox", BenefitApplicationIdentifiers=[app["Id"]])["BenefitAllocationSummaries"]
            check(len(allocations) == 1, "one allocation")
            allocation = benefits.get_benefit_allocation(Catalog="Sandbox", Identifier=allocations[0]["Id"])
            amount = allocation["FulfillmentDetail"]["CreditDetails"]["AllocatedAmount"]
            check(amount == {"Amount": "20000", "CurrencyCode": "USD"}, f"allocated {amount}")

            control(url, "/_stand-in/throttle", {"seconds": 5})
            check(error_code(lambda: selling.get_opportunity(Catalog="Sandbox", Identifier=oid)) == "ThrottlingException", "scripted throttle")
            control(url, "/_stand-in/throttle", {"seconds": 0})

            raw_selling, _ = clients(url, validate=False)
            code = error_code(lambda: raw_selling.get_opportunity(Catalog="Sandbox"))
            state = control(url, "/_stand-in/state")
            check(code == "ValidationException" and any(r["operation"] == "GetOpportunity" for r in state["rejected"]),
                  "a missing Identifier: ValidationException, recorded")

            paced(lambda: selling.create_opportunity(**{**opportunity, "ClientToken": "sandpiper-opp-2"}))
            code = error_code(lambda: selling.create_opportunity(**{**opportunity, "ClientToken": "sandpiper-opp-3"}))
            state = control(url, "/_stand-in/state")
            check(code == "ThrottlingException" and state["quota_exceeded"] == 1 and state["max_per_second"]["writes"] == 1,
                  "a second write within a second: ThrottlingException, counted")
            port = url.rsplit(":", 1)[1]
        finally:
            stop(proc)

        proc, url2 = start(state_file, port)
        try:
            check(url2 == url, f"restarted on {url2}")
            after = control(url, "/_stand-in/state")
            check(after["opportunities"].keys() == state["opportunities"].keys() and after["benefit_applications"][app["Id"]]["Status"] == "APPROVED",
                  "the state survives the restart")
            selling, _ = clients(url)
            check(paced(lambda: selling.create_opportunity(**opportunity))["Id"] == oid, "the ClientToken survives the restart")
            final = control(url, "/_stand-in/state")
            check(final["stand_in_bugs"] == [], "no stand_in_bugs")
            print("state keys:", sorted(final))
        finally:
            stop(proc)
    print(f"PASS in {time.monotonic() - began:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
