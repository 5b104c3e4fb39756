//! A database per test, cloned from a template that is migrated once per set of migrations
//! (`CREATE DATABASE … TEMPLATE …`): a clone takes a fraction of the time of running every
//! migration, and the suites' processes share the template.

use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};
use stockflow_event_store::database::{self, MIGRATOR};

use crate::{block_on_own_runtime, server_url, unique};

/// Serializes building the template across test processes.
const TEMPLATE_LOCK: i64 = 0x5f0c_7e57;

/// A database of one test's own, dropped with it.
#[derive(Debug)]
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    /// A fresh database with every migration applied.
    pub async fn migrated() -> TestDatabase {
        let template = template().await;
        let name = unique("stockflow_test_");
        let mut admin = admin().await;
        let create = format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"");
        sqlx::query(sqlx::AssertSqlSafe(create))
            .execute(&mut admin)
            .await
            .expect("the test database is cloned from the template");
        // A clone takes the template's contents but not the grants on the database itself
        // (the migrations give the projector's role CREATE on it): grant them again.
        let grants: Vec<String> = sqlx::query_scalar(
            "SELECT format('GRANT %s ON DATABASE %I TO %I', a.privilege_type, $2::text, r.rolname)
               FROM pg_database d
              CROSS JOIN LATERAL aclexplode(d.datacl) a
               JOIN pg_roles r ON r.oid = a.grantee
              WHERE d.datname = $1 AND a.grantee <> d.datdba",
        )
        .bind(&template)
        .bind(&name)
        .fetch_all(&mut admin)
        .await
        .expect("the template's grants are readable");
        for grant in grants {
            sqlx::query(sqlx::AssertSqlSafe(grant))
                .execute(&mut admin)
                .await
                .expect("the template's grants apply to the clone");
        }
        let _ = admin.close().await;
        TestDatabase::named(name)
    }

    /// The name and URL of a database that does not exist yet (a service under test creates
    /// it); it is dropped with this value all the same.
    pub fn absent() -> TestDatabase {
        TestDatabase::named(unique("stockflow_test_"))
    }

    fn named(name: String) -> TestDatabase {
        let url = format!("{}/{}", server_url(), name);
        TestDatabase { name, url }
    }

    /// The URL of this database for another login role.
    pub fn url_as(&self, role: &str) -> String {
        let server = server_url();
        let host = server
            .split_once("://")
            .map(|(_, rest)| rest.rsplit_once('@').map_or(rest, |(_, host)| host))
            .unwrap_or("127.0.0.1:5432");
        format!("postgres://{role}@{host}/{}", self.name)
    }

    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url)
            .await
            .expect("the test database is reachable")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let drop = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        block_on_own_runtime(async move {
            if let Ok(mut admin) =
                PgConnection::connect(&format!("{}/postgres", server_url())).await
            {
                let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                    .execute(&mut admin)
                    .await;
                let _ = admin.close().await;
            }
        });
    }
}

async fn admin() -> PgConnection {
    PgConnection::connect(&format!("{}/postgres", server_url()))
        .await
        .expect("PostgreSQL is reachable")
}

/// The name of the template for the migrations of this build, built if missing.
async fn template() -> String {
    let name = template_name();
    let mut admin = admin().await;
    if !exists(&mut admin, &name).await {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(TEMPLATE_LOCK)
            .execute(&mut admin)
            .await
            .expect("the template lock");
        // Another process may have built it while this one waited.
        if !exists(&mut admin, &name).await {
            let building = unique("stockflow_template_building_");
            let pool = database::connect(&format!("{}/{}", server_url(), building), 1, true)
                .await
                .expect("the template database migrates");
            pool.close().await;
            let publish = format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\"");
            sqlx::query(sqlx::AssertSqlSafe(publish))
                .execute(&mut admin)
                .await
                .expect("the template is published");
        }
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(TEMPLATE_LOCK)
            .execute(&mut admin)
            .await
            .expect("the template lock is released");
    }
    let _ = admin.close().await;
    name
}

async fn exists(admin: &mut PgConnection, name: &str) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(admin)
        .await
        .expect("pg_database is readable")
}

/// Named after the migrations it holds, so that a changed or added migration gets a template
/// of its own.
fn template_name() -> String {
    let mut hash = Sha256::new();
    for migration in MIGRATOR.iter() {
        hash.update(migration.version.to_be_bytes());
        hash.update(&*migration.checksum);
    }
    let digest = hash.finalize();
    let short: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("stockflow_template_{short}")
}
