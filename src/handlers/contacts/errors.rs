//! Building the modeled contacts errors; store failures become InternalServerException here,
//! logged with their cause but never sent to the client.

use crate::shapes::FieldError;
use crate::shapes::contacts::{
    ConflictException, Error, InternalServerException, ResourceNotFoundException,
    ServiceQuotaExceededException, ValidationException, ValidationExceptionField,
    ValidationExceptionReason,
};
use crate::storage::StoreError;

pub const SERVICE_CODE: &str = "ssm-contacts";

pub fn not_found(resource_type: &str, id: &str) -> Error {
    Error::ResourceNotFoundException(ResourceNotFoundException {
        message: Some(format!("{resource_type} {id} was not found")),
        resource_id: Some(id.to_string()),
        resource_type: Some(resource_type.to_string()),
    })
}

pub fn conflict(resource_type: &str, id: &str, message: impl Into<String>) -> Error {
    Error::ConflictException(ConflictException {
        message: Some(message.into()),
        resource_id: Some(id.to_string()),
        resource_type: Some(resource_type.to_string()),
        dependent_entities: None,
    })
}

pub fn quota(resource_type: &str, id: &str, quota_code: &str, message: impl Into<String>) -> Error {
    Error::ServiceQuotaExceededException(ServiceQuotaExceededException {
        message: Some(message.into()),
        resource_id: Some(id.to_string()),
        resource_type: Some(resource_type.to_string()),
        quota_code: Some(quota_code.to_string()),
        service_code: Some(SERVICE_CODE.to_string()),
    })
}

pub fn invalid_fields(fields: Vec<FieldError>) -> Error {
    Error::ValidationException(ValidationException {
        message: Some(crate::shapes::runtime::describe(&fields)),
        reason: Some(ValidationExceptionReason::FieldValidationFailed),
        fields: Some(
            fields
                .into_iter()
                .map(|f| ValidationExceptionField {
                    name: Some(f.name),
                    message: Some(f.message),
                })
                .collect(),
        ),
    })
}

pub fn invalid(field: &str, message: impl Into<String>) -> Error {
    invalid_fields(vec![FieldError::new(field, message)])
}

/// A rule broken by the request as a whole rather than one field.
pub fn invalid_other(message: impl Into<String>) -> Error {
    Error::ValidationException(ValidationException {
        message: Some(message.into()),
        reason: Some(ValidationExceptionReason::Other),
        fields: None,
    })
}

pub fn internal() -> Error {
    Error::InternalServerException(InternalServerException {
        message: Some("An internal error occurred; see the server log.".into()),
        retry_after_seconds: None,
    })
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        tracing::error!(error = %e, "storage failure in a contacts operation");
        internal()
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        tracing::error!(error = %e, "stored contacts record cannot be (de)serialized");
        internal()
    }
}

impl From<crate::engine::error::EngineError> for Error {
    fn from(e: crate::engine::error::EngineError) -> Error {
        use crate::engine::error::EngineError as E;
        match e {
            E::NotFound { resource_type, id } => not_found(resource_type, &id),
            E::Invalid { field, message } => invalid(field, message),
            E::Store(e) => e.into(),
            E::Json(e) => e.into(),
            E::LeaseLost | E::Panicked | E::RateLimited { .. } | E::Deferred { .. } => internal(),
        }
    }
}
