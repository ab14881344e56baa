//! The repository API as huggingface_hub's `HfApi` and `HfFileSystem` call it:
//!
//! - `GET /api/{types}` (`list_models`, `list_datasets`: `search`, `author`, `limit`; on a
//!   mirror, upstream's list with the mirror's rules applied to each repo);
//! - `GET /api/{types}/{id}[/revision/{rev}]` (`model_info`, `repo_exists`,
//!   `revision_exists`; `blobs=true` adds sizes, blob ids and LFS details to `siblings`);
//! - `GET …/refs` (branches, tags, and pull requests with `include_prs`);
//! - `GET …/tree/{rev}[/{path}]` (recursive, `expand`, paginated with `Link`);
//! - `POST …/paths-info/{rev}` (`get_paths_info`, form `paths=…&expand=…`);
//! - `GET …/commits/{rev}` (`list_repo_commits`, paginated with `Link`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::access::{check_visible, find, repo_caller, repo_not_found, settle};
use super::cache_policy::CachePolicy;
use super::decode;
use crate::HubState;
use crate::hub_error::HubError;
use crate::repos::{FileEntry, RepoView, Visibility};

/// The date reported where the source knows none (repos built in memory).
const UNKNOWN_DATE: &str = "2025-01-01T00:00:00.000Z";
/// Entries per page of a tree listing with `expand=true`, as the Hub pages them.
const EXPANDED_PAGE_SIZE: usize = 50;
/// Commits per page of `/commits`.
const COMMITS_PAGE_SIZE: usize = 50;
/// Entries per page of `/api/models` when no `limit` is given.
const LIST_PAGE_SIZE: usize = 1000;
/// The git object id the Hub reports for folders it does not hash.
const NULL_OID: &str = "0000000000000000000000000000000000000000";

/// A request's query (or form body) parameters, decoded; a key may repeat.
#[derive(Debug, Default)]
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    pub(super) fn parse(raw: &str) -> Self {
        Self(
            raw.split('&')
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (decode(&k.replace('+', " ")), decode(&v.replace('+', " ")))
                })
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
    }

    fn number(&self, name: &str) -> Option<usize> {
        self.get(name).and_then(|v| v.parse().ok())
    }
}

