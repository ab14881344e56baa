//! Who may do what with a repository: pure functions of the caller and the repo's settings,
//! so the whole policy is one table of cases (the tests below), with no request, database
//! or file in sight.
//!
//! - Public: everyone sees it and reads its files.
//! - Private: only its owner (the user, or members of the owning org) and users granted it
//!   see it; to everyone else it does not exist ([`Denied::NotFound`], the answer for a repo
//!   that really does not exist).
//! - Gated: everyone sees its metadata; files need the owner, a member, or a grant
//!   ([`Denied::LogIn`] for anonymous callers, [`Denied::NotGranted`] for others).
//! - Writing needs the owner or a member, with a write token.

use crate::accounts::Role;
use crate::auth::Caller;
use crate::repos::Visibility;

/// What the policy needs to know of a repository.
#[derive(Debug, Clone, Copy)]
pub struct RepoAccess<'a> {
    /// Public, private or gated.
    pub visibility: Visibility,
    /// The user or organization that owns it.
    pub owner: &'a str,
    /// Users granted access (a gated repo's accepted requests, a private repo's invitations).
    pub grants: &'a [String],
    /// Disabled by the operator: nobody reads its files.
    pub disabled: bool,
}

/// Why a caller is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The repo is not shown at all (as if it did not exist).
    NotFound,
    /// A gated repo's files, asked for without a token: log in first.
    LogIn,
    /// A gated repo's files, asked for by a user who was not granted access.
    NotGranted,
    /// The repo is disabled.
    Disabled,
    /// Writing needs the owner or a member with a write token.
    ReadOnly,
}

fn is_insider(repo: &RepoAccess<'_>, caller: &Caller) -> bool {
    match caller.user() {
        None => false,
        Some(user) => {
            user.name == repo.owner || user.orgs.iter().any(|o| o == repo.owner) || repo.grants.contains(&user.name)
        }
    }
}

/// Whether the caller may see the repo (its metadata, listings, refs).
pub fn can_see(repo: &RepoAccess<'_>, caller: &Caller) -> Result<(), Denied> {
    if repo.visibility == Visibility::Private && !is_insider(repo, caller) {
        return Err(Denied::NotFound);
    }
    Ok(())
}

/// Whether the caller may read the repo's files.
pub fn can_read_files(repo: &RepoAccess<'_>, caller: &Caller) -> Result<(), Denied> {
    can_see(repo, caller)?;
    if repo.disabled {
        return Err(Denied::Disabled);
    }
    if repo.visibility == Visibility::Gated && !is_insider(repo, caller) {
        return Err(if caller.user().is_none() { Denied::LogIn } else { Denied::NotGranted });
    }
    Ok(())
}

/// Whether the caller may write to the repo: its owner, or a member of the owning org,
/// with a write (or fine-grained) token. A grant lets a user read, never write.
pub fn can_write(repo: &RepoAccess<'_>, caller: &Caller) -> Result<(), Denied> {
    can_see(repo, caller)?;
    let Some(user) = caller.user() else { return Err(Denied::ReadOnly) };
    let member = user.name == repo.owner || user.orgs.iter().any(|o| o == repo.owner);
    if member && user.role != Role::Read { Ok(()) } else { Err(Denied::ReadOnly) }
}

/// Whether the caller may manage the repo's access (see and decide its access requests):
/// its owner or a member of the owning org, whatever the token's role. A grant is not enough.
pub fn can_manage(repo: &RepoAccess<'_>, caller: &Caller) -> Result<(), Denied> {
    can_see(repo, caller)?;
    let Some(user) = caller.user() else { return Err(Denied::NotFound) };
    if user.name == repo.owner || user.orgs.iter().any(|o| o == repo.owner) { Ok(()) } else { Err(Denied::NotFound) }
}

