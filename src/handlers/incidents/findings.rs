//! Findings (deployments and stack updates near an incident). Klaxon has no deployment
//! sources yet, so an incident has no findings and every requested id is reported unknown.

use super::IncidentsService;
use super::errors::not_found;
use super::records::INCIDENT;
use crate::shapes::Context;
use crate::shapes::incidents::*;
use crate::storage::Reader;

async fn incident_exists(r: &mut dyn Reader, ctx: &Context, arn: &str) -> Result<(), Error> {
    match r.get(INCIDENT, &ctx.account_id, arn).await? {
        Some(_) => Ok(()),
        None => Err(not_found(ResourceType::IncidentRecord, arn)),
    }
}

pub async fn list(
    svc: &IncidentsService,
    ctx: Context,
    input: ListIncidentFindingsInput,
) -> Result<ListIncidentFindingsOutput, Error> {
    let arn = input.incident_record_arn.unwrap_or_default();
    let mut r = svc.store.read().await?;
    incident_exists(r.as_mut(), &ctx, &arn).await?;
    Ok(ListIncidentFindingsOutput {
        findings: Some(Vec::new()),
        next_token: None,
    })
}

pub async fn batch_get(
    svc: &IncidentsService,
    ctx: Context,
    input: BatchGetIncidentFindingsInput,
) -> Result<BatchGetIncidentFindingsOutput, Error> {
    let arn = input.incident_record_arn.unwrap_or_default();
    let mut r = svc.store.read().await?;
    incident_exists(r.as_mut(), &ctx, &arn).await?;
    let errors = input
        .finding_ids
        .unwrap_or_default()
        .into_iter()
        .map(|id| BatchGetIncidentFindingsError {
            code: Some("ResourceNotFoundException".into()),
            message: Some(format!("finding {id} was not found for this incident")),
            finding_id: Some(id),
        })
        .collect();
    Ok(BatchGetIncidentFindingsOutput {
        errors: Some(errors),
        findings: Some(Vec::new()),
    })
}
