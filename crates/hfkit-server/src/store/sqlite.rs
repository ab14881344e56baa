//! The [`Store`] in one SQLite file (rusqlite, SQLite bundled): WAL, so the server keeps
//! reading while an operator's command writes; a busy timeout, so two writers wait for each
//! other instead of failing; foreign keys on. The schema is created and upgraded forward
//! by the numbered migrations below, tracked by `PRAGMA user_version`.
//!
//! One connection per process, behind a mutex: every query is a short indexed lookup, and
//! the server runs a few of them per request at most.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension as _, params};

use super::{NewToken, RepoSettings, Store, StoreError, TokenRecord};
use crate::accounts::{Org, Role, User};
use crate::auth::token::TokenHash;

/// The file name of the database inside the data folder.
pub const FILE_NAME: &str = "hfkit-server.sqlite3";
/// How long a writer waits for another before giving up.
const BUSY_TIMEOUT_MS: u64 = 5_000;

/// Forward-only migrations; entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &["
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        fullname TEXT,
        email TEXT,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE orgs (
        name TEXT PRIMARY KEY,
        fullname TEXT,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE members (
        org TEXT NOT NULL,
        user TEXT NOT NULL REFERENCES users(name),
        PRIMARY KEY (org, user)
    );
    CREATE TABLE tokens (
        id INTEGER PRIMARY KEY,
        hash BLOB NOT NULL UNIQUE,
        last_four TEXT NOT NULL,
        user TEXT NOT NULL REFERENCES users(name),
        name TEXT,
        role TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    );
    CREATE INDEX tokens_by_user ON tokens(user);
    CREATE TABLE repos (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        visibility TEXT NOT NULL,
        owner TEXT,
        PRIMARY KEY (kind, id)
    );
    CREATE TABLE grants (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        user TEXT NOT NULL REFERENCES users(name),
        revoked_at INTEGER,
        PRIMARY KEY (kind, id, user)
    );
"];

/// The SQLite-backed [`Store`].
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
}

fn backend(what: &str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Backend { what: what.to_owned(), source: Box::new(source) }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn role_name(role: Role) -> &'static str {
    role.as_str()
}

fn parse_role(name: &str) -> Role {
    match name {
        "write" => Role::Write,
        "fineGrained" => Role::FineGrained,
        _ => Role::Read,
    }
}

impl SqliteStore {
    /// Opens (creating it if needed) the database in the data folder `dir`.
    pub fn open_dir(dir: &Path) -> Result<Self, StoreError> {
        create_private_dir(dir).map_err(|e| StoreError::Backend {
            what: format!("create the data folder {}", dir.display()),
            source: Box::new(e),
        })?;
        Self::open(&dir.join(FILE_NAME))
    }

