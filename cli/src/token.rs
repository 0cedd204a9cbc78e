//! `edoc-ledger token create|list|revoke`: the API's bearer tokens.

use clap::Subcommand;

use api::settings::StoreSettings;
use api::store::{LedgerEventRepository, StoreLocation};

use crate::{participant_arg, ReplayOutcome, RunResult};

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Create a token and print it (once: only its hash is kept).
    Create {
        #[arg(long, value_enum)]
        role: api::application::tokens::Role,
        /// For the participant role: the one agreement (BIN/IIN) it may read.
        #[arg(long)]
        participant: Option<String>,
        /// Who uses it (recorded as the actor of the events it causes).
        #[arg(long)]
        name: String,
    },
    /// List the tokens (never their secrets).
    List,
    /// Revoke a token by id (or by name when only one token has it).
    Revoke {
        /// The token's id (as `token list` shows) or name.
        token: String,
    },
}

pub async fn token(store: &StoreSettings, action: TokenAction) -> RunResult {
    let location = StoreLocation::choose(store.database_url.as_deref(), &store.data_dir)?;
    let repository = LedgerEventRepository::connect(&location).await?;
    let show = |t: &api::application::tokens::TokenRecord| {
        format!(
            "{}  {:<11} {:<12} {}  created {}{}",
            t.id,
            t.role.code(),
            t.participant_id.as_deref().unwrap_or("-"),
            t.name,
            t.created_at,
            t.revoked_at
                .as_deref()
                .map(|at| format!(", REVOKED {at}"))
                .unwrap_or_default()
        )
    };
    match action {
        TokenAction::Create {
            role,
            participant,
            name,
        } => {
            let participant = participant_arg(participant.as_deref())?;
            let (record, token) =
                api::application::tokens::create(&repository, &name, role, participant.as_ref())
                    .await?;
            eprintln!("created {}; the token is shown this once:", show(&record));
            println!("{token}");
        }
        TokenAction::List => {
            for record in api::application::tokens::list(&repository).await? {
                println!("{}", show(&record));
            }
        }
        TokenAction::Revoke { token } => {
            let record = api::application::tokens::revoke(&repository, &token).await?;
            println!("{}", show(&record));
        }
    }
    repository.close().await;
    Ok(ReplayOutcome::Clean)
}
