//! The `dynamoDBv2` action onto SQL tables: SQLite in the data directory and PostgreSQL at
//! 127.0.0.1:5432 (database `test`, a table per test), rows and columns made as keys appear,
//! refusals, a type the column does not take, and a locked table overflowing the queue.

use serde_json::{Value, json};
use sqlx::Row;
use testkit::TestServer;

use crate::support::*;

const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

fn put_item(table: &str) -> Value {
    json!({"dynamoDBv2": {"roleArn": "arn:aws:iam::000000000000:role/r", "putItem": {"tableName": table}}})
}

async fn sqlite(server: &TestServer) -> sqlx::SqlitePool {
    let path = server.data_dir().join("rules.db");
    sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(path))
        .await
        .expect("rules.db opens")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_become_rows_of_a_sqlite_table_that_grows_columns() {
    let server = start(|_| {}).await;
    put_rule(
        &server,
        "store",
        json!({
            "sql": "SELECT *, topic(2) AS device FROM 'db/+/reading'",
            "actions": [put_item("readings_${topic(2)}")]
        }),
    )
    .await;
    let mut device = Mqtt::connect(&server, "db-device").await;
    device
        .publish(
            "db/d1/reading",
            r#"{"temp": 21, "rh": 40.5, "ok": true, "meta": {"fw": "1.2"}, "note": null}"#,
        )
        .await;
    device
        .publish("db/d1/reading", r#"{"temp": 22, "extra": "new column"}"#)
        .await;
    actions_succeeded(&server, "dynamoDBv2", 2.0).await;

    let pool = sqlite(&server).await;
    let columns: Vec<(String, String)> =
        sqlx::query_as("SELECT name, type FROM pragma_table_info('readings_d1') ORDER BY cid")
            .fetch_all(&pool)
            .await
            .unwrap();
    let types: std::collections::HashMap<_, _> = columns.into_iter().collect();
    assert_eq!(types["temp"], "INTEGER");
    assert_eq!(types["rh"], "REAL");
    assert_eq!(types["ok"], "BOOLEAN");
    assert_eq!(types["meta"], "TEXT");
    assert_eq!(types["note"], "TEXT");
    assert_eq!(types["device"], "TEXT");
    assert_eq!(types["extra"], "TEXT");
    let rows =
        sqlx::query("SELECT temp, rh, ok, meta, extra, device FROM readings_d1 ORDER BY temp")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<i64, _>("temp"), 21);
    assert_eq!(rows[0].get::<f64, _>("rh"), 40.5);
    assert!(rows[0].get::<bool, _>("ok"));
    let meta: Value = serde_json::from_str(&rows[0].get::<String, _>("meta")).unwrap();
    assert_eq!(meta, json!({"fw": "1.2"}));
    assert_eq!(rows[0].get::<Option<String>, _>("extra"), None);
    assert_eq!(rows[1].get::<String, _>("extra"), "new column");
    assert_eq!(rows[1].get::<String, _>("device"), "d1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_that_are_not_rows_fail_into_the_error_action() {
    let server = start(|_| {}).await;
    put_rule(
        &server,
        "not_rows",
        json!({
            "sql": "SELECT VALUE temp FROM 'db/value'",
            "actions": [put_item("values")],
            "errorAction": error_to("errors/db")
        }),
    )
    .await;
    put_rule(
        &server,
        "bad_table",
        json!({
            "sql": "SELECT * FROM 'db/bad'",
            "actions": [put_item("${name}")],
            "errorAction": error_to("errors/db")
        }),
    )
    .await;
    let mut subscriber = Mqtt::errors_watcher(&server, "db-errors").await;
    let mut device = Mqtt::connect(&server, "db-bad").await;
    device.publish("db/value", r#"{"temp": 3}"#).await;
    let (_, body) = subscriber.next_json().await;
    let failures = check_error_payload(&body, "not_rows", "db/value", "db-bad", br#"{"temp": 3}"#);
    assert_eq!(failures[0]["failedAction"], "DynamoDBv2Action");
    assert_eq!(failures[0]["failedResource"], "values");
    assert!(
        failures[0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("not a JSON object")
    );
    let payload = br#"{"name": "bad\"table"}"#;
    device.publish("db/bad", &payload[..]).await;
    let (_, body) = subscriber.next_json().await;
    let failures = check_error_payload(&body, "bad_table", "db/bad", "db-bad", payload);
    assert!(
        failures[0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("may not contain"),
        "{failures:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_sqlite_database_overflows_the_queue() {
    let server = start(|rules| {
        rules.action_queue = 1;
        rules.action_concurrency = 1;
        rules.batch_size = 1;
    })
    .await;
    put_rule(
        &server,
        "locked",
        json!({"sql": "SELECT * FROM 'db/locked'", "actions": [put_item("locked")], "errorAction": error_to("errors/locked")}),
    )
    .await;
    let mut subscriber = Mqtt::errors_watcher(&server, "locked-errors").await;
    let mut device = Mqtt::connect(&server, "locked-device").await;
    device.publish("db/locked", r#"{"n": 0}"#).await;
    actions_succeeded(&server, "dynamoDBv2", 1.0).await;
    // Another writer holds the database: the action's next write waits for it.
    let pool = sqlite(&server).await;
    let mut lock = pool.begin_with("BEGIN EXCLUSIVE").await.unwrap();
    sqlx::query("INSERT INTO locked (n) VALUES (-1)")
        .execute(&mut *lock)
        .await
        .unwrap();
    for n in 1..=5 {
        device.publish("db/locked", format!("{{\"n\": {n}}}")).await;
    }
    loop {
        let (_, body) = subscriber.next_json().await;
        let failures = check_error_payload(
            &body,
            "locked",
            "db/locked",
            "locked-device",
            &base64_decode(&body["base64OriginalPayload"]),
        );
        if failures[0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("queue is full")
        {
            break;
        }
    }
    assert!(
        metric(
            &server,
            "thingd_rules_action_dropped_total{action=\"dynamoDBv2\"}"
        )
        .await
            >= 1.0
    );
    lock.rollback().await.unwrap();
}

fn base64_decode(value: &Value) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(value.as_str().unwrap())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_become_rows_of_a_postgresql_table_and_bad_values_fail() {
    let table = unique("readings");
    let server = start(|rules| rules.postgres_url = Some(POSTGRES.to_owned())).await;
    put_rule(
        &server,
        "pg",
        json!({
            "sql": "SELECT * FROM 'pg/in'",
            "actions": [put_item(&table)],
            "errorAction": error_to("errors/pg")
        }),
    )
    .await;
    let mut subscriber = Mqtt::errors_watcher(&server, "pg-errors").await;
    let mut device = Mqtt::connect(&server, "pg-device").await;
    device
        .publish(
            "pg/in",
            r#"{"temp": 21, "rh": 40.5, "ok": true, "meta": {"fw": "1.2"}, "device": "d1"}"#,
        )
        .await;
    device.publish("pg/in", r#"{"temp": 22, "later": 7}"#).await;
    actions_succeeded(&server, "dynamoDBv2", 2.0).await;

    let pool = sqlx::PgPool::connect(POSTGRES).await.unwrap();
    let types: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns WHERE table_name = $1",
    )
    .bind(&table)
    .fetch_all(&pool)
    .await
    .unwrap();
    let types: std::collections::HashMap<_, _> = types.into_iter().collect();
    assert_eq!(types["temp"], "bigint");
    assert_eq!(types["rh"], "double precision");
    assert_eq!(types["ok"], "boolean");
    assert_eq!(types["meta"], "text");
    assert_eq!(types["later"], "bigint");
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT temp, rh, ok, meta, later FROM \"{table}\" ORDER BY temp"
    )))
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<i64, _>("temp"), 21);
    assert_eq!(rows[0].get::<f64, _>("rh"), 40.5);
    assert!(rows[0].get::<bool, _>("ok"));
    let meta: Value = serde_json::from_str(&rows[0].get::<String, _>("meta")).unwrap();
    assert_eq!(meta, json!({"fw": "1.2"}));
    assert_eq!(rows[1].get::<Option<i64>, _>("later"), Some(7));

    // A value the column's type does not take fails that delivery only.
    device.publish("pg/in", r#"{"temp": "warm"}"#).await;
    let (_, body) = subscriber.next_json().await;
    let failures = check_error_payload(&body, "pg", "pg/in", "pg-device", br#"{"temp": "warm"}"#);
    assert_eq!(failures[0]["failedResource"], table.as_str());
    assert!(
        failures[0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("bigint"),
        "{failures:?}"
    );
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE \"{table}\"")))
        .execute(&pool)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_postgresql_table_overflows_the_queue() {
    let table = unique("locked");
    let server = start(|rules| {
        rules.postgres_url = Some(POSTGRES.to_owned());
        rules.action_queue = 1;
        rules.action_concurrency = 1;
        rules.batch_size = 1;
    })
    .await;
    put_rule(
        &server,
        "pg_locked",
        json!({"sql": "SELECT * FROM 'pg/locked'", "actions": [put_item(&table)], "errorAction": error_to("errors/pg")}),
    )
    .await;
    let mut subscriber = Mqtt::errors_watcher(&server, "pg-locked-errors").await;
    let mut device = Mqtt::connect(&server, "pg-locked").await;
    device.publish("pg/locked", r#"{"n": 0}"#).await;
    actions_succeeded(&server, "dynamoDBv2", 1.0).await;
    let pool = sqlx::PgPool::connect(POSTGRES).await.unwrap();
    let mut lock = pool.begin().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "LOCK TABLE \"{table}\" IN ACCESS EXCLUSIVE MODE"
    )))
    .execute(&mut *lock)
    .await
    .unwrap();
    for n in 1..=5 {
        device.publish("pg/locked", format!("{{\"n\": {n}}}")).await;
    }
    let (_, body) = subscriber.next_json().await;
    let failures = check_error_payload(
        &body,
        "pg_locked",
        "pg/locked",
        "pg-locked",
        &base64_decode(&body["base64OriginalPayload"]),
    );
    assert!(
        failures[0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("queue is full"),
        "{failures:?}"
    );
    lock.rollback().await.unwrap();
    // Released, the rows that waited are written.
    actions_succeeded(&server, "dynamoDBv2", 2.0).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE \"{table}\"")))
        .execute(&pool)
        .await
        .unwrap();
}
