//! The back office's sessions (INTEGRATION.md 3): a signed-in browser holds a random
//! session id; the store keeps its SHA-256, the SHA-256 of the token it signed in with,
//! its CSRF secret and its expiry (`ui_sessions`). The token is looked up on every
//! request, so a revoked token ends its sessions.

use time::OffsetDateTime;

use super::tokens::{self, Caller, TokenError};
use crate::store::{LedgerEventRepository, StoreError, UiSessionRow};

/// How long a session lasts from sign-in.
pub const SESSION_LIFETIME: time::Duration = time::Duration::hours(8);

/// A live session: the caller its token identifies now, and its CSRF secret.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub id_sha256: String,
    pub caller: Caller,
    pub csrf: String,
}

/// A session just opened: the id for the browser's cookie (shown once) and the caller.
#[derive(Debug, Clone)]
pub struct OpenedSession {
    pub id: String,
    pub caller: Caller,
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Signs in with `token` at `now`: a new session for a known, unrevoked token, `None`
/// for any other. Sessions expired by `now` are forgotten.
pub async fn open(
    repository: &LedgerEventRepository,
    token: &str,
    now: OffsetDateTime,
) -> Result<Option<OpenedSession>, TokenError> {
    let Some(caller) = tokens::caller(repository, token).await? else {
        return Ok(None);
    };
    let id = tokens::random_hex(32)?;
    let row = UiSessionRow {
        id_sha256: tokens::sha256_hex(&id),
        token_sha256: tokens::sha256_hex(token),
        csrf: tokens::random_hex(32)?,
        created_at: rfc3339(now),
        expires_at: rfc3339(now + SESSION_LIFETIME),
    };
    repository.insert_ui_session(&row, &rfc3339(now)).await?;
    Ok(Some(OpenedSession { id, caller }))
}

/// The live session of the browser holding `id` at `now`: `None` when it is unknown,
/// expired or its token revoked (an expired or orphaned session is forgotten then).
pub async fn live(
    repository: &LedgerEventRepository,
    id: &str,
    now: OffsetDateTime,
) -> Result<Option<LiveSession>, StoreError> {
    let id_sha256 = tokens::sha256_hex(id);
    let Some(row) = repository.ui_session(&id_sha256).await? else {
        return Ok(None);
    };
    let caller = if row.expires_at > rfc3339(now) {
        tokens::caller_by_hash(repository, &row.token_sha256).await?
    } else {
        None
    };
    match caller {
        Some(caller) => Ok(Some(LiveSession {
            id_sha256,
            caller,
            csrf: row.csrf,
        })),
        None => {
            repository.delete_ui_session(&id_sha256).await?;
            Ok(None)
        }
    }
}

/// Ends a session (sign-out).
pub async fn close(repository: &LedgerEventRepository, id_sha256: &str) -> Result<(), StoreError> {
    repository.delete_ui_session(id_sha256).await
}
