//! A fresh PostgreSQL database per benchmark run, dropped afterwards.

use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// A new database `name` on the server of `admin` (a URL with a database
/// path, e.g. `postgres://postgres@127.0.0.1:5432/postgres`): its URL and
/// the admin connection that drops it again (see [`drop_database`]).
pub async fn create_database(admin: &str, name: &str) -> (String, PgConnection) {
    let mut connection = PgConnection::connect(admin).await.expect("connect to PostgreSQL");
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut connection).await.expect("create db");
    let url = match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("TRESOR_BENCH_POSTGRES_URL needs a database path"),
    };
    (url, connection)
}

pub async fn drop_database(mut connection: PgConnection, name: &str) {
    sqlx::query(AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
        .execute(&mut connection)
        .await
        .expect("drop db");
}