/// Whether a caller gets past a server that may refuse anonymous access as a whole.
pub fn admits(caller: &Caller, anonymous_allowed: bool) -> bool {
    anonymous_allowed || caller.user().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::CallerUser;

    fn user(name: &str, orgs: &[&str], role: Role) -> Caller {
        Caller::User(CallerUser {
            name: name.to_owned(),
            orgs: orgs.iter().map(|o| (*o).to_owned()).collect(),
            role,
            token_id: 1,
        })
    }

    /// Every visibility × every kind of caller, for reading metadata, files and writing.
    #[test]
    fn the_policy_as_a_table() {
        use Denied::*;
        use Visibility::*;
        let grants = vec!["grantee".to_owned()];
        let anonymous = Caller::Anonymous;
        let stranger = user("eve", &["other"], Role::Write);
        let grantee = user("grantee", &[], Role::Read);
        let owner = user("meta", &[], Role::Write);
        let member_read = user("alice", &["meta"], Role::Read);
        let member_write = user("bob", &["meta"], Role::Write);
        type Row<'a> = (Visibility, &'a Caller, Result<(), Denied>, Result<(), Denied>, Result<(), Denied>);
        let table: Vec<Row<'_>> = vec![
            // visibility, caller, see, read files, write
            (Public, &anonymous, Ok(()), Ok(()), Err(ReadOnly)),
            (Public, &stranger, Ok(()), Ok(()), Err(ReadOnly)),
            (Public, &grantee, Ok(()), Ok(()), Err(ReadOnly)),
            (Public, &owner, Ok(()), Ok(()), Ok(())),
            (Public, &member_read, Ok(()), Ok(()), Err(ReadOnly)),
            (Public, &member_write, Ok(()), Ok(()), Ok(())),
            (Private, &anonymous, Err(NotFound), Err(NotFound), Err(NotFound)),
            (Private, &stranger, Err(NotFound), Err(NotFound), Err(NotFound)),
            (Private, &grantee, Ok(()), Ok(()), Err(ReadOnly)),
            (Private, &owner, Ok(()), Ok(()), Ok(())),
            (Private, &member_read, Ok(()), Ok(()), Err(ReadOnly)),
            (Private, &member_write, Ok(()), Ok(()), Ok(())),
            (Gated, &anonymous, Ok(()), Err(LogIn), Err(ReadOnly)),
            (Gated, &stranger, Ok(()), Err(NotGranted), Err(ReadOnly)),
            (Gated, &grantee, Ok(()), Ok(()), Err(ReadOnly)),
            (Gated, &owner, Ok(()), Ok(()), Ok(())),
            (Gated, &member_read, Ok(()), Ok(()), Err(ReadOnly)),
            (Gated, &member_write, Ok(()), Ok(()), Ok(())),
        ];
        for (visibility, caller, see, files, write) in table {
            let repo = RepoAccess { visibility, owner: "meta", grants: &grants, disabled: false };
            let who = caller.user().map_or("anonymous", |u| u.name.as_str());
            assert_eq!(can_see(&repo, caller), see, "{visibility:?} {who} see");
            assert_eq!(can_read_files(&repo, caller), files, "{visibility:?} {who} files");
            assert_eq!(can_write(&repo, caller), write, "{visibility:?} {who} write");
            let manage = if ["meta", "alice", "bob"].contains(&who) { Ok(()) } else { Err(NotFound) };
            assert_eq!(can_manage(&repo, caller), manage, "{visibility:?} {who} manage");
        }
    }

    #[test]
    fn a_disabled_repo_is_seen_but_its_files_are_not_read() {
        let repo = RepoAccess { visibility: Visibility::Public, owner: "meta", grants: &[], disabled: true };
        let owner = user("meta", &[], Role::Write);
        assert_eq!(can_see(&repo, &owner), Ok(()));
        assert_eq!(can_read_files(&repo, &owner), Err(Denied::Disabled));
        let private = RepoAccess { visibility: Visibility::Private, ..repo };
        assert_eq!(can_read_files(&private, &Caller::Anonymous), Err(Denied::NotFound), "hidden before disabled");
    }

    #[test]
    fn anonymous_callers_can_be_refused_as_a_whole() {
        assert!(admits(&Caller::Anonymous, true));
        assert!(!admits(&Caller::Anonymous, false));
        assert!(admits(&user("eve", &[], Role::Read), false));
    }
}
