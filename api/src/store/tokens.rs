//! The bearer tokens of the HTTP API (`api_tokens`): only the SHA-256 of each token is
//! kept. What a token is and may do is `api::application::tokens`; this is its table.

use super::*;

/// A token as the table holds it, without its hash. The role is its code (`operator`,
/// `billing`, `auditor`, `participant`); the times are RFC 3339 in UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub role: String,
    pub participant_id: Option<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// A token that is not revoked, found by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveToken {
    pub id: String,
    pub name: String,
    pub role: String,
    pub participant_id: Option<String>,
}

impl LedgerEventRepository {
    /// Stores a new token by the SHA-256 (hex) of its text.
    pub async fn insert_token(
        &self,
        id: &str,
        name: &str,
        role: &str,
        participant_id: Option<&str>,
        secret_sha256: &str,
    ) -> Result<(), StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            sqlx::query(
                "INSERT INTO api_tokens (id, name, role, participant_id, secret_sha256) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(name)
            .bind(role)
            .bind(participant_id)
            .bind(secret_sha256)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Every token, oldest first (PostgreSQL's times to the second).
    pub async fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        on_pool!(&*self.backend, |pool, dialect| {
            let query = format!(
                "SELECT id, name, role, participant_id,
                        {} AS created_at,
                        {} AS revoked_at
                 FROM api_tokens ORDER BY created_at, id",
                dialect.utc_text("created_at", TO_THE_SECOND),
                dialect.utc_text("revoked_at", TO_THE_SECOND),
            );
            Ok(sqlx::query(&query)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| TokenRow {
                    id: r.get("id"),
                    name: r.get("name"),
                    role: r.get("role"),
                    participant_id: r.get("participant_id"),
                    created_at: r.get("created_at"),
                    revoked_at: r.get("revoked_at"),
                })
                .collect())
        })
    }

    /// Revokes the token with this id now; a revoked token stays as it was.
    pub async fn revoke_token(&self, id: &str) -> Result<(), StoreError> {
        on_pool!(&*self.backend, |pool, dialect| {
            let now = dialect.pick("now()", "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')");
            sqlx::query(&format!(
                "UPDATE api_tokens SET revoked_at = {now} WHERE id = $1 AND revoked_at IS NULL"
            ))
            .bind(id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The token whose text has this SHA-256 (hex), unless it is revoked.
    pub async fn active_token(
        &self,
        secret_sha256: &str,
    ) -> Result<Option<ActiveToken>, StoreError> {
        let row: Option<(String, String, String, Option<String>)> = on_pool!(
            &*self.backend,
            |pool, _dialect| {
                sqlx::query_as(
                    "SELECT id, name, role, participant_id FROM api_tokens WHERE secret_sha256 = $1 AND revoked_at IS NULL",
                )
                .bind(secret_sha256)
                .fetch_optional(pool)
                .await?
            }
        );
        Ok(row.map(|(id, name, role, participant_id)| ActiveToken {
            id,
            name,
            role,
            participant_id,
        }))
    }
}
