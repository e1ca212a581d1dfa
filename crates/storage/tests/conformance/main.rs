//! The store conformance suite: the contract of every `thingd_registry` Store trait method, written
//! once against `&dyn Store` and run against every backend (the in-memory and the file-backed
//! SQLite store here; the PostgreSQL store adds one `backend!` line), plus the SQLite store's own
//! file handling (durability, permissions, two stores on one file, error mapping).

#![allow(clippy::unwrap_used)]

mod access_keys;
mod certificates;
mod groups;
mod policies;
mod principals;
mod rules;
mod shadows;
mod sqlite;
mod support;
mod tags;
mod thing_types;
mod things;

/// Every generic case, by family. `cases!(callback!(args))` expands to
/// `callback!(args; family: [case, ...], ...)`, so that each backend gets every case without
/// repeating the list.
macro_rules! cases {
    ($callback:ident ! ($($args:tt)*)) => {
        $callback! { $($args)*;
            things: [
                insert_if_absent,
                missing,
                round_trip,
                replace_checks_the_version,
                concurrent_replaces_one_wins,
                concurrent_inserts_one_wins,
                delete_cascades,
                list_pages,
                list_filters,
                list_filters_page,
                count_of_type,
                reads_are_consistent,
            ],
            thing_types: [
                insert_if_absent,
                missing,
                round_trip,
                replace,
                delete,
                list_pages_and_name_filter,
            ],
            groups: [
                insert_if_absent,
                missing,
                round_trip,
                replace_checks_the_version,
                concurrent_replaces_one_wins,
                hierarchy,
                name_prefix,
                list_pages,
                membership,
                things_in_group_recursive,
                groups_of_thing,
                delete_cascades,
                delete_with_children_fails,
                reads_are_consistent,
            ],
            certificates: [
                insert_if_absent,
                missing,
                round_trip,
                replace_checks_the_version,
                concurrent_replaces_one_wins,
                delete,
                list_order,
                list_by_ca,
                ca_insert_if_absent,
                ca_missing,
                ca_round_trip,
                ca_replace_checks_the_version,
                ca_delete,
                ca_list_order,
            ],
            principals: [
                attach_and_detach,
                exclusive_flag,
                both_directions_page,
                missing,
                concurrent_attaches_one_wins,
            ],
            policies: [
                insert_if_absent,
                concurrent_inserts_one_wins,
                missing,
                round_trip,
                versions_and_the_default,
                version_ids_are_not_reused,
                version_limit,
                concurrent_versions_respect_the_limit,
                delete_version,
                delete_policy_conflicts,
                concurrent_delete_and_attach,
                list_pages,
                attach_and_detach,
                attach_limit,
                concurrent_attaches_respect_the_limit,
                detach_all,
                attachments_page,
                attached_policies,
                policies_with_default_versions,
                ancestors_of_groups,
            ],
            tags: [
                tag_upserts,
                untag,
                pages,
                per_resource,
            ],
            access_keys: [
                insert_if_absent,
                missing,
                list,
            ],
            shadows: [
                missing,
                round_trip,
                compare_and_swap,
                concurrent_writers_one_wins,
                delete_keeps_the_version,
                named_shadows_page,
                batch_mixed_outcomes,
                concurrent_batches_one_wins,
            ],
            rules: [
                rule_insert_if_absent,
                rule_missing,
                rule_round_trip,
                rule_replace_and_disable,
                rule_list_pages,
                destination_insert_if_absent,
                destination_missing,
                destination_round_trip,
                destination_update_compare_and_swap,
                destination_concurrent_updates_one_wins,
                destination_list_pages_and_delete,
            ],
        }
    };
}

/// One backend's tests: `mod $backend { mod $family { #[tokio::test] async fn $case() } }`,
/// each case on a fresh store from `$open` (an `async fn() -> impl Fixture`).
macro_rules! backend {
    ($backend:ident, $open:path; $($family:ident: [$($case:ident),* $(,)?]),* $(,)?) => {
        mod $backend {
            $(
                mod $family {
                    $(
                        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                        async fn $case() {
                            let fixture = $open().await;
                            crate::$family::$case(crate::support::Fixture::store(&fixture)).await;
                        }
                    )*
                }
            )*
        }
    };
}

cases!(backend!(sqlite_memory, crate::support::sqlite_memory));
cases!(backend!(sqlite_file, crate::support::sqlite_file));
