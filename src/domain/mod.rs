//! Pure rules with no IO: ARNs, plans, codes and time.

pub mod address;
pub mod arn;
pub mod clock;
pub mod codes;
pub mod plan;
pub mod rotation;
