//! Who may watch what: a pure decision from the caller's claims and the object's metadata.

use std::collections::HashSet;

use crate::auth::Caller;
use crate::config::{AuthSettings, EntitlementSettings, HlsSettings, UploadSettings};
use crate::domain::Tier;
use crate::storage::ObjectMeta;

/// Why access was granted (logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    OpenTier,
    Entitled,
    Owner,
    Admin,
}

pub struct Policy {
    tiers: HashSet<String>,
    open_tiers: HashSet<String>,
    default_tier: String,
    admin_role: String,
    uploader_role: String,
    /// Tallest rendition per tier (`hls.max_height`); tiers not named: any.
    max_height: std::collections::BTreeMap<String, u32>,
}

impl Policy {
    pub fn new(
        entitlement: &EntitlementSettings,
        auth: &AuthSettings,
        uploads: &UploadSettings,
        hls: &HlsSettings,
    ) -> Self {
        Self {
            max_height: hls.max_height.clone(),
            tiers: entitlement.tiers.iter().cloned().collect(),
            open_tiers: entitlement.open_tiers.iter().cloned().collect(),
            default_tier: entitlement.default_tier.clone(),
            admin_role: auth.admin_role.clone(),
            uploader_role: uploads.uploader_role.clone(),
        }
    }

    pub fn is_known_tier(&self, tier: &Tier) -> bool {
        self.tiers.contains(tier.as_str())
    }

    pub fn is_admin(&self, caller: &Caller) -> bool {
        caller.roles.iter().any(|r| r == &self.admin_role)
    }

    /// Uploaders and admins may ask for upload URLs.
    pub fn may_upload(&self, caller: &Caller) -> bool {
        self.is_admin(caller) || caller.roles.iter().any(|r| r == &self.uploader_role)
    }

    /// The owner of an object, or an admin, may finish or manage its upload.
    pub fn may_manage(&self, caller: &Caller, meta: &ObjectMeta) -> bool {
        meta.is_owned_by(&caller.subject) || self.is_admin(caller)
    }

    /// The tier of an object: its `x-amz-meta-access`, else the configured default.
    pub fn tier_of<'a>(&'a self, meta: &'a ObjectMeta) -> &'a str {
        meta.tier.as_deref().unwrap_or(&self.default_tier)
    }

    /// `Some(grant)` when `caller` may read the object described by `meta`.
    /// The tallest rendition `caller` may get of the video `meta` describes (`None`: any). The
    /// owner and admins get any; others the best of the tiers they hold (their entitlements and
    /// the open tiers), a tier without a limit meaning any.
    pub fn max_height(&self, caller: &Caller, meta: &ObjectMeta) -> Option<u32> {
        if meta.is_owned_by(&caller.subject) || self.is_admin(caller) {
            return None;
        }
        let mut best: Option<u32> = Some(0);
        // Only tiers count: an entitlement that names none (a newsletter) lifts nothing.
        let held = caller
            .entitlements
            .iter()
            .filter(|e| self.tiers.contains(e.as_str()));
        for tier in held.chain(self.open_tiers.iter()) {
            match self.max_height.get(tier) {
                None => return None,
                Some(&height) => best = best.map(|b| b.max(height)),
            }
        }
        best
    }

    pub fn decide(&self, caller: &Caller, meta: &ObjectMeta) -> Option<Grant> {
        let tier = self.tier_of(meta);
        if self.open_tiers.contains(tier) {
            Some(Grant::OpenTier)
        } else if caller.entitlements.iter().any(|e| e == tier) {
            Some(Grant::Entitled)
        } else if meta.is_owned_by(&caller.subject) {
            Some(Grant::Owner)
        } else if self.is_admin(caller) {
            Some(Grant::Admin)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            tiers: HashSet::from(["free".to_owned(), "premium".to_owned(), "gold".to_owned()]),
            open_tiers: HashSet::from(["free".to_owned()]),
            default_tier: "premium".to_owned(),
            admin_role: "admin".to_owned(),
            uploader_role: "uploader".to_owned(),
            max_height: [("free".to_owned(), 720), ("premium".to_owned(), 1080)].into(),
        }
    }

    #[test]
    fn renditions_are_bounded_by_the_best_tier_held() {
        let p = policy();
        let video = meta(Some("free"), Some("olga"));
        assert_eq!(p.max_height(&caller("bob", &[], &[]), &video), Some(720));
        assert_eq!(
            p.max_height(&caller("bob", &["premium"], &[]), &video),
            Some(1080)
        );
        // gold has no limit.
        assert_eq!(
            p.max_height(&caller("bob", &["premium", "gold"], &[]), &video),
            None
        );
        assert_eq!(p.max_height(&caller("olga", &[], &[]), &video), None);
        assert_eq!(p.max_height(&caller("root", &[], &["admin"]), &video), None);
        // Not a tier: no lift.
        assert_eq!(
            p.max_height(&caller("bob", &["newsletter"], &[]), &video),
            Some(720)
        );
    }

    fn caller(sub: &str, entitlements: &[&str], roles: &[&str]) -> Caller {
        Caller::new(
            sub.to_owned(),
            entitlements.iter().map(|s| (*s).to_owned()).collect(),
            roles.iter().map(|s| (*s).to_owned()).collect(),
        )
    }

    fn meta(tier: Option<&str>, owner: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            tier: tier.map(str::to_owned),
            owner: owner.map(str::to_owned),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn each_rule_grants_and_nothing_else_does() {
        let p = policy();
        assert_eq!(
            p.decide(&caller("u", &[], &[]), &meta(Some("free"), None)),
            Some(Grant::OpenTier)
        );
        assert_eq!(
            p.decide(&caller("u", &["gold"], &[]), &meta(Some("gold"), None)),
            Some(Grant::Entitled)
        );
        assert_eq!(
            p.decide(&caller("u", &[], &[]), &meta(Some("gold"), Some("u"))),
            Some(Grant::Owner)
        );
        assert_eq!(
            p.decide(&caller("u", &[], &["admin"]), &meta(Some("gold"), None)),
            Some(Grant::Admin)
        );
        assert_eq!(
            p.decide(
                &caller("u", &["silver"], &["viewer"]),
                &meta(Some("gold"), Some("v"))
            ),
            None
        );
    }

    #[test]
    fn missing_tier_means_the_default_tier() {
        let p = policy();
        assert_eq!(p.decide(&caller("u", &[], &[]), &meta(None, None)), None);
        assert_eq!(
            p.decide(&caller("u", &["premium"], &[]), &meta(None, None)),
            Some(Grant::Entitled)
        );
    }

    #[test]
    fn uploaders_and_admins_may_upload_owners_and_admins_may_manage() {
        let p = policy();
        assert!(p.may_upload(&caller("u", &[], &["uploader"])));
        assert!(p.may_upload(&caller("u", &[], &["admin"])));
        assert!(!p.may_upload(&caller("u", &["gold"], &["viewer"])));
        let owned = meta(Some("gold"), Some("u"));
        assert!(p.may_manage(&caller("u", &[], &[]), &owned));
        assert!(p.may_manage(&caller("root", &[], &["admin"]), &owned));
        assert!(!p.may_manage(&caller("v", &[], &["uploader"]), &owned));
    }

    #[test]
    fn comparisons_are_exact() {
        let p = policy();
        assert_eq!(
            p.decide(
                &caller("u", &["Gold"], &["Admin"]),
                &meta(Some("gold"), Some("U"))
            ),
            None
        );
    }
}
