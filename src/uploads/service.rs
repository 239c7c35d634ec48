//! The upload service: keys bound to their owner, part URLs, completion, and the checks that make
//! a completed upload what it was authorised to be. Route handlers call these and only map
//! requests and answers.

use std::time::{Duration, SystemTime};

use crate::auth::Caller;
use crate::domain::{ContentType, ObjectKey};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::limits::MAX_PARTS;
use crate::storage::{ObjectMeta, PresignedPost, PresignedUrl, PutObjectGrant};
use crate::webhooks::{CompletedVia, UploadCompleted};

use super::{Declaration, PartPlan, UploadId, UploadIds, authorise};

pub fn upload_ids(state: &AppState) -> Result<&UploadIds, ApiError> {
    state.upload_ids.as_deref().ok_or(ApiError::UploadsDisabled)
}

/// How far a replica's clock may be behind the one that issued an id: an id from the near
/// future is new, not expired.
const CLOCK_SKEW: Duration = Duration::from_secs(300);

/// Seconds since `issued_at`; 0 for a time up to [`CLOCK_SKEW`] ahead of `now` (another
/// replica's clock), `None` for one further ahead (not an id we issued).
fn id_age_secs(issued_at: SystemTime, now: SystemTime) -> Option<u64> {
    match now.duration_since(issued_at) {
        Ok(age) => Some(age.as_secs()),
        Err(ahead) if ahead.duration() <= CLOCK_SKEW => Some(0),
        Err(_) => None,
    }
}

/// An upload the caller may act on.
pub struct OwnedUpload {
    pub id: UploadId,
    pub key: ObjectKey,
    pub plan: PartPlan,
    /// Seconds the id has left: no URL signed for it may outlive it.
    pub secs_left: u64,
}

/// The upload named by `raw_id`, when `caller` owns it (or is an admin), with its plan.
pub fn owned_upload(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
) -> Result<OwnedUpload, ApiError> {
    let ids = upload_ids(state)?;
    // The role is asked again on every step: a token that lost it cannot go on uploading.
    if !state.policy.may_upload(caller) {
        return Err(ApiError::Forbidden("uploading needs the uploader role"));
    }
    let id = UploadId::parse(raw_id)?;
    let plan = if state.policy.is_admin(caller) {
        UploadIds::plan_unverified(&id)
    } else {
        ids.plan_for(&id, &caller.subject)
    }
    .ok_or(ApiError::Forbidden(
        "only the uploader or an admin may act on this upload",
    ))?;
    // An id is a capability: it ends `uploads.id_max_age_secs` after it was issued.
    let age = UploadIds::issued_at(&id).and_then(|at| id_age_secs(at, state.clock.now()));
    let max_age = state.uploads.id_max_age_secs;
    let Some(secs_left) = age
        .and_then(|age| max_age.checked_sub(age))
        .filter(|&s| s > 0)
    else {
        return Err(ApiError::UploadExpired);
    };
    let key = state.storage.key_for(id.video_id());
    Ok(OwnedUpload {
        id,
        key,
        plan,
        secs_left,
    })
}

/// An UploadPart URL for part `number` of the caller's upload, living at most `expires_secs`
/// and never beyond the upload's id. When the plan knows the size (`POST /uploads`), only the
/// plan's part numbers are signed, each with its exact length; when it does not (Uppy's
/// protocols), any part number S3 accepts, with no length.
pub async fn presign_part(
    state: &AppState,
    upload: &OwnedUpload,
    upload_id: &str,
    number: u64,
    expires_secs: u64,
) -> Result<(PresignedUrl, Option<u64>), ApiError> {
    let plan = upload.plan;
    let length = if plan.is_size_known() {
        let length = plan.part_len(number).ok_or_else(|| {
            ApiError::BadRequest(format!("part number must be 1..={}", plan.part_count))
        })?;
        Some(length)
    } else if (1..=MAX_PARTS).contains(&number) {
        None
    } else {
        return Err(ApiError::BadRequest(format!(
            "part number must be 1..={MAX_PARTS}"
        )));
    };
    let presigned = state
        .storage
        .upload_signer
        .upload_part(
            &upload.key,
            upload_id,
            number,
            length,
            expires_secs.min(upload.secs_left),
        )
        .await?;
    Ok((presigned, length))
}

