//! The back office's sessions (`ui_sessions`, INTEGRATION.md 3): only hashes of the
//! session id and of the token are kept. What a session is and may do is
//! `api::http::ui`; this is its table.

use super::*;

/// A session as the table holds it. Times are RFC 3339 in UTC.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UiSessionRow {
    pub id_sha256: String,
    pub token_sha256: String,
    pub csrf: String,
    pub created_at: String,
    pub expires_at: String,
}

impl LedgerEventRepository {
    /// Stores a new session, and forgets the sessions expired by `now` (RFC 3339 UTC
    /// texts of one format compare as times).
    pub async fn insert_ui_session(&self, row: &UiSessionRow, now: &str) -> Result<(), StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            sqlx::query("DELETE FROM ui_sessions WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?;
            sqlx::query(
                "INSERT INTO ui_sessions (id_sha256, token_sha256, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&row.id_sha256)
            .bind(&row.token_sha256)
            .bind(&row.csrf)
            .bind(&row.created_at)
            .bind(&row.expires_at)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// The session whose id hashes to `id_sha256`, if it is stored.
    pub async fn ui_session(&self, id_sha256: &str) -> Result<Option<UiSessionRow>, StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            Ok(sqlx::query_as(
                "SELECT id_sha256, token_sha256, csrf, created_at, expires_at FROM ui_sessions WHERE id_sha256 = $1",
            )
            .bind(id_sha256)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Ends a session (sign-out).
    pub async fn delete_ui_session(&self, id_sha256: &str) -> Result<(), StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            sqlx::query("DELETE FROM ui_sessions WHERE id_sha256 = $1")
                .bind(id_sha256)
                .execute(pool)
                .await?;
            Ok(())
        })
    }
}
