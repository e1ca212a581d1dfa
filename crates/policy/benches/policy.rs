//! Benchmarks of policy checks: the hot-path publish check against a connection's compiled
//! policies (10 policies of 10 statements each), compiling them, full evaluation as
//! TestAuthorization runs it, and parsing.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use thingd_policy::{
    Action, ConnectionPolicy, Context, NamedPolicy, PolicyDocument, ThingContext, evaluate,
};

const HEAD: &str = "arn:aws:iot:us-east-1:123456789012";

/// Policy `p` of ten statements: a mix of connect, publish, subscribe and receive grants with
/// wildcards and thing variables, and one deny, as a fleet's policies look.
fn document(p: usize) -> String {
    let statements = [
        format!(
            r#"{{"Effect":"Allow","Action":"iot:Connect","Resource":"{HEAD}:client/${{iot:Connection.Thing.ThingName}}"}}"#
        ),
        format!(
            r#"{{"Effect":"Allow","Action":"iot:Publish","Resource":["{HEAD}:topic/fleet{p}/${{iot:Connection.Thing.ThingName}}/telemetry","{HEAD}:topic/fleet{p}/${{iot:Connection.Thing.ThingName}}/events/*"]}}"#
        ),
        format!(
            r#"{{"Effect":"Allow","Action":"iot:Publish","Resource":"{HEAD}:topic/$aws/things/${{iot:Connection.Thing.ThingName}}/shadow/name/cfg{p}/*"}}"#
        ),
        format!(
            r#"{{"Effect":"Allow","Action":"iot:Subscribe","Resource":"{HEAD}:topicfilter/$aws/things/${{iot:Connection.Thing.ThingName}}/shadow/*"}}"#
        ),
        format!(
            r#"{{"Effect":"Allow","Action":"iot:Receive","Resource":"{HEAD}:topic/$aws/things/${{iot:Connection.Thing.ThingName}}/shadow/*"}}"#
        ),
        format!(
            r#"{{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"{HEAD}:topic/broadcast/region{p}/?/*"}}"#
        ),
        format!(
            r#"{{"Effect":"Deny","Action":"iot:Publish","Resource":"{HEAD}:topic/fleet{p}/*/admin"}}"#
        ),
        format!(
            r#"{{"Effect":"Allow","Action":"iot:Publish","Resource":"{HEAD}:topic/logs/{p}/*","Condition":{{"StringLike":{{"iot:ClientId":"sensor-*"}}}}}}"#
        ),
        format!(
            r#"{{"Effect":"Allow","Action":"iot:Publish","Resource":"{HEAD}:topic/debug/{p}/*","Condition":{{"Bool":{{"iot:Connection.Thing.IsAttached":"false"}}}}}}"#
        ),
        format!(
            r#"{{"Effect":"Allow","Action":"iot:RetainPublish","Resource":"{HEAD}:topic/state{p}/${{iot:ClientId}}"}}"#
        ),
    ];
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        statements.join(",")
    )
}

fn policies() -> Vec<NamedPolicy> {
    (0..10)
        .map(|p| NamedPolicy {
            name: format!("policy-{p}"),
            arn: format!("{HEAD}:policy/policy-{p}"),
            document: Arc::new(
                PolicyDocument::parse(&document(p)).expect("benchmark policies are valid"),
            ),
        })
        .collect()
}

fn context() -> Context {
    Context {
        region: "us-east-1".into(),
        account: "123456789012".into(),
        client_id: Some("sensor-0042".into()),
        source_ip: Some("203.0.113.9".parse().expect("valid address")),
        thing: Some(ThingContext {
            name: "sensor-0042".into(),
            ..ThingContext::default()
        }),
        ..Context::default()
    }
}

fn benches(c: &mut Criterion) {
    let policies = policies();
    let context = context();
    let compiled = ConnectionPolicy::compile(&policies, &context);
    // Allowed by the last policy's events statement; denied after scanning everything.
    let allowed_topic = "fleet9/sensor-0042/events/door/open";
    let denied_topic = "fleet3/other-device/telemetry";
    assert!(compiled.allows_topic(Action::Publish, allowed_topic));
    assert!(!compiled.allows_topic(Action::Publish, denied_topic));

    c.bench_function(
        "publish check, 10 policies × 10 statements (allowed)",
        |b| b.iter(|| compiled.allows_topic(Action::Publish, black_box(allowed_topic))),
    );
    c.bench_function(
        "publish check, 10 policies × 10 statements (denied)",
        |b| b.iter(|| compiled.allows_topic(Action::Publish, black_box(denied_topic))),
    );
    c.bench_function("compile, 10 policies × 10 statements", |b| {
        b.iter(|| ConnectionPolicy::compile(black_box(&policies), black_box(&context)))
    });
    let resource = format!("{HEAD}:topic/{allowed_topic}");
    c.bench_function("evaluate, 10 policies × 10 statements", |b| {
        b.iter(|| {
            evaluate(
                black_box(&policies),
                Action::Publish,
                black_box(&resource),
                black_box(&context),
            )
        })
    });
    let text = document(0);
    c.bench_function("parse, 10 statements", |b| {
        b.iter(|| PolicyDocument::parse(black_box(&text)))
    });
}

criterion_group!(policy, benches);
criterion_main!(policy);
