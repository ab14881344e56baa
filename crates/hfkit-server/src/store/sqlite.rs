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

use super::{
    AccessRequest, DeviceCodeInsert, DeviceCodeRecord, DeviceState, GateSettings, NewDeviceCode, NewSession, NewToken,
    RepoSettings, RequestStatus, SessionRecord, Store, StoreError, TokenRecord,
};
use crate::accounts::{Org, Role, User};
use crate::auth::token::TokenHash;

/// The file name of the database inside the data folder.
pub const FILE_NAME: &str = "hfkit-server.sqlite3";
/// How long a writer waits for another before giving up.
const BUSY_TIMEOUT_MS: u64 = 5_000;

/// Forward-only migrations; entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    "
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
",
    "
    ALTER TABLE users ADD COLUMN password_hash TEXT;
    ALTER TABLE users ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tokens ADD COLUMN last_used_at INTEGER;
    CREATE TABLE sessions (
        hash BLOB PRIMARY KEY,
        user TEXT NOT NULL REFERENCES users(name),
        csrf TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX sessions_by_user ON sessions(user);
    CREATE TABLE gates (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        fields TEXT NOT NULL,
        license TEXT,
        auto_approve INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (kind, id)
    );
    CREATE TABLE access_requests (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        user TEXT NOT NULL REFERENCES users(name),
        answers TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        decided_at INTEGER,
        decided_by TEXT,
        PRIMARY KEY (kind, id, user)
    );
",
    "
    CREATE TABLE device_codes (
        id INTEGER PRIMARY KEY,
        device_hash BLOB NOT NULL UNIQUE,
        user_code_hash BLOB NOT NULL UNIQUE,
        client_id TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL,
        interval_secs INTEGER NOT NULL,
        last_poll_ms INTEGER,
        state TEXT NOT NULL DEFAULT 'pending',
        user TEXT REFERENCES users(name),
        decided_ms INTEGER
    );
    CREATE TABLE oauth_tokens (
        token_id INTEGER PRIMARY KEY REFERENCES tokens(id),
        expires_at INTEGER NOT NULL
    );
    CREATE TABLE refresh_tokens (
        id INTEGER PRIMARY KEY,
        hash BLOB NOT NULL UNIQUE,
        user TEXT NOT NULL REFERENCES users(name),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER
    );
",
    // A refresh token names the access token it came with: deleting that token (on the
    // Access Tokens page) ends the refresh token too. Older rows (NULL) keep working.
    "
    ALTER TABLE refresh_tokens ADD COLUMN token_id INTEGER REFERENCES tokens(id);
",
];

/// The SQLite-backed [`Store`].
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
}

fn backend(what: &str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Backend { what: what.to_owned(), source: Box::new(source) }
}

use hfkit::time::now_unix as now;

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

    fn device_code_where(&self, column: &str, hash: &TokenHash) -> Result<Option<DeviceCodeRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT id, client_id, expires_ms, interval_secs, last_poll_ms, state, user
                 FROM device_codes WHERE {column} = ?1"
            ))
            .map_err(backend("look up a device code"))?;
        stmt.query_row([hash.as_bytes().as_slice()], |r| {
            let state: String = r.get(5)?;
            Ok(DeviceCodeRecord {
                id: r.get(0)?,
                client_id: r.get(1)?,
                expires_ms: r.get(2)?,
                interval_secs: r.get(3)?,
                last_poll_ms: r.get(4)?,
                state: DeviceState::parse(&state),
                user: r.get(6)?,
            })
        })
        .optional()
        .map_err(backend("look up a device code"))
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

fn gate_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<GateSettings> {
    let fields: String = row.get(2)?;
    Ok(GateSettings {
        kind: row.get(0)?,
        id: row.get(1)?,
        fields: serde_json::from_str(&fields).unwrap_or_default(),
        license: row.get(3)?,
        auto_approve: row.get(4)?,
    })
}

const REQUEST_COLUMNS: &str = "kind, id, user, answers, status, created_at, decided_by";

fn request_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AccessRequest> {
    let answers: String = row.get(3)?;
    let status: String = row.get(4)?;
    Ok(AccessRequest {
        kind: row.get(0)?,
        id: row.get(1)?,
        user: row.get(2)?,
        answers: serde_json::from_str(&answers).unwrap_or_default(),
        status: RequestStatus::parse(&status).unwrap_or(RequestStatus::Pending),
        created_at: row.get(5)?,
        decided_by: row.get(6)?,
    })
}

/// How often a token's `last_used_at` is written at most (seconds).
const TOUCH_EVERY_SECS: i64 = 60;

