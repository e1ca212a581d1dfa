//! Topic rules and HTTP topic rule destinations.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use thingd_registry::{
    Inserted, Page, PageRequest, RuleStore, StoreError, Timestamp, TopicRuleDestinationRecord,
    TopicRuleRecord,
};

use super::{SqliteStore, Statement, column, fetch_limit};

const RULE_COLUMNS: &str = "name, payload, disabled, created";
const DESTINATION_COLUMNS: &str =
    "arn, confirmation_url, status, status_reason, confirmation_token, created, updated";

fn rule_from_row(row: &SqliteRow) -> Result<TopicRuleRecord, StoreError> {
    Ok(TopicRuleRecord {
        name: column(row, "name")?,
        payload: column(row, "payload")?,
        disabled: column::<i64>(row, "disabled")? != 0,
        created: Timestamp(column(row, "created")?),
    })
}

fn destination_from_row(row: &SqliteRow) -> Result<TopicRuleDestinationRecord, StoreError> {
    Ok(TopicRuleDestinationRecord {
        arn: column(row, "arn")?,
        confirmation_url: column(row, "confirmation_url")?,
        status: column(row, "status")?,
        status_reason: column(row, "status_reason")?,
        confirmation_token: column(row, "confirmation_token")?,
        created: Timestamp(column(row, "created")?),
        updated: Timestamp(column(row, "updated")?),
    })
}

fn select_rule(name: &str) -> Statement {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {RULE_COLUMNS} FROM topic_rules WHERE name = $1"
    )))
    .bind(name.to_owned())
}

fn select_destination_where(column_name: &str, value: &str) -> Statement {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {DESTINATION_COLUMNS} FROM topic_rule_destinations WHERE {column_name} = $1"
    )))
    .bind(value.to_owned())
}

