//! Interop tests: thingd against real third-party MQTT clients (Mosquitto's command-line
//! clients, Eclipse Paho for Python, rumqttc, tokio-tungstenite, rustls) and the real `thingd`
//! binary. Needs `mosquitto_pub`/`mosquitto_sub` (Debian: mosquitto-clients) and `python3` with
//! paho-mqtt (PyPI: paho-mqtt); a missing tool fails the test that needs it, naming the package.

#![allow(clippy::unwrap_used)]

mod binary;
mod button;
mod crash;
mod metrics;
mod mosquitto;
mod paho;
mod principal;
mod regressions;
mod shutdown;
mod support;
mod tls;
mod websocket;