impl Store for SqliteStore {
    fn add_user(&self, user: &User) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(backend("add a user"))?;
        let added = tx
            .execute(
                "INSERT OR IGNORE INTO users (name, fullname, email, created_at, admin) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![user.name, user.fullname, user.email, now(), user.admin],
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
            .query_row("SELECT name, fullname, email, admin FROM users WHERE name = ?1", [name], |r| {
                Ok(User {
                    name: r.get(0)?,
                    fullname: r.get(1)?,
                    email: r.get(2)?,
                    orgs: Vec::new(),
                    password_hash: None,
                    admin: r.get(3)?,
                })
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
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = ?1 AND revoked_at IS NULL
                 AND NOT EXISTS (SELECT 1 FROM oauth_tokens o WHERE o.token_id = tokens.id AND o.expires_at <= ?2)"
            ))
            .map_err(backend("look up a token"))?;
        stmt.query_row(params![hash.as_bytes().as_slice(), now()], token_row)
            .optional()
            .map_err(backend("look up a token"))
    }

    fn tokens(&self, user: Option<&str>) -> Result<Vec<TokenRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens WHERE revoked_at IS NULL AND (?1 IS NULL OR user = ?1)
                 AND NOT EXISTS (SELECT 1 FROM oauth_tokens o WHERE o.token_id = tokens.id AND o.expires_at <= ?2)
                 ORDER BY id"
            ))
            .map_err(backend("list tokens"))?;
        stmt.query_map(params![user, now()], token_row).and_then(Iterator::collect).map_err(backend("list tokens"))
    }

    fn revoke_tokens(&self, user: &str, name: Option<&str>) -> Result<usize, StoreError> {
        let conn = self.lock();
        if name.is_none() {
            // Every token of the user: the browser login's refresh tokens too, so none can
            // bring a new access token.
            conn.execute(
                "UPDATE refresh_tokens SET used_at = ?2 WHERE user = ?1 AND used_at IS NULL",
                params![user, now()],
            )
            .map_err(backend("revoke refresh tokens"))?;
        }
        conn.execute(
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

    fn set_password(&self, user: &str, hash: &str) -> Result<(), StoreError> {
        let mut conn = self.lock();
        Self::require_user(&conn, user)?;
        let tx = conn.transaction().map_err(backend("set a password"))?;
        tx.execute("UPDATE users SET password_hash = ?2 WHERE name = ?1", params![user, hash])
            .map_err(backend("set a password"))?;
        tx.execute("DELETE FROM sessions WHERE user = ?1", [user]).map_err(backend("end sessions"))?;
        tx.commit().map_err(backend("set a password"))
    }

    fn set_admin(&self, user: &str, admin: bool) -> Result<(), StoreError> {
        let conn = self.lock();
        Self::require_user(&conn, user)?;
        conn.execute("UPDATE users SET admin = ?2 WHERE name = ?1", params![user, admin])
            .map_err(backend("set a user's operator rights"))?;
        Ok(())
    }

    fn seed_password(&self, user: &str, hash: &str) -> Result<bool, StoreError> {
        let conn = self.lock();
        Self::require_user(&conn, user)?;
        let changed = conn
            .execute(
                "UPDATE users SET password_hash = ?2 WHERE name = ?1 AND password_hash IS NULL",
                params![user, hash],
            )
            .map_err(backend("set a password"))?;
        Ok(changed == 1)
    }

    fn password_hash(&self, user: &str) -> Result<Option<String>, StoreError> {
        self.lock()
            .query_row("SELECT password_hash FROM users WHERE name = ?1", [user], |r| r.get(0))
            .optional()
            .map(Option::flatten)
            .map_err(backend("read a password hash"))
    }

    fn insert_session(&self, session: &NewSession) -> Result<(), StoreError> {
        let conn = self.lock();
        Self::require_user(&conn, &session.user)?;
        let now = now();
        conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now]).map_err(backend("forget old sessions"))?;
        conn.execute(
            "INSERT INTO sessions (hash, user, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![session.hash.as_bytes().as_slice(), session.user, session.csrf, now, session.expires_at],
        )
        .map_err(backend("store a session"))?;
        Ok(())
    }

    fn session(&self, hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT user, csrf, expires_at FROM sessions WHERE hash = ?1 AND expires_at > ?2")
            .map_err(backend("look up a session"))?;
        stmt.query_row(params![hash.as_bytes().as_slice(), now()], |r| {
            Ok(SessionRecord { user: r.get(0)?, csrf: r.get(1)?, expires_at: r.get(2)? })
        })
        .optional()
        .map_err(backend("look up a session"))
    }

    fn delete_session(&self, hash: &TokenHash) -> Result<bool, StoreError> {
        let deleted = self
            .lock()
            .execute("DELETE FROM sessions WHERE hash = ?1", [hash.as_bytes().as_slice()])
            .map_err(backend("end a session"))?;
        Ok(deleted == 1)
    }

    fn touch_token(&self, id: i64) -> Result<(), StoreError> {
        let now = now();
        self.lock()
            .execute(
                "UPDATE tokens SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at <= ?3)",
                params![id, now, now - TOUCH_EVERY_SECS],
            )
            .map_err(backend("record a token's use"))?;
        Ok(())
    }

    fn revoke_token(&self, user: &str, id: i64) -> Result<bool, StoreError> {
        let changed = self
            .lock()
            .execute(
                "UPDATE tokens SET revoked_at = ?3 WHERE id = ?2 AND user = ?1 AND revoked_at IS NULL",
                params![user, id, now()],
            )
            .map_err(backend("revoke a token"))?;
        Ok(changed == 1)
    }

    fn tokens_last_used(&self, user: &str) -> Result<Vec<(i64, i64)>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT id, last_used_at FROM tokens
                 WHERE user = ?1 AND revoked_at IS NULL AND last_used_at IS NOT NULL ORDER BY id",
            )
            .map_err(backend("list token use"))?;
        stmt.query_map([user], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(Iterator::collect)
            .map_err(backend("list token use"))
    }

    fn set_gate(&self, gate: &GateSettings) -> Result<(), StoreError> {
        let fields = serde_json::to_string(&gate.fields).unwrap_or_else(|_| "[]".to_owned());
        self.lock()
            .execute(
                "INSERT INTO gates (kind, id, fields, license, auto_approve) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (kind, id) DO UPDATE SET fields = excluded.fields, license = excluded.license,
                     auto_approve = excluded.auto_approve",
                params![gate.kind, gate.id, fields, gate.license, gate.auto_approve],
            )
            .map_err(backend("set a repo's gate"))?;
        Ok(())
    }

    fn seed_gate(&self, gate: &GateSettings) -> Result<bool, StoreError> {
        let fields = serde_json::to_string(&gate.fields).unwrap_or_else(|_| "[]".to_owned());
        let added = self
            .lock()
            .execute(
                "INSERT OR IGNORE INTO gates (kind, id, fields, license, auto_approve) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![gate.kind, gate.id, fields, gate.license, gate.auto_approve],
            )
            .map_err(backend("set a repo's gate"))?;
        Ok(added == 1)
    }

    fn gate(&self, kind: &str, id: &str) -> Result<Option<GateSettings>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT kind, id, fields, license, auto_approve FROM gates WHERE kind = ?1 AND id = ?2")
            .map_err(backend("read a repo's gate"))?;
        stmt.query_row([kind, id], gate_row).optional().map_err(backend("read a repo's gate"))
    }

    fn request_access(
        &self,
        kind: &str,
        id: &str,
        user: &str,
        answers: &[(String, String)],
    ) -> Result<AccessRequest, StoreError> {
        let conn = self.lock();
        Self::require_user(&conn, user)?;
        let answers = serde_json::to_string(answers).unwrap_or_else(|_| "[]".to_owned());
        conn.execute(
            "INSERT INTO access_requests (kind, id, user, answers, status, created_at) VALUES (?1, ?2, ?3, ?4, 'pending', ?5)
             ON CONFLICT (kind, id, user) DO UPDATE SET answers = excluded.answers, status = 'pending',
                 created_at = excluded.created_at, decided_at = NULL, decided_by = NULL
             WHERE status <> 'pending'",
            params![kind, id, user, answers, now()],
        )
        .map_err(backend("store an access request"))?;
        conn.query_row(
            &format!("SELECT {REQUEST_COLUMNS} FROM access_requests WHERE kind = ?1 AND id = ?2 AND user = ?3"),
            [kind, id, user],
            request_row,
        )
        .map_err(backend("read an access request"))
    }

    fn access_request(&self, kind: &str, id: &str, user: &str) -> Result<Option<AccessRequest>, StoreError> {
        self.lock()
            .query_row(
                &format!("SELECT {REQUEST_COLUMNS} FROM access_requests WHERE kind = ?1 AND id = ?2 AND user = ?3"),
                [kind, id, user],
                request_row,
            )
            .optional()
            .map_err(backend("read an access request"))
    }

    fn access_requests(
        &self,
        repo: Option<(&str, &str)>,
        status: Option<RequestStatus>,
    ) -> Result<Vec<AccessRequest>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {REQUEST_COLUMNS} FROM access_requests
                 WHERE (?1 IS NULL OR (kind = ?1 AND id = ?2)) AND (?3 IS NULL OR status = ?3)
                 ORDER BY created_at, kind, id, user"
            ))
            .map_err(backend("list access requests"))?;
        let (kind, id) = repo.unzip();
        stmt.query_map(params![kind, id, status.map(RequestStatus::as_str)], request_row)
            .and_then(Iterator::collect)
            .map_err(backend("list access requests"))
    }

    fn decide_request(&self, kind: &str, id: &str, user: &str, accept: bool, by: &str) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(backend("decide an access request"))?;
        let status = if accept { RequestStatus::Accepted } else { RequestStatus::Rejected };
        let changed = tx
            .execute(
                "UPDATE access_requests SET status = ?4, decided_at = ?5, decided_by = ?6
                 WHERE kind = ?1 AND id = ?2 AND user = ?3",
                params![kind, id, user, status.as_str(), now(), by],
            )
            .map_err(backend("decide an access request"))?;
        if changed == 0 {
            return Ok(false);
        }
        if accept {
            tx.execute(
                "INSERT INTO grants (kind, id, user, revoked_at) VALUES (?1, ?2, ?3, NULL)
                 ON CONFLICT (kind, id, user) DO UPDATE SET revoked_at = NULL",
                params![kind, id, user],
            )
            .map_err(backend("grant access"))?;
        } else {
            tx.execute(
                "UPDATE grants SET revoked_at = ?4 WHERE kind = ?1 AND id = ?2 AND user = ?3 AND revoked_at IS NULL",
                params![kind, id, user, now()],
            )
            .map_err(backend("revoke access"))?;
        }
        tx.commit().map_err(backend("decide an access request"))?;
        Ok(true)
    }

    // ---- Browser login: device codes, OAuth access and refresh tokens (RFC 8628) ----

    fn insert_device_code(&self, code: &NewDeviceCode, max_waiting: u64) -> Result<DeviceCodeInsert, StoreError> {
        // One connection behind one lock: the count and the insert are one step.
        let conn = self.lock();
        conn.execute("DELETE FROM device_codes WHERE expires_ms < ?1", [code.created_ms - 86_400_000])
            .map_err(backend("forget expired device codes"))?;
        let waiting: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM device_codes WHERE expires_ms > ?1 AND state = 'pending'",
                [code.created_ms],
                |row| row.get(0),
            )
            .map_err(backend("count the waiting device codes"))?;
        if u64::try_from(waiting).unwrap_or(0) >= max_waiting {
            return Ok(DeviceCodeInsert::Full);
        }
        let added = conn
            .execute(
                "INSERT OR IGNORE INTO device_codes
                 (device_hash, user_code_hash, client_id, created_ms, expires_ms, interval_secs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    code.device_hash.as_bytes().as_slice(),
                    code.user_code_hash.as_bytes().as_slice(),
                    code.client_id,
                    code.created_ms,
                    code.expires_ms,
                    code.interval_secs
                ],
            )
            .map_err(backend("store a device code"))?;
        Ok(if added == 1 { DeviceCodeInsert::Added } else { DeviceCodeInsert::Taken })
    }

    fn device_code(&self, device_hash: &TokenHash) -> Result<Option<DeviceCodeRecord>, StoreError> {
        self.device_code_where("device_hash", device_hash)
    }

    fn device_code_by_user_code(&self, user_code_hash: &TokenHash) -> Result<Option<DeviceCodeRecord>, StoreError> {
        self.device_code_where("user_code_hash", user_code_hash)
    }

    fn record_device_poll(&self, id: i64, at_ms: i64, interval_secs: i64) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "UPDATE device_codes SET last_poll_ms = ?2, interval_secs = ?3 WHERE id = ?1",
                params![id, at_ms, interval_secs],
            )
            .map_err(backend("record a device poll"))?;
        Ok(())
    }

    fn decide_device_code(&self, id: i64, user: Option<&str>, now_ms: i64) -> Result<bool, StoreError> {
        let conn = self.lock();
        if let Some(user) = user {
            Self::require_user(&conn, user)?;
        }
        let state = if user.is_some() { DeviceState::Approved } else { DeviceState::Denied };
        let changed = conn
            .execute(
                "UPDATE device_codes SET state = ?2, user = ?3, decided_ms = ?4
                 WHERE id = ?1 AND state = 'pending' AND expires_ms > ?4",
                params![id, state.as_str(), user, now_ms],
            )
            .map_err(backend("decide on a device code"))?;
        Ok(changed == 1)
    }

    fn consume_device_code(&self, id: i64) -> Result<bool, StoreError> {
        let changed = self
            .lock()
            .execute("UPDATE device_codes SET state = 'used' WHERE id = ?1 AND state = 'approved'", [id])
            .map_err(backend("use a device code"))?;
        Ok(changed == 1)
    }

    fn insert_oauth_token(&self, token: &NewToken, expires_at: i64) -> Result<TokenRecord, StoreError> {
        let mut conn = self.lock();
        Self::require_user(&conn, &token.user)?;
        let created_at = now();
        let tx = conn.transaction().map_err(backend("store an OAuth token"))?;
        tx.execute(
            "INSERT INTO tokens (hash, last_four, user, name, role, created_at) VALUES (?1, ?2, ?3, NULL, ?4, ?5)",
            params![token.hash.as_bytes().as_slice(), token.last_four, token.user, role_name(token.role), created_at],
        )
        .map_err(backend("store an OAuth token"))?;
        let id = tx.last_insert_rowid();
        tx.execute("INSERT INTO oauth_tokens (token_id, expires_at) VALUES (?1, ?2)", params![id, expires_at])
            .map_err(backend("store an OAuth token"))?;
        tx.commit().map_err(backend("store an OAuth token"))?;
        Ok(TokenRecord {
            id,
            hash: token.hash,
            last_four: token.last_four.clone(),
            user: token.user.clone(),
            name: None,
            role: token.role,
            created_at,
        })
    }

    fn oauth_token_expiry(&self, token_id: i64) -> Result<Option<i64>, StoreError> {
        self.lock()
            .query_row("SELECT expires_at FROM oauth_tokens WHERE token_id = ?1", [token_id], |r| r.get(0))
            .optional()
            .map_err(backend("read a token's expiry"))
    }

    fn insert_refresh_token(
        &self,
        hash: &TokenHash,
        user: &str,
        token_id: Option<i64>,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let conn = self.lock();
        Self::require_user(&conn, user)?;
        conn.execute(
            "INSERT INTO refresh_tokens (hash, user, token_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![hash.as_bytes().as_slice(), user, token_id, now(), expires_at],
        )
        .map_err(backend("store a refresh token"))?;
        Ok(())
    }

    fn use_refresh_token(&self, hash: &TokenHash, now: i64) -> Result<Option<String>, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(backend("use a refresh token"))?;
        let user: Option<String> = tx
            .query_row(
                "SELECT user FROM refresh_tokens WHERE hash = ?1 AND used_at IS NULL AND expires_at > ?2
                     AND NOT EXISTS (SELECT 1 FROM tokens
                                     WHERE tokens.id = refresh_tokens.token_id AND revoked_at IS NOT NULL)",
                params![hash.as_bytes().as_slice(), now],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend("use a refresh token"))?;
        if user.is_some() {
            tx.execute(
                "UPDATE refresh_tokens SET used_at = ?2 WHERE hash = ?1",
                params![hash.as_bytes().as_slice(), now],
            )
            .map_err(backend("use a refresh token"))?;
        }
        tx.commit().map_err(backend("use a refresh token"))?;
        Ok(user)
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