    /// Opens (creating it if needed) the database file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let what = format!("open {}", path.display());
        let conn = Connection::open(path).map_err(backend(&what))?;
        Self::setup(conn, Some(path.to_owned()))
    }

    /// A database in memory, gone when dropped (the test Hub's).
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(backend("open a database in memory"))?;
        Self::setup(conn, None)
    }

    /// The database file (`None` in memory).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn setup(conn: Connection, path: Option<PathBuf>) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS)).map_err(backend("set a busy timeout"))?;
        if path.is_some() {
            let mode: String =
                conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(backend("turn on WAL"))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Invalid(format!("the database refused WAL mode (it answered `{mode}`)")));
            }
            conn.execute_batch("PRAGMA synchronous = NORMAL").map_err(backend("set synchronous"))?;
        }
        conn.execute_batch("PRAGMA foreign_keys = ON").map_err(backend("turn on foreign keys"))?;
        let store = Self { conn: Mutex::new(conn), path };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let version: i64 =
            conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(backend("read the schema version"))?;
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        if version > MIGRATIONS.len() {
            return Err(StoreError::Invalid(format!(
                "the database has schema version {version}, newer than this hf ({}): use a newer hf",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = conn.transaction().map_err(backend("start a migration"))?;
            tx.execute_batch(sql).map_err(backend("migrate the schema"))?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1)).map_err(backend("record the schema"))?;
            tx.commit().map_err(backend("commit a migration"))?;
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn user_exists(conn: &Connection, name: &str) -> Result<bool, StoreError> {
        conn.query_row("SELECT 1 FROM users WHERE name = ?1", [name], |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
            .map_err(backend("look up a user"))
    }

    fn require_user(conn: &Connection, name: &str) -> Result<(), StoreError> {
        if Self::user_exists(conn, name)? {
            Ok(())
        } else {
            Err(StoreError::Invalid(format!("there is no user `{name}`: add it first with `hf serve user add {name}`")))
        }
    }
}

/// Creates the data folder, readable by its owner only (it holds token hashes).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

fn token_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRecord> {
    let hash: Vec<u8> = row.get(1)?;
    let role: String = row.get(5)?;
    Ok(TokenRecord {
        id: row.get(0)?,
        hash: TokenHash::from_slice(&hash).unwrap_or(TokenHash::of("")),
        last_four: row.get(2)?,
        user: row.get(3)?,
        name: row.get(4)?,
        role: parse_role(&role),
        created_at: row.get(6)?,
    })
}

const TOKEN_COLUMNS: &str = "id, hash, last_four, user, name, role, created_at";

/// A user's organizations, with the order they were added in (sorted here: an `ORDER BY`
/// next to a bound parameter makes SQLite prepare the statement again at every call, which
/// cost a tenth of the server's time on every request).
const MEMBERSHIPS_SQL: &str = "SELECT org, rowid FROM members WHERE user = ?1";
/// The users granted a repo (sorted here, for the same reason).
const GRANTS_SQL: &str = "SELECT user FROM grants WHERE kind = ?1 AND id = ?2 AND revoked_at IS NULL";
/// A repo's settings.
const REPO_SQL: &str = "SELECT kind, id, visibility, owner FROM repos WHERE kind = ?1 AND id = ?2";

fn settings_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RepoSettings> {
    let visibility: String = row.get(2)?;
    Ok(RepoSettings {
        kind: row.get(0)?,
        id: row.get(1)?,
        visibility: visibility.parse().unwrap_or(crate::repos::Visibility::Private),
        owner: row.get(3)?,
    })
}

impl Store for SqliteStore {
    fn add_user(&self, user: &User) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(backend("add a user"))?;
        let added = tx
            .execute(
                "INSERT OR IGNORE INTO users (name, fullname, email, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![user.name, user.fullname, user.email, now()],
            )
            .map_err(backend("add a user"))?
            == 1;
        for org in &user.orgs {
            tx.execute("INSERT OR IGNORE INTO members (org, user) VALUES (?1, ?2)", params![org, user.name])
                .map_err(backend("add a membership"))?;
        }
        tx.commit().map_err(backend("add a user"))?;
        Ok(added)
    }

    fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        let conn = self.lock();
        let found = conn
            .query_row("SELECT name, fullname, email FROM users WHERE name = ?1", [name], |r| {
                Ok(User { name: r.get(0)?, fullname: r.get(1)?, email: r.get(2)?, orgs: Vec::new() })
            })
            .optional()
            .map_err(backend("look up a user"))?;
        let Some(mut user) = found else { return Ok(None) };
        let mut stmt = conn.prepare_cached(MEMBERSHIPS_SQL).map_err(backend("list a user's organizations"))?;
        let mut orgs: Vec<(i64, String)> = stmt
            .query_map([name], |r| Ok((r.get(1)?, r.get(0)?)))
            .and_then(Iterator::collect)
            .map_err(backend("list a user's organizations"))?;
        orgs.sort();
        user.orgs = orgs.into_iter().map(|(_, org)| org).collect();
        Ok(Some(user))
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        let names: Vec<String> = {
            let conn = self.lock();
            let mut stmt = conn.prepare("SELECT name FROM users ORDER BY name").map_err(backend("list users"))?;
            stmt.query_map([], |r| r.get(0)).and_then(Iterator::collect).map_err(backend("list users"))?
        };
        names.iter().filter_map(|n| self.user(n).transpose()).collect()
    }

    fn add_org(&self, org: &Org) -> Result<bool, StoreError> {
        let added = self
            .lock()
            .execute(
                "INSERT OR IGNORE INTO orgs (name, fullname, created_at) VALUES (?1, ?2, ?3)",
                params![org.name, org.fullname, now()],
            )
            .map_err(backend("add an organization"))?;
        Ok(added == 1)
    }

    fn org(&self, name: &str) -> Result<Option<Org>, StoreError> {
        self.lock()
            .query_row("SELECT name, fullname FROM orgs WHERE name = ?1", [name], |r| {
                Ok(Org { name: r.get(0)?, fullname: r.get(1)? })
            })
            .optional()
            .map_err(backend("look up an organization"))
    }

    fn add_member(&self, org: &str, user: &str) -> Result<bool, StoreError> {
        let conn = self.lock();
        Self::require_user(&conn, user)?;
        let added = conn
            .execute("INSERT OR IGNORE INTO members (org, user) VALUES (?1, ?2)", params![org, user])
            .map_err(backend("add a membership"))?;
        Ok(added == 1)
    }

    fn insert_token(&self, token: &NewToken) -> Result<Option<TokenRecord>, StoreError> {
        let conn = self.lock();
        Self::require_user(&conn, &token.user)?;
        let created_at = now();
        let added = conn
            .execute(
                "INSERT OR IGNORE INTO tokens (hash, last_four, user, name, role, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    token.hash.as_bytes().as_slice(),
                    token.last_four,
                    token.user,
                    token.name,
                    role_name(token.role),
                    created_at
                ],
            )
            .map_err(backend("store a token"))?;
        if added == 0 {
            return Ok(None);
        }
        Ok(Some(TokenRecord {
            id: conn.last_insert_rowid(),
            hash: token.hash,
            last_four: token.last_four.clone(),
            user: token.user.clone(),
            name: token.name.clone(),
            role: token.role,
            created_at,
        }))
    }

    fn token_by_hash(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = ?1 AND revoked_at IS NULL"))
            .map_err(backend("look up a token"))?;
        stmt.query_row([hash.as_bytes().as_slice()], token_row).optional().map_err(backend("look up a token"))
    }

    fn tokens(&self, user: Option<&str>) -> Result<Vec<TokenRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens WHERE revoked_at IS NULL AND (?1 IS NULL OR user = ?1) ORDER BY id"
            ))
            .map_err(backend("list tokens"))?;
        stmt.query_map([user], token_row).and_then(Iterator::collect).map_err(backend("list tokens"))
    }

    fn revoke_tokens(&self, user: &str, name: Option<&str>) -> Result<usize, StoreError> {
        self.lock()
            .execute(
                "UPDATE tokens SET revoked_at = ?3
                 WHERE user = ?1 AND (?2 IS NULL OR name = ?2) AND revoked_at IS NULL",
                params![user, name, now()],
            )
            .map_err(backend("revoke tokens"))
    }

    fn set_repo(&self, settings: &RepoSettings) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "INSERT INTO repos (kind, id, visibility, owner) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (kind, id) DO UPDATE SET visibility = excluded.visibility, owner = excluded.owner",
                params![settings.kind, settings.id, settings.visibility.as_str(), settings.owner],
            )
            .map_err(backend("set a repo's visibility"))?;
        Ok(())
    }

    fn seed_repo(&self, settings: &RepoSettings) -> Result<bool, StoreError> {
        let added = self
            .lock()
            .execute(
                "INSERT OR IGNORE INTO repos (kind, id, visibility, owner) VALUES (?1, ?2, ?3, ?4)",
                params![settings.kind, settings.id, settings.visibility.as_str(), settings.owner],
            )
            .map_err(backend("set a repo's visibility"))?;
        Ok(added == 1)
    }

    fn repo(&self, kind: &str, id: &str) -> Result<Option<RepoSettings>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(REPO_SQL).map_err(backend("read a repo's settings"))?;
        stmt.query_row([kind, id], settings_row).optional().map_err(backend("read a repo's settings"))
    }

    fn repos(&self) -> Result<Vec<RepoSettings>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT kind, id, visibility, owner FROM repos ORDER BY kind, id")
            .map_err(backend("list repo settings"))?;
        stmt.query_map([], settings_row).and_then(Iterator::collect).map_err(backend("list repo settings"))
    }

    fn grant(&self, kind: &str, id: &str, user: &str) -> Result<bool, StoreError> {
        let conn = self.lock();
        Self::require_user(&conn, user)?;
        let changed = conn
            .execute(
                "INSERT INTO grants (kind, id, user, revoked_at) VALUES (?1, ?2, ?3, NULL)
                 ON CONFLICT (kind, id, user) DO UPDATE SET revoked_at = NULL WHERE revoked_at IS NOT NULL",
                params![kind, id, user],
            )
            .map_err(backend("grant access"))?;
        Ok(changed == 1)
    }

    fn seed_grant(&self, kind: &str, id: &str, user: &str) -> Result<bool, StoreError> {
        let conn = self.lock();
        Self::require_user(&conn, user)?;
        let changed = conn
            .execute("INSERT OR IGNORE INTO grants (kind, id, user) VALUES (?1, ?2, ?3)", params![kind, id, user])
            .map_err(backend("grant access"))?;
        Ok(changed == 1)
    }

    fn revoke_grant(&self, kind: &str, id: &str, user: &str) -> Result<bool, StoreError> {
        let changed = self
            .lock()
            .execute(
                "UPDATE grants SET revoked_at = ?4 WHERE kind = ?1 AND id = ?2 AND user = ?3 AND revoked_at IS NULL",
                params![kind, id, user, now()],
            )
            .map_err(backend("revoke access"))?;
        Ok(changed == 1)
    }

    fn grants(&self, kind: &str, id: &str) -> Result<Vec<String>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(GRANTS_SQL).map_err(backend("list grants"))?;
        let mut users: Vec<String> =
            stmt.query_map([kind, id], |r| r.get(0)).and_then(Iterator::collect).map_err(backend("list grants"))?;
        users.sort();
        Ok(users)
    }
}

#[cfg(test)]
mod tests {
    use super::{GRANTS_SQL, MEMBERSHIPS_SQL, REPO_SQL, SqliteStore, TOKEN_COLUMNS};

    /// The queries every request runs are prepared once, not again at each call (as an
    /// `ORDER BY` beside a bound parameter made them).
    #[test]
    fn per_request_queries_are_prepared_once() {
        let store = SqliteStore::in_memory().unwrap();
        let conn = store.lock();
        let token = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = ?1 AND revoked_at IS NULL");
        for (sql, params) in [
            (GRANTS_SQL, vec!["model", "a/b"]),
            (REPO_SQL, vec!["model", "a/b"]),
            (MEMBERSHIPS_SQL, vec!["alice"]),
            (token.as_str(), vec!["x"]),
        ] {
            for round in 0..3 {
                let mut stmt = conn.prepare_cached(sql).unwrap();
                let rows = stmt.query(rusqlite::params_from_iter(params.iter())).unwrap();
                drop(rows);
                assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0, "{sql} (call {round})");
            }
        }
    }
}
