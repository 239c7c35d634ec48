//! Who may watch what: a pure decision from the caller's claims and the object's metadata.

use std::collections::HashSet;

use crate::auth::Caller;
use crate::config::{AuthSettings, EntitlementSettings};
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
    open_tiers: HashSet<String>,
    default_tier: String,
    admin_role: String,
}

impl Policy {
    pub fn new(entitlement: &EntitlementSettings, auth: &AuthSettings) -> Self {
        Self {
            open_tiers: entitlement.open_tiers.iter().cloned().collect(),
            default_tier: entitlement.default_tier.clone(),
            admin_role: auth.admin_role.clone(),
        }
    }

    /// The tier of an object: its `x-amz-meta-access`, else the configured default.
    pub fn tier_of<'a>(&'a self, meta: &'a ObjectMeta) -> &'a str {
        meta.tier.as_deref().unwrap_or(&self.default_tier)
    }

    /// `Some(grant)` when `caller` may read the object described by `meta`.
    pub fn decide(&self, caller: &Caller, meta: &ObjectMeta) -> Option<Grant> {
        let tier = self.tier_of(meta);
        if self.open_tiers.contains(tier) {
            Some(Grant::OpenTier)
        } else if caller.entitlements.iter().any(|e| e == tier) {
            Some(Grant::Entitled)
        } else if meta.owner.as_deref() == Some(caller.subject.as_str()) {
            Some(Grant::Owner)
        } else if caller.roles.iter().any(|r| r == &self.admin_role) {
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
            open_tiers: HashSet::from(["free".to_owned()]),
            default_tier: "premium".to_owned(),
            admin_role: "admin".to_owned(),
        }
    }

    fn caller(sub: &str, entitlements: &[&str], roles: &[&str]) -> Caller {
        Caller {
            subject: sub.to_owned(),
            entitlements: entitlements.iter().map(|s| (*s).to_owned()).collect(),
            roles: roles.iter().map(|s| (*s).to_owned()).collect(),
        }
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
