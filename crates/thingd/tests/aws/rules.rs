//! The Rules API with real AWS clients: the AWS CLI creates a rule from a payload file
//! (`--topic-rule-payload file://...`) and sees AWS's errors; boto3 gets, lists, replaces,
//! disables, enables and deletes it, and creates a topic rule destination that a webhook on
//! loopback confirms by GETting the `enableUrl` of the confirmation POST it receives.

use std::ffi::OsString;

use serde_json::{Value, json};
use testkit::TestServer;

use crate::support::{AwsEnv, AwsError, arn, failed, ok};

const SQL_PARSE: AwsError = ("SqlParseException", 400);
const INVALID_REQUEST: AwsError = ("InvalidRequestException", 400);
const ALREADY_EXISTS: AwsError = ("ResourceAlreadyExistsException", 409);
const UNAUTHORIZED: AwsError = ("UnauthorizedException", 401);

/// The rule the AWS CLI creates: every field of the payload.
fn cli_payload() -> Value {
    json!({
        "sql": "SELECT *, topic(2) AS device FROM 'iot/+/telemetry'",
        "description": "created by the AWS CLI",
        "actions": [{"republish": {
            "roleArn": "arn:aws:iam::000000000000:role/republish",
            "topic": "processed/${topic(2)}",
            "qos": 1
        }}],
        "ruleDisabled": false,
        "awsIotSqlVersion": "2016-03-23",
        "errorAction": {"republish": {
            "roleArn": "arn:aws:iam::000000000000:role/republish",
            "topic": "errors/rules"
        }}
    })
}

