"""boto3 scenarios against thingd's AWS IoT control plane, run by the Rust tests in
crates/thingd/tests/aws/boto3.rs.

Usage: python3 boto3_scenarios.py SCENARIO [ARGS...]

The client is configured only by AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE (the files
`thingd serve` writes): botocore finds the endpoint, region and key there. Each scenario calls
the API step by step and records what every step observed, a response or an error, without
judging it; the last line printed is that record as one JSON object, which the Rust test checks.
"""

import datetime
import importlib
import json
import sys

import boto3
import botocore.auth
from botocore.exceptions import ClientError


def client(**kwargs):
    return boto3.session.Session().client("iot", **kwargs)


def call(method, **kwargs):
    """One API call: {"ok": response} or {"error": {code, status, class, message, ...}}."""
    try:
        response = method(**kwargs)
    except ClientError as e:
        error = {
            "code": e.response["Error"]["Code"],
            "message": e.response["Error"].get("Message", ""),
            "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
            # The class botocore raised: the service model's exception when it recognised the
            # code, ClientError otherwise.
            "class": type(e).__name__,
            "retries": e.response["ResponseMetadata"].get("RetryAttempts", 0),
        }
        # Members the model gives an error (ResourceAlreadyExistsException's resourceId, ...),
        # which botocore parses into the response.
        for key in ("resourceId", "resourceArn"):
            if key in e.response:
                error[key] = e.response[key]
        return {"error": error}
    response.pop("ResponseMetadata", None)
    return {"ok": response}


def pages(paginator_name, iot, key, **kwargs):
    """Every page of a paginated list: each page's items (by `key`) and whether it had a token."""
    observed = []
    for page in iot.get_paginator(paginator_name).paginate(**kwargs):
        observed.append(page[key])
    return observed


def things(iot, _args):
    r = {}
    r["create"] = call(iot.create_thing, thingName="py-lamp", attributePayload={"attributes": {"color": "red"}})
    r["create_same"] = call(iot.create_thing, thingName="py-lamp", attributePayload={"attributes": {"color": "red"}})
    r["create_other"] = call(iot.create_thing, thingName="py-lamp", attributePayload={"attributes": {"color": "blue"}})
    r["describe"] = call(iot.describe_thing, thingName="py-lamp")
    r["update"] = call(
        iot.update_thing,
        thingName="py-lamp",
        expectedVersion=1,
        attributePayload={"attributes": {"room": "hall"}, "merge": True},
    )
    r["update_stale"] = call(iot.update_thing, thingName="py-lamp", expectedVersion=1, attributePayload={"attributes": {}})
    r["describe_updated"] = call(iot.describe_thing, thingName="py-lamp")
    r["describe_missing"] = call(iot.describe_thing, thingName="no-such-thing")
    r["update_missing"] = call(iot.update_thing, thingName="no-such-thing", attributePayload={"attributes": {}})
    r["create_bad_name"] = call(iot.create_thing, thingName="bad name!")
    r["create_long_name"] = call(iot.create_thing, thingName="x" * 129)
    r["create_many_attributes"] = call(
        iot.create_thing, thingName="crowded", attributePayload={"attributes": {k: "v" for k in "abcd"}}
    )
    r["create_missing_type"] = call(iot.create_thing, thingName="typed", thingTypeName="no-such-type")
    for i in range(7):
        iot.create_thing(thingName=f"py-paged-{i}")
    r["pages"] = pages("list_things", iot, "things", PaginationConfig={"PageSize": 2})
    r["list_too_many"] = call(iot.list_things, maxResults=251)
    r["delete_stale"] = call(iot.delete_thing, thingName="py-lamp", expectedVersion=1)
    r["delete"] = call(iot.delete_thing, thingName="py-lamp", expectedVersion=2)
    r["delete_again"] = call(iot.delete_thing, thingName="py-lamp")
    r["describe_deleted"] = call(iot.describe_thing, thingName="py-lamp")
    return r


