//! `hf download`: huggingface_hub's command, with its arguments, output and exit codes, on
//! hfkit's verified, parallel, resumable downloads.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Result, bail};
use hfkit::download::{DownloadOptions, Downloaded, Progress};
use hfkit::repo::{HfUri, Repo, RepoType, split_type_prefix};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::auth::Status;
use crate::cli::DownloadArgs;
use hfkit::text::escape_text;

use crate::output::{Format, Printer, shown};
use crate::settings::{Context, UsageError};

/// The exit status after Ctrl-C, as a shell reports a command ended by SIGINT (128 + 2).
const INTERRUPTED: Status = 130;

pub(crate) fn download(ctx: &Context, args: &DownloadArgs) -> Result<Status> {
    let p = &ctx.printer;
    let (repo, uri_revision, uri_path) = parse_repo(&args.repo_id, args.repo_type.as_deref(), args.revision.is_some())?;
    if args.local_dir.is_some() && args.cache_dir.is_some() {
        bail!("Cannot use both `--local-dir` and `--cache-dir` at the same time. Use one or the other.");
    }
    let mut filenames = args.filenames.clone();
    if let Some(path) = uri_path {
        if !filenames.is_empty() {
            bail!("A path in the hf:// URI cannot be combined with file names.");
        }
        filenames.push(path);
    }
    let folders: Vec<&String> = filenames.iter().filter(|f| f.ends_with('/')).collect();
    if !folders.is_empty() && (!args.include.is_empty() || !args.exclude.is_empty()) {
        bail!(
            "Cannot combine subfolder argument ('{}') with `--include`. Please use `--include \"{}*\"` instead.",
            folders[0],
            folders[0]
        );
    }
    if !filenames.is_empty() && folders.is_empty() && (!args.include.is_empty() || !args.exclude.is_empty()) {
        p.warning("Ignoring `--include` and `--exclude` since filenames have been explicitly set.");
    }
    let explicit = ctx.explicit_token(args.token.as_deref(), true)?;
    let mut config = ctx.config.clone();
    if let Some(n) = args.max_workers {
        config.transfer.workers = n.max(1);
    }
    if let Some(n) = args.connections {
        config.transfer.connections = n.max(1);
        config.transfer.adaptive = false;
    }
    if let Some(n) = args.chunk_size {
        config.transfer.chunk_size = n.max(1);
        config.transfer.adaptive = false;
    }
    let hub = hfkit::Hub::new(config, explicit);
    let single = filenames.len() == 1 && folders.is_empty();
    let options = DownloadOptions {
        revision: uri_revision.or_else(|| args.revision.clone()).unwrap_or_else(|| "main".to_owned()),
        cache_dir: args.cache_dir.clone(),
        local_dir: args.local_dir.clone(),
        force: args.force_download,
        offline: args.offline.then_some(true),
        include: if filenames.is_empty() { args.include.clone() } else { filenames.clone() },
        exclude: if filenames.is_empty() { args.exclude.clone() } else { Vec::new() },
        dry_run: args.dry_run,
        use_locks: true,
        metadata: None,
    };
    let bars = Bars::new(show_bars(ctx) && !args.dry_run, p.clone());
    // One thread moves the bytes (sockets, writes); the hashing runs on the library's own
    // threads. A second runtime worker only adds cross-thread wake-ups for every buffer.
    let runtime = crate::settings::runtime()?;
    let handle = hub.repo(repo);
    let outcome = runtime.block_on(async {
        let work = async {
            if single {
                handle.download_file(&filenames[0], &options, &bars).await
            } else {
                handle.snapshot(&options, &bars).await
            }
        };
        tokio::select! {
            outcome = work => Some(outcome),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    bars.finish();
    let Some(outcome) = outcome else {
        // What is on disk stays: partial files and their records are what a rerun resumes from.
        runtime.shutdown_background();
        p.notice("Download stopped (interrupted). Run the same command again to resume it: what was already downloaded is kept.");
        return Ok(INTERRUPTED);
    };
    let outcome = outcome?;
    for skipped in &outcome.skipped {
        p.warning(&format!("Skipped `{}`: {}.", skipped.path, skipped.reason));
    }
    if args.dry_run {
        print_dry_run(ctx, &outcome);
    } else {
        p.result("Downloaded", &[("path", outcome.path.display().to_string().into())]);
    }
    Ok(0)
}

/// Splits `repo_id` into a repo, and for hf:// URIs a revision and a path.
fn parse_repo(
    raw: &str,
    repo_type: Option<&str>,
    has_revision: bool,
) -> Result<(Repo, Option<String>, Option<String>)> {
    let explicit_type: Option<RepoType> = repo_type.map(str::parse).transpose()?;
    if let Some(uri) = HfUri::parse(raw) {
        if explicit_type.is_some() || has_revision {
            return Err(UsageError(
                "`--repo-type` and `--revision` cannot be used with an hf:// URI; put them in the URI".into(),
            )
            .into());
        }
        if raw.trim_start_matches("hf://").starts_with("buckets/") {
            bail!("Buckets are not supported by `hf download`.");
        }
        let uri = uri?;
        return Ok((uri.repo, uri.revision, uri.path));
    }
    let (prefixed, rest) = split_type_prefix(raw);
    let kind = match (prefixed, explicit_type) {
        (Some(a), Some(b)) if a != b => {
            return Err(UsageError(format!("Ambiguous repo type: '{raw}' and --repo-type {b}")).into());
        }
        (Some(k), _) | (None, Some(k)) => k,
        (None, None) => RepoType::Model,
    };
    let id = if prefixed.is_some() && rest.contains('/') { rest } else { raw };
    Ok((Repo::new(kind, id)?, None, None))
}

fn show_bars(ctx: &Context) -> bool {
    match ctx.config.disable_progress_bars {
        Some(disabled) => !disabled,
        None => ctx.printer.format() == Format::Human && std::io::stderr().is_terminal(),
    }
}

fn print_dry_run(ctx: &Context, outcome: &Downloaded) {
    let mut files = outcome.files.clone();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    if ctx.printer.format() == Format::Json {
        let items: Vec<_> = files
            .iter()
            .map(|f| serde_json::json!({"file": f.path, "size": f.size, "will_download": !f.cached}))
            .collect();
        ctx.printer.json(&serde_json::Value::Array(items));
        return;
    }
    let todo: Vec<_> = files.iter().filter(|f| !f.cached).collect();
    let total = todo.iter().try_fold(0u64, |sum, f| f.size.map(|size| sum.saturating_add(size)));
    let size = total.map_or_else(|| "an unknown size".to_owned(), human_size);
    ctx.printer.data(&format!(
        "[dry-run] Will download {} files (out of {}) totalling {size}.",
        todo.len(),
        files.len()
    ));
    let rows: Vec<Vec<String>> = files
        .iter()
        .map(|f| {
            vec![f.path.clone(), if f.cached { "-".to_owned() } else { f.size.map_or_else(|| "?".into(), human_size) }]
        })
        .collect();
    ctx.printer.table(&["FILE", "SIZE"], &rows);
}

/// 1000-based sizes with one decimal, as huggingface_hub prints them (`8.0`, `5.0K`).
pub(crate) fn human_size(bytes: u64) -> String {
    let mut value = bytes as f64;
    for unit in ["", "K", "M", "G", "T"] {
        if value < 1000.0 {
            return format!("{value:.1}{unit}");
        }
        value /= 1000.0;
    }
    format!("{value:.1}P")
}

/// Progress on stderr: a spinner until the plan is known, then one bar for the whole
/// download and one per file in flight; one line per retry wait, terminal or not, with a
/// countdown on a terminal so that a wait is never silent.
struct Bars {
    multi: Option<MultiProgress>,
    printer: Printer,
    starting: std::sync::Mutex<Option<ProgressBar>>,
    total: std::sync::OnceLock<ProgressBar>,
    files: std::sync::Mutex<std::collections::HashMap<String, ProgressBar>>,
}

impl Bars {
    fn new(enabled: bool, printer: Printer) -> Self {
        let multi = enabled.then(MultiProgress::new);
        let starting = multi.as_ref().map(|multi| {
            let spinner = multi.add(ProgressBar::new_spinner());
            spinner.set_message("Fetching the file list…");
            spinner.enable_steady_tick(Duration::from_millis(120));
            spinner
        });
        Self {
            multi,
            printer,
            starting: std::sync::Mutex::new(starting),
            total: std::sync::OnceLock::new(),
            files: std::sync::Mutex::default(),
        }
    }

    fn finish(&self) {
        if let Some(spinner) = self.starting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            spinner.finish_and_clear();
        }
        if let Some(total) = self.total.get() {
            total.finish_and_clear();
        }
        for bar in self.files.lock().unwrap_or_else(std::sync::PoisonError::into_inner).values() {
            bar.finish_and_clear();
        }
    }

    fn style(template: &str) -> ProgressStyle {
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> ")
    }
}

impl Progress for Bars {
    fn planned(&self, files: usize, bytes: u64) {
        let Some(multi) = &self.multi else { return };
        if let Some(spinner) = self.starting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            spinner.finish_and_clear();
        }
        let bar = multi.add(ProgressBar::new(bytes));
        bar.set_style(Self::style("{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"));
        bar.set_message(format!("{files} file(s)"));
        bar.enable_steady_tick(Duration::from_millis(200));
        let _ = self.total.set(bar);
    }

    fn file_started(&self, path: &str, size: u64, resumed: u64) {
        let Some(multi) = &self.multi else { return };
        let bar = multi.add(ProgressBar::new(size));
        bar.set_style(Self::style("{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}"));
        bar.set_message(short(path));
        bar.set_position(resumed);
        if let Some(total) = self.total.get() {
            total.inc(resumed);
        }
        self.files.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(path.to_owned(), bar);
    }

    fn advanced(&self, path: &str, bytes: u64) {
        if self.multi.is_none() {
            return;
        }
        let files = self.files.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(bar) = files.get(path) {
            bar.inc(bytes);
        }
        if let Some(total) = self.total.get() {
            total.inc(bytes);
        }
    }

    fn file_finished(&self, path: &str) {
        if let Some(bar) = self.files.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(path) {
            bar.finish_and_clear();
        }
    }

    fn retrying(&self, path: &str, attempt: u32, delay: Duration, reason: &str) {
        // The library's reason is a whole error; its first line says why, its hint would
        // only repeat at every wait.
        let why = reason.split("\n\n").next().unwrap_or_default();
        let what = match path.strip_prefix('(').and_then(|p| p.strip_suffix(')')) {
            Some(phase) => phase.to_owned(),
            None => format!("`{}`", shown(path)),
        };
        let line = format!("Retrying {what} in {:.1}s (attempt {attempt}): {}", delay.as_secs_f64(), shown(why));
        match self.multi.as_ref().filter(|m| !m.is_hidden()) {
            Some(multi) => {
                let _ = multi.println(escape_text(&line));
                if delay >= Duration::from_secs(1) {
                    countdown(multi, what, delay);
                }
            }
            None => self.printer.notice(&line),
        }
    }

    fn waiting(&self, path: &str, reason: &str) {
        let line = format!("Waiting for `{}`: {}", shown(path), shown(reason));
        match self.multi.as_ref().filter(|m| !m.is_hidden()) {
            Some(multi) => {
                let _ = multi.println(escape_text(&line));
            }
            None => self.printer.notice(&line),
        }
    }
}

/// A bar that counts a wait down and disappears when it is over.
fn countdown(multi: &MultiProgress, what: String, delay: Duration) {
    let bar = multi.add(ProgressBar::new_spinner());
    bar.enable_steady_tick(Duration::from_millis(120));
    std::thread::spawn(move || {
        let end = std::time::Instant::now() + delay;
        while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
            bar.set_message(format!("waiting {}s before retrying {what}", left.as_secs() + 1));
            std::thread::sleep(left.min(Duration::from_millis(250)));
        }
        bar.finish_and_clear();
    });
}

fn short(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.chars().count() > 12 {
        format!("{}…", name.chars().take(11).collect::<String>())
    } else {
        name.to_owned()
    }
}