#[tokio::test]
async fn the_aws_cli_and_boto3_manage_rules_and_destinations() {
    let server = TestServer::start().await.unwrap();
    let env = AwsEnv::of(&server);
    let dir = tempfile::tempdir().unwrap();

    // The AWS CLI creates the rule from a file, as the AWS docs show.
    let payload_file = dir.path().join("rule.json");
    std::fs::write(&payload_file, cli_payload().to_string()).unwrap();
    let mut file_arg = OsString::from("file://");
    file_arg.push(payload_file.as_os_str());
    let created = env
        .aws_json(&[
            OsString::from("iot"),
            "create-topic-rule".into(),
            "--rule-name".into(),
            "cli_rule".into(),
            "--topic-rule-payload".into(),
            file_arg.clone(),
        ])
        .await;
    assert_eq!(created, Value::Null, "create-topic-rule prints nothing");
    let got = env
        .aws_json(&["iot", "get-topic-rule", "--rule-name", "cli_rule"])
        .await;
    assert_eq!(got["ruleArn"], arn("rule", "cli_rule"));
    for field in [
        "sql",
        "description",
        "actions",
        "awsIotSqlVersion",
        "errorAction",
    ] {
        assert_eq!(got["rule"][field], cli_payload()[field], "{field}");
    }
    // The CLI shows AWS's errors: the same name again, and bad SQL with its position.
    let again = env
        .aws_error(&[
            OsString::from("iot"),
            "create-topic-rule".into(),
            "--rule-name".into(),
            "cli_rule".into(),
            "--topic-rule-payload".into(),
            file_arg,
        ])
        .await;
    assert!(again.contains("ResourceAlreadyExistsException"), "{again}");
    let bad = env
        .aws_error(&[
            "iot",
            "create-topic-rule",
            "--rule-name",
            "bad_rule",
            "--topic-rule-payload",
            r#"{"sql": "SELECT * FROM", "actions": []}"#,
        ])
        .await;
    assert!(
        bad.contains("(SqlParseException)") && bad.contains("line 1:"),
        "{bad}"
    );

    // boto3 takes it from there.
    let observed = env.boto3("rules", &[]).await;
    let rule = &ok(&observed, "get")["rule"];
    assert_eq!(rule["ruleName"], "cli_rule");
    assert_eq!(rule["sql"], cli_payload()["sql"]);
    assert_eq!(rule["actions"], cli_payload()["actions"]);
    assert_eq!(rule["ruleDisabled"], false);
    ok(&observed, "create_second");

    // Paginated by botocore's own paginator, one rule a page.
    let pages = observed["list_pages"].as_array().unwrap();
    let names: Vec<&str> = pages
        .iter()
        .flat_map(|page| page.as_array().unwrap())
        .map(|item| item["ruleName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cli_rule", "py_rule"]);
    assert_eq!(pages.len(), 2);
    let first = &pages[0][0];
    assert_eq!(first["topicPattern"], "iot/+/telemetry");
    assert_eq!(first["ruleArn"], arn("rule", "cli_rule"));
    let only = |step: &str| -> Vec<String> {
        ok(&observed, step)["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["ruleName"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(only("list_disabled"), ["py_rule"]);
    assert_eq!(only("list_topic"), ["py_rule"]);

    ok(&observed, "replace");
    let replaced = &ok(&observed, "get_replaced")["rule"];
    assert_eq!(replaced["description"], "replaced by boto3");
    assert_eq!(replaced["actions"][0]["firehose"]["separator"], "\n");
    assert_eq!(replaced["createdAt"], rule["createdAt"]);
    assert!(replaced.get("errorAction").is_none(), "{replaced}");
    ok(&observed, "disable");
    assert_eq!(ok(&observed, "get_disabled")["rule"]["ruleDisabled"], true);
    ok(&observed, "enable");

    // botocore raises the modeled exceptions.
    let bad_sql = failed(&observed, "bad_sql", SQL_PARSE);
    assert!(
        bad_sql["message"].as_str().unwrap().starts_with("line 1:"),
        "{bad_sql}"
    );
    let lambda = failed(&observed, "unsupported_action", INVALID_REQUEST);
    assert!(
        lambda["message"]
            .as_str()
            .unwrap()
            .contains("Action type 'lambda' is not supported by thingd"),
        "{lambda}"
    );
    failed(&observed, "exists", ALREADY_EXISTS);
    failed(&observed, "get_missing", UNAUTHORIZED);

    // The destination: created IN_PROGRESS, confirmed by the webhook through the enableUrl.
    let destination = &ok(&observed, "create_destination")["topicRuleDestination"];
    assert_eq!(destination["status"], "IN_PROGRESS");
    let destination_arn = destination["arn"].as_str().unwrap();
    assert!(
        destination_arn.starts_with("arn:aws:iot:us-east-1:000000000000:ruledestination/http/"),
        "{destination_arn}"
    );
    assert_eq!(observed["confirmed_in_time"], true, "{observed:#}");
    let message = &observed["messages"][0];
    let token = message["body"]["confirmationToken"].as_str().unwrap();
    assert_eq!(message["path"], format!("/iot/?confirmationToken={token}"));
    assert_eq!(message["messageType"], "DestinationConfirmation");
    assert_eq!(message["arnHeader"], destination_arn);
    assert_eq!(message["body"]["arn"], destination_arn);
    assert_eq!(message["body"]["messageType"], "DestinationConfirmation");
    assert_eq!(
        message["body"]["enableUrl"],
        format!("http://{}/confirmdestination/{token}", server.api)
    );
    assert_eq!(message["enableStatus"], 200);
    let confirmed = &ok(&observed, "get_destination")["topicRuleDestination"];
    assert_eq!(confirmed["status"], "ENABLED");
    assert_eq!(
        confirmed["httpUrlProperties"]["confirmationUrl"],
        observed["receiver_url"]
    );
    let listed = observed["list_destinations"].as_array().unwrap();
    assert_eq!(listed[0][0]["arn"], destination_arn);
    ok(&observed, "disable_destination");
    assert_eq!(
        ok(&observed, "get_disabled_destination")["topicRuleDestination"]["status"],
        "DISABLED"
    );
    failed(&observed, "destination_exists", ALREADY_EXISTS);
    failed(&observed, "confirm_unknown", INVALID_REQUEST);
    ok(&observed, "delete_destination");
    failed(&observed, "get_deleted_destination", UNAUTHORIZED);

    ok(&observed, "delete");
    failed(&observed, "get_deleted", UNAUTHORIZED);
    failed(&observed, "delete_again", UNAUTHORIZED);
    server.shutdown().await;
}
