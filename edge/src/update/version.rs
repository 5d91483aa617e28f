//! Version policy: model versions only move forward unless an offer explicitly allows a downgrade
//! (rolling back a bad model from the server side). Compared by semver precedence, so build metadata
//! (`2.0.0+build5`) does not make one version newer than another.

use std::cmp::Ordering;

use semver::Version;

use crate::update::error::UpdateError;

/// What installing `offered` over `current` means. Returned on success; a refused downgrade is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionDecision {
    /// Newer than the installed version, or nothing is installed yet.
    Upgrade,
    /// Same precedence as the installed version: normally "already installed", not a failure. The caller
    /// compares bundle digests to tell a no-op from a re-signed or rebuilt bundle.
    Reinstall,
    /// Older than the installed version, and the offer allows it.
    Downgrade,
}

/// Decides whether `offered` may replace `current`.
pub fn check_version(
    current: Option<&Version>,
    offered: &Version,
    allow_downgrade: bool,
) -> Result<VersionDecision, UpdateError> {
    let Some(current) = current else {
        return Ok(VersionDecision::Upgrade);
    };
    match offered.cmp_precedence(current) {
        Ordering::Greater => Ok(VersionDecision::Upgrade),
        Ordering::Equal => Ok(VersionDecision::Reinstall),
        Ordering::Less if allow_downgrade => Ok(VersionDecision::Downgrade),
        Ordering::Less => Err(UpdateError::Downgrade { from: current.to_string(), to: offered.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn decisions() {
        assert_eq!(check_version(None, &v("1.0.0"), false).unwrap(), VersionDecision::Upgrade);
        assert_eq!(check_version(Some(&v("1.0.0")), &v("2.0.0"), false).unwrap(), VersionDecision::Upgrade);
        assert_eq!(check_version(Some(&v("2.0.0-rc.1")), &v("2.0.0"), false).unwrap(), VersionDecision::Upgrade);
        assert_eq!(check_version(Some(&v("2.0.0")), &v("2.0.0"), false).unwrap(), VersionDecision::Reinstall);
        assert_eq!(check_version(Some(&v("2.0.0+a")), &v("2.0.0+b"), false).unwrap(), VersionDecision::Reinstall);
        let e = check_version(Some(&v("2.0.0")), &v("1.0.0"), false).unwrap_err();
        assert_eq!(e.to_string(), "downgrade from 2.0.0 to 1.0.0 refused (allow_downgrade not set)");
        assert_eq!(check_version(Some(&v("2.0.0")), &v("1.0.0"), true).unwrap(), VersionDecision::Downgrade);
    }
}
