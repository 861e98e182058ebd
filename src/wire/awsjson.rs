//! awsJson1_1 for SSM Contacts: `POST /`, `X-Amz-Target: SSMContacts.<Op>`, JSON in and out.

use super::errors::{ErrorReply, Protocol};
use crate::shapes::contacts::{
    self, ValidationException, ValidationExceptionField, ValidationExceptionReason,
};
use crate::shapes::runtime::describe;
use crate::shapes::{Context, DispatchError, FieldError};

const P: Protocol = Protocol::AwsJson;

/// The operation name a target header addresses, if it is one of ours.
pub fn operation(target: &str) -> Option<&str> {
    target
        .strip_prefix(contacts::TARGET_PREFIX)?
        .strip_prefix('.')
}

pub fn content_type_ok(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case(P.content_type())
    })
}

pub async fn call<A: contacts::Api>(
    api: &A,
    ctx: Context,
    op: &str,
    body: &[u8],
) -> Result<Vec<u8>, ErrorReply> {
    let input: serde_json::Value = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Object(Default::default())
    } else {
        serde_json::from_slice(body).map_err(|e| {
            ErrorReply::serialization(P, format!("request body is not valid JSON: {e}"))
        })?
    };
    if !input.is_object() {
        return Err(ErrorReply::serialization(
            P,
            "request body must be a JSON object",
        ));
    }
    contacts::dispatch(api, ctx, op, input).await.map_err(error)
}

fn validation(
    message: String,
    reason: ValidationExceptionReason,
    fields: &[FieldError],
) -> ErrorReply {
    let e = contacts::Error::ValidationException(ValidationException {
        message: Some(message),
        reason: Some(reason),
        fields: Some(
            fields
                .iter()
                .map(|f| ValidationExceptionField {
                    name: Some(f.name.clone()),
                    message: Some(f.message.clone()),
                })
                .collect(),
        ),
    });
    ErrorReply::from_modeled(e.type_name(), e.status(), e.body())
}

pub fn error(e: DispatchError<contacts::Error>) -> ErrorReply {
    match e {
        DispatchError::Decode(m) => {
            let field = m.split(": ").next().unwrap_or("").to_string();
            validation(
                m.clone(),
                ValidationExceptionReason::CannotParse,
                &[FieldError::new(&field, m)],
            )
        }
        DispatchError::Invalid(fields) => validation(
            describe(&fields),
            ValidationExceptionReason::FieldValidationFailed,
            &fields,
        ),
        DispatchError::UnknownOperation(op) => ErrorReply::new(
            P,
            "UnknownOperationException",
            400,
            format!("Unknown operation {op:?}"),
        ),
        DispatchError::Service(e) => ErrorReply::from_modeled(e.type_name(), e.status(), e.body()),
        DispatchError::Encode(m) => {
            tracing::error!(error = %m, "cannot encode a contacts response");
            ErrorReply::internal(P)
        }
    }
}