/// Multipart completion: exactly parts 1..=N, each of its planned length, then assembly of
/// exactly the parts that were checked.
pub async fn assemble(
    state: &AppState,
    key: &ObjectKey,
    plan: PartPlan,
    upload_id: &str,
    requested: &[(u64, String)],
) -> Result<(), ApiError> {
    let numbers: Vec<u64> = requested.iter().map(|(number, _)| *number).collect();
    if !numbers.iter().copied().eq(1..=plan.part_count) {
        return Err(ApiError::UploadMismatch(format!(
            "parts must be exactly 1..={} in order (the declared size is {} bytes)",
            plan.part_count, plan.total
        )));
    }
    let stored = state
        .storage
        .list_parts(key, upload_id)
        .await?
        .ok_or(ApiError::UploadNotFound)?;
    for number in 1..=plan.part_count {
        let expected = plan.part_len(number);
        let found = stored.iter().find(|p| p.number == number).map(|p| p.size);
        if found != expected {
            return Err(ApiError::UploadMismatch(format!(
                "part {number}: {found:?} bytes stored, {expected:?} planned"
            )));
        }
    }
    let parts = checked_parts(
        &stored,
        requested
            .iter()
            .map(|(number, etag)| (*number, etag.as_str())),
    )?;
    complete_checked(state, key, upload_id, &parts).await
}

/// The parts to assemble: the client's choice, each with the ETag of the part that was listed
/// and checked. A part uploaded again after the listing has another ETag, so the store refuses
/// the completion instead of assembling what was never checked.
pub fn checked_parts<'a>(
    stored: &[crate::storage::StoredPart],
    requested: impl Iterator<Item = (u64, &'a str)>,
) -> Result<Vec<(u64, String)>, ApiError> {
    let unquote = |etag: &str| etag.trim_matches('"').to_owned();
    requested
        .map(|(number, etag)| {
            let part = stored
                .iter()
                .find(|p| p.number == number)
                .ok_or_else(|| ApiError::UploadMismatch(format!("part {number} is not stored")))?;
            // s3s-fs 0.14 lists parts without ETags: there, the client's is all there is.
            let Some(listed) = part.etag.as_deref() else {
                return Ok((number, etag.to_owned()));
            };
            if unquote(listed) != unquote(etag) {
                return Err(ApiError::UploadMismatch(format!(
                    "part {number}: the ETag does not match the stored part"
                )));
            }
            Ok((number, listed.to_owned()))
        })
        .collect()
}

