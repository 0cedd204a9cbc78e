//! Bearer tokens of the HTTP API (API.md, "Auth"; issue 6).
//!
//! A token is `edoc_<id>_<secret>`: `id` (8 hex digits) names it in listings and logs,
//! `secret` is 32 random bytes in hex. Only the SHA-256 of the whole token is stored, so
//! the table leaks nothing usable; the token is printed once, when it is created. Each
//! token has a role and a name, and the name is recorded as the `actor` of every event a
//! request with it causes.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use events::ParticipantId;

use crate::store::{ActiveToken, LedgerEventRepository, StoreError, TokenRow};

/// Who may do what (API.md): `operator` every command and read; `billing` invoices,
/// payments, sweeps and every read; `auditor` every read, the events and verification,
/// no command; `participant` the reads of its own agreement only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Operator,
    Billing,
    Auditor,
    Participant,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Operator,
        Role::Billing,
        Role::Auditor,
        Role::Participant,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Billing => "billing",
            Role::Auditor => "auditor",
            Role::Participant => "participant",
        }
    }

    pub fn parse(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.code() == code)
    }
}

/// The caller a valid token identifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub token_id: String,
    pub name: String,
    pub role: Role,
    /// Set for the `participant` role: the only agreement it may read.
    pub participant: Option<ParticipantId>,
}

/// A token as `edoc-ledger token list` shows it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub participant_id: Option<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the participant role needs --participant (the one agreement it may read), and only it takes one")]
    ParticipantMismatch,
    #[error("a token name is 1 to {NAME_CHARS_MAX} characters")]
    BadName,
    #[error("no token has the id or name `{0}`")]
    Unknown(String),
    #[error("`{0}` names more than one token: revoke by id")]
    Ambiguous(String),
    #[error("the system's random source failed: {0}")]
    Random(String),
    #[error("cannot write the token file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The longest token name (it is recorded in every event the token causes).
pub const NAME_CHARS_MAX: usize = 100;
/// The longest bearer token the API reads.
pub const TOKEN_CHARS_MAX: usize = 128;
/// The file the embedded store's first start writes the operator token to.
pub const BOOTSTRAP_TOKEN_FILE: &str = "operator-token";
/// The name of that first token.
pub const BOOTSTRAP_TOKEN_NAME: &str = "first-operator";

/// The SHA-256 (hex) of a secret: what the tables keep of tokens and sessions.
pub fn sha256_hex(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

/// `bytes` random bytes from the operating system, as hex.
pub fn random_hex(bytes: usize) -> Result<String, TokenError> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|e| TokenError::Random(e.to_string()))?;
    Ok(buffer.iter().map(|b| format!("{b:02x}")).collect())
}

fn record_of(row: TokenRow) -> Result<TokenRecord, StoreError> {
    let TokenRow {
        id,
        name,
        role,
        participant_id,
        created_at,
        revoked_at,
    } = row;
    Ok(TokenRecord {
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Corrupt(format!("token {id} has the role `{role}`")))?,
        id,
        name,
        participant_id,
        created_at,
        revoked_at,
    })
}

