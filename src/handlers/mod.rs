//! Operation behaviour for both services: typed input and request context in, typed output
//! or a modeled error out. Handlers never see HTTP.

pub mod contacts;
pub mod idempotency;
pub mod incidents;
pub mod paging;
