//! Findings (deployments and stack updates near an incident). Klaxon has no deployment
//! sources yet, so an incident has no findings and every requested id is reported unknown.

use super::records::INCIDENT;
use super::{IncidentsService, must_exist};
use crate::shapes::Context;
use crate::shapes::incidents::*;

pub async fn list(
    svc: &IncidentsService,
    ctx: Context,
    input: ListIncidentFindingsInput,
) -> Result<ListIncidentFindingsOutput, Error> {
    let arn = input.incident_record_arn.unwrap_or_default();
    let mut r = svc.store.read().await?;
    must_exist(
        r.as_mut(),
        &ctx,
        INCIDENT,
        ResourceType::IncidentRecord,
        &arn,
    )
    .await?;
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
    must_exist(
        r.as_mut(),
        &ctx,
        INCIDENT,
        ResourceType::IncidentRecord,
        &arn,
    )
    .await?;
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
