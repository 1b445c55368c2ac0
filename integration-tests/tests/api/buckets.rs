//! Key-value buckets read "up to now": async-nats answers `kv::Store::status` from the info cached
//! when the store was opened, so anything that waits for a mirror to reach the bucket's latest
//! revision must ask the server. These tests fail against the cached status.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sandpiper_contracts::names::ServiceName;
use sandpiper_integration_tests::bare_bus;
use sandpiper_runtime::bus::bucket_state;
use sandpiper_runtime::catalog_store::CatalogStore;

#[tokio::test]
async fn a_bucket_state_counts_writes_made_after_the_store_was_opened() {
    let (_server, bus) = bare_bus(ServiceName::Intake).await;
    let store = bus.bucket("probe", 1, std::time::Duration::ZERO).await.unwrap();
    let opened = store.status().await.unwrap().info.state.last_sequence;
    let writer = bus.bucket("probe", 1, std::time::Duration::ZERO).await.unwrap();
    for i in 0..3 {
        writer.put(format!("k{i}"), "v".into()).await.unwrap();
    }
    assert_eq!(bucket_state(&store).await.unwrap().last_revision, opened + 3);
    assert_eq!(bucket_state(&store).await.unwrap().entries, 3);
}

#[tokio::test]
async fn a_catalog_published_elsewhere_counts_right_after_sync() {
    let (_server, bus) = bare_bus(ServiceName::Intake).await;
    let builtin = sandpiper_contracts::catalog::Catalog::builtin().unwrap();
    let reader = CatalogStore::open(&bus, &builtin).await.unwrap();
    let publisher = CatalogStore::open(&bus, &builtin).await.unwrap();
    for n in 2..12 {
        let mut next = builtin.clone();
        next.version = format!("2026.{n}");
        publisher.publish(&next).await.unwrap();
        // K4: a version published a moment ago counts for the next decision.
        reader.sync().await.unwrap();
        assert!(
            reader.version(&next.version).is_some(),
            "{} stored but not seen after sync",
            next.version
        );
    }
}
