//! A `DATABASE_URL` listing several servers, against the tests' PostgreSQL
//! (`TEST_POSTGRES_URL`, default the local one), which takes writes: servers that do not
//! answer are passed over, and the error says why each was. A pool for reads does the same
//! with any server that answers, and creates and migrates the database where it may.

use stockflow_event_store::database::{self, DbError};
use stockflow_testkit::{TestDatabase, free_address, server_url};

/// An address nothing listens on.
async fn dead_address() -> String {
    format!("postgres://stockflow:secret@{}/postgres", free_address())
}

#[tokio::test]
async fn the_pool_goes_to_the_server_that_answers_wherever_it_is_listed() {
    let live = format!("{}/postgres", server_url());
    let list = format!("{}, {live}", dead_address().await);
    let pool = database::connect(&list, 1, false)
        .await
        .expect("the live server is found");
    let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(&pool)
        .await
        .expect("the pool answers");
    assert!(!in_recovery);
    let options = database::primary_options(&list)
        .await
        .expect("the live server is found");
    assert_eq!(options.get_port(), pool.connect_options().get_port());
    pool.close().await;
}

#[tokio::test]
async fn when_no_server_takes_writes_each_is_named_without_its_password() {
    let (first, second) = (dead_address().await, dead_address().await);
    let error = database::connect(&format!("{first},{second}"), 1, false)
        .await
        .expect_err("nothing listens");
    assert!(matches!(error, DbError::NoPrimary(_)), "{error:?}");
    let message = error.to_string();
    for address in [&first, &second] {
        let redacted = address.replace(":secret@", ":***@");
        assert!(
            message.contains(&redacted),
            "{redacted} is not named in: {message}"
        );
    }
    assert!(!message.contains("secret"), "a password in: {message}");
}

#[tokio::test]
async fn a_pool_for_reads_goes_to_the_first_server_that_answers_and_migrates_a_primary() {
    let database = TestDatabase::absent();
    let list = format!("{},{}", dead_address().await, database.url);
    let pool = database::connect_for_reads(&list, 1, true)
        .await
        .expect("the live server is found");
    // The server takes writes: the database was created there and migrated.
    let head: i64 = sqlx::query_scalar("SELECT position FROM event_store.head")
        .fetch_one(&pool)
        .await
        .expect("the event store's tables exist");
    assert_eq!(head, 0);
    pool.close().await;
}

#[tokio::test]
async fn when_no_server_answers_reads_name_each_without_its_password() {
    let (first, second) = (dead_address().await, dead_address().await);
    let error = database::connect_for_reads(&format!("{first},{second}"), 1, false)
        .await
        .expect_err("nothing listens");
    assert!(matches!(error, DbError::NoServer(_)), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains(&first.replace(":secret@", ":***@")),
        "{message}"
    );
    assert!(!message.contains("secret"), "a password in: {message}");
}