/// Assembles checked parts; the store refusing them (an invalid part or order) is the client's
/// error, not an outage.
pub async fn complete_checked(
    state: &AppState,
    key: &ObjectKey,
    upload_id: &str,
    parts: &[(u64, String)],
) -> Result<(), ApiError> {
    let no_overwrite = state.uploads.if_none_match;
    match state
        .storage
        .complete_multipart(key, upload_id, parts, no_overwrite)
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(ApiError::UploadNotFound),
        Err(e) if e.kind == crate::storage::StorageErrorKind::Rejected => {
            tracing::info!(error = %e, "store refused a multipart completion");
            Err(ApiError::UploadMismatch(
                "the store refused these parts".to_owned(),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// A fresh key for `caller`, once the store is known to let tollgate's key write.
pub async fn new_key(state: &AppState, caller: &Caller) -> Result<ObjectKey, ApiError> {
    state.storage.ensure_writable().await?;
    let id = upload_ids(state)?.issue(&caller.subject, PartPlan::unknown_size());
    let key = state.storage.key_for(id.video_id());
    // Its size is unknown until the store holds it: tracked until then (quotas).
    settle_pending(state, &caller.subject).await?;
    let admin = state.policy.is_admin(caller);
    state
        .controls
        .track_upload(&caller.subject, admin, key.as_str())
        .await?;
    Ok(key)
}

/// The caller's upload behind `key`, or 403.
pub fn owned_key(state: &AppState, caller: &Caller, key: &str) -> Result<OwnedUpload, ApiError> {
    let raw_id = key
        .strip_prefix(state.storage.key_prefix())
        .ok_or(ApiError::Forbidden("this key is not an upload of yours"))?;
    owned_upload(state, caller, raw_id)
}

/// What a completed upload holds, once checked against what it was authorised for.
#[derive(Debug)]
pub struct Completed {
    pub size: u64,
    pub content_type: String,
    pub tier: String,
}

/// The object is there, the caller may manage it, and it is what its upload was authorised for.
pub async fn verify_completed(
    state: &AppState,
    caller: &Caller,
    key: &ObjectKey,
) -> Result<Completed, ApiError> {
    // Fresh, not cached: the object has just been written.
    let meta = state
        .storage
        .metadata
        .refresh(key)
        .await?
        .ok_or(ApiError::UploadNotFound)?;
    // Whether it is an upload at all before whose it is, then what it holds.
    if !meta.is_upload() {
        return Err(not_an_upload());
    }
    if !state.policy.may_manage(caller, &meta) {
        return Err(ApiError::Forbidden(
            "only the uploader or an admin may complete this upload",
        ));
    }
    check_stored(state, &meta)
}

fn not_an_upload() -> ApiError {
    ApiError::UploadMismatch("the object was not written through an upload URL".to_owned())
}

/// What a stored object holds, when it is what an upload was authorised to write.
fn check_stored(state: &AppState, meta: &ObjectMeta) -> Result<Completed, ApiError> {
    // Objects an upload URL wrote carry the signed declaration (a size, or for uploads of
    // unknown size their maximum); anything else (written with the store's own credentials, or
    // a body the store refused but kept) is not an upload.
    if !meta.is_upload() {
        return Err(not_an_upload());
    }
    let size = meta.size.unwrap_or(0);
    if let Some(max) = meta.max_size
        && size > max
    {
        return Err(ApiError::TooLarge(max));
    }
    if let Some(why) = meta.unauthorised() {
        return Err(ApiError::UploadMismatch(why));
    }
    let content_type = meta.content_type.clone().unwrap_or_default();
    if ContentType::parse(&content_type, &state.uploads.allowed_content_types).is_err() {
        return Err(ApiError::UploadMismatch(format!(
            "content type {content_type:?} was not authorised"
        )));
    }
    Ok(Completed {
        size,
        content_type,
        tier: state.policy.tier_of(meta).to_owned(),
    })
}

/// `POST /uploads/{id}/complete`: (multipart: the planned parts are assembled, then) the object
/// is there, it is the caller's and what was authorised; the quota reservation becomes what the
/// store holds, and the completion is announced.
pub async fn complete(
    state: &AppState,
    caller: &Caller,
    upload: &OwnedUpload,
    multipart: Option<(&str, &[(u64, String)])>,
) -> Result<Completed, ApiError> {
    let completed = match multipart {
        Some((upload_id, parts)) => {
            match assemble(state, &upload.key, upload.plan, upload_id, parts).await {
                Ok(()) => verify_completed(state, caller, &upload.key).await?,
                // A completion retried after the store assembled the parts (its answer lost or
                // too late, or the SDK's own retry finding the upload gone) finds no parts left:
                // the object is then checked as an upload without a body is, or the refusal
                // stands.
                Err(refused) => verify_completed(state, caller, &upload.key)
                    .await
                    .map_err(|_| refused)?,
            }
        }
        None => verify_completed(state, caller, &upload.key).await?,
    };
    state
        .controls
        .settle_upload(&caller.subject, upload.id.as_str(), completed.size)
        .await?;
    tracing::info!(upload = %upload.id, subject = %caller.subject, size = completed.size, "upload complete");
    // Only now: a refused or failed completion announces nothing, and a client that retries
    // it after a failure above announces it then.
    announce(
        state,
        &upload.key,
        &caller.subject,
        completed.size,
        Some(&completed),
        CompletedVia::UploadsComplete,
    );
    Ok(completed)
}

/// Hands a completed upload to the webhooks (nothing without `webhooks.url`). `checked` is
/// what [`check_stored`] found, when the store could be asked.
fn announce(
    state: &AppState,
    key: &ObjectKey,
    subject: &str,
    size: u64,
    checked: Option<&Completed>,
    via: CompletedVia,
) {
    if !state.webhooks.enabled() {
        return;
    }
    // Upload keys are the prefix and the upload id, which is the video id.
    let id = key
        .as_str()
        .strip_prefix(state.storage.key_prefix())
        .unwrap_or(key.as_str());
    let data = UploadCompleted {
        upload_id: id.to_owned(),
        video_id: id.to_owned(),
        bucket: state.storage.bucket().to_owned(),
        key: key.to_string(),
        size,
        content_type: checked.map(|c| c.content_type.clone()),
        access: checked.map(|c| c.tier.clone()),
        subject: subject.to_owned(),
        completed_via: via,
    };
    state.webhooks.upload_completed(&data, state.clock.now());
}

/// Announces a multipart upload tollgate just assembled for an Uppy client. Its type and tier
/// are the object's: asked of the store (once, and only with webhooks on).
async fn announce_assembled(state: &AppState, subject: &str, key: &ObjectKey, total: u64) {
    if !state.webhooks.enabled() {
        return;
    }
    let checked = match state.storage.metadata.refresh(key).await {
        Ok(Some(meta)) => match check_stored(state, &meta) {
            Ok(checked) => Some(checked),
            Err(e) => {
                tracing::warn!(key = %key, error = %e, "an assembled upload is not what was authorised: not announced");
                return;
            }
        },
        // Announced all the same: the store did assemble it, and a client retrying would find
        // no upload left to complete.
        Ok(None) | Err(_) => {
            tracing::warn!(key = %key, "an assembled upload could not be read back: announced without its type");
            None
        }
    };
    let size = checked.as_ref().map_or(total, |c| c.size);
    announce(
        state,
        key,
        subject,
        size,
        checked.as_ref(),
        CompletedVia::UppyMultipartComplete,
    );
}

/// Completes an upload whose size was never declared (Uppy's protocols): the parts the client
/// names, as listed and checked, within the policy maximum for multipart uploads.
pub async fn complete_unknown_size(
    state: &AppState,
    caller: &Caller,
    key: &ObjectKey,
    upload_id: &str,
    requested: &[(u64, String)],
) -> Result<(), ApiError> {
    let stored = state
        .storage
        .list_parts(key, upload_id)
        .await?
        .ok_or(ApiError::UploadNotFound)?;
    let parts = checked_parts(
        &stored,
        requested
            .iter()
            .map(|(number, etag)| (*number, etag.as_str())),
    )?;
    let total: u64 = stored
        .iter()
        .filter(|p| parts.iter().any(|(number, _)| *number == p.number))
        .map(|p| p.size)
        .sum();
    if total > state.uploads.max_multipart_bytes {
        return Err(ApiError::TooLarge(state.uploads.max_multipart_bytes));
    }
    // No size was declared, so nothing was reserved: the parts must fit before the store
    // assembles them, and count once it has.
    let admin = state.policy.is_admin(caller);
    settle_pending(state, &caller.subject).await?;
    state
        .controls
        .ensure_fits(&caller.subject, admin, total)
        .await?;
    complete_checked(state, key, upload_id, &parts).await?;
    // Announced as soon as the store assembled it: a client that retries after a failure below
    // finds no upload left to complete, so there would be no later chance.
    announce_assembled(state, &caller.subject, key, total).await;
    if !admin {
        state
            .controls
            .count_stored(&caller.subject, key.as_str(), total)
            .await?;
    }
    Ok(())
}

/// Counts the uploads of unknown size (Uppy's) that `subject` signed and the store now holds,
/// at their stored size, and announces them; forgets those that never arrived within an upload
/// id's life. Run before each quota decision, so that an upload is counted however it was
/// finished (a form, a completion the client made at the store itself).
pub async fn settle_pending(state: &AppState, subject: &str) -> Result<(), ApiError> {
    if !state.controls.quotas_on() {
        return Ok(());
    }
    let now = crate::clock::unix_secs(state.clock.now());
    let max_age = i64::try_from(state.uploads.id_max_age_secs).unwrap_or(i64::MAX);
    for (raw, since) in state.controls.pending_uploads(subject).await? {
        // Asked of the store, not of the metadata cache: a miss cached a moment before the
        // client finished its upload would hide it.
        let stored = match ObjectKey::parse(&raw) {
            Ok(key) => match state.storage.metadata.refresh(&key).await {
                Ok(meta) => meta.map(|meta| (key, meta)),
                Err(e) if e.is_forbidden() => None,
                Err(e) => return Err(e.into()),
            },
            Err(_) => None,
        };
        match stored {
            Some((key, meta)) => {
                let size = meta.size.unwrap_or(0);
                state.controls.count_stored(subject, &raw, size).await?;
                announce_found(state, subject, &key, &meta);
            }
            None if now.saturating_sub(since) > max_age => {
                state.controls.forget_upload(subject, &raw).await?;
            }
            None => {}
        }
    }
    Ok(())
}

/// Announces an upload the client completed at the store itself, which tollgate has just found
/// there, when it is what was authorised (the checks of a completion through tollgate).
fn announce_found(state: &AppState, subject: &str, key: &ObjectKey, meta: &ObjectMeta) {
    match check_stored(state, meta) {
        Ok(checked) => announce(
            state,
            key,
            subject,
            checked.size,
            Some(&checked),
            CompletedVia::ClientAtStore,
        ),
        Err(e) => {
            tracing::warn!(key = %key, subject, error = %e, "an upload completed at the store is not what was authorised: not announced");
        }
    }
}

/// A form upload of a new, tollgate-chosen key: a POST policy with the grant's type and
/// metadata pinned and the length bounded by `uploads.max_size_bytes`, which the store enforces
/// (Uppy's protocols never tell the size, so a PUT could not sign one). It lives at most
/// `presign.form_max_expires_secs`.
pub async fn sign_new_form(
    state: &AppState,
    caller: &Caller,
    grant: &PutObjectGrant,
    expires_secs: u64,
) -> Result<(ObjectKey, PresignedPost), ApiError> {
    // A form's size is known to the store only: it is bounded by what the caller's quota has
    // left (the README says what this cannot meter).
    let admin = state.policy.is_admin(caller);
    settle_pending(state, &caller.subject).await?;
    let max_size = match state.controls.upload_budget(&caller.subject, admin).await? {
        Some(budget) if budget.remaining_bytes == 0 => {
            return Err(ApiError::QuotaExceeded {
                remaining_bytes: 0,
                resets_in_secs: budget.resets_in_secs,
            });
        }
        Some(budget) => state.uploads.max_size_bytes.min(budget.remaining_bytes),
        None => state.uploads.max_size_bytes,
    };
    let key = new_key(state, caller).await?;
    let post = state
        .storage
        .upload_signer
        .post_object(
            &key,
            grant,
            max_size,
            expires_secs.min(state.presign.form_max_expires_secs),
        )
        .await?;
    Ok((key, post))
}

/// A CreateMultipartUpload request for a new, tollgate-chosen key, with the grant signed in.
pub async fn sign_new_multipart(
    state: &AppState,
    caller: &Caller,
    grant: PutObjectGrant,
    expires_secs: u64,
) -> Result<(ObjectKey, PresignedUrl), ApiError> {
    let key = new_key(state, caller).await?;
    let presigned = state
        .storage
        .upload_signer
        .create_multipart(&key, grant, expires_secs)
        .await?;
    Ok((key, presigned))
}

/// An operation on an upload the caller owns, by one presigned request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadOperation {
    Part(u64),
    ListParts,
    Complete,
    Abort,
}

/// A presigned request for `operation` on `upload`, never outliving its id. ListParts is a read
/// (Garage asks for read permission; AWS for s3:ListMultipartUploadParts): the read key signs
/// it, the upload key the rest.
pub async fn sign_upload_operation(
    state: &AppState,
    caller: &Caller,
    upload: &OwnedUpload,
    upload_id: &str,
    operation: UploadOperation,
    expires_secs: u64,
) -> Result<PresignedUrl, ApiError> {
    let secs = expires_secs.min(upload.secs_left);
    let storage = &state.storage;
    let key = &upload.key;
    Ok(match operation {
        UploadOperation::Part(number) => {
            presign_part(state, upload, upload_id, number, secs)
                .await?
                .0
        }
        UploadOperation::ListParts => {
            storage
                .playback_signer
                .list_parts(key, upload_id, secs)
                .await?
        }
        UploadOperation::Complete => {
            // The client completes at the store itself: what it uploaded so far must fit; the
            // object counts at its stored size once the store holds it (`settle_pending`), so
            // parts uploaded after this URL was signed count too.
            if state.controls.quotas_on() {
                let parts = storage
                    .list_parts(key, upload_id)
                    .await?
                    .ok_or(ApiError::UploadNotFound)?;
                let total = parts.iter().map(|p| p.size).sum();
                settle_pending(state, &caller.subject).await?;
                let admin = state.policy.is_admin(caller);
                state
                    .controls
                    .ensure_fits(&caller.subject, admin, total)
                    .await?;
            }
            let no_overwrite = state.uploads.if_none_match;
            storage
                .upload_signer
                .complete_multipart(key, upload_id, no_overwrite, secs)
                .await?
        }
        UploadOperation::Abort => {
            storage
                .upload_signer
                .abort_multipart(key, upload_id, secs)
                .await?
        }
    })
}

/// An upload `POST /uploads` started.
#[derive(Debug)]
pub enum Started {
    /// One PUT URL.
    Single {
        id: UploadId,
        key: ObjectKey,
        url: PresignedUrl,
    },
    /// A multipart upload tollgate created, to be filled part by part.
    Multipart {
        id: UploadId,
        key: ObjectKey,
        upload_id: String,
        plan: PartPlan,
    },
}

/// May upload? → validate the declaration (its size known) → one PUT URL, or a multipart upload
/// above `uploads.multipart_threshold_bytes`.
pub async fn start_upload(
    state: &AppState,
    caller: &Caller,
    declaration: Declaration<'_>,
) -> Result<Started, ApiError> {
    let ids = upload_ids(state)?;
    if !state.policy.may_upload(caller) {
        return Err(ApiError::Forbidden("uploading needs the uploader role"));
    }
    let size = declaration.size.unwrap_or(0);
    let multipart = size > state.uploads.multipart_threshold_bytes;
    if multipart && declaration.sha256.is_some() {
        return Err(ApiError::BadRequest(
            "sha256 is enforced on single uploads only; leave it out above the multipart threshold"
                .to_owned(),
        ));
    }
    let grant = authorise(
        state,
        caller,
        &Declaration {
            multipart,
            ..declaration
        },
    )?;
    state.storage.ensure_writable().await?;

    // tollgate chooses the key: time-ordered, unguessable, bound to its owner, never the client's.
    let plan = PartPlan::new(size, state.uploads.part_size_bytes);
    let id = ids.issue(&caller.subject, plan);
    let key = state.storage.key_for(id.video_id());
    // The declared size, held against the caller's quota until the upload completes or aborts.
    let reservation = id.to_string();
    let admin = state.policy.is_admin(caller);
    settle_pending(state, &caller.subject).await?;
    state
        .controls
        .reserve_upload(&caller.subject, admin, &reservation, size)
        .await?;
    let started = sign_started(state, caller, id, key, grant, multipart, plan).await;
    if started.is_err() {
        // Nothing to upload to: the reservation goes back (best effort).
        let _ = state
            .controls
            .release_upload(&caller.subject, &reservation)
            .await;
    }
    started
}

/// Step 3 of `start_upload`: the multipart upload, or the one PUT URL.
async fn sign_started(
    state: &AppState,
    caller: &Caller,
    id: UploadId,
    key: ObjectKey,
    grant: PutObjectGrant,
    multipart: bool,
    plan: PartPlan,
) -> Result<Started, ApiError> {
    if multipart {
        let upload_id = state
            .storage
            .create_multipart(&key, &grant.content_type, grant.metadata)
            .await?;
        tracing::info!(upload = %id, subject = %caller.subject, parts = plan.part_count, "multipart upload started");
        return Ok(Started::Multipart {
            id,
            key,
            upload_id,
            plan,
        });
    }
    let url = state
        .storage
        .upload_signer
        .put_object(&key, grant, state.presign.put_max_expires_secs)
        .await?;
    tracing::info!(upload = %id, subject = %caller.subject, "upload URL issued");
    Ok(Started::Single { id, key, url })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_from_a_replica_slightly_ahead_is_new_not_expired() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(id_age_secs(now - Duration::from_secs(90), now), Some(90));
        assert_eq!(id_age_secs(now + Duration::from_millis(500), now), Some(0));
        assert_eq!(id_age_secs(now + CLOCK_SKEW, now), Some(0));
        assert_eq!(
            id_age_secs(now + CLOCK_SKEW + Duration::from_secs(1), now),
            None
        );
    }
}