pub(super) async fn handle(
    state: &HubState,
    headers: &HeaderMap,
    method: &Method,
    segments: &[&str],
    query: &str,
    body: &str,
) -> Result<Response, HubError> {
    let kind = match segments.first() {
        Some(&"models") => "model",
        Some(&"datasets") => "dataset",
        Some(&"spaces") => "space",
        Some(&"kernels") => "kernel",
        _ => return Err(HubError::not_found("Not Found")),
    };
    let rest = &segments[1..];
    let params = Params::parse(query);
    if rest.is_empty() || rest == [""] {
        if method != Method::GET && method != Method::HEAD {
            return Err(HubError::not_found("Not Found"));
        }
        return list(state, headers, kind, &params, query).await;
    }
    let (id_len, action) = match rest
        .iter()
        .position(|s| matches!(*s, "revision" | "tree" | "refs" | "paths-info" | "commits" | "auth-check"))
    {
        Some(at) => (at, Some(rest[at])),
        None => (rest.len(), None),
    };
    if id_len == 0 || id_len > 2 {
        return Err(HubError::not_found("Not Found"));
    }
    let is_post = *method == Method::POST;
    if is_post != (action == Some("paths-info")) {
        return Err(HubError::not_found("Not Found"));
    }
    let id = rest[..id_len].join("/");
    let args = &rest[(id_len + 1).min(rest.len())..];
    let caller = repo_caller(state, headers)?;
    if let Some(new_id) = state.renamed(kind, &id) {
        let location = format!(
            "/api/{}/{new_id}{}",
            segments[0],
            rest[id_len..].iter().map(|s| format!("/{s}")).collect::<String>()
        );
        return Ok((StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, location)]).into_response());
    }
    if let Some(mirror) = state.mirror() {
        // Only a well-formed repo id goes into an upstream URL.
        let valid = kind.parse::<hfkit::repo::RepoType>().ok().is_some_and(|k| hfkit::repo::Repo::new(k, &id).is_ok());
        if !valid {
            return Err(repo_not_found(&caller));
        }
        // The operator's rules hold for what is cached; upstream answers for the rest, and
        // knows the whole repo (a cache may hold part of a snapshot).
        let found = super::access::find_mirrored(state, &mirror, kind, &id).await?;
        if let Some(repo) = &found {
            check_visible(repo, &caller)?;
        }
        if action == Some("auth-check") {
            // Whether the caller may read (or write) is the mirror's rule, never upstream's
            // answer for the mirror's own token; a repo the mirror does not know is public
            // upstream or missing there, and only reading is asked of a mirror.
            let ok = || Ok(CachePolicy::Private.apply(Json(serde_json::json!({})).into_response()));
            return match (&found, args) {
                (Some(repo), []) => super::access::check_files(repo, &caller, headers).and_then(|()| ok()),
                (Some(repo), ["write"]) => super::access::check_write(repo, &caller, headers).and_then(|()| ok()),
                (None, []) => match mirror.api(&format!("/api/{}", segments.join("/")), None).await? {
                    Some(answer) => Ok(CachePolicy::Private.apply(answer)),
                    None => Err(repo_not_found(&caller)),
                },
                _ => Err(HubError::not_found("Not Found")),
            };
        }
        let query = if query.is_empty() { String::new() } else { format!("?{query}") };
        let path = format!("/api/{}{query}", segments.join("/"));
        let answer = if action == Some("paths-info") {
            mirror.api_post(&path, paths_info_form(&Params::parse(body))).await?
        } else {
            let own = headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(|h| format!("http://{h}"));
            mirror.api(&path, own.as_deref()).await?
        };
        if let Some(answer) = answer {
            return Ok(api_policy(state, found.as_ref(), action).apply(answer));
        }
    }
    let repo = find(state, kind, &id)?.ok_or_else(|| repo_not_found(&caller))?;
    check_visible(&repo, &caller)?;
    let resolve = |rev: &str| {
        repo.resolve(rev)
            .map(str::to_owned)
            .ok_or_else(|| HubError::not_found(format!("Invalid rev id: {rev}")).code("RevisionNotFound"))
    };
    let blobs = params.flag("blobs");
    let policy = api_policy(state, Some(&repo), action);
    let answer = match action {
        None => Ok(Json(info(state, &repo, &resolve("main")?, blobs)).into_response()),
        Some("revision") if !args.is_empty() => {
            Ok(Json(info(state, &repo, &resolve(&decode(&args.join("/")))?, blobs)).into_response())
        }
        Some("refs") => Ok(Json(refs(&repo, params.flag("include_prs"))).into_response()),
        // huggingface_hub's `auth_check`: may the caller read (or, with `/write`, write) it.
        Some("auth-check") if args.is_empty() => {
            super::access::check_files(&repo, &caller, headers)?;
            Ok(Json(serde_json::json!({})).into_response())
        }
        Some("auth-check") if args == ["write"] => {
            super::access::check_write(&repo, &caller, headers)?;
            Ok(Json(serde_json::json!({})).into_response())
        }
        Some("tree") if !args.is_empty() => {
            let commit = resolve(&decode(args[0]))?;
            let prefix: Vec<String> = args[1..].iter().map(|s| decode(s)).collect();
            tree(state, headers, &repo, &commit, &prefix.join("/"), &params)
        }
        Some("paths-info") if !args.is_empty() => {
            let commit = resolve(&decode(&args.join("/")))?;
            paths_info(state, &repo, &commit, &Params::parse(body))
        }
        Some("commits") if !args.is_empty() => {
            let commit = resolve(&decode(&args.join("/")))?;
            commits(state, headers, &repo, &commit, &params)
        }
        _ => Err(HubError::not_found("Not Found")),
    };
    answer.map(|response| policy.apply(response))
}