def thing_types_and_groups(iot, _args):
    r = {}
    props = {"thingTypeDescription": "A lamp", "searchableAttributes": ["room"]}
    r["create_type"] = call(
        iot.create_thing_type, thingTypeName="PyLamp", thingTypeProperties=props, tags=[{"Key": "team", "Value": "lighting"}]
    )
    r["create_type_same"] = call(iot.create_thing_type, thingTypeName="PyLamp", thingTypeProperties=props)
    r["create_type_other"] = call(
        iot.create_thing_type, thingTypeName="PyLamp", thingTypeProperties={"thingTypeDescription": "Other"}
    )
    r["create_type_bad_name"] = call(iot.create_thing_type, thingTypeName="Py Lamp")
    r["describe_type"] = call(iot.describe_thing_type, thingTypeName="PyLamp")
    r["create_typed_thing"] = call(iot.create_thing, thingName="py-typed", thingTypeName="PyLamp")
    r["delete_type_not_deprecated"] = call(iot.delete_thing_type, thingTypeName="PyLamp")
    r["deprecate"] = call(iot.deprecate_thing_type, thingTypeName="PyLamp")
    r["describe_deprecated"] = call(iot.describe_thing_type, thingTypeName="PyLamp")
    r["create_with_deprecated"] = call(iot.create_thing, thingName="py-typed-2", thingTypeName="PyLamp")
    r["delete_type_in_use"] = call(iot.delete_thing_type, thingTypeName="PyLamp")
    r["untype"] = call(iot.update_thing, thingName="py-typed", removeThingType=True)
    r["delete_type"] = call(iot.delete_thing_type, thingTypeName="PyLamp")
    r["describe_deleted_type"] = call(iot.describe_thing_type, thingTypeName="PyLamp")

    r["create_root"] = call(iot.create_thing_group, thingGroupName="py-building")
    r["create_child"] = call(
        iot.create_thing_group,
        thingGroupName="py-floor",
        parentGroupName="py-building",
        thingGroupProperties={"thingGroupDescription": "First floor"},
    )
    r["create_child_other"] = call(iot.create_thing_group, thingGroupName="py-floor", parentGroupName="py-building")
    r["create_orphan"] = call(iot.create_thing_group, thingGroupName="py-orphan", parentGroupName="no-such-group")
    r["describe_child"] = call(iot.describe_thing_group, thingGroupName="py-floor")
    r["describe_missing_group"] = call(iot.describe_thing_group, thingGroupName="no-such-group")
    r["update_group"] = call(
        iot.update_thing_group, thingGroupName="py-floor", thingGroupProperties={"thingGroupDescription": "One"}, expectedVersion=1
    )
    r["update_group_stale"] = call(
        iot.update_thing_group, thingGroupName="py-floor", thingGroupProperties={"thingGroupDescription": "Two"}, expectedVersion=1
    )
    for thing in ("py-member-a", "py-member-b", "py-member-c"):
        iot.create_thing(thingName=thing)
        r[f"add_{thing}"] = call(iot.add_thing_to_thing_group, thingGroupName="py-floor", thingName=thing)
    r["add_same_hierarchy"] = call(iot.add_thing_to_thing_group, thingGroupName="py-building", thingName="py-member-a")
    r["add_missing_thing"] = call(iot.add_thing_to_thing_group, thingGroupName="py-floor", thingName="no-such-thing")
    r["members_pages"] = pages(
        "list_things_in_thing_group", iot, "things", thingGroupName="py-floor", PaginationConfig={"PageSize": 2}
    )
    r["members_recursive"] = pages("list_things_in_thing_group", iot, "things", thingGroupName="py-building", recursive=True)
    r["remove"] = call(iot.remove_thing_from_thing_group, thingGroupName="py-floor", thingName="py-member-a")
    r["members_after_remove"] = call(iot.list_things_in_thing_group, thingGroupName="py-floor")
    r["groups_of_thing"] = call(iot.list_thing_groups_for_thing, thingName="py-member-b")
    r["delete_parent"] = call(iot.delete_thing_group, thingGroupName="py-building")
    r["delete_child"] = call(iot.delete_thing_group, thingGroupName="py-floor")
    r["delete_parent_after"] = call(iot.delete_thing_group, thingGroupName="py-building")
    return r


