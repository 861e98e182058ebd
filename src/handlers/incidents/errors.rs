//! Building the modeled incidents errors; store failures become InternalServerException here,
//! logged with their cause but never sent to the client.

use crate::shapes::Timestamp;
use crate::shapes::incidents::{
    ConflictException, Error, InternalServerException, ResourceNotFoundException, ResourceType,
    ServiceCode, ServiceQuotaExceededException, ValidationException,
};
use crate::storage::StoreError;

pub fn not_found(resource_type: ResourceType, id: &str) -> Error {
    Error::ResourceNotFoundException(ResourceNotFoundException {
        message: Some(format!("{} {id} was not found", resource_type.as_str())),
        resource_identifier: Some(id.to_string()),
        resource_type: Some(resource_type),
    })
}

pub fn conflict(
    resource_type: Option<ResourceType>,
    id: &str,
    message: impl Into<String>,
    retry_after_ms: Option<i64>,
) -> Error {
    Error::ConflictException(ConflictException {
        message: Some(message.into()),
        resource_identifier: Some(id.to_string()),
        resource_type,
        retry_after: retry_after_ms.map(Timestamp::from_millis),
    })
}

pub fn quota(
    resource_type: ResourceType,
    id: &str,
    quota_code: &str,
    message: impl Into<String>,
) -> Error {
    Error::ServiceQuotaExceededException(ServiceQuotaExceededException {
        message: Some(message.into()),
        quota_code: Some(quota_code.to_string()),
        resource_identifier: Some(id.to_string()),
        resource_type: Some(resource_type),
        service_code: Some(ServiceCode::SsmIncidents),
    })
}

/// The incidents ValidationException has only a message, so it names the field itself.
pub fn invalid(message: impl Into<String>) -> Error {
    Error::ValidationException(ValidationException {
        message: Some(message.into()),
    })
}

pub fn token_reused() -> Error {
    conflict(
        None,
        "clientToken",
        "clientToken was already used with different parameters",
        None,
    )
}

pub fn internal() -> Error {
    Error::InternalServerException(InternalServerException {
        message: Some("An internal error occurred; see the server log.".into()),
    })
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        // Handlers catch the duplicates they expect; one that reaches here is a concurrent
        // request that wrote the same key first (e.g. the same clientToken), so retrying is
        // the answer.
        if matches!(e, StoreError::Conflict) {
            return Error::ConflictException(ConflictException {
                message: Some("a concurrent request changed the same resource; retry".into()),
                ..Default::default()
            });
        }
        tracing::error!(error = %e, "storage failure in an incidents operation");
        internal()
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        tracing::error!(error = %e, "stored incidents record cannot be (de)serialized");
        internal()
    }
}

impl From<crate::engine::error::EngineError> for Error {
    fn from(e: crate::engine::error::EngineError) -> Error {
        use crate::engine::error::EngineError as E;
        match e {
            E::Store(e) => e.into(),
            E::Json(e) => e.into(),
            other => {
                tracing::error!(error = %other, "engine failure in an incidents operation");
                internal()
            }
        }
    }
}
