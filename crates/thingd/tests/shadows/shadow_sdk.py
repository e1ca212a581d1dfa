"""The AWS IoT Device SDK v2 for Python (awsiotsdk, on the AWS CRT) as a device of thingd's
Device Shadow service: connects with mutual TLS exactly as the SDK's samples do, only endpoint,
port and files changed, and drives a classic and a named shadow with awsiot.iotshadow's
IotShadowClient. Prints one JSON object with what every step observed; the checks are in
python_sdk.rs.

Usage: shadow_sdk.py PORT CERT KEY CA THING
"""

import json
import queue
import sys

from awscrt import mqtt
from awsiot import iotshadow, mqtt_connection_builder

TIMEOUT = 10
QOS = mqtt.QoS.AT_LEAST_ONCE


def main():
    port, cert, key, ca, thing = sys.argv[1:6]
    connection = mqtt_connection_builder.mtls_from_path(
        endpoint="localhost",
        port=int(port),
        cert_filepath=cert,
        pri_key_filepath=key,
        ca_filepath=ca,
        client_id=thing,
        clean_session=True,
        keep_alive_secs=30,
    )
    connection.connect().result(TIMEOUT)
    shadow = iotshadow.IotShadowClient(connection)
    inbox = {}

    def subscribe(name, subscribe_to, request):
        """Subscribes with one of the client's subscribe_to_* methods; messages go to inbox[name]."""
        inbox[name] = queue.Queue()
        future, _topic = subscribe_to(request=request, qos=QOS, callback=inbox[name].put)
        future.result(TIMEOUT)

    def receive(name):
        return inbox[name].get(timeout=TIMEOUT)

    def error(response):
        return {"code": response.code, "message": response.message, "clientToken": response.client_token}

    observed = {}
    classic = iotshadow.GetShadowSubscriptionRequest(thing_name=thing)
    subscribe("get_accepted", shadow.subscribe_to_get_shadow_accepted, classic)
    subscribe("get_rejected", shadow.subscribe_to_get_shadow_rejected, classic)
    updates = iotshadow.UpdateShadowSubscriptionRequest(thing_name=thing)
    subscribe("update_accepted", shadow.subscribe_to_update_shadow_accepted, updates)
    subscribe("update_rejected", shadow.subscribe_to_update_shadow_rejected, updates)
    subscribe(
        "delta",
        shadow.subscribe_to_shadow_delta_updated_events,
        iotshadow.ShadowDeltaUpdatedSubscriptionRequest(thing_name=thing),
    )
    deletes = iotshadow.DeleteShadowSubscriptionRequest(thing_name=thing)
    subscribe("delete_accepted", shadow.subscribe_to_delete_shadow_accepted, deletes)
    subscribe("delete_rejected", shadow.subscribe_to_delete_shadow_rejected, deletes)

    # 1. Get of a shadow never written.
    shadow.publish_get_shadow(iotshadow.GetShadowRequest(thing_name=thing, client_token="get-1"), QOS).result(TIMEOUT)
    observed["get_missing"] = error(receive("get_rejected"))

    # 2. An application sets desired; the device hears the delta.
    shadow.publish_update_shadow(
        iotshadow.UpdateShadowRequest(
            thing_name=thing,
            state=iotshadow.ShadowState(desired={"color": "green", "level": 3}),
            client_token="update-1",
        ),
        QOS,
    ).result(TIMEOUT)
    accepted = receive("update_accepted")
    observed["update_desired"] = {
        "version": accepted.version,
        "desired": accepted.state.desired,
        "clientToken": accepted.client_token,
        "has_timestamp": accepted.timestamp is not None,
    }
    delta = receive("delta")
    observed["delta"] = {"state": delta.state, "version": delta.version}

    # 3. The device reports the new state.
    shadow.publish_update_shadow(
        iotshadow.UpdateShadowRequest(
            thing_name=thing,
            state=iotshadow.ShadowState(reported={"color": "green", "level": 3}),
            client_token="update-2",
        ),
        QOS,
    ).result(TIMEOUT)
    accepted = receive("update_accepted")
    observed["update_reported"] = {"version": accepted.version, "reported": accepted.state.reported}

    # 4. A stale version is refused.
    shadow.publish_update_shadow(
        iotshadow.UpdateShadowRequest(
            thing_name=thing,
            state=iotshadow.ShadowState(reported={"color": "blue"}),
            version=1,
            client_token="update-3",
        ),
        QOS,
    ).result(TIMEOUT)
    observed["update_stale"] = error(receive("update_rejected"))

    # 5. Get again: desired and reported agree, no delta.
    shadow.publish_get_shadow(iotshadow.GetShadowRequest(thing_name=thing, client_token="get-2"), QOS).result(TIMEOUT)
    document = receive("get_accepted")
    observed["get"] = {
        "version": document.version,
        "desired": document.state.desired,
        "reported": document.state.reported,
        "delta": document.state.delta,
        "clientToken": document.client_token,
    }

    # 6. A named shadow of the same thing.
    named_updates = iotshadow.UpdateNamedShadowSubscriptionRequest(thing_name=thing, shadow_name="settings")
    subscribe("named_update_accepted", shadow.subscribe_to_update_named_shadow_accepted, named_updates)
    named_gets = iotshadow.GetNamedShadowSubscriptionRequest(thing_name=thing, shadow_name="settings")
    subscribe("named_get_accepted", shadow.subscribe_to_get_named_shadow_accepted, named_gets)
    subscribe(
        "named_delta",
        shadow.subscribe_to_named_shadow_delta_updated_events,
        iotshadow.NamedShadowDeltaUpdatedSubscriptionRequest(thing_name=thing, shadow_name="settings"),
    )
    shadow.publish_update_named_shadow(
        iotshadow.UpdateNamedShadowRequest(
            thing_name=thing,
            shadow_name="settings",
            state=iotshadow.ShadowState(desired={"mode": "auto"}),
            client_token="named-1",
        ),
        QOS,
    ).result(TIMEOUT)
    accepted = receive("named_update_accepted")
    observed["named_update"] = {"version": accepted.version, "desired": accepted.state.desired}
    observed["named_delta"] = {"state": receive("named_delta").state}
    shadow.publish_get_named_shadow(
        iotshadow.GetNamedShadowRequest(thing_name=thing, shadow_name="settings", client_token="named-2"),
        QOS,
    ).result(TIMEOUT)
    document = receive("named_get_accepted")
    observed["named_get"] = {"version": document.version, "desired": document.state.desired, "delta": document.state.delta}

    # 7. Delete the classic shadow; it is gone, the named one stays.
    shadow.publish_delete_shadow(iotshadow.DeleteShadowRequest(thing_name=thing, client_token="delete-1"), QOS).result(TIMEOUT)
    deleted = receive("delete_accepted")
    observed["delete"] = {"version": deleted.version, "clientToken": deleted.client_token}
    shadow.publish_get_shadow(iotshadow.GetShadowRequest(thing_name=thing, client_token="get-3"), QOS).result(TIMEOUT)
    observed["get_deleted"] = error(receive("get_rejected"))
    shadow.publish_delete_shadow(iotshadow.DeleteShadowRequest(thing_name=thing, client_token="delete-2"), QOS).result(TIMEOUT)
    observed["delete_again"] = error(receive("delete_rejected"))

    connection.disconnect().result(TIMEOUT)
    print(json.dumps(observed))


if __name__ == "__main__":
    main()