def certificates(iot, args):
    csr_path, = args
    r = {}
    r["create_keys"] = call(iot.create_keys_and_certificate, setAsActive=True)
    cert_id = r["create_keys"]["ok"]["certificateId"]
    cert_arn = r["create_keys"]["ok"]["certificateArn"]
    r["describe"] = call(iot.describe_certificate, certificateId=cert_id)
    with open(csr_path) as f:
        csr = f.read()
    r["from_csr"] = call(iot.create_certificate_from_csr, certificateSigningRequest=csr, setAsActive=True)
    r["from_bad_csr"] = call(iot.create_certificate_from_csr, certificateSigningRequest="not a CSR")
    for _ in range(3):
        iot.create_keys_and_certificate()
    r["pages"] = pages("list_certificates", iot, "certificates", ascendingOrder=True, PaginationConfig={"PageSize": 2})
    # The marker by hand, as a caller without the paginator does.
    first = iot.list_certificates(pageSize=2, ascendingOrder=True)
    second = iot.list_certificates(pageSize=2, ascendingOrder=True, marker=first["nextMarker"])
    r["manual_pages"] = [
        [c["certificateId"] for c in first["certificates"]],
        [c["certificateId"] for c in second["certificates"]],
    ]
    r["bad_marker"] = call(iot.list_certificates, marker="zz")

    r["delete_active"] = call(iot.delete_certificate, certificateId=cert_id)
    iot.create_thing(thingName="py-holder")
    r["attach"] = call(iot.attach_thing_principal, thingName="py-holder", principal=cert_arn)
    r["thing_principals"] = call(iot.list_thing_principals, thingName="py-holder")
    r["principal_things"] = call(iot.list_principal_things, principal=cert_arn)
    r["attach_missing_thing"] = call(iot.attach_thing_principal, thingName="no-such-thing", principal=cert_arn)
    r["attach_not_a_certificate"] = call(
        iot.attach_thing_principal, thingName="py-holder", principal="arn:aws:iam::000000000000:user/alice"
    )
    r["delete_thing_attached"] = call(iot.delete_thing, thingName="py-holder")
    r["deactivate"] = call(iot.update_certificate, certificateId=cert_id, newStatus="INACTIVE")
    r["describe_inactive"] = call(iot.describe_certificate, certificateId=cert_id)
    r["delete_attached"] = call(iot.delete_certificate, certificateId=cert_id)
    r["detach"] = call(iot.detach_thing_principal, thingName="py-holder", principal=cert_arn)
    r["principal_things_after"] = call(iot.list_principal_things, principal=cert_arn)
    r["delete"] = call(iot.delete_certificate, certificateId=cert_id)
    r["describe_deleted"] = call(iot.describe_certificate, certificateId=cert_id)
    r["describe_bad_id"] = call(iot.describe_certificate, certificateId="z" * 64)
    csr_id = r["from_csr"]["ok"]["certificateId"]
    r["revoke"] = call(iot.update_certificate, certificateId=csr_id, newStatus="REVOKED")
    r["reactivate_revoked"] = call(iot.update_certificate, certificateId=csr_id, newStatus="ACTIVE")
    r["bad_status"] = call(iot.update_certificate, certificateId=csr_id, newStatus="BOGUS")
    return r


def cas_tags_and_endpoint(iot, args):
    ca_path, verification_path, wrong_verification_path, device_path = args
    read = lambda path: open(path).read()  # noqa: E731
    r = {}
    r["registration_code"] = call(iot.get_registration_code)
    r["register_ca_wrong_code"] = call(
        iot.register_ca_certificate,
        caCertificate=read(ca_path),
        verificationCertificate=read(wrong_verification_path),
    )
    r["register_device_before_ca"] = call(iot.register_certificate, certificatePem=read(device_path), status="ACTIVE")
    r["register_ca"] = call(
        iot.register_ca_certificate,
        caCertificate=read(ca_path),
        verificationCertificate=read(verification_path),
        setAsActive=True,
        tags=[{"Key": "vendor", "Value": "acme"}],
    )
    ca_id = r["register_ca"]["ok"]["certificateId"]
    ca_arn = r["register_ca"]["ok"]["certificateArn"]
    r["register_ca_again"] = call(
        iot.register_ca_certificate, caCertificate=read(ca_path), verificationCertificate=read(verification_path)
    )
    r["describe_ca"] = call(iot.describe_ca_certificate, certificateId=ca_id)
    r["list_cas"] = call(iot.list_ca_certificates)
    r["register_device"] = call(iot.register_certificate, certificatePem=read(device_path), caCertificatePem=read(ca_path), status="ACTIVE")
    r["register_device_again"] = call(iot.register_certificate, certificatePem=read(device_path), status="ACTIVE")
    r["by_ca"] = call(iot.list_certificates_by_ca, caCertificateId=ca_id)
    r["ca_tags"] = call(iot.list_tags_for_resource, resourceArn=ca_arn)
    r["tag"] = call(iot.tag_resource, resourceArn=ca_arn, tags=[{"Key": "site", "Value": "lyon"}])
    r["untag"] = call(iot.untag_resource, resourceArn=ca_arn, tagKeys=["vendor"])
    r["tags_after"] = call(iot.list_tags_for_resource, resourceArn=ca_arn)
    r["tag_missing"] = call(
        iot.tag_resource, resourceArn="arn:aws:iot:us-east-1:000000000000:thinggroup/none", tags=[{"Key": "a", "Value": "b"}]
    )
    r["tag_reserved"] = call(iot.tag_resource, resourceArn=ca_arn, tags=[{"Key": "aws:owner", "Value": "me"}])
    r["delete_active_ca"] = call(iot.delete_ca_certificate, certificateId=ca_id)
    r["deactivate_ca"] = call(iot.update_ca_certificate, certificateId=ca_id, newStatus="INACTIVE")
    r["describe_inactive_ca"] = call(iot.describe_ca_certificate, certificateId=ca_id)
    r["delete_ca"] = call(iot.delete_ca_certificate, certificateId=ca_id)
    r["describe_deleted_ca"] = call(iot.describe_ca_certificate, certificateId=ca_id)
    r["endpoint"] = call(iot.describe_endpoint)
    r["endpoint_ats"] = call(iot.describe_endpoint, endpointType="iot:Data-ATS")
    r["endpoint_bad"] = call(iot.describe_endpoint, endpointType="iot:Nothing")
    return r