/// Creates a token; returns its record and the token itself (shown once).
pub async fn create(
    repository: &LedgerEventRepository,
    name: &str,
    role: Role,
    participant: Option<&ParticipantId>,
) -> Result<(TokenRecord, String), TokenError> {
    if (role == Role::Participant) != participant.is_some() {
        return Err(TokenError::ParticipantMismatch);
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_CHARS_MAX {
        return Err(TokenError::BadName);
    }
    let id = random_hex(4)?;
    let token = format!("edoc_{id}_{}", random_hex(32)?);
    let hash = sha256_hex(&token);
    let participant_id = participant.map(|p| p.to_string());
    repository
        .insert_token(&id, name, role.code(), participant_id.as_deref(), &hash)
        .await?;
    let record = list(repository)
        .await?
        .into_iter()
        .find(|record| record.id == id)
        .ok_or_else(|| StoreError::Corrupt(format!("token {id} was not stored")))?;
    Ok((record, token))
}

/// Every token, oldest first.
pub async fn list(repository: &LedgerEventRepository) -> Result<Vec<TokenRecord>, TokenError> {
    let rows = repository
        .tokens()
        .await?
        .into_iter()
        .map(record_of)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Revokes the token with this id (or, when unique, this name); revoking twice is a
/// no-op. Returns the record as revoked.
pub async fn revoke(
    repository: &LedgerEventRepository,
    id_or_name: &str,
) -> Result<TokenRecord, TokenError> {
    let all = list(repository).await?;
    let by_id: Vec<&TokenRecord> = all.iter().filter(|t| t.id == id_or_name).collect();
    let matches: Vec<&TokenRecord> = if by_id.is_empty() {
        all.iter().filter(|t| t.name == id_or_name).collect()
    } else {
        by_id
    };
    let target = match matches.as_slice() {
        [] => return Err(TokenError::Unknown(id_or_name.to_owned())),
        [one] => one.id.clone(),
        _ => return Err(TokenError::Ambiguous(id_or_name.to_owned())),
    };
    repository.revoke_token(&target).await?;
    list(repository)
        .await?
        .into_iter()
        .find(|t| t.id == target)
        .ok_or(TokenError::Unknown(target))
}

/// The most tokens a [`TokenCache`] keeps; past it, the expired ones are forgotten, and
/// all of them if that is not enough.
pub const TOKEN_CACHE_ENTRIES_MAX: usize = 10_000;

/// Callers of bearer tokens looked up in the last `ttl` (by the token's SHA-256): a
/// request with a token seen lately is authorized without a round trip to the store
/// (performance.md). A token revoked meanwhile is still accepted until its entry
/// expires: revocation takes effect within `ttl` on every server. Unknown tokens are
/// never kept (each is looked up again), so a token created a moment ago works at once.
#[derive(Debug)]
pub struct TokenCache {
    ttl: std::time::Duration,
    entries: std::sync::Mutex<std::collections::HashMap<String, (Caller, std::time::Instant)>>,
}

impl TokenCache {
    pub fn new(ttl: std::time::Duration) -> Self {
        Self {
            ttl,
            entries: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    pub fn ttl(&self) -> std::time::Duration {
        self.ttl
    }

    /// [`caller`], from the cache when the token was looked up less than `ttl` ago.
    pub async fn caller(
        &self,
        repository: &LedgerEventRepository,
        token: &str,
    ) -> Result<Option<Caller>, StoreError> {
        if token.len() > TOKEN_CHARS_MAX || !token.starts_with("edoc_") {
            return Ok(None);
        }
        if self.ttl.is_zero() {
            return caller(repository, token).await;
        }
        let hash = sha256_hex(token);
        let now = std::time::Instant::now();
        if let Some((known, _)) = self
            .entries
            .lock()
            .expect("the token cache's lock")
            .get(&hash)
            .filter(|(_, looked_up)| now.duration_since(*looked_up) < self.ttl)
        {
            return Ok(Some(known.clone()));
        }
        let found = caller_by_hash(repository, &hash).await?;
        let mut entries = self.entries.lock().expect("the token cache's lock");
        match &found {
            Some(known) => {
                if entries.len() >= TOKEN_CACHE_ENTRIES_MAX {
                    entries.retain(|_, (_, looked_up)| now.duration_since(*looked_up) < self.ttl);
                    if entries.len() >= TOKEN_CACHE_ENTRIES_MAX {
                        entries.clear();
                    }
                }
                entries.insert(hash, (known.clone(), now));
            }
            None => {
                entries.remove(&hash);
            }
        }
        Ok(found)
    }
}

/// The caller a bearer token identifies: `None` for an unknown or revoked token.
pub async fn caller(
    repository: &LedgerEventRepository,
    token: &str,
) -> Result<Option<Caller>, StoreError> {
    if token.len() > TOKEN_CHARS_MAX || !token.starts_with("edoc_") {
        return Ok(None);
    }
    caller_by_hash(repository, &sha256_hex(token)).await
}

/// The caller of the token whose SHA-256 is `hash` (a back-office session keeps only
/// that): `None` for an unknown or revoked token.
pub async fn caller_by_hash(
    repository: &LedgerEventRepository,
    hash: &str,
) -> Result<Option<Caller>, StoreError> {
    let Some(ActiveToken {
        id,
        name,
        role,
        participant_id,
    }) = repository.active_token(hash).await?
    else {
        return Ok(None);
    };
    let role = Role::parse(&role)
        .ok_or_else(|| StoreError::Corrupt(format!("token {id} has the role `{role}`")))?;
    let participant = participant_id
        .map(|p| {
            ParticipantId::parse(&p)
                .map_err(|e| StoreError::Corrupt(format!("token {id}: participant {p}: {e}")))
        })
        .transpose()?;
    Ok(Some(Caller {
        token_id: id,
        name,
        role,
        participant,
    }))
}

/// On the embedded store's first start with no tokens: creates one `operator` token and
/// writes it to `data_dir/operator-token`, readable by the owner only. Returns the file
/// when it wrote one.
pub async fn bootstrap(
    repository: &LedgerEventRepository,
    data_dir: &Path,
) -> Result<Option<PathBuf>, TokenError> {
    if !list(repository).await?.is_empty() {
        return Ok(None);
    }
    let (_, token) = create(repository, BOOTSTRAP_TOKEN_NAME, Role::Operator, None).await?;
    let path = data_dir.join(BOOTSTRAP_TOKEN_FILE);
    write_owner_only(&path, &format!("{token}\n")).map_err(|source| TokenError::File {
        path: path.clone(),
        source,
    })?;
    Ok(Some(path))
}

fn write_owner_only(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(text.as_bytes())?;
    file.sync_all()
}
