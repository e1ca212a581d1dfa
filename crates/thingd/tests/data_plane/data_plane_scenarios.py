"""boto3's `iot-data` client against thingd's data plane on the API listener, run by the Rust
tests in crates/thingd/tests/data_plane/boto3.rs.

Usage: python3 data_plane_scenarios.py SCENARIO

The client is configured only by AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE (the files
`thingd serve` writes; its `iot_data_plane` endpoint is the API listener). Each step records what
it observed, a response or an error, without judging it; the last line printed is that record as
one JSON object, which the Rust test checks.
"""

import base64
import json
import sys
import urllib.error
import urllib.request

import boto3
import botocore.auth
import botocore.awsrequest
from botocore.exceptions import ClientError


def session():
    return boto3.session.Session()


def data_client():
    return session().client("iot-data")


def jsonable(value):
    """A response made printable: bytes as text (or base64), streams read."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        try:
            return {"text": value.decode("utf-8")}
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(value).decode()}
    if hasattr(value, "read"):
        return jsonable(value.read())
    return value


def call(method, **kwargs):
    """One call: {"ok": response} or {"error": {code, status, class, message, retries}}."""
    try:
        response = method(**kwargs)
    except ClientError as e:
        return {
            "error": {
                "code": e.response["Error"]["Code"],
                "message": e.response["Error"].get("Message", ""),
                "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
                "class": type(e).__name__,
                "retries": e.response["ResponseMetadata"].get("RetryAttempts", 0),
            }
        }
    response.pop("ResponseMetadata", None)
    return {"ok": jsonable(response)}


def shadow(response):
    """The JSON document of a shadow operation's payload."""
    if "ok" in response:
        return {"ok": json.loads(response["ok"]["payload"]["text"])}
    return response


def publishing(data):
    r = {}
    # The model's userProperties is a JSON value: boto3 sends the object it is given, encoded.
    r["publish_props"] = call(
        data.publish,
        topic="py/props",
        qos=1,
        payload=b'{"on":true}',
        contentType="application/json",
        responseTopic="py/replies",
        correlationData=base64.b64encode(b"request-1").decode(),
        payloadFormatIndicator="UTF8_DATA",
        messageExpiry=600,
        userProperties=[{"deviceName": "alpha"}, {"deviceCnt": "45"}],
    )
    # As AWS's documentation shows it: a JSON string.
    r["publish_string_props"] = call(
        data.publish,
        topic="py/props",
        payload=b"second",
        userProperties='[{"room":"hall"}]',
    )
    for i in range(5):
        r[f"retain_{i}"] = call(
            data.publish, topic=f"py/retained/{i}", qos=1, retain=True, payload=f"value-{i}".encode()
        )
    r["retain_props"] = call(
        data.publish,
        topic="py/retained/props",
        retain=True,
        payload=b"\x00\xff",
        userProperties=[{"k": "v"}],
    )
    r["get_retained"] = call(data.get_retained_message, topic="py/retained/3")
    r["get_retained_props"] = call(data.get_retained_message, topic="py/retained/props")
    r["get_retained_missing"] = call(data.get_retained_message, topic="py/retained/none")
    pages = []
    for page in data.get_paginator("list_retained_messages").paginate(PaginationConfig={"PageSize": 2}):
        pages.append([item["topic"] for item in page["retainedTopics"]])
    r["retained_pages"] = pages
    r["list_first"] = call(data.list_retained_messages, maxResults=4)
    r["clear"] = call(data.publish, topic="py/retained/0", retain=True, payload=b"")
    r["get_cleared"] = call(data.get_retained_message, topic="py/retained/0")
    # Invalid requests.
    r["publish_wildcard"] = call(data.publish, topic="py/+/x", payload=b"x")
    r["publish_too_large"] = call(data.publish, topic="py/big", payload=b"x" * (128 * 1024 + 1))
    r["publish_largest"] = call(data.publish, topic="py/big", payload=b"x" * (128 * 1024))
    r["publish_bad_props"] = call(data.publish, topic="py/x", payload=b"x", userProperties={"not": "an array"})
    return r


