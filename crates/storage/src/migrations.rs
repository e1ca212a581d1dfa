//! The schema's migrations, embedded in the binary, applied in order and recorded in
//! `schema_migrations` so each runs once.

/// One migration: its version and its SQL (statements separated by `;` at line ends).
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

/// Every migration, in order.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "registry",
        sql: include_str!("../migrations/0001_registry.sql"),
    },
    Migration {
        version: 2,
        name: "policies",
        sql: include_str!("../migrations/0002_policies.sql"),
    },
    Migration {
        version: 3,
        name: "shadows",
        sql: include_str!("../migrations/0003_shadows.sql"),
    },
    Migration {
        version: 4,
        name: "rules",
        sql: include_str!("../migrations/0004_rules.sql"),
    },
];

/// The statements of a migration: its SQL split at semicolons that end a line, comments and
/// blank statements dropped.
pub(crate) fn statements(sql: &str) -> impl Iterator<Item = String> + '_ {
    sql.split(";\n")
        .map(|statement| {
            statement
                .lines()
                .filter(|line| !line.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|statement| !statement.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_ordered_and_split_into_statements() {
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].version < pair[1].version);
        }
        let statements: Vec<_> = statements(MIGRATIONS[0].sql).collect();
        assert!(statements.len() > 10);
        assert!(
            statements.iter().all(|s| !s.contains(';')),
            "{statements:#?}"
        );
    }
}
