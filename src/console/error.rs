//! What can go wrong behind a console page, and the status and words each one gets.

use axum::http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The thing the page is about does not exist in this account.
    #[error("{0}")]
    NotFound(String),
    /// An operation refused what was asked (its modeled error), in its own words.
    #[error("{code}: {message}")]
    Refused {
        code: String,
        message: String,
        status: u16,
    },
    #[error("template {name}: {detail}")]
    Template { name: String, detail: String },
    #[error("storage: {0}")]
    Store(#[from] crate::storage::StoreError),
    #[error("{0}")]
    Internal(String),
}

impl ConsoleError {
    pub fn status(&self) -> StatusCode {
        match self {
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::Refused { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST)
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The words a person sees: what was refused and why, or a plain apology for our faults
    /// (whose detail goes to the log, not the page).
    pub fn words(&self) -> String {
        match self {
            ConsoleError::NotFound(m) => m.clone(),
            ConsoleError::Refused { message, code, .. } if message.is_empty() => code.clone(),
            ConsoleError::Refused { message, .. } => message.clone(),
            _ => "Something went wrong on the server; its log has the details.".into(),
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, ConsoleError::NotFound(_))
            || matches!(self, ConsoleError::Refused { code, .. } if code == "ResourceNotFoundException")
    }
}

impl From<minijinja::Error> for ConsoleError {
    fn from(e: minijinja::Error) -> Self {
        ConsoleError::Template {
            name: e.name().unwrap_or("?").to_string(),
            detail: e.to_string(),
        }
    }
}