#[async_trait]
impl RuleStore for SqliteStore {
    async fn insert_topic_rule(
        &self,
        rule: &TopicRuleRecord,
    ) -> Result<Inserted<TopicRuleRecord>, StoreError> {
        let insert = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO topic_rules ({RULE_COLUMNS}) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO NOTHING"
        )))
        .bind(rule.name.clone())
        .bind(rule.payload.clone())
        .bind(i64::from(rule.disabled))
        .bind(rule.created.0);
        self.insert_if_absent(insert, select_rule(&rule.name), rule_from_row)
            .await
    }

    async fn topic_rule(&self, name: &str) -> Result<Option<TopicRuleRecord>, StoreError> {
        self.fetch_optional(select_rule(name), rule_from_row).await
    }

    async fn topic_rules(&self, page: &PageRequest) -> Result<Page<TopicRuleRecord>, StoreError> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RULE_COLUMNS} FROM topic_rules WHERE name > $1 ORDER BY name LIMIT {}",
            fetch_limit(page)
        )))
        .bind(page.after.clone().unwrap_or_default());
        self.fetch_page(query, page, rule_from_row, |rule| rule.name.clone())
            .await
    }

    async fn all_topic_rules(&self) -> Result<Vec<TopicRuleRecord>, StoreError> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RULE_COLUMNS} FROM topic_rules ORDER BY name"
        )));
        self.fetch_all(query, rule_from_row).await
    }

    async fn replace_topic_rule(
        &self,
        name: &str,
        payload: &str,
        disabled: bool,
    ) -> Result<bool, StoreError> {
        let update =
            sqlx::query("UPDATE topic_rules SET payload = $1, disabled = $2 WHERE name = $3")
                .bind(payload.to_owned())
                .bind(i64::from(disabled))
                .bind(name.to_owned());
        self.changed(update).await
    }

    async fn set_topic_rule_disabled(
        &self,
        name: &str,
        disabled: bool,
    ) -> Result<bool, StoreError> {
        let update = sqlx::query("UPDATE topic_rules SET disabled = $1 WHERE name = $2")
            .bind(i64::from(disabled))
            .bind(name.to_owned());
        self.changed(update).await
    }

    async fn delete_topic_rule(&self, name: &str) -> Result<bool, StoreError> {
        self.changed(sqlx::query("DELETE FROM topic_rules WHERE name = $1").bind(name.to_owned()))
            .await
    }

    async fn insert_topic_rule_destination(
        &self,
        destination: &TopicRuleDestinationRecord,
    ) -> Result<Inserted<TopicRuleDestinationRecord>, StoreError> {
        // DO NOTHING on any conflict: the URL's (the one that can happen) or the ARN's; the
        // existing row is then read by URL, falling back to the ARN.
        let insert = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO topic_rule_destinations ({DESTINATION_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING"
        )))
        .bind(destination.arn.clone())
        .bind(destination.confirmation_url.clone())
        .bind(destination.status.clone())
        .bind(destination.status_reason.clone())
        .bind(destination.confirmation_token.clone())
        .bind(destination.created.0)
        .bind(destination.updated.0);
        let existing = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DESTINATION_COLUMNS} FROM topic_rule_destinations \
             WHERE confirmation_url = $1 OR arn = $2 ORDER BY (confirmation_url = $1) DESC"
        )))
        .bind(destination.confirmation_url.clone())
        .bind(destination.arn.clone());
        self.insert_if_absent(insert, existing, destination_from_row)
            .await
    }

    async fn topic_rule_destination(
        &self,
        arn: &str,
    ) -> Result<Option<TopicRuleDestinationRecord>, StoreError> {
        self.fetch_optional(select_destination_where("arn", arn), destination_from_row)
            .await
    }

    async fn topic_rule_destination_by_token(
        &self,
        token: &str,
    ) -> Result<Option<TopicRuleDestinationRecord>, StoreError> {
        let query = select_destination_where("confirmation_token", token);
        self.fetch_optional(query, destination_from_row).await
    }

    async fn topic_rule_destinations(
        &self,
        page: &PageRequest,
    ) -> Result<Page<TopicRuleDestinationRecord>, StoreError> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DESTINATION_COLUMNS} FROM topic_rule_destinations WHERE arn > $1 \
             ORDER BY arn LIMIT {}",
            fetch_limit(page)
        )))
        .bind(page.after.clone().unwrap_or_default());
        self.fetch_page(query, page, destination_from_row, |d| d.arn.clone())
            .await
    }

    async fn all_topic_rule_destinations(
        &self,
    ) -> Result<Vec<TopicRuleDestinationRecord>, StoreError> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DESTINATION_COLUMNS} FROM topic_rule_destinations ORDER BY arn"
        )));
        self.fetch_all(query, destination_from_row).await
    }

    async fn update_topic_rule_destination(
        &self,
        destination: &TopicRuleDestinationRecord,
        expected_status: &str,
        expected_token: Option<&str>,
    ) -> Result<bool, StoreError> {
        // One statement: the checks and the write cannot be separated by another writer.
        let token_check = if expected_token.is_some() {
            " AND confirmation_token = $7"
        } else {
            ""
        };
        let mut update = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE topic_rule_destinations SET status = $1, status_reason = $2, \
             confirmation_token = $3, updated = $4 WHERE arn = $5 AND status = $6{token_check}"
        )))
        .bind(destination.status.clone())
        .bind(destination.status_reason.clone())
        .bind(destination.confirmation_token.clone())
        .bind(destination.updated.0)
        .bind(destination.arn.clone())
        .bind(expected_status.to_owned());
        if let Some(token) = expected_token {
            update = update.bind(token.to_owned());
        }
        self.changed(update).await
    }

    async fn delete_topic_rule_destination(&self, arn: &str) -> Result<bool, StoreError> {
        let delete =
            sqlx::query("DELETE FROM topic_rule_destinations WHERE arn = $1").bind(arn.to_owned());
        self.changed(delete).await
    }
}