/// The cache policy of an answer about a repo: an `auth-check` is about the caller.
fn api_policy(state: &HubState, repo: Option<&RepoView>, action: Option<&str>) -> CachePolicy {
    if action == Some("auth-check") { CachePolicy::Private } else { CachePolicy::for_repo(state, repo, false) }
}

/// `GET /api/{types}`: the repos the caller may see, filtered by `search` (a part of the
/// id, any case) and `author` (the namespace), at most `limit`, paginated with `Link`. A
/// mirror answers with upstream's list (when upstream answers), each repo kept only if the
/// mirror's rules let the caller see it.
async fn list(
    state: &HubState,
    headers: &HeaderMap,
    kind: &str,
    params: &Params,
    query: &str,
) -> Result<Response, HubError> {
    let caller = repo_caller(state, headers)?;
    if let Some(mirror) = state.mirror() {
        let path = format!("/api/{kind}s{}{query}", if query.is_empty() { "" } else { "?" });
        let own = headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(|h| format!("http://{h}"));
        if let Some((listed, link)) = mirror.public_list(&path, own.as_deref()).await {
            let items = mirrored_list(state, kind, listed, &caller)?;
            let mut response = CachePolicy::for_caller(state, caller.user().is_none())
                .apply(Json(Value::Array(items)).into_response());
            if let Some(link) = link {
                response.headers_mut().insert(header::LINK, link);
            }
            return Ok(response);
        }
        // A page of upstream's list (its cursors are not this cache's page numbers): the
        // cache's first page would repeat what the client has.
        if params.get("cursor").is_some_and(|c| c.parse::<usize>().is_err()) {
            return Err(HubError::new(
                StatusCode::BAD_GATEWAY,
                "The upstream stopped answering in the middle of this list; list again later.",
            ));
        }
    }
    let searches: Vec<String> = params.all("search").iter().map(|s| s.to_lowercase()).collect();
    let author = params.get("author");
    let mut visible: Vec<RepoView> = Vec::new();
    for r in state.source().list() {
        if r.kind != kind || !searches.iter().all(|s| r.id.to_lowercase().contains(s)) {
            continue;
        }
        let r = settle(state, r)?;
        if author.is_none_or(|a| r.owner() == a) && check_visible(&r, &caller).is_ok() {
            visible.push(r);
        }
    }
    let limit = params.number("limit");
    let page = limit.unwrap_or(LIST_PAGE_SIZE).max(1);
    let cursor = params.number("cursor").unwrap_or(0);
    let end = (cursor + page).min(visible.len());
    let full = params.flag("full");
    let items: Vec<Value> = visible
        .get(cursor..end)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| {
            let commit = r.resolve("main").map(str::to_owned).or_else(|| r.history.last().cloned())?;
            let mut item = info(state, r, &commit, false);
            if !full && let Some(map) = item.as_object_mut() {
                map.remove("siblings");
            }
            Some(item)
        })
        .collect();
    let mut response =
        CachePolicy::for_caller(state, caller.user().is_none()).apply(Json(Value::Array(items)).into_response());
    // The Hub pages lists without `limit`; with one, the first page is the answer.
    if limit.is_none() && end < visible.len() {
        let next = format!("/api/{kind}s?{}cursor={end}", keep_query(params, &["cursor"]));
        link_next(&mut response, headers, &next);
    }
    Ok(response)
}

