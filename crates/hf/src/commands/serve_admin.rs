//! The operator's commands of `hf serve` (`user`, `org`, `token`, `repo`, `access`, `device`,
//! and the web's `user passwd`, `repo gate`, `access requests|approve|deny`): they
//! change the data folder of a server, running or not, through the server's own `Store`.
//! A running server reads the same database file at every request, so each change takes
//! effect at once. A new token is printed once; only its hash is kept.

use anyhow::{Context as _, Result, bail};
use hfkit_server::store::{GateSettings, RepoSettings, RequestStatus};
use hfkit_server::{Org, Role, SqliteStore, Store, User};
use serde_json::json;

use super::auth::Status;
use crate::cli::{
    DataArg, RepoArg, RequestStatusArg, RoleArg, ServeAccessCommand, ServeCommand, ServeDeviceCommand, ServeOrgCommand,
    ServeRepoCommand, ServeTokenCommand, ServeUserCommand, VisibilityArg,
};
use crate::output::{Cell, Table};
use crate::settings::Context;

/// Opens the data folder's database; only commands that add something may create it.
fn open(data: &DataArg, create: bool) -> Result<SqliteStore> {
    let file = data.data.join(hfkit_server::store::sqlite::FILE_NAME);
    if !create && !file.exists() {
        bail!(
            "there is no server database in {}: check the folder given with --data (the one `hf serve --data` uses), \
             or add a user first with `hf serve user add NAME --data {}`",
            data.data.display(),
            data.data.display()
        );
    }
    SqliteStore::open_dir(&data.data).with_context(|| format!("cannot open the data folder {}", data.data.display()))
}

/// A repo named on the command line, checked.
fn repo_key(repo: &RepoArg) -> Result<(String, String)> {
    let kind: hfkit::repo::RepoType = repo.kind.parse().map_err(|_| anyhow::anyhow!("unknown repo type"))?;
    let checked = hfkit::repo::Repo::new(kind, &repo.repo_id)?;
    Ok((kind.as_str().to_owned(), checked.id.as_str().to_owned()))
}

/// A user or organization name: one part of a repo id (letters, digits, `-`, `_`, `.`).
fn check_name(name: &str, what: &str) -> Result<()> {
    if name.contains('/') {
        bail!("`{name}` cannot be the name of {what}: it contains '/'");
    }
    hfkit::repo::RepoId::new(name).with_context(|| format!("`{name}` cannot be the name of {what}"))?;
    Ok(())
}

fn require_user(store: &dyn Store, name: &str, data: &DataArg) -> Result<()> {
    if store.user(name)?.is_none() {
        bail!("there is no user `{name}` in {}: add it with `hf serve user add {name} --data …`", data.data.display());
    }
    Ok(())
}