def shadows(data):
    r = {}
    r["get_missing"] = shadow(call(data.get_thing_shadow, thingName="py-lamp"))
    r["update"] = shadow(
        call(
            data.update_thing_shadow,
            thingName="py-lamp",
            payload=json.dumps({"state": {"desired": {"color": "red"}}, "clientToken": "py-1"}).encode(),
        )
    )
    r["get"] = shadow(call(data.get_thing_shadow, thingName="py-lamp"))
    r["conflict"] = call(
        data.update_thing_shadow,
        thingName="py-lamp",
        payload=json.dumps({"state": {"desired": {"color": "blue"}}, "version": 7}).encode(),
    )
    r["bad_json"] = call(data.update_thing_shadow, thingName="py-lamp", payload=b"{not json")
    r["state_too_large"] = call(
        data.update_thing_shadow,
        thingName="py-lamp",
        payload=json.dumps({"state": {"desired": {"blob": "x" * (9 * 1024)}}}).encode(),
    )
    r["body_too_large"] = call(data.update_thing_shadow, thingName="py-lamp", payload=b" " * (200 * 1024))
    for name in ["cfg", "firmware", "net"]:
        r[f"update_{name}"] = shadow(
            call(
                data.update_thing_shadow,
                thingName="py-lamp",
                shadowName=name,
                payload=json.dumps({"state": {"reported": {"name": name}}}).encode(),
            )
        )
    r["get_named"] = shadow(call(data.get_thing_shadow, thingName="py-lamp", shadowName="firmware"))
    first = call(data.list_named_shadows_for_thing, thingName="py-lamp", pageSize=2)
    r["list_first"] = first
    if "ok" in first and "nextToken" in first["ok"]:
        r["list_rest"] = call(
            data.list_named_shadows_for_thing, thingName="py-lamp", pageSize=2, nextToken=first["ok"]["nextToken"]
        )
    r["delete"] = shadow(call(data.delete_thing_shadow, thingName="py-lamp"))
    r["get_deleted"] = shadow(call(data.get_thing_shadow, thingName="py-lamp"))
    r["delete_named"] = shadow(call(data.delete_thing_shadow, thingName="py-lamp", shadowName="net"))
    r["list_after"] = call(data.list_named_shadows_for_thing, thingName="py-lamp")
    r["delete_missing"] = call(data.delete_thing_shadow, thingName="py-lamp", shadowName="nope")
    r["bad_thing_name"] = call(data.get_thing_shadow, thingName="bad:name!")
    return r


def signed(service, method, path, body=b""):
    """A request to the API listener signed by botocore's SigV4 signer for `service`, with the
    credentials and endpoint boto3 found: {"status", "code", "message"}."""
    s = session()
    data = s.client("iot-data")
    endpoint = data.meta.endpoint_url
    credentials = s.get_credentials()
    request = botocore.awsrequest.AWSRequest(method=method, url=endpoint + path, data=body)
    botocore.auth.SigV4Auth(credentials, service, s.region_name).add_auth(request)
    prepared = request.prepare()
    http = urllib.request.Request(prepared.url, data=body or None, method=method, headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(http, timeout=30) as response:
            return {"status": response.status, "code": None, "body": response.read().decode()}
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        body = json.loads(text) if text else {}
        return {"status": e.code, "code": e.headers.get("x-amzn-ErrorType"), "message": body.get("message", "")}


def signing_names(_data):
    r = {}
    r["iotdata"] = signed("iotdata", "POST", "/topics/py%2Fsigned?qos=1", b"a")
    r["iotdevicegateway"] = signed("iotdevicegateway", "POST", "/topics/py%2Fsigned?qos=1", b"b")
    # Scoped to the control plane: refused by the data plane, as AWS refuses it.
    r["iot"] = signed("iot", "POST", "/topics/py%2Fsigned?qos=1", b"c")
    r["iot_shadow"] = signed("iot", "GET", "/things/py-lamp/shadow")
    # And the other way round: the control plane refuses a data plane signature.
    r["control_plane_as_iotdata"] = signed("iotdata", "GET", "/things")
    r["control_plane_as_iot"] = signed("iot", "GET", "/things")
    return r


SCENARIOS = {"publishing": publishing, "shadows": shadows, "signing_names": signing_names}

if __name__ == "__main__":
    observed = SCENARIOS[sys.argv[1]](data_client())
    print(json.dumps(observed))