/// Upstream's public list of repos as the caller may see it on this mirror: each repo takes
/// the visibility upstream gives it (`private`, `gated`), then the operator's settings (found
/// whatever the case of upstream's spelling, as the repo's own routes find them), as
/// [`super::access::find_mirrored`] does for one repo; a repo the caller may not see is left
/// out, and the `private` and `gated` of the rest say what the mirror does. An entry without
/// a well-formed id is left out.
fn mirrored_list(
    state: &HubState,
    kind: &str,
    listed: Vec<Value>,
    caller: &crate::auth::Caller,
) -> Result<Vec<Value>, HubError> {
    let repo_type = kind.parse::<hfkit::repo::RepoType>().ok();
    let declared: HashMap<String, String> = state
        .store()
        .repos()
        .map_err(|e| super::access::store_failed(&e))?
        .into_iter()
        .filter(|r| r.kind == kind)
        .map(|r| (r.id.to_ascii_lowercase(), r.id))
        .collect();
    let mut kept = Vec::with_capacity(listed.len());
    for mut item in listed {
        let Some(id) = item.get("id").and_then(Value::as_str).map(str::to_owned) else { continue };
        if repo_type.is_none_or(|t| hfkit::repo::Repo::new(t, &id).is_err()) {
            continue;
        }
        // Anything but a plain `false` (or nothing) counts: a liar's `"true"` hides the repo.
        let said = |field: &str| item.get(field).filter(|v| !v.is_null() && v.as_bool() != Some(false)).cloned();
        let gated = said("gated");
        let rules_id = declared.get(&id.to_ascii_lowercase()).cloned().unwrap_or_else(|| id.clone());
        let mut view = RepoView::bare(kind, &rules_id);
        view.visibility = if said("private").is_some() {
            Visibility::Private
        } else if gated.is_some() {
            Visibility::Gated
        } else {
            Visibility::Public
        };
        let view = settle(state, view)?;
        if check_visible(&view, caller).is_err() {
            continue;
        }
        // Said where upstream said it (a list asked with `expand` has only those fields).
        if let Some(map) = item.as_object_mut() {
            if map.contains_key("private") {
                map.insert("private".into(), Value::Bool(view.visibility == Visibility::Private));
            }
            if map.contains_key("gated") {
                let gated = match view.visibility {
                    Visibility::Gated => gated.unwrap_or_else(|| Value::String("manual".into())),
                    _ => Value::Bool(false),
                };
                map.insert("gated".into(), gated);
            }
        }
        kept.push(item);
    }
    Ok(kept)
}

/// The query without `drop`, each pair followed by `&`.
fn keep_query(params: &Params, drop: &[&str]) -> String {
    params
        .0
        .iter()
        .filter(|(k, _)| !drop.contains(&k.as_str()))
        .map(|(k, v)| format!("{}={}&", hfkit::repo::quote(k, false), hfkit::repo::quote(v, false)))
        .collect()
}

/// Adds `Link: <http://host/path>; rel="next"`.
fn link_next(response: &mut Response, headers: &HeaderMap, path_and_query: &str) {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let next = format!("<http://{host}{path_and_query}>; rel=\"next\"");
    if let Ok(value) = HeaderValue::from_str(&next) {
        response.headers_mut().insert(header::LINK, value);
    }
}

fn info(state: &HubState, repo: &RepoView, commit: &str, blobs: bool) -> Value {
    let files = state.source().files(repo, commit);
    let siblings: Vec<Value> = files
        .iter()
        .map(|(path, file)| {
            if !blobs {
                return json!({"rfilename": path});
            }
            let mut sibling = json!({"rfilename": path, "size": file.size, "blobId": file.oid});
            if let Some(sha) = &file.lfs_sha256 {
                sibling["lfs"] = json!({"size": file.size, "sha256": sha, "pointerSize": file.pointer_size()});
            }
            sibling
        })
        .collect();
    let gated = match repo.visibility {
        Visibility::Gated => json!("auto"),
        _ => json!(false),
    };
    let mut body = json!({
        "_id": &commit[..24],
        "id": repo.id,
        "author": repo.owner(),
        "sha": commit,
        "private": repo.visibility == Visibility::Private,
        "gated": gated,
        "disabled": repo.disabled,
        "lastModified": commit_date(state, repo, commit),
        "createdAt": created_at(state, repo),
        "tags": [],
        "downloads": 0,
        "likes": 0,
        "siblings": siblings,
    });
    if blobs {
        body["usedStorage"] = json!(files.values().map(|f| f.size).sum::<u64>());
    }
    if repo.kind == "model" {
        body["modelId"] = json!(repo.id);
    }
    body
}

