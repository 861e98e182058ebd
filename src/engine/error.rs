//! The engine's one error type; handlers map it to each service's modeled errors.

use crate::storage::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored engine record cannot be read: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{resource_type} {id} was not found")]
    NotFound {
        resource_type: &'static str,
        id: String,
    },
    #[error("{field} {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// Another node took the timer over: this node's transaction must not commit.
    #[error("the timer's lease was lost to another node")]
    LeaseLost,
    /// The channel has had its sends for this minute; try again at `until_ms`.
    #[error("the contact channel's send rate limit is reached")]
    RateLimited { until_ms: i64 },
    /// A chat update waits for an earlier one of its topic, or for its chat service to recover.
    #[error("the chat update waits")]
    Deferred { until_ms: i64 },
    /// The step panicked; its timer is given back to be tried again later.
    #[error("the engine step panicked")]
    Panicked,
}

impl EngineError {
    pub fn not_found(resource_type: &'static str, id: &str) -> EngineError {
        EngineError::NotFound {
            resource_type,
            id: id.to_string(),
        }
    }

    pub fn invalid(field: &'static str, message: impl Into<String>) -> EngineError {
        EngineError::Invalid {
            field,
            message: message.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, EngineError>;