/// Runs one operator command.
pub(crate) fn run(ctx: &Context, command: &ServeCommand) -> Result<Status> {
    match command {
        ServeCommand::User(ServeUserCommand::Add { name, fullname, email, orgs, admin, data }) => {
            check_name(name, "a user")?;
            let store = open(data, true)?;
            let user = User {
                name: name.clone(),
                fullname: fullname.clone(),
                email: email.clone(),
                orgs: orgs.clone(),
                password_hash: None,
                admin: *admin,
            };
            if !store.add_user(&user)? {
                bail!("the user `{name}` exists already in {}", data.data.display());
            }
            ctx.printer.result("User added", &[("user", json!(name)), ("orgs", json!(orgs)), ("admin", json!(admin))]);
        }
        ServeCommand::User(ServeUserCommand::List { data }) => {
            let store = open(data, false)?;
            let users = store.users()?;
            ctx.printer.out_table(Table {
                headers: &["name", "fullname", "orgs"],
                rows: users
                    .iter()
                    .map(|u| {
                        vec![
                            Cell::Text(u.name.clone()),
                            Cell::Text(u.fullname.clone().unwrap_or_default()),
                            Cell::List(u.orgs.clone()),
                        ]
                    })
                    .collect(),
                right: &[],
                id: "name",
                json: users.iter().map(|u| json!({"name": u.name, "fullname": u.fullname, "orgs": u.orgs})).collect(),
            });
        }
        ServeCommand::User(ServeUserCommand::Admin { name, remove, data }) => {
            let store = open(data, false)?;
            require_user(&store, name, data)?;
            store.set_admin(name, !remove)?;
            let title = if *remove { "Operator rights removed" } else { "Operator rights given" };
            ctx.printer.result(title, &[("user", json!(name)), ("admin", json!(!remove))]);
        }
        ServeCommand::User(ServeUserCommand::Passwd { name, data }) => {
            let store = open(data, false)?;
            require_user(&store, name, data)?;
            let password = read_password(name)?;
            let hash = hfkit_server::auth::password::hash(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
            store.set_password(name, &hash)?;
            ctx.printer.result("Password set", &[("user", json!(name))]);
            ctx.printer.hint("their browser sessions were ended: they sign in again with the new password");
        }
        ServeCommand::Org(ServeOrgCommand::Add { name, fullname, members, data }) => {
            check_name(name, "an organization")?;
            let store = open(data, true)?;
            for member in members {
                require_user(&store, member, data)?;
            }
            if !store.add_org(&Org { name: name.clone(), fullname: fullname.clone() })? {
                bail!("the organization `{name}` exists already in {}", data.data.display());
            }
            for member in members {
                store.add_member(name, member)?;
            }
            ctx.printer.result("Organization added", &[("org", json!(name)), ("members", json!(members))]);
        }
        ServeCommand::Token(command) => return token(ctx, command),
        ServeCommand::Repo(ServeRepoCommand::Set { repo, visibility, owner, data }) => {
            let (kind, id) = repo_key(repo)?;
            let store = open(data, false)?;
            if let Some(owner) = owner
                && store.user(owner)?.is_none()
                && store.org(owner)?.is_none()
            {
                bail!("there is no user or organization `{owner}` in {}", data.data.display());
            }
            let visibility = match visibility {
                VisibilityArg::Public => hfkit_server::Visibility::Public,
                VisibilityArg::Private => hfkit_server::Visibility::Private,
                VisibilityArg::Gated => hfkit_server::Visibility::Gated,
            };
            store.set_repo(&RepoSettings { kind: kind.clone(), id: id.clone(), visibility, owner: owner.clone() })?;
            ctx.printer.result(
                "Repo visibility set",
                &[("repo", json!(id)), ("type", json!(kind)), ("visibility", json!(visibility.as_str()))],
            );
        }
        ServeCommand::Repo(ServeRepoCommand::List { data }) => {
            let store = open(data, false)?;
            let repos = store.repos()?;
            let rows = repos
                .iter()
                .map(|r| {
                    let grants = store.grants(&r.kind, &r.id)?;
                    Ok((r, grants))
                })
                .collect::<Result<Vec<_>>>()?;
            ctx.printer.out_table(Table {
                headers: &["id", "type", "visibility", "owner", "grants"],
                rows: rows
                    .iter()
                    .map(|(r, grants)| {
                        vec![
                            Cell::Text(r.id.clone()),
                            Cell::Text(r.kind.clone()),
                            Cell::Text(r.visibility.as_str().to_owned()),
                            Cell::Text(r.owner.clone().unwrap_or_default()),
                            Cell::List(grants.clone()),
                        ]
                    })
                    .collect(),
                right: &[],
                id: "id",
                json: rows
                    .iter()
                    .map(|(r, g)| {
                        json!({"id": r.id, "type": r.kind, "visibility": r.visibility.as_str(), "owner": r.owner, "grants": g})
                    })
                    .collect(),
            });
        }
        ServeCommand::Repo(ServeRepoCommand::Gate { repo, fields, license_file, auto_approve, data }) => {
            let (kind, id) = repo_key(repo)?;
            let license = match license_file {
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read the license file {}", path.display()))?,
                ),
                None => None,
            };
            if let Some(blank) = fields.iter().find(|f| f.trim().is_empty()) {
                bail!("a --field needs a label (got {blank:?}): the question a requester answers, e.g. 'Intended use'");
            }
            let store = open(data, false)?;
            let gate = GateSettings {
                kind: kind.clone(),
                id: id.clone(),
                fields: fields.iter().map(|f| f.trim().to_owned()).collect(),
                license,
                auto_approve: *auto_approve,
            };
            store.set_gate(&gate)?;
            if store.repo(&kind, &id)?.is_none_or(|r| r.visibility != hfkit_server::Visibility::Gated) {
                ctx.printer.warning(&format!(
                    "`{id}` is not gated here: the form is shown once it is (hf serve repo set {id} --visibility gated --data …)"
                ));
            }
            ctx.printer.result(
                "Access request form set",
                &[
                    ("repo", json!(id)),
                    ("type", json!(kind)),
                    ("fields", json!(gate.fields)),
                    ("license", json!(gate.license.is_some())),
                    ("auto_approve", json!(gate.auto_approve)),
                ],
            );
        }
        ServeCommand::Access(command) => return access(ctx, command),
        ServeCommand::Device(command) => return device(ctx, command),
    }
    Ok(0)
}

