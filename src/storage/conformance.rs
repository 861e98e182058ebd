//! One behaviour suite for every `Store` backend; the integration tests run it against
//! SQLite and PostgreSQL. Each run uses a fresh account so runs never see each other's rows.

use super::{ListQuery, Record, Store, StoreError};

fn rec(account: &str, kind: &str, id: &str, parent: Option<&str>, sort: &str) -> Record {
    Record {
        kind: kind.into(),
        account: account.into(),
        id: id.into(),
        parent: parent.map(str::to_string),
        sort: sort.into(),
        body: format!("{{\"id\":\"{id}\"}}"),
        created_ms: 1,
        updated_ms: 1,
    }
}

fn query(account: &str, kind: &str) -> ListQuery {
    ListQuery {
        kind: kind.into(),
        account: account.into(),
        limit: 100,
        ..Default::default()
    }
}

/// Panics with a description of the first behaviour the store gets wrong.
pub async fn run(store: &dyn Store, account: &str) {
    store.ping().await.expect("ping");

    // Insert, read back, duplicate id is a conflict and leaves the transaction usable.
    let mut tx = store.begin().await.unwrap();
    tx.insert(&rec(account, "contact", "b", Some("r1"), "bravo"))
        .await
        .unwrap();
    assert!(matches!(
        tx.insert(&rec(account, "contact", "b", None, "x")).await,
        Err(StoreError::Conflict)
    ));
    tx.insert(&rec(account, "contact", "a", Some("r1"), "alpha"))
        .await
        .unwrap();
    tx.insert(&rec(account, "contact", "c", Some("r2"), "alpine"))
        .await
        .unwrap();
    tx.insert(&rec(account, "channel", "a", Some("a"), "1"))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut r = store.read().await.unwrap();
    let got = r
        .get("contact", account, "b")
        .await
        .unwrap()
        .expect("committed record is visible");
    assert_eq!(got.sort, "bravo");
    assert_eq!(got.parent.as_deref(), Some("r1"));
    assert!(
        r.get("contact", "other-account", "b")
            .await
            .unwrap()
            .is_none(),
        "accounts are isolated"
    );
    assert!(
        r.get("channel", account, "b").await.unwrap().is_none(),
        "kinds are isolated"
    );

    // Ordering by (sort, id), prefix, parent filter and keyset resumption.
    let all: Vec<String> = r
        .list(&query(account, "contact"))
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.sort)
        .collect();
    assert_eq!(all, ["alpha", "alpine", "bravo"]);
    let q = ListQuery {
        sort_prefix: Some("alp".into()),
        ..query(account, "contact")
    };
    assert_eq!(r.list(&q).await.unwrap().len(), 2);
    let q = ListQuery {
        parent: Some("r1".into()),
        ..query(account, "contact")
    };
    assert_eq!(r.list(&q).await.unwrap().len(), 2);
    let q = ListQuery {
        after: Some(("alpha".into(), "a".into())),
        limit: 1,
        ..query(account, "contact")
    };
    let page = r.list(&q).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].sort, "alpine");

    // Descending scans, sort-key bounds, and resumption in the scan's direction.
    let sorts = |v: Vec<super::Record>| v.into_iter().map(|x| x.sort).collect::<Vec<_>>();
    let q = ListQuery {
        descending: true,
        ..query(account, "contact")
    };
    assert_eq!(
        sorts(r.list(&q).await.unwrap()),
        ["bravo", "alpine", "alpha"]
    );
    let q = ListQuery {
        descending: true,
        after: Some(("bravo".into(), "b".into())),
        limit: 1,
        ..query(account, "contact")
    };
    assert_eq!(sorts(r.list(&q).await.unwrap()), ["alpine"]);
    let q = ListQuery {
        sort_min: Some("alpine".into()),
        sort_max: Some("bravo".into()),
        ..query(account, "contact")
    };
    assert_eq!(sorts(r.list(&q).await.unwrap()), ["alpine"]);
    drop(r);

    // A dropped transaction leaves nothing behind.
    let mut tx = store.begin().await.unwrap();
    tx.insert(&rec(account, "contact", "z", None, "zulu"))
        .await
        .unwrap();
    drop(tx);
    let mut r = store.read().await.unwrap();
    assert!(
        r.get("contact", account, "z").await.unwrap().is_none(),
        "rolled back on drop"
    );
    drop(r);

    // Update, delete, delete children.
    let mut tx = store.begin().await.unwrap();
    let mut b = rec(account, "contact", "b", Some("r1"), "bravo");
    b.body = "{\"changed\":true}".into();
    b.updated_ms = 2;
    assert!(tx.update(&b).await.unwrap());
    assert!(
        !tx.update(&rec(account, "contact", "missing", None, "m"))
            .await
            .unwrap()
    );
    assert_eq!(
        tx.delete_children("channel", account, "a").await.unwrap(),
        1
    );
    assert!(tx.delete("contact", account, "a").await.unwrap());
    assert!(!tx.delete("contact", account, "a").await.unwrap());
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    let got = r.get("contact", account, "b").await.unwrap().unwrap();
    assert_eq!(
        (got.body.as_str(), got.updated_ms, got.created_ms),
        ("{\"changed\":true}", 2, 1)
    );
    assert!(r.get("channel", account, "a").await.unwrap().is_none());
    assert_eq!(r.list(&query(account, "contact")).await.unwrap().len(), 2);
    drop(r);

    // A read after a committed write sees the write, also when the first read was cached.
    let mut tx = store.begin().await.unwrap();
    b.updated_ms = 3;
    assert!(tx.update(&b).await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(tx.delete("contact", account, "c").await.unwrap());
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    assert_eq!(
        r.get("contact", account, "b")
            .await
            .unwrap()
            .unwrap()
            .updated_ms,
        3
    );
    assert!(r.get("contact", account, "c").await.unwrap().is_none());
    drop(r);
    tx_dropped_changes_nothing(store, account).await;

    // delete_all clears one kind of one account only.
    let other = format!("{account}-other");
    let mut tx = store.begin().await.unwrap();
    tx.insert(&rec(account, "plan", "p1", None, "1"))
        .await
        .unwrap();
    tx.insert(&rec(account, "plan", "p2", None, "2"))
        .await
        .unwrap();
    tx.insert(&rec(other.as_str(), "plan", "p1", None, "1"))
        .await
        .unwrap();
    assert_eq!(tx.delete_all("plan", account).await.unwrap(), 2);
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    assert!(r.list(&query(account, "plan")).await.unwrap().is_empty());
    assert_eq!(r.list(&query(&other, "plan")).await.unwrap().len(), 1);
    assert_eq!(r.list(&query(account, "contact")).await.unwrap().len(), 1);
    drop(r);
    let mut tx = store.begin().await.unwrap();
    tx.delete_all("plan", other.as_str()).await.unwrap();
    tx.commit().await.unwrap();
}

async fn tx_dropped_changes_nothing(store: &dyn Store, account: &str) {
    let mut r = store.read().await.unwrap();
    let before = r.get("contact", account, "b").await.unwrap();
    drop(r);
    let mut tx = store.begin().await.unwrap();
    tx.delete("contact", account, "b").await.unwrap();
    drop(tx);
    let mut r = store.read().await.unwrap();
    assert_eq!(r.get("contact", account, "b").await.unwrap(), before);
}
