//! Migrations: a new database is brought up to date once, and a database from a newer
//! latchkey is refused.

use latchkey_store::{MIGRATIONS, Store, StoreError};

async fn applied(store: &Store) -> Vec<(i64, String, i64)> {
    let mut conn = store.read().await.expect("read connection");
    sqlx::query_as("SELECT version, name, applied_at FROM latchkey_schema ORDER BY version")
        .fetch_all(&mut *conn)
        .await
        .expect("read latchkey_schema")
}

#[tokio::test]
async fn a_new_database_gets_every_migration_and_a_second_open_changes_nothing() {
    latchkey_testkit::each_backend("migrations_once", |db| async move {
        let store = db.open().await;
        let first = applied(&store).await;
        let expected: Vec<(i64, String)> = MIGRATIONS
            .iter()
            .map(|m| (m.version, m.name.to_owned()))
            .collect();
        let got: Vec<(i64, String)> = first.iter().map(|(v, n, _)| (*v, n.clone())).collect();
        assert_eq!(got, expected, "every migration is recorded once");
        store.close().await;

        let again = db.open().await;
        assert_eq!(
            applied(&again).await,
            first,
            "a second open applies nothing and rewrites nothing"
        );
        let mut conn = again.read().await.expect("read connection");
        let (seq, _) = latchkey_store::audit::read_head(&mut conn)
            .await
            .expect("the chain head survives a second open");
        assert_eq!(seq, 0);
        drop(conn);
        again.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_database_written_by_a_newer_latchkey_is_refused() {
    latchkey_testkit::each_backend("schema_too_new", |db| async move {
        let store = db.open().await;
        let known = MIGRATIONS.last().map_or(0, |m| m.version);
        let mut conn = store.read().await.expect("read connection");
        sqlx::query("INSERT INTO latchkey_schema (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(known + 1)
            .bind("9999_from_the_future.sql")
            .bind(0_i64)
            .execute(&mut *conn)
            .await
            .expect("record a future migration");
        drop(conn);
        store.close().await;

        match Store::open(&db.url).await {
            Err(StoreError::SchemaTooNew { found, known: k }) => {
                assert_eq!(found, known + 1);
                assert_eq!(k, known);
            }
            Err(other) => panic!("expected SchemaTooNew, got {other}"),
            Ok(_) => panic!("expected SchemaTooNew, but the store opened"),
        }
    })
    .await;
}

#[tokio::test]
async fn a_url_of_another_database_kind_is_refused() {
    match Store::open("mysql://root@localhost/latchkey").await {
        Err(StoreError::UnsupportedUrl(url)) => assert!(url.starts_with("mysql://")),
        Err(other) => panic!("expected UnsupportedUrl, got {other}"),
        Ok(_) => panic!("expected UnsupportedUrl, but the store opened"),
    }
}

#[tokio::test]
async fn guardian_links_left_in_clear_by_an_older_latchkey_are_wiped_from_the_outbox() {
    latchkey_testkit::each_backend("schema_wipes_clear_links", |db| async move {
        let store = db.open().await;
        let mut conn = store.read().await.expect("read connection");
        sqlx::query("INSERT INTO people (name, created_at) VALUES ('Paul Partner', 0)")
            .execute(&mut *conn)
            .await
            .expect("a guardian");
        let person: i64 = sqlx::query_scalar("SELECT MAX(id) FROM people")
            .fetch_one(&mut *conn)
            .await
            .expect("the guardian's id");
        // What schema 7 wrote: the link in clear in the message to the guardian.
        sqlx::query(
            "INSERT INTO notifications (person_id, kind, body, created_at) \
             VALUES ($1, 'lockout.guardian_request', $2, 0)",
        )
        .bind(person)
        .bind(r#"{"case_id":1,"link":"lkg_clear_link","text":"Confirm only if you know it is them."}"#)
        .execute(&mut *conn)
        .await
        .expect("an old message");
        // Schema 9 is applied again to the message an older latchkey wrote.
        let migration = latchkey_store::MIGRATIONS
            .iter()
            .find(|m| m.name == "0009_lockout_secrets.sql")
            .expect("schema 9");
        let sql = match store.backend() {
            latchkey_store::Backend::Sqlite => migration.sqlite,
            latchkey_store::Backend::Postgres => migration.postgres,
        };
        sqlx::raw_sql(sql)
            .execute(&mut *conn)
            .await
            .expect("schema 9 runs");
        drop(conn);
        let mut conn = store.read().await.expect("read connection");
        let body: String = sqlx::query_scalar(
            "SELECT body FROM notifications WHERE kind = 'lockout.guardian_request'",
        )
        .fetch_one(&mut *conn)
        .await
        .expect("the message is still there");
        let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert!(body.get("link").is_none(), "the link is still in clear: {body}");
        assert_eq!(body["text"], "Confirm only if you know it is them.");
        drop(conn);
        store.close().await;
    })
    .await;
}
