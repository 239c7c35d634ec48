//! Upload ids that carry their owner and plan: `{uuidv7}-{size}-{part size}-{tag}`, the tag being
//! an HMAC of the rest and the owner's `sub`. Any replica can tell from the id alone who may sign
//! parts for, complete or abort an upload, and how long each part must be: no session store, and
//! a caller holding someone else's id (or editing the size in it) cannot pass.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::PartPlan;
use crate::domain::{ParseError, VideoId};

/// tollgate's id of an upload: a video id that [`UploadIds`] issued (its owner and plan are in
/// it, bound by a MAC). Any valid video id parses; whether it is one of ours, and whose, only
/// [`UploadIds::plan_for`] can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadId(VideoId);

impl UploadId {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        VideoId::parse(raw).map(Self)
    }

    /// The video the upload becomes.
    pub fn video_id(&self) -> &VideoId {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl std::fmt::Display for UploadId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// 16 bytes of tag: 128 bits, 22 base64url characters.
const TAG_BYTES: usize = 16;
const TAG_CHARS: usize = 22;

/// `(body, tag)` of an id; split by position, as base64url tags may contain `-`.
fn split(s: &str) -> Option<(&str, &str)> {
    let cut = s.len().checked_sub(TAG_CHARS + 1)?;
    let (body, rest) = s.split_at_checked(cut)?;
    Some((body, rest.strip_prefix('-')?))
}

pub struct UploadIds {
    /// Keyed once: keying an HMAC costs two SHA-256 blocks, as much as tagging an id.
    mac: Hmac<Sha256>,
}

impl UploadIds {
    pub fn new(secret: &[u8]) -> Self {
        let Ok(mac) = Hmac::<Sha256>::new_from_slice(secret) else {
            unreachable!("HMAC takes keys of any length")
        };
        Self { mac }
    }

    fn tag(&self, body: &str, owner: &str) -> [u8; TAG_BYTES] {
        let mut mac = self.mac.clone();
        mac.update(body.as_bytes());
        mac.update(b"\0");
        mac.update(owner.as_bytes());
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(&full[..TAG_BYTES]);
        tag
    }

    /// A fresh, time-ordered id for `owner`'s upload cut as `plan`.
    pub fn issue(&self, owner: &str, plan: PartPlan) -> UploadId {
        let body = format!("{}-{}-{}", uuid::Uuid::now_v7(), plan.total, plan.part_size);
        let tag = URL_SAFE_NO_PAD.encode(self.tag(&body, owner));
        // At most 36 + 1 + 20 + 1 + 20 + 1 + 22 = 101 characters of [0-9a-f-] and base64url.
        let Ok(id) = UploadId::parse(&format!("{body}-{tag}")) else {
            unreachable!("upload ids are valid video ids")
        };
        id
    }

    /// The upload's plan when `id` was issued for `owner` (constant-time comparison).
    pub fn plan_for(&self, id: &UploadId, owner: &str) -> Option<PartPlan> {
        let (body, tag) = split(id.as_str())?;
        let given = URL_SAFE_NO_PAD.decode(tag).ok()?;
        if given.len() != TAG_BYTES || !bool::from(given.ct_eq(&self.tag(body, owner))) {
            return None;
        }
        Self::plan_in(body)
    }

    /// When `id` was issued (the time in its UUID), whoever it belongs to.
    pub fn issued_at(id: &UploadId) -> Option<std::time::SystemTime> {
        Self::time_in(split(id.as_str())?.0)
    }

    /// The time in the UUID an id's body starts with.
    fn time_in(body: &str) -> Option<std::time::SystemTime> {
        let uuid = uuid::Uuid::parse_str(body.get(..36)?).ok()?;
        let (secs, nanos) = uuid.get_timestamp()?.to_unix();
        Some(std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos))
    }

    /// The plan written in `id`, without checking whose it is (admins act on any upload).
    pub fn plan_unverified(id: &UploadId) -> Option<PartPlan> {
        Self::plan_in(split(id.as_str())?.0)
    }

    /// Whether `id` has the form of an upload id (a UUID with a time in it, two numbers, room
    /// for a tag), whoever issued it: the tag is not checked. Read in place, as it is asked of
    /// plain video ids too.
    pub fn has_upload_form(id: &VideoId) -> bool {
        split(id.as_str())
            .is_some_and(|(body, _)| Self::time_in(body).is_some() && Self::plan_in(body).is_some())
    }

    fn plan_in(body: &str) -> Option<PartPlan> {
        let mut fields = body.rsplitn(3, '-');
        let part_size = fields.next()?.parse().ok()?;
        let total = fields.next()?.parse().ok()?;
        Some(PartPlan::new(total, part_size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn ids_are_bound_to_their_owner_plan_and_key() {
        let ids = UploadIds::new(b"0123456789abcdef0123456789abcdef");
        let plan = PartPlan::new(11 * MIB, 5 * MIB);
        let id = ids.issue("alice", plan);
        assert_eq!(ids.plan_for(&id, "alice"), Some(plan));
        assert_eq!(ids.plan_for(&id, "bob"), None);
        assert_eq!(
            UploadIds::new(b"another key, 32 bytes long.....!").plan_for(&id, "alice"),
            None
        );

        // Editing the size in the id breaks the tag.
        let edited = id
            .as_str()
            .replace(&format!("-{}-", 11 * MIB), &format!("-{}-", 12 * MIB));
        assert_ne!(edited, id.as_str());
        assert_eq!(
            ids.plan_for(&UploadId::parse(&edited).unwrap(), "alice"),
            None
        );
        assert_eq!(
            ids.plan_for(&UploadId::parse("plain").unwrap(), "alice"),
            None
        );
    }

    #[test]
    fn the_form_of_an_upload_id_is_told_apart_from_plain_video_ids() {
        let form = |id: &str| UploadIds::has_upload_form(&VideoId::parse(id).unwrap());
        let ids = UploadIds::new(b"0123456789abcdef0123456789abcdef");
        let id = ids.issue("alice", PartPlan::new(11 * MIB, 5 * MIB));
        assert!(form(id.as_str()));
        // Another key's id has the form too: the form is not the proof of whose it is.
        let other =
            UploadIds::new(b"another key, 32 bytes long.....!").issue("bob", PartPlan::new(1, MIB));
        assert!(form(other.as_str()));
        let tag = &id.as_str()[id.as_str().len() - TAG_CHARS..];
        // A UUIDv7 whose last two groups are not numbers (were they, they would read as a plan).
        let uuid = "01a23211-8e40-76f5-8003-6f8f4e9635d7";
        assert!(form(&format!("{uuid}-11534336-5242880-{tag}")));
        for plain in [
            "plain",
            &format!("{uuid}-11534336-5242880"),
            // A UUIDv4 (no time in it) where the v7 goes.
            &format!("6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b-11534336-5242880-{tag}"),
            // No plan between the UUID and the tag.
            &format!("{uuid}-{tag}"),
            // A plan that is not two numbers.
            &format!("{uuid}-eleven-5242880-{tag}"),
        ] {
            assert!(!form(plain), "{plain}");
        }
    }

    #[test]
    fn an_id_tells_when_it_was_issued() {
        let ids = UploadIds::new(b"0123456789abcdef0123456789abcdef");
        let before = std::time::SystemTime::now() - std::time::Duration::from_millis(1);
        let id = ids.issue("alice", PartPlan::new(10, 5 * MIB));
        let at = UploadIds::issued_at(&id).unwrap();
        assert!(at >= before && at <= std::time::SystemTime::now(), "{at:?}");
        assert_eq!(
            UploadIds::issued_at(&UploadId::parse("plain").unwrap()),
            None
        );
    }
}
