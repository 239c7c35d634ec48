//! Uploads: a declaration that becomes a grant (`grant`), the upload service (`service`: new
//! keys, part URLs, completion and its checks), ids bound to their owner (`id`) and part plans
//! (`plan`). No store of its own: everything it needs is in the id and the object.

mod grant;
mod id;
mod plan;
mod service;

pub use grant::{Declaration, authorise, authorise_unknown_size};
pub use id::{UploadId, UploadIds};
pub use plan::PartPlan;
pub use service::{
    Completed, OwnedUpload, Started, UploadOperation, assemble, complete, complete_unknown_size,
    new_key, owned_key, owned_upload, presign_part, settle_pending, sign_new_form,
    sign_new_multipart, sign_upload_operation, start_upload, upload_ids, verify_completed,
};
