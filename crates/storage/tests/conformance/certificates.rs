//! `CertificateStore`: device certificates and CA certificates.

use thingd_registry::{CaStatus, Certificate, CertificateStatus, Inserted, Store, Timestamp};

use crate::support::{
    all, assert_empty, assert_insert_if_absent, assert_missing, assert_one_replace_wins,
    assert_pages, ca_certificate, cert_id, certificate, ordered, page,
};

/// (number, created) of the certificates of the order cases: ties on creation time, inserted in
/// neither time nor id order.
const CREATED: &[(u32, i64)] = &[
    (5, 300),
    (1, 100),
    (9, 200),
    (3, 100),
    (2, 300),
    (7, 100),
    (8, 50),
    (4, 200),
    (6, 0),
    (10, -1),
    (11, 1_700_000_000_000),
];

/// `items` sorted by (created, id), reversed if descending: the order of the lists.
fn by_creation<T: Clone>(
    items: &[T],
    key: impl Fn(&T) -> (Timestamp, String),
    ascending: bool,
) -> Vec<T> {
    let mut items = items.to_vec();
    items.sort_by_key(|item| key(item));
    if !ascending {
        items.reverse();
    }
    items
}

fn certificate_key(c: &Certificate) -> (Timestamp, String) {
    (c.created, c.id.clone())
}

/// Insert-if-absent creates once, then answers `Exists` with the stored certificate, unchanged.
pub(crate) async fn insert_if_absent(store: &dyn Store) {
    let original = certificate(1, 1_000);
    let mut other = certificate(1, 2_000);
    other.pem = "other".into();
    other.status = CertificateStatus::Revoked;
    other.ca_certificate_id = Some(cert_id(99));
    other.version = 5;
    assert_insert_if_absent(
        &original,
        &other,
        async |c| store.insert_certificate(c).await,
        async || store.certificate(&original.id).await,
    )
    .await;
}

/// A missing certificate: none to read, replace or delete.
pub(crate) async fn missing(store: &dyn Store) {
    let absent = certificate(1, 1_000);
    assert_missing(
        async || store.certificate(&absent.id).await,
        async || store.replace_certificate(&absent, 1).await,
        async || store.delete_certificate(&absent.id).await,
    )
    .await;
    for ascending in [true, false] {
        assert_empty(
            store
                .list_certificates(None, &ordered(1000, ascending))
                .await,
        );
    }
}

/// Every field survives, every status.
pub(crate) async fn round_trip(store: &dyn Store) {
    let statuses = [
        CertificateStatus::Active,
        CertificateStatus::Inactive,
        CertificateStatus::Revoked,
        CertificateStatus::PendingActivation,
        CertificateStatus::PendingTransfer,
        CertificateStatus::RegisterInactive,
    ];
    let mut certificates = Vec::new();
    for (n, status) in (1..).zip(statuses) {
        let mut c = certificate(n, 1_700_000_000_000 + i64::from(n));
        c.status = status;
        c.ca_certificate_id = (n % 2 == 0).then(|| cert_id(1000 + n));
        c.not_before = Timestamp(-86_400_000);
        c.not_after = Timestamp(253_402_300_799_000);
        c.last_modified = Timestamp(1_800_000_000_000);
        c.version = i64::from(n) * 3;
        c.generation_id = format!("generation-{n}");
        c.pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            "A".repeat(1500)
        );
        assert_eq!(
            store.insert_certificate(&c).await.unwrap(),
            Inserted::Created
        );
        certificates.push(c);
    }
    for c in &certificates {
        assert_eq!(store.certificate(&c.id).await.unwrap().as_ref(), Some(c));
    }
    assert_eq!(
        store.list_certificates(None, &all()).await.unwrap().items,
        certificates
    );
}