#[cfg(test)]
mod browser_login_migration_tests {
    use super::*;

    /// A data folder of the first schema (before the browser login) is upgraded in place:
    /// its tokens keep working and device codes can be stored.
    #[test]
    fn a_first_schema_database_gains_the_browser_login_tables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch("PRAGMA user_version = 1").unwrap();
            conn.execute("INSERT INTO users (name, created_at) VALUES ('alice', 0)", []).unwrap();
            conn.execute(
                "INSERT INTO tokens (hash, last_four, user, name, role, created_at) VALUES (?1, 'xyzw', 'alice', 'old', 'read', 0)",
                [TokenHash::of("hf_old").as_bytes().as_slice()],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert!(store.token_by_hash(&TokenHash::of("hf_old")).unwrap().is_some());
        let code = NewDeviceCode {
            device_hash: TokenHash::of("d"),
            user_code_hash: TokenHash::of("u"),
            client_id: "cli".into(),
            created_ms: 0,
            expires_ms: i64::MAX,
            interval_secs: 5,
        };
        assert_eq!(store.insert_device_code(&code, 10).unwrap(), DeviceCodeInsert::Added);
        assert_eq!(store.insert_device_code(&code, 10).unwrap(), DeviceCodeInsert::Taken, "a code is stored once");
        assert_eq!(store.insert_device_code(&code, 1).unwrap(), DeviceCodeInsert::Full, "one waits already");
    }
}