def refused_requests(iot, _args):
    r = {}
    r["good"] = call(iot.list_things)

    # The signature changed after signing: one hex digit of the Authorization header flipped.
    tampered = client()

    def tamper_signature(request, **_):
        header = request.headers["Authorization"]
        if isinstance(header, bytes):
            header = header.decode()
        last = header[-1]
        request.headers["Authorization"] = header[:-1] + ("0" if last != "0" else "1")

    tampered.meta.events.register("before-send.iot.*", tamper_signature)
    r["tampered_signature"] = call(tampered.list_things)

    # The body changed after signing (same length): the signed payload hash no longer holds,
    # and nothing is created.
    changed = client()

    def tamper_body(request, **_):
        if request.body:
            body = request.body if isinstance(request.body, bytes) else request.body.encode()
            request.body = body.replace(b"signed", b"forged")

    changed.meta.events.register("before-send.iot.CreateThing", tamper_body)
    r["tampered_body"] = call(
        changed.create_thing, thingName="py-signed", attributePayload={"attributes": {"note": "signed"}}
    )
    r["tampered_body_created"] = call(iot.describe_thing, thingName="py-signed")

    # An access key thingd does not know, and a known key with the wrong secret.
    session = boto3.session.Session()
    known = session.get_credentials()
    r["unknown_key"] = call(
        client(aws_access_key_id="AKIAUNKNOWNUNKNOWN00", aws_secret_access_key=known.secret_key).list_things
    )
    r["wrong_secret"] = call(
        client(aws_access_key_id=known.access_key, aws_secret_access_key="not-the-secret").list_things
    )

    # Signed 20 minutes in the past, then in the future: outside the 15 minutes allowed.
    # botocore signs with botocore.auth's signers, or with botocore.crt.auth's when awscrt is
    # installed (the AWS IoT Device SDK brings it); each module reads the clock it imported.
    modules = [botocore.auth]
    try:
        modules.append(importlib.import_module("botocore.crt.auth"))
    except ImportError:
        pass
    real_now = botocore.auth.get_current_datetime

    def shift_clock(minutes):
        for module in modules:
            module.get_current_datetime = lambda **kwargs: real_now(**kwargs) + datetime.timedelta(minutes=minutes)

    try:
        shift_clock(-20)
        r["twenty_minutes_ago"] = call(client().list_things)
        shift_clock(20)
        r["twenty_minutes_ahead"] = call(client().list_things)
        shift_clock(-10)
        r["ten_minutes_ago"] = call(client().list_things)
    finally:
        for module in modules:
            module.get_current_datetime = real_now
    return r


class ConfirmingReceiver:
    """A webhook on loopback that does what a destination's owner does: on AWS's confirmation
    POST it records the message and GETs the enableUrl as it is (no signature, no SDK)."""

    def __init__(self):
        import http.server
        import threading
        import urllib.request

        self.messages = []
        self.confirmed = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"null")
                receiver.messages.append(
                    {
                        "path": self.path,
                        "messageType": self.headers.get("x-amz-rules-engine-message-type"),
                        "arnHeader": self.headers.get("x-amz-rules-engine-destination-arn"),
                        "body": body,
                    }
                )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if isinstance(body, dict) and body.get("enableUrl"):
                    with urllib.request.urlopen(body["enableUrl"], timeout=10) as answer:
                        receiver.messages[-1]["enableStatus"] = answer.status
                    receiver.confirmed.set()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/iot"

    def close(self):
        self.server.shutdown()


