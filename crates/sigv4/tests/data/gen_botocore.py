#!/usr/bin/env python3
"""Generates botocore.json: requests signed by botocore, for thingd-sigv4's tests.

Each case is a real AWS IoT (or IoT Data Plane) operation called through a botocore client
pointed at http://127.0.0.1:8443, with the clock fixed at 2026-11-26T00:00:00Z. The request is
captured just before it would be sent (the 'before-send' event), with the canonical request
botocore signed (from its debug log), so the tests check both the signature and thingd's
canonicalisation against botocore's without needing Python.

    python3 crates/sigv4/tests/data/gen_botocore.py > crates/sigv4/tests/data/botocore.json
"""

import datetime
import json
import logging
import sys
from urllib.parse import urlsplit

import botocore
import botocore.auth
import botocore.session
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials

ACCESS_KEY_ID = "AKIDTHINGDEXAMPLE"
SECRET_ACCESS_KEY = "thingd/Secret+Key/EXAMPLE0123456789abcdefgh"
REGION = "us-east-1"
ENDPOINT = "http://127.0.0.1:8443"
NOW = datetime.datetime(2026, 11, 26, 0, 0, 0)

# botocore.auth reads the clock through this name.
botocore.auth.get_current_datetime = lambda remove_tzinfo=True: NOW


class CanonicalRequestLog(logging.Handler):
    """Keeps the last canonical request botocore.auth logs at debug level."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.last = None

    def emit(self, record):
        if record.msg == "CanonicalRequest:\n%s":
            self.last = record.args[0]


LOG = CanonicalRequestLog()
logging.getLogger("botocore.auth").addHandler(LOG)
logging.getLogger("botocore.auth").setLevel(logging.DEBUG)


class Raw:
    def stream(self, **_kwargs):
        yield b"{}"


def case_of(name, service, request):
    url = urlsplit(request.url)
    headers = [[k, v.decode() if isinstance(v, bytes) else v] for k, v in request.headers.items()]
    # Unsigned headers that vary between runs and machines: fixed, so the output is reproducible.
    unsigned_fixed = {
        "user-agent": "Botocore/" + botocore.__version__,
        "amz-sdk-invocation-id": "00000000-0000-4000-8000-000000000000",
    }
    headers = [[k, unsigned_fixed.get(k.lower(), v)] for k, v in headers]
    if not any(k.lower() == "host" for k, _ in headers):
        # urllib3 adds the Host header when sending; botocore signed the one of the URL.
        headers.append(["Host", url.netloc])
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    return {
        "name": name,
        "service": service,
        "region": REGION,
        "access_key_id": ACCESS_KEY_ID,
        "secret_access_key": SECRET_ACCESS_KEY,
        "now": NOW.strftime("%Y%m%dT%H%M%SZ"),
        "method": request.method,
        "path": url.path,
        "query": url.query or None,
        "headers": headers,
        "body_hex": body.hex(),
        "canonical_request": LOG.last,
    }


def client_cases():
    session = botocore.session.get_session()
    cases = []
    current = {}

    def capture(request, **_kwargs):
        cases.append(case_of(current["name"], current["service"], request))
        return AWSResponse(request.url, 200, {}, Raw())

    def call(service, signing_name, name, operation, **params):
        client = session.create_client(
            service,
            region_name=REGION,
            endpoint_url=ENDPOINT,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )
        client.meta.events.register("before-send", capture)
        current["name"], current["service"] = name, signing_name
        getattr(client, operation)(**params)

    call("iot", "iot", "create-thing", "create_thing", thingName="my-thing",
         attributePayload={"attributes": {"color": "blue"}})
    call("iot", "iot", "list-things-query", "list_things", maxResults=5,
         attributeName="color", attributeValue="dark blue+green/é")
    call("iot", "iot", "attach-thing-principal", "attach_thing_principal",
         thingName="my-thing",
         principal="arn:aws:iot:us-east-1:123456789012:cert/"
                   "2f1e9a6b4c1d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f")
    call("iot", "iot", "describe-thing-colon", "describe_thing", thingName="my:thing")
    call("iot", "iot", "describe-thing-special", "describe_thing",
         thingName="a b+c%d/é~!*'()")
    call("iot-data", "iotdata", "publish-slash-topic", "publish",
         topic="devices/dev 1/telemetry", qos=1, payload=b'{"temp": 21.5}')
    call("iot-data", "iotdata", "get-thing-shadow", "get_thing_shadow",
         thingName="my:thing", shadowName="shadow 1")
    return cases


def presigned_case():
    """A presigned MQTT-over-WebSocket URL (service iotdevicegateway), as SigV4QueryAuth makes."""
    request = AWSRequest(method="GET", url=ENDPOINT + "/mqtt")
    request.context["timestamp"] = NOW.strftime("%Y%m%dT%H%M%SZ")
    auth = botocore.auth.SigV4QueryAuth(
        Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "iotdevicegateway", REGION, expires=300
    )
    auth.add_auth(request)
    return case_of("presigned-mqtt", "iotdevicegateway", request.prepare())


def main():
    cases = client_cases() + [presigned_case()]
    json.dump({"generator": "botocore " + botocore.__version__, "cases": cases},
              sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
