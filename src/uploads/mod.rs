//! Upload bookkeeping that needs no store of its own: ids bound to their owner, part plans.

mod id;
mod plan;

pub use id::UploadIds;
pub use plan::PartPlan;
