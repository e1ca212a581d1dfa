//! `PrincipalStore`: principals attached to things, both ways round.

use thingd_registry::Store;

use crate::support::{NAMES, all, assert_pages, cert_id, thing};

fn cert_arn(n: u32) -> String {
    format!("arn:aws:iot:us-east-1:123456789012:cert/{}", cert_id(n))
}

async fn principals_of(store: &dyn Store, thing: &str) -> Vec<(String, bool)> {
    let page = store.principals_of_thing(thing, &all()).await.unwrap();
    assert_eq!(page.next, None);
    page.items
}

async fn things_of(store: &dyn Store, principal: &str) -> Vec<(String, bool)> {
    let page = store.things_of_principal(principal, &all()).await.unwrap();
    assert_eq!(page.next, None);
    page.items
}

/// Attaching and detaching say whether anything changed, and both directions agree.
pub(crate) async fn attach_and_detach(store: &dyn Store) {
    for name in ["t1", "t2"] {
        store.insert_thing(&thing(name)).await.unwrap();
    }
    let (p1, p2) = (cert_arn(1), cert_arn(2));
    assert!(store.attach_principal("t1", &p1, false).await.unwrap());
    assert!(
        !store.attach_principal("t1", &p1, false).await.unwrap(),
        "attached already"
    );
    assert!(store.attach_principal("t1", &p2, false).await.unwrap());
    assert!(store.attach_principal("t2", &p1, false).await.unwrap());
    assert_eq!(
        principals_of(store, "t1").await,
        vec![(p1.clone(), false), (p2.clone(), false)]
    );
    assert_eq!(
        things_of(store, &p1).await,
        vec![("t1".to_owned(), false), ("t2".to_owned(), false)]
    );

    assert!(store.detach_principal("t1", &p1).await.unwrap());
    assert!(
        !store.detach_principal("t1", &p1).await.unwrap(),
        "detached already"
    );
    assert!(
        !store.detach_principal("t2", &p2).await.unwrap(),
        "never attached"
    );
    assert_eq!(principals_of(store, "t1").await, vec![(p2.clone(), false)]);
    assert_eq!(things_of(store, &p1).await, vec![("t2".to_owned(), false)]);
    assert_eq!(things_of(store, &p2).await, vec![("t1".to_owned(), false)]);
    assert!(
        store.attach_principal("t1", &p1, false).await.unwrap(),
        "attachable again"
    );
}

/// The exclusive flag is kept per attachment and shown both ways; attaching again does not
/// change it.
pub(crate) async fn exclusive_flag(store: &dyn Store) {
    for name in ["t1", "t2"] {
        store.insert_thing(&thing(name)).await.unwrap();
    }
    let (p1, p2) = (cert_arn(1), cert_arn(2));
    assert!(store.attach_principal("t1", &p1, true).await.unwrap());
    assert!(store.attach_principal("t1", &p2, false).await.unwrap());
    assert!(store.attach_principal("t2", &p2, true).await.unwrap());
    assert_eq!(
        principals_of(store, "t1").await,
        vec![(p1.clone(), true), (p2.clone(), false)]
    );
    assert_eq!(things_of(store, &p1).await, vec![("t1".to_owned(), true)]);
    assert_eq!(
        things_of(store, &p2).await,
        vec![("t1".to_owned(), false), ("t2".to_owned(), true)]
    );

    assert!(!store.attach_principal("t1", &p1, false).await.unwrap());
    assert!(!store.attach_principal("t1", &p2, true).await.unwrap());
    assert_eq!(
        principals_of(store, "t1").await,
        vec![(p1.clone(), true), (p2.clone(), false)],
        "flags unchanged"
    );
}

/// Both directions list in byte order (principals, thing names), in pages of any size.
pub(crate) async fn both_directions_page(store: &dyn Store) {
    store.insert_thing(&thing("device")).await.unwrap();
    let mut principals: Vec<String> = (1..=6).map(cert_arn).collect();
    principals.extend([
        "us-east-1:0a1b2c3d-cognito-identity".to_owned(),
        "Arn:upper".to_owned(),
        "arn:aws:iot:eu-west-1:123456789012:cert/ff".to_owned(),
    ]);
    for (i, p) in principals.iter().enumerate().rev() {
        assert!(
            store
                .attach_principal("device", p, i % 2 == 0)
                .await
                .unwrap()
        );
    }
    let mut expected: Vec<(String, bool)> = principals
        .iter()
        .enumerate()
        .map(|(i, p)| (p.clone(), i % 2 == 0))
        .collect();
    expected.sort();
    assert_pages(&expected, true, async |p| {
        store.principals_of_thing("device", &p).await
    })
    .await;

    let shared = cert_arn(100);
    for (i, name) in NAMES.iter().enumerate() {
        store.insert_thing(&thing(name)).await.unwrap();
        assert!(
            store
                .attach_principal(name, &shared, i % 3 == 0)
                .await
                .unwrap()
        );
    }
    let mut expected: Vec<(String, bool)> = NAMES
        .iter()
        .enumerate()
        .map(|(i, n)| ((*n).to_owned(), i % 3 == 0))
        .collect();
    expected.sort();
    assert_pages(&expected, true, async |p| {
        store.things_of_principal(&shared, &p).await
    })
    .await;
}

/// Nothing attached: empty lists, nothing to detach.
pub(crate) async fn missing(store: &dyn Store) {
    assert!(principals_of(store, "nothing").await.is_empty());
    assert!(things_of(store, &cert_arn(1)).await.is_empty());
    assert!(
        !store
            .detach_principal("nothing", &cert_arn(1))
            .await
            .unwrap()
    );
    store.insert_thing(&thing("t")).await.unwrap();
    assert!(principals_of(store, "t").await.is_empty());
    assert!(!store.detach_principal("t", &cert_arn(1)).await.unwrap());
}

/// Of two attaches (or group additions) of one pair at once, exactly one reports the change.
pub(crate) async fn concurrent_attaches_one_wins(store: &dyn Store) {
    store.insert_thing(&thing("t")).await.unwrap();
    store
        .insert_thing_group(&crate::support::group("g", None))
        .await
        .unwrap();
    for n in 0..10 {
        let p = cert_arn(n);
        let (a, b) = tokio::join!(
            store.attach_principal("t", &p, false),
            store.attach_principal("t", &p, true)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(a ^ b, "{n}: {a} {b}");
        assert_eq!(
            things_of(store, &p).await,
            vec![("t".to_owned(), b)],
            "the winner's flag"
        );
    }
    for _ in 0..10 {
        let (a, b) = tokio::join!(
            store.add_thing_to_group("g", "t"),
            store.add_thing_to_group("g", "t")
        );
        assert!(a.unwrap() ^ b.unwrap());
        let (a, b) = tokio::join!(
            store.remove_thing_from_group("g", "t"),
            store.remove_thing_from_group("g", "t")
        );
        assert!(a.unwrap() ^ b.unwrap());
    }
}
