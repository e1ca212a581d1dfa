"""Two paho-mqtt clients against thingd: one subscribes, the other publishes; every message that
arrives is printed as one `RECV <json>` line. Driven by the interop tests (paho.rs, websocket.rs).

stdin is a JSON object:
  host, port           where to connect
  transport            "tcp" or "websockets"
  path                 the WebSocket path (websockets only)
  tls                  optional {"ca", "cert", "key"}: PEM file paths
  version              "3.1.1" or "5"
  filter, sub_qos      the subscription
  messages             [{"topic", "payload_hex", "qos", "retain", "properties": {...}}]
  timeout              seconds any single wait may take

Output lines: `CONNACK <json>`, `SUBACK <json>`, `RECV <json>`, then `DONE`, or `ERROR <text>`
and exit status 2. Nothing here sleeps: every wait is on an event with a timeout.
"""

import json
import sys
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

CFG = json.load(sys.stdin)
TIMEOUT = float(CFG.get("timeout", 30))
V5 = CFG["version"] == "5"
PROPERTY_NAMES = [
    "PayloadFormatIndicator",
    "MessageExpiryInterval",
    "ContentType",
    "ResponseTopic",
    "CorrelationData",
    "UserProperty",
    "SubscriptionIdentifier",
]


def emit(kind, value):
    print(kind + " " + json.dumps(value, sort_keys=True), flush=True)


def fail(text):
    print("ERROR " + text, flush=True)
    sys.exit(2)


def make_client(name):
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=name,
        protocol=mqtt.MQTTv5 if V5 else mqtt.MQTTv311,
        transport=CFG["transport"],
    )
    if CFG["transport"] == "websockets":
        client.ws_set_options(path=CFG["path"])
    if "tls" in CFG:
        tls = CFG["tls"]
        client.tls_set(ca_certs=tls["ca"], certfile=tls["cert"], keyfile=tls["key"])
    connected = threading.Event()

    def on_connect(_client, _userdata, _flags, reason_code, _properties):
        emit("CONNACK", {"client": name, "reason": str(reason_code), "failure": reason_code.is_failure})
        if not reason_code.is_failure:
            connected.set()

    client.on_connect = on_connect
    client.connect(CFG["host"], CFG["port"], keepalive=30)
    client.loop_start()
    if not connected.wait(TIMEOUT):
        fail(name + " did not connect")
    return client


def properties_of(message):
    out = {}
    props = message.properties
    if props is None:
        return out
    for name in PROPERTY_NAMES:
        if hasattr(props, name):
            value = getattr(props, name)
            if isinstance(value, (bytes, bytearray)):
                value = {"hex": bytes(value).hex()}
            elif name == "UserProperty":
                value = [[k, v] for (k, v) in value]
            out[name] = value
    return out


def publish_properties(spec):
    props = Properties(PacketTypes.PUBLISH)
    for name, value in spec.items():
        if name == "UserProperty":
            value = [tuple(pair) for pair in value]
        elif isinstance(value, dict) and "hex" in value:
            value = bytes.fromhex(value["hex"])
        setattr(props, name, value)
    return props


def main():
    expected = len(CFG["messages"])
    received = []
    lock = threading.Lock()
    all_in = threading.Event()
    subscribed = threading.Event()

    sub = make_client("paho-sub")

    def on_subscribe(_client, _userdata, _mid, reason_codes, _properties):
        emit("SUBACK", {"granted": [rc.value for rc in reason_codes]})
        subscribed.set()

    def on_message(_client, _userdata, message):
        record = {
            "topic": message.topic,
            "payload_hex": message.payload.hex(),
            "qos": message.qos,
            "retain": bool(message.retain),
            "properties": properties_of(message) if V5 else {},
        }
        emit("RECV", record)
        with lock:
            received.append(record)
            if len(received) >= expected:
                all_in.set()

    sub.on_subscribe = on_subscribe
    sub.on_message = on_message
    sub.subscribe(CFG["filter"], qos=CFG["sub_qos"])
    if not subscribed.wait(TIMEOUT):
        fail("no SUBACK")

    pub = make_client("paho-pub")
    for spec in CFG["messages"]:
        props = publish_properties(spec["properties"]) if V5 and spec.get("properties") else None
        info = pub.publish(
            spec["topic"],
            bytes.fromhex(spec["payload_hex"]),
            qos=spec["qos"],
            retain=spec.get("retain", False),
            properties=props,
        )
        info.wait_for_publish(TIMEOUT)
        if not info.is_published():
            fail("publish of " + spec["topic"] + " was not completed")

    if not all_in.wait(TIMEOUT):
        fail("received %d of %d messages" % (len(received), expected))
    pub.disconnect()
    sub.disconnect()
    pub.loop_stop()
    sub.loop_stop()
    print("DONE", flush=True)


main()