fn refs(repo: &RepoView, include_prs: bool) -> Value {
    let entry = |name: &str, full: String, commit: &str| json!({"name": name, "ref": full, "targetCommit": commit});
    let mut branches = Vec::new();
    let mut tags = Vec::new();
    let mut prs = Vec::new();
    for (name, commit) in &repo.refs {
        if let Some(number) = name.strip_prefix("refs/pr/") {
            prs.push(entry(number, name.clone(), commit));
        } else if name.starts_with("refs/") {
            continue;
        } else if repo.tags.contains(name) {
            tags.push(entry(name, format!("refs/tags/{name}"), commit));
        } else {
            branches.push(entry(name, format!("refs/heads/{name}"), commit));
        }
    }
    let mut body = json!({"branches": branches, "tags": tags, "converts": []});
    if include_prs {
        body["pullRequests"] = json!(prs);
    }
    body
}

/// The tree entry of a file, with `lastCommit` when `expand` (the commit named, as far as
/// the server knows: see [`last_commit`]).
fn file_entry(path: &str, file: &FileEntry, last: Option<&Value>) -> Value {
    let mut entry = json!({"type": "file", "oid": file.oid, "size": file.size, "path": path});
    if let Some(sha) = &file.lfs_sha256 {
        entry["lfs"] = json!({"oid": sha, "size": file.size, "pointerSize": file.pointer_size()});
    }
    if let Some(xet) = &file.xet_hash {
        entry["xetHash"] = json!(xet);
    }
    if let Some(last) = last {
        entry["lastCommit"] = last.clone();
    }
    entry
}

fn folder_entry(path: &str, last: Option<&Value>) -> Value {
    let mut entry = json!({"type": "directory", "oid": NULL_OID, "path": path});
    if let Some(last) = last {
        entry["lastCommit"] = last.clone();
    }
    entry
}

/// The `lastCommit` of an expanded entry: the server does not track which commit last
/// touched a path, so it names the commit listed.
fn last_commit(state: &HubState, repo: &RepoView, commit: &str) -> Value {
    json!({"id": commit, "title": commit_title(commit), "date": commit_date(state, repo, commit)})
}

/// The date of `commit` as the source knows it (a cache: its snapshot folder's time).
fn commit_date(state: &HubState, repo: &RepoView, commit: &str) -> String {
    state.source().commit_time(repo, commit).map_or_else(|| UNKNOWN_DATE.to_owned(), hfkit::time::hub_date)
}

/// When the repo appeared: the oldest date of its commits.
fn created_at(state: &HubState, repo: &RepoView) -> String {
    repo.history
        .iter()
        .filter_map(|c| state.source().commit_time(repo, c))
        .min()
        .map_or_else(|| UNKNOWN_DATE.to_owned(), hfkit::time::hub_date)
}

fn commit_title(commit: &str) -> String {
    format!("Commit {}", &commit[..7.min(commit.len())])
}

