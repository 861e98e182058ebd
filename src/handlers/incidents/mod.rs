//! SSM Incidents behaviour. Every operation still answers with the generated
//! `NotImplementedException` until the incidents issue lands.

use crate::shapes::incidents::Api;

pub struct IncidentsService;

impl Api for IncidentsService {}