def rules(iot, _args):
    """Get, list, replace, enable/disable and delete the rule the AWS CLI created (`cli_rule`),
    the errors of the Rules API, and a destination confirmed through its enableUrl."""
    r = {}
    r["get"] = call(iot.get_topic_rule, ruleName="cli_rule")
    r["create_second"] = call(
        iot.create_topic_rule,
        ruleName="py_rule",
        topicRulePayload={
            "sql": "SELECT * FROM 'py/+'",
            "actions": [{"kinesis": {"roleArn": "arn:aws:iam::000000000000:role/r", "streamName": "s"}}],
            "ruleDisabled": True,
        },
        tags="team=iot",
    )
    r["list_pages"] = pages("list_topic_rules", iot, "rules", PaginationConfig={"PageSize": 1})
    r["list_disabled"] = call(iot.list_topic_rules, ruleDisabled=True)
    r["list_topic"] = call(iot.list_topic_rules, topic="py/+")
    r["replace"] = call(
        iot.replace_topic_rule,
        ruleName="cli_rule",
        topicRulePayload={
            "sql": "SELECT temperature FROM 'sensors/#' WHERE temperature > 30",
            "description": "replaced by boto3",
            "actions": [
                {"firehose": {"roleArn": "arn:aws:iam::000000000000:role/r", "deliveryStreamName": "hot", "separator": "\n"}}
            ],
            "awsIotSqlVersion": "2016-03-23",
        },
    )
    r["get_replaced"] = call(iot.get_topic_rule, ruleName="cli_rule")
    r["disable"] = call(iot.disable_topic_rule, ruleName="cli_rule")
    r["get_disabled"] = call(iot.get_topic_rule, ruleName="cli_rule")
    r["enable"] = call(iot.enable_topic_rule, ruleName="cli_rule")
    r["bad_sql"] = call(
        iot.create_topic_rule, ruleName="bad_sql", topicRulePayload={"sql": "SELECT * FRM 'a'", "actions": []}
    )
    r["unsupported_action"] = call(
        iot.create_topic_rule,
        ruleName="with_lambda",
        topicRulePayload={
            "sql": "SELECT * FROM 'a'",
            "actions": [{"lambda": {"functionArn": "arn:aws:lambda:us-east-1:000000000000:function:f"}}],
        },
    )
    r["exists"] = call(
        iot.create_topic_rule, ruleName="py_rule", topicRulePayload={"sql": "SELECT * FROM 'a'", "actions": []}
    )
    r["get_missing"] = call(iot.get_topic_rule, ruleName="no_such_rule")

    receiver = ConfirmingReceiver()
    try:
        r["receiver_url"] = receiver.url
        r["create_destination"] = call(
            iot.create_topic_rule_destination,
            destinationConfiguration={"httpUrlConfiguration": {"confirmationUrl": receiver.url}},
        )
        r["confirmed_in_time"] = receiver.confirmed.wait(10)
        r["messages"] = receiver.messages
        arn = r["create_destination"].get("ok", {}).get("topicRuleDestination", {}).get("arn", "")
        r["get_destination"] = call(iot.get_topic_rule_destination, arn=arn)
        r["list_destinations"] = pages("list_topic_rule_destinations", iot, "destinationSummaries")
        r["disable_destination"] = call(iot.update_topic_rule_destination, arn=arn, status="DISABLED")
        r["get_disabled_destination"] = call(iot.get_topic_rule_destination, arn=arn)
        r["destination_exists"] = call(
            iot.create_topic_rule_destination,
            destinationConfiguration={"httpUrlConfiguration": {"confirmationUrl": receiver.url}},
        )
        r["confirm_unknown"] = call(iot.confirm_topic_rule_destination, confirmationToken="not-a-token")
        r["delete_destination"] = call(iot.delete_topic_rule_destination, arn=arn)
        r["get_deleted_destination"] = call(iot.get_topic_rule_destination, arn=arn)
    finally:
        receiver.close()

    r["delete"] = call(iot.delete_topic_rule, ruleName="cli_rule")
    r["get_deleted"] = call(iot.get_topic_rule, ruleName="cli_rule")
    r["delete_again"] = call(iot.delete_topic_rule, ruleName="cli_rule")
    return r


SCENARIOS = {
    "rules": rules,
    "things": things,
    "thing_types_and_groups": thing_types_and_groups,
    "certificates": certificates,
    "cas_tags_and_endpoint": cas_tags_and_endpoint,
    "refused_requests": refused_requests,
}


def main():
    scenario = SCENARIOS[sys.argv[1]]
    observed = scenario(client(), sys.argv[2:])
    print(json.dumps(observed, default=str))


if __name__ == "__main__":
    main()