fn tree(
    state: &HubState,
    headers: &HeaderMap,
    repo: &RepoView,
    commit: &str,
    prefix: &str,
    params: &Params,
) -> Result<Response, HubError> {
    let recursive = params.flag("recursive");
    let expand = params.flag("expand");
    let cursor = params.number("cursor").unwrap_or(0);
    let files = state.source().files(repo, commit);
    let base = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
    if !prefix.is_empty() && !files.keys().any(|p| p.starts_with(&base)) {
        return Err(HubError::not_found(format!("Entry not found: {prefix}"))
            .code("EntryNotFound")
            .header("x-repo-commit", commit));
    }
    let last = expand.then(|| last_commit(state, repo, commit));
    let mut entries: Vec<Value> = Vec::new();
    let mut dirs = BTreeSet::new();
    for (path, file) in files.iter().filter(|(p, _)| p.starts_with(&base)) {
        let relative = &path[base.len()..];
        let parts: Vec<&str> = relative.split('/').collect();
        for depth in 1..parts.len() {
            if recursive || depth == 1 {
                dirs.insert(format!("{base}{}", parts[..depth].join("/")));
            }
        }
        if !recursive && parts.len() > 1 {
            continue;
        }
        entries.push(file_entry(path, file, last.as_ref()));
    }
    for dir in dirs {
        entries.push(folder_entry(&dir, last.as_ref()));
    }
    entries.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    let page = if expand { state.tree_page_size().min(EXPANDED_PAGE_SIZE) } else { state.tree_page_size() };
    let end = (cursor + page).min(entries.len());
    let slice = entries.get(cursor..end).unwrap_or_default().to_vec();
    let mut response = Json(Value::Array(slice)).into_response();
    if end < entries.len() {
        let path_part =
            if prefix.is_empty() { String::new() } else { format!("/{}", hfkit::repo::quote(prefix, true)) };
        let next = format!(
            "/api/{}s/{}/tree/{commit}{path_part}?recursive={recursive}&expand={expand}&cursor={end}",
            repo.kind, repo.id
        );
        link_next(&mut response, headers, &next);
    }
    Ok(response)
}

/// The form of a `paths-info` request as passed upstream: only its `paths` and `expand`.
fn paths_info_form(form: &Params) -> String {
    let mut fields: Vec<(&str, &str)> = form.all("paths").into_iter().map(|p| ("paths", p)).collect();
    if form.flag("expand") {
        fields.push(("expand", "true"));
    }
    serde_urlencoded::to_string(fields).unwrap_or_default()
}

/// `POST …/paths-info/{rev}`: the entries of the paths asked for (files and folders);
/// paths that do not exist are left out, as the Hub does.
fn paths_info(state: &HubState, repo: &RepoView, commit: &str, form: &Params) -> Result<Response, HubError> {
    let files = state.source().files(repo, commit);
    let last = form.flag("expand").then(|| last_commit(state, repo, commit));
    let mut seen = BTreeMap::new();
    for path in form.all("paths") {
        let path = path.trim_matches('/');
        if let Some(file) = files.get(path) {
            seen.insert(path.to_owned(), file_entry(path, file, last.as_ref()));
        } else if path.is_empty() || files.keys().any(|p| p.starts_with(&format!("{path}/"))) {
            seen.insert(path.to_owned(), folder_entry(path, last.as_ref()));
        }
    }
    Ok(Json(Value::Array(seen.into_values().collect())).into_response())
}

/// `GET …/commits/{rev}`: the commits reachable from the revision, newest first. A cache
/// knows only the commit itself.
fn commits(
    state: &HubState,
    headers: &HeaderMap,
    repo: &RepoView,
    commit: &str,
    params: &Params,
) -> Result<Response, HubError> {
    let all = repo.ancestry(commit);
    let cursor = params.number("p").unwrap_or(0) * COMMITS_PAGE_SIZE;
    let end = (cursor + COMMITS_PAGE_SIZE).min(all.len());
    let items: Vec<Value> = all
        .get(cursor..end)
        .unwrap_or_default()
        .iter()
        .map(|c| {
            json!({"id": c, "title": commit_title(c), "message": "", "authors": [{"user": repo.owner()}],
                   "date": commit_date(state, repo, c)})
        })
        .collect();
    let mut response = Json(Value::Array(items)).into_response();
    if end < all.len() {
        let page = end / COMMITS_PAGE_SIZE;
        link_next(&mut response, headers, &format!("/api/{}s/{}/commits/{commit}?p={page}", repo.kind, repo.id));
    }
    Ok(response)
}