/// Approves or denies a browser login, as the approval page does.
fn device(ctx: &Context, command: &ServeDeviceCommand) -> Result<Status> {
    use hfkit_server::oauth::{Decision, decide};
    let (code, decision, data) = match command {
        ServeDeviceCommand::Approve { user_code, user, data } => {
            (user_code, Decision::Approve { user: user.clone() }, data)
        }
        ServeDeviceCommand::Deny { user_code, data } => (user_code, Decision::Deny, data),
    };
    let store = open(data, false)?;
    if let Decision::Approve { user } = &decision {
        require_user(&store, user, data)?;
    }
    decide(&store, code, &decision)?;
    match &decision {
        Decision::Approve { user } => ctx.printer.result(
            "Device approved: its login finishes at its next poll",
            &[("user_code", json!(code.to_uppercase())), ("user", json!(user))],
        ),
        Decision::Deny => ctx
            .printer
            .result("Device denied: its login fails at its next poll", &[("user_code", json!(code.to_uppercase()))]),
    }
    Ok(0)
}

/// A new password: asked twice without echo on a terminal, else the first line of stdin.
fn read_password(user: &str) -> Result<String> {
    use std::io::BufRead as _;
    let stdin = std::io::stdin();
    let password = if crate::settings::interactive() {
        let first = rpassword::prompt_password(format!("New password for {user} (input will not be visible): "))?;
        let again = rpassword::prompt_password("The same password again: ")?;
        if first != again {
            bail!("the two passwords differ: run the command again");
        }
        first
    } else {
        let mut line = String::new();
        stdin.lock().read_line(&mut line).context("cannot read the password from stdin")?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    };
    if password.is_empty() {
        bail!(
            "no password was given: type it at the prompt, or pipe it on stdin \
             (printf '%s\\n' \"$PASSWORD\" | hf serve user passwd {user} --data …); never on the command line"
        );
    }
    Ok(password)
}

fn token(ctx: &Context, command: &ServeTokenCommand) -> Result<Status> {
    match command {
        ServeTokenCommand::Issue { user, name, role, data } => {
            let store = open(data, false)?;
            require_user(&store, user, data)?;
            let role = match role {
                RoleArg::Read => Role::Read,
                RoleArg::Write => Role::Write,
            };
            let value = hfkit_server::auth::token::issue(&store, user, name, role)?;
            ctx.printer.result(
                "Token issued. Copy it now: it is shown only this once",
                &[
                    ("token", json!(value.expose())),
                    ("user", json!(user)),
                    ("name", json!(name)),
                    ("role", json!(role.as_str())),
                ],
            );
            ctx.printer.hint("only its hash is kept: hand it to the user now, who logs in with `hf auth login`");
        }
        ServeTokenCommand::Revoke { user, name, all: _, data } => {
            let store = open(data, false)?;
            require_user(&store, user, data)?;
            let revoked = store.revoke_tokens(user, name.as_deref())?;
            if revoked == 0 {
                match name {
                    Some(name) => {
                        bail!("`{user}` has no live token named `{name}`: see `hf serve token list {user} --data …`")
                    }
                    None => bail!("`{user}` has no live token"),
                }
            }
            ctx.printer.result("Token revoked", &[("user", json!(user)), ("revoked", json!(revoked))]);
        }
        ServeTokenCommand::List { user, data } => {
            let store = open(data, false)?;
            let tokens = store.tokens(user.as_deref())?;
            ctx.printer.out_table(Table {
                headers: &["user", "name", "role", "token"],
                rows: tokens
                    .iter()
                    .map(|t| {
                        vec![
                            Cell::Text(t.user.clone()),
                            Cell::Text(t.name.clone().unwrap_or_else(|| "(oauth)".to_owned())),
                            Cell::Text(t.role.as_str().to_owned()),
                            Cell::Text(t.masked()),
                        ]
                    })
                    .collect(),
                right: &[],
                id: "name",
                json: tokens
                    .iter()
                    .map(|t| json!({"user": t.user, "name": t.name, "role": t.role.as_str(), "token": t.masked(), "created_at": t.created_at}))
                    .collect(),
            });
        }
    }
    Ok(0)
}

