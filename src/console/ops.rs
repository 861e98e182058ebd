//! The console's only way to read or change incidents and contacts: the API's operations,
//! called in process as the signed-in key, with the same validation as a signed request.

use super::ConsoleError;
use crate::shapes::runtime::DispatchError;
use crate::shapes::{Context, contacts, incidents};
use crate::wire::Api;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub struct Caller<'a> {
    api: &'a Api,
    pub ctx: Context,
}

impl<'a> Caller<'a> {
    pub fn new(api: &'a Api, account_id: &str, access_key_id: &str) -> Caller<'a> {
        Caller {
            api,
            ctx: Context {
                account_id: account_id.to_string(),
                region: api.regions.first().cloned().unwrap_or_default(),
                access_key_id: access_key_id.to_string(),
                request_id: crate::wire::request_id(),
            },
        }
    }

    pub async fn incidents<I: Serialize, O: DeserializeOwned>(
        &self,
        op: &str,
        input: &I,
    ) -> Result<O, ConsoleError> {
        let input = serde_json::to_value(input).map_err(|e| internal(op, e))?;
        let out = incidents::dispatch(&self.api.incidents, self.ctx.clone(), op, input)
            .await
            .map_err(|e| refusal(op, e, |e| (e.type_name(), e.status(), e.body())))?;
        decode(op, &out)
    }

    pub async fn contacts<I: Serialize, O: DeserializeOwned>(
        &self,
        op: &str,
        input: &I,
    ) -> Result<O, ConsoleError> {
        let input = serde_json::to_value(input).map_err(|e| internal(op, e))?;
        let out = contacts::dispatch(&self.api.contacts, self.ctx.clone(), op, input)
            .await
            .map_err(|e| refusal(op, e, |e| (e.type_name(), e.status(), e.body())))?;
        decode(op, &out)
    }

    pub fn contact_arn(&self, alias: &str) -> String {
        crate::domain::arn::contacts_arn(&self.ctx.region, &self.ctx.account_id, "contact", alias)
    }

    pub fn incident_arn(&self, plan: &str, id: &str) -> String {
        crate::domain::arn::incidents_arn(
            &self.ctx.account_id,
            "incident-record",
            &format!("{plan}/{id}"),
        )
    }

    pub fn plan_arn(&self, name: &str) -> String {
        crate::domain::arn::incidents_arn(&self.ctx.account_id, "response-plan", name)
    }
}

fn internal(op: &str, e: impl std::fmt::Display) -> ConsoleError {
    ConsoleError::Internal(format!("{op}: {e}"))
}

fn decode<O: DeserializeOwned>(op: &str, out: &[u8]) -> Result<O, ConsoleError> {
    // Operations without output members answer with no body.
    let out: &[u8] = if out.is_empty() { b"{}" } else { out };
    serde_json::from_slice(out).map_err(|e| internal(op, e))
}

fn refusal<E>(
    op: &str,
    e: DispatchError<E>,
    modeled: impl FnOnce(&E) -> (&'static str, u16, serde_json::Value),
) -> ConsoleError {
    match e {
        DispatchError::Service(e) => {
            let (code, status, body) = modeled(&e);
            ConsoleError::Refused {
                code: code.to_string(),
                // awsJson names the member `Message`, restJson `message`.
                message: body["Message"]
                    .as_str()
                    .or(body["message"].as_str())
                    .unwrap_or_default()
                    .to_string(),
                status,
            }
        }
        DispatchError::Invalid(fields) => ConsoleError::Refused {
            code: "ValidationException".into(),
            message: fields
                .iter()
                .map(|f| format!("{}: {}", f.name, f.message))
                .collect::<Vec<_>>()
                .join("; "),
            status: 400,
        },
        DispatchError::Decode(m) | DispatchError::Encode(m) => internal(op, m),
        DispatchError::UnknownOperation(m) => internal(op, m),
    }
}
