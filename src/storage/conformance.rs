//! One behaviour suite for every `Store` backend; the integration tests run it against
//! SQLite and PostgreSQL. Each run uses a fresh account so runs never see each other's rows.

use super::{ListQuery, Record, Store, StoreError, Timer};

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
    moved_parent_and_sort(store, account).await;
    new_records(store, account).await;
    tx_dropped_changes_nothing(store, account).await;
    timers(store, account).await;

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

/// An update that moves a record to another parent and sort key moves it in both scans, and
/// one that keeps them changes the body alone.
async fn moved_parent_and_sort(store: &dyn Store, account: &str) {
    let mut tx = store.begin().await.unwrap();
    tx.insert(&rec(account, "mover", "m1", Some("p1"), "a"))
        .await
        .unwrap();
    tx.insert(&rec(account, "mover", "m2", Some("p1"), "b"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let mut moved = rec(account, "mover", "m1", Some("p2"), "c");
    moved.body = "{\"moved\":true}".into();
    assert!(tx.update(&moved).await.unwrap());
    let mut kept = rec(account, "mover", "m2", None, "b");
    kept.body = "{\"kept\":true}".into();
    assert!(tx.update(&kept).await.unwrap());
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    let in_parent = |p: &str| ListQuery {
        parent: Some(p.into()),
        ..query(account, "mover")
    };
    let ids = |v: Vec<Record>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(r.list(&in_parent("p1")).await.unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(ids(r.list(&in_parent("p2")).await.unwrap()), vec!["m1"]);
    assert_eq!(
        ids(r.list(&query(account, "mover")).await.unwrap()),
        vec!["m2", "m1"]
    );
    let got = r.get("mover", account, "m2").await.unwrap().unwrap();
    assert_eq!((got.parent, got.body.as_str()), (None, "{\"kept\":true}"));
}

/// Records inserted as new are seen by the transaction's own reads and committed with it; a
/// duplicate among them fails the transaction, at the latest when it commits.
async fn new_records(store: &dyn Store, account: &str) {
    let mut tx = store.begin().await.unwrap();
    for id in ["n1", "n2", "n3"] {
        tx.insert_new(&rec(account, "fresh", id, Some("p"), id))
            .await
            .unwrap();
    }
    assert!(tx.get("fresh", account, "n2").await.unwrap().is_some());
    tx.insert_new(&rec(account, "fresh", "n4", None, "n4"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    let all = r.list(&query(account, "fresh")).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["n1", "n2", "n3", "n4"]
    );
    drop(r);

    let mut tx = store.begin().await.unwrap();
    tx.insert_new(&rec(account, "fresh", "n5", None, "n5"))
        .await
        .unwrap();
    let failed = match tx.insert_new(&rec(account, "fresh", "n1", None, "x")).await {
        Err(e) => Err(e),
        Ok(()) => tx.commit().await,
    };
    assert!(
        matches!(failed, Err(StoreError::Conflict)),
        "a duplicate new record must fail its transaction: {failed:?}"
    );
    let mut r = store.read().await.unwrap();
    assert!(r.get("fresh", account, "n5").await.unwrap().is_none());
    assert_eq!(
        r.get("fresh", account, "n1").await.unwrap().unwrap().sort,
        "n1"
    );
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

/// Claims, leases, fencing and rescheduling of timers. Due times sit far in the past of real
/// time so that other tests' timers in a shared database never fall in the claimed window.
async fn timers(store: &dyn Store, account: &str) {
    let mine = |ts: Vec<Timer>| -> Vec<Timer> {
        ts.into_iter().filter(|t| t.account == account).collect()
    };
    let ids = |ts: &[Timer]| ts.iter().map(|t| t.step).collect::<Vec<_>>();
    let t = |step: i64, due: i64| Timer::new(account, "conf", "s", step, due);
    let mut tx = store.begin().await.unwrap();
    assert!(tx.schedule(&t(1, 100)).await.unwrap());
    assert!(tx.schedule(&t(3, 300)).await.unwrap());
    assert!(tx.schedule(&t(2, 200)).await.unwrap());
    assert!(
        !tx.schedule(&t(1, 150)).await.unwrap(),
        "the same step is scheduled once"
    );
    tx.commit().await.unwrap();

    let a = mine(store.claim_timers("node-a", 250, 1_000, 100).await.unwrap());
    assert_eq!(ids(&a), vec![1, 2], "due timers, oldest first");
    assert_eq!(a[0].claims, 1);
    assert!(
        mine(store.claim_timers("node-b", 250, 1_000, 100).await.unwrap()).is_empty(),
        "a leased timer is not claimed again while the lease lasts"
    );

    let mut tx = store.begin().await.unwrap();
    assert!(tx.hold_timer(&a[0].id, "node-a").await.unwrap());
    assert!(!tx.hold_timer(&a[0].id, "node-b").await.unwrap());
    assert!(!tx.finish_timer(&a[0].id, "node-b").await.unwrap());
    assert!(tx.finish_timer(&a[0].id, "node-a").await.unwrap());
    tx.commit().await.unwrap();

    // node-a's lease on step 2 expires at 1000: node-b takes it over, and node-a is fenced out.
    let b = mine(
        store
            .claim_timers("node-b", 1_500, 3_000, 100)
            .await
            .unwrap(),
    );
    assert_eq!(ids(&b), vec![2, 3]);
    assert_eq!(b[0].claims, 2);
    let mut tx = store.begin().await.unwrap();
    assert!(!tx.finish_timer(&b[0].id, "node-a").await.unwrap());
    drop(tx);

    assert!(
        store
            .postpone_timer(&b[1].id, "node-b", 5_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .postpone_timer(&b[1].id, "node-b", 6_000)
            .await
            .unwrap()
    );
    assert!(store.renew_leases("node-b", 10_000).await.unwrap() >= 1);
    assert!(
        mine(
            store
                .claim_timers("node-a", 4_000, 9_000, 100)
                .await
                .unwrap()
        )
        .is_empty(),
        "a renewed lease and a postponed timer are both out of reach"
    );
    assert!(store.release_leases("node-b").await.unwrap() >= 1);
    let a = mine(
        store
            .claim_timers("node-a", 5_000, 9_000, 100)
            .await
            .unwrap(),
    );
    assert_eq!(
        ids(&a),
        vec![2, 3],
        "released and postponed timers come back"
    );
    assert!(store.next_timer_ms().await.unwrap().is_some());
    let counts = store.timer_counts(5_000).await.unwrap();
    assert!(counts.all >= 2 && counts.due >= 2, "{counts:?}");
    assert!(
        counts.oldest_due_ms.is_some_and(|t| t <= 5_000),
        "{counts:?}"
    );

    let mut tx = store.begin().await.unwrap();
    for t in &a {
        assert!(tx.finish_timer(&t.id, "node-a").await.unwrap());
    }
    tx.commit().await.unwrap();
    assert!(
        mine(
            store
                .claim_timers("node-b", 9_500, 20_000, 100)
                .await
                .unwrap()
        )
        .is_empty()
    );
    assert!(store.count("contact").await.unwrap() >= 1);
}