/// Replace succeeds only at the expected version, and changes status, CA, modification time,
/// version and generation.
pub(crate) async fn replace_checks_the_version(store: &dyn Store) {
    let v1 = certificate(1, 1_000);
    store.insert_certificate(&v1).await.unwrap();
    let mut v2 = v1.clone();
    v2.status = CertificateStatus::Inactive;
    v2.ca_certificate_id = Some(cert_id(50));
    v2.last_modified = Timestamp(2_000);
    v2.version = 2;
    v2.generation_id = "gen-1-2".into();
    assert!(!store.replace_certificate(&v2, 0).await.unwrap());
    assert!(!store.replace_certificate(&v2, 2).await.unwrap());
    assert_eq!(store.certificate(&v1.id).await.unwrap().as_ref(), Some(&v1));
    assert!(store.replace_certificate(&v2, 1).await.unwrap());
    assert_eq!(store.certificate(&v1.id).await.unwrap().as_ref(), Some(&v2));

    let mut v3 = v2.clone();
    v3.status = CertificateStatus::Revoked;
    v3.ca_certificate_id = None;
    v3.version = 3;
    v3.generation_id = "gen-1-3".into();
    assert!(
        !store.replace_certificate(&v3, 1).await.unwrap(),
        "a stale version"
    );
    assert!(store.replace_certificate(&v3, 2).await.unwrap());
    assert_eq!(store.certificate(&v1.id).await.unwrap().as_ref(), Some(&v3));
    // The CA listing follows the change of CA.
    assert!(
        store
            .list_certificates(Some(&cert_id(50)), &all())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// Of two replaces with the same expected version, exactly one wins, round after round.
pub(crate) async fn concurrent_replaces_one_wins(store: &dyn Store) {
    let base = certificate(1, 1_000);
    store.insert_certificate(&base).await.unwrap();
    for round in 1..=20_i64 {
        let mut left = base.clone();
        left.version = round + 1;
        left.status = CertificateStatus::Inactive;
        left.generation_id = format!("left-{round}");
        let mut right = base.clone();
        right.version = round + 1;
        right.status = CertificateStatus::Revoked;
        right.generation_id = format!("right-{round}");
        assert_one_replace_wins(
            (&left, &right),
            round,
            async |c, expected| store.replace_certificate(c, expected).await,
            async || store.certificate(&base.id).await,
            &format!("round {round}"),
        )
        .await;
    }
}

/// Delete reports whether the certificate existed; others stay.
pub(crate) async fn delete(store: &dyn Store) {
    let (one, two) = (certificate(1, 1_000), certificate(2, 1_000));
    store.insert_certificate(&one).await.unwrap();
    store.insert_certificate(&two).await.unwrap();
    assert!(store.delete_certificate(&one.id).await.unwrap());
    assert!(!store.delete_certificate(&one.id).await.unwrap());
    assert_eq!(store.certificate(&one.id).await.unwrap(), None);
    assert_eq!(
        store.list_certificates(None, &all()).await.unwrap().items,
        vec![two]
    );
    assert_eq!(
        store.insert_certificate(&one).await.unwrap(),
        Inserted::Created,
        "the id can come back"
    );
}

/// Certificates list by creation time, ties broken by id, ascending and descending, in pages
/// of any size.
pub(crate) async fn list_order(store: &dyn Store) {
    let mut certificates = Vec::new();
    for &(n, created) in CREATED {
        let c = certificate(n, created);
        store.insert_certificate(&c).await.unwrap();
        certificates.push(c);
    }
    for ascending in [true, false] {
        let expected = by_creation(&certificates, certificate_key, ascending);
        assert_pages(&expected, ascending, async |p| {
            store.list_certificates(None, &p).await
        })
        .await;
    }
    // The first page of each order, explicitly: the oldest (lowest id first) and the newest.
    let first = store.list_certificates(None, &page(2)).await.unwrap().items;
    assert_eq!(
        first.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        vec![cert_id(10), cert_id(6)]
    );
    let newest = store
        .list_certificates(None, &ordered(4, false))
        .await
        .unwrap()
        .items;
    assert_eq!(
        newest.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        vec![cert_id(11), cert_id(5), cert_id(2), cert_id(9)]
    );
}

/// Certificates signed by one CA, in the same order and pages.
pub(crate) async fn list_by_ca(store: &dyn Store) {
    let (ca1, ca2) = (cert_id(1001), cert_id(1002));
    let mut signed = Vec::new();
    for (i, &(n, created)) in CREATED.iter().enumerate() {
        let mut c = certificate(n, created);
        c.ca_certificate_id = match i % 3 {
            0 => Some(ca1.clone()),
            1 => Some(ca2.clone()),
            _ => None,
        };
        store.insert_certificate(&c).await.unwrap();
        signed.push(c);
    }
    for ca in [&ca1, &ca2] {
        let of_ca: Vec<Certificate> = signed
            .iter()
            .filter(|c| c.ca_certificate_id.as_ref() == Some(ca))
            .cloned()
            .collect();
        assert!(of_ca.len() >= 3);
        for ascending in [true, false] {
            let expected = by_creation(&of_ca, certificate_key, ascending);
            assert_pages(&expected, ascending, async |p| {
                store.list_certificates(Some(ca), &p).await
            })
            .await;
        }
    }
    assert_empty(store.list_certificates(Some(&cert_id(1003)), &all()).await);
    assert_eq!(
        store
            .list_certificates(None, &all())
            .await
            .unwrap()
            .items
            .len(),
        CREATED.len()
    );
}

/// Insert-if-absent of a CA certificate creates once, then answers `Exists`, unchanged.
pub(crate) async fn ca_insert_if_absent(store: &dyn Store) {
    let mut original = ca_certificate(1, 1_000);
    original.auto_registration = true;
    let mut other = ca_certificate(1, 5_000);
    other.status = CaStatus::Inactive;
    other.pem = "other".into();
    assert_insert_if_absent(
        &original,
        &other,
        async |ca| store.insert_ca_certificate(ca).await,
        async || store.ca_certificate(&original.id).await,
    )
    .await;
    // CA and device certificates are separate: the same id may be both.
    assert_eq!(store.certificate(&original.id).await.unwrap(), None);
    assert_eq!(
        store
            .insert_certificate(&certificate(1, 1_000))
            .await
            .unwrap(),
        Inserted::Created
    );
    assert_eq!(
        store.ca_certificate(&original.id).await.unwrap(),
        Some(original)
    );
}

/// A missing CA certificate: none to read, replace or delete.
pub(crate) async fn ca_missing(store: &dyn Store) {
    let absent = ca_certificate(1, 1_000);
    assert_missing(
        async || store.ca_certificate(&absent.id).await,
        async || store.replace_ca_certificate(&absent, 1).await,
        async || store.delete_ca_certificate(&absent.id).await,
    )
    .await;
    assert_empty(store.list_ca_certificates(&all()).await);
}

/// Every field of a CA certificate survives.
pub(crate) async fn ca_round_trip(store: &dyn Store) {
    let mut cas = Vec::new();
    for (n, (status, auto)) in (1..).zip([
        (CaStatus::Active, true),
        (CaStatus::Inactive, false),
        (CaStatus::Inactive, true),
    ]) {
        let mut ca = ca_certificate(n, 1_700_000_000_000 + i64::from(n));
        ca.status = status;
        ca.auto_registration = auto;
        ca.last_modified = Timestamp(1_800_000_000_000);
        ca.version = 4;
        assert_eq!(
            store.insert_ca_certificate(&ca).await.unwrap(),
            Inserted::Created
        );
        cas.push(ca);
    }
    for ca in &cas {
        assert_eq!(
            store.ca_certificate(&ca.id).await.unwrap().as_ref(),
            Some(ca)
        );
    }
    assert_eq!(store.list_ca_certificates(&all()).await.unwrap().items, cas);
}

/// Replace of a CA certificate succeeds only at the expected version.
pub(crate) async fn ca_replace_checks_the_version(store: &dyn Store) {
    let v1 = ca_certificate(1, 1_000);
    store.insert_ca_certificate(&v1).await.unwrap();
    let mut v2 = v1.clone();
    v2.status = CaStatus::Inactive;
    v2.auto_registration = true;
    v2.last_modified = Timestamp(2_000);
    v2.version = 2;
    v2.generation_id = "ca-gen-1-2".into();
    assert!(!store.replace_ca_certificate(&v2, 0).await.unwrap());
    assert!(!store.replace_ca_certificate(&v2, 2).await.unwrap());
    assert_eq!(
        store.ca_certificate(&v1.id).await.unwrap().as_ref(),
        Some(&v1)
    );
    assert!(store.replace_ca_certificate(&v2, 1).await.unwrap());
    assert_eq!(
        store.ca_certificate(&v1.id).await.unwrap().as_ref(),
        Some(&v2)
    );
    let mut v3 = v2.clone();
    v3.status = CaStatus::Active;
    v3.auto_registration = false;
    v3.version = 3;
    assert!(
        !store.replace_ca_certificate(&v3, 1).await.unwrap(),
        "a stale version"
    );
    assert!(store.replace_ca_certificate(&v3, 2).await.unwrap());
    assert_eq!(
        store.ca_certificate(&v1.id).await.unwrap().as_ref(),
        Some(&v3)
    );

    // Two at once with the same expected version: exactly one wins.
    let mut left = v3.clone();
    left.version = 4;
    left.generation_id = "left".into();
    let mut right = v3.clone();
    right.version = 4;
    right.generation_id = "right".into();
    assert_one_replace_wins(
        (&left, &right),
        3,
        async |ca, expected| store.replace_ca_certificate(ca, expected).await,
        async || store.ca_certificate(&v1.id).await,
        "CA certificates",
    )
    .await;
}

/// Delete of a CA certificate reports whether it existed, and leaves what it signed.
pub(crate) async fn ca_delete(store: &dyn Store) {
    let ca = ca_certificate(1, 1_000);
    store.insert_ca_certificate(&ca).await.unwrap();
    let mut signed = certificate(2, 1_000);
    signed.ca_certificate_id = Some(ca.id.clone());
    store.insert_certificate(&signed).await.unwrap();
    assert!(store.delete_ca_certificate(&ca.id).await.unwrap());
    assert!(!store.delete_ca_certificate(&ca.id).await.unwrap());
    assert_eq!(store.ca_certificate(&ca.id).await.unwrap(), None);
    assert_eq!(store.certificate(&signed.id).await.unwrap(), Some(signed));
}

/// CA certificates list by creation time, ties broken by id, both ways, in pages.
pub(crate) async fn ca_list_order(store: &dyn Store) {
    let mut cas = Vec::new();
    for &(n, created) in CREATED {
        let ca = ca_certificate(n, created);
        store.insert_ca_certificate(&ca).await.unwrap();
        cas.push(ca);
    }
    for ascending in [true, false] {
        let expected = by_creation(&cas, |c| (c.created, c.id.clone()), ascending);
        assert_pages(&expected, ascending, async |p| {
            store.list_ca_certificates(&p).await
        })
        .await;
    }
}