fn access(ctx: &Context, command: &ServeAccessCommand) -> Result<Status> {
    match command {
        ServeAccessCommand::Grant { repo, user, data } => {
            let (kind, id) = repo_key(repo)?;
            let store = open(data, false)?;
            require_user(&store, user, data)?;
            store.grant(&kind, &id, user)?;
            match store.repo(&kind, &id)?.map(|r| r.visibility) {
                Some(hfkit_server::Visibility::Public) => ctx.printer.warning(&format!(
                    "`{id}` is public here: a grant matters only once it is gated or private \
                     (hf serve repo set {id} --visibility gated --data …)"
                )),
                // The data folder alone cannot tell whether the served cache or upstream has it.
                None => ctx.printer.warning(&format!(
                    "`{id}` has no settings in this data folder: the grant matters if upstream gates it \
                     (a mirror), or once it is gated here (hf serve repo set {id} --visibility gated --data …). \
                     Check the spelling of the repo id: this command does not look into the served cache."
                )),
                Some(_) => {}
            }
            ctx.printer.result("Access granted", &[("repo", json!(id)), ("user", json!(user))]);
        }
        ServeAccessCommand::Revoke { repo, user, data } => {
            let (kind, id) = repo_key(repo)?;
            let store = open(data, false)?;
            if !store.revoke_grant(&kind, &id, user)? {
                bail!("`{user}` has no grant on `{id}`: see `hf serve access list {id} --data …`");
            }
            ctx.printer.result("Access revoked", &[("repo", json!(id)), ("user", json!(user))]);
        }
        ServeAccessCommand::Requests { repo_id, kind, status, data } => {
            let repo = match repo_id {
                Some(repo_id) => Some(repo_key(&RepoArg { repo_id: repo_id.clone(), kind: kind.clone() })?),
                None => None,
            };
            let store = open(data, false)?;
            let status = match status {
                RequestStatusArg::Pending => Some(RequestStatus::Pending),
                RequestStatusArg::Accepted => Some(RequestStatus::Accepted),
                RequestStatusArg::Rejected => Some(RequestStatus::Rejected),
                RequestStatusArg::All => None,
            };
            let requests = store.access_requests(repo.as_ref().map(|(k, i)| (k.as_str(), i.as_str())), status)?;
            let answers =
                |r: &hfkit_server::store::AccessRequest| r.answers.iter().map(|(q, a)| format!("{q}: {a}")).collect();
            ctx.printer.out_table(Table {
                headers: &["repo", "type", "user", "status", "answers"],
                rows: requests
                    .iter()
                    .map(|r| {
                        vec![
                            Cell::Text(r.id.clone()),
                            Cell::Text(r.kind.clone()),
                            Cell::Text(r.user.clone()),
                            Cell::Text(r.status.as_str().to_owned()),
                            Cell::List(answers(r)),
                        ]
                    })
                    .collect(),
                right: &[],
                id: "user",
                json: requests
                    .iter()
                    .map(|r| {
                        json!({
                            "repo": r.id, "type": r.kind, "user": r.user, "status": r.status.as_str(),
                            "answers": r.answers.iter().map(|(q, a)| json!({"field": q, "answer": a})).collect::<Vec<_>>(),
                            "created_at": r.created_at, "decided_by": r.decided_by,
                        })
                    })
                    .collect(),
            });
        }
        ServeAccessCommand::Approve { repo, user, data } | ServeAccessCommand::Deny { repo, user, data } => {
            let accept = matches!(command, ServeAccessCommand::Approve { .. });
            let (kind, id) = repo_key(repo)?;
            let store = open(data, false)?;
            if !store.decide_request(&kind, &id, user, accept, "(operator)")? {
                bail!(
                    "`{user}` has not requested access to `{id}`: see `hf serve access requests {id} --data …` \
                     (to let a user in without a request: `hf serve access grant {id} {user} --data …`)"
                );
            }
            let (title, status) =
                if accept { ("Access request approved", "accepted") } else { ("Access request denied", "rejected") };
            ctx.printer.result(title, &[("repo", json!(id)), ("user", json!(user)), ("status", json!(status))]);
        }
        ServeAccessCommand::List { repo, data } => {
            let (kind, id) = repo_key(repo)?;
            let store = open(data, false)?;
            let grants = store.grants(&kind, &id)?;
            ctx.printer.out_table(Table {
                headers: &["user"],
                rows: grants.iter().map(|g| vec![Cell::Text(g.clone())]).collect(),
                right: &[],
                id: "user",
                json: grants.iter().map(|g| json!({"user": g})).collect(),
            });
        }
    }
    Ok(0)
}
