//! A real Secret Service for the keyring tests: a private D-Bus session bus with
//! gnome-keyring-daemon on it, its login collection created and unlocked, everything under
//! a temporary folder and stopped on drop. The parts are Debian's `dbus-daemon`,
//! `gnome-keyring-daemon` and `secret-tool` (packages dbus, gnome-keyring, libsecret-tools;
//! `scripts/test` installs them when missing).
//!
//! The bus has no service directories, so nothing is started behind the test's back: on
//! [`SecretService::bus_only`] the Secret Service is simply absent, as on a server with no
//! desktop session.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Secret Service's well-known name on the bus.
const SECRETS_NAME: &str = "org.freedesktop.secrets";

/// How long the keyring daemon may take to claim its name.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A private session bus, with or without a running Secret Service.
#[derive(Debug)]
pub struct SecretService {
    dir: tempfile::TempDir,
    bus: Child,
    keyring: Option<Child>,
    address: String,
}

impl SecretService {
    /// A session bus with gnome-keyring-daemon serving an unlocked login collection.
    pub fn start() -> Self {
        let mut service = Self::bus_only();
        let dir = service.dir.path();
        let run = dir.join("run");
        std::fs::create_dir_all(&run).expect("create XDG_RUNTIME_DIR");
        std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("chmod 700");
        let mut keyring = service
            .command("gnome-keyring-daemon")
            .args(["--foreground", "--components=secrets", "--unlock"])
            .env("XDG_RUNTIME_DIR", &run)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| missing("gnome-keyring-daemon", &e));
        // `--unlock` reads the login keyring's password from standard input, up to its end.
        let mut stdin = keyring.stdin.take().expect("piped stdin");
        stdin.write_all(b"hfkit-test-keyring-password").expect("write the keyring password");
        drop(stdin);
        service.keyring = Some(keyring);
        service.wait_for_name(SECRETS_NAME);
        service
    }

    /// A session bus on which nothing provides the Secret Service.
    pub fn bus_only() -> Self {
        let dir = tempfile::Builder::new().prefix("hfkit-keyring").tempdir().expect("temp dir");
        for sub in ["home", "data", "config"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("create folder");
        }
        let config = dir.path().join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                dir.path().join("bus").display()
            ),
        )
        .expect("write the bus configuration");
        let mut bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| missing("dbus-daemon", &e));
        // The address is printed once the bus listens.
        let mut address = String::new();
        BufReader::new(bus.stdout.take().expect("piped stdout")).read_line(&mut address).expect("read the address");
        let address = address.trim().to_owned();
        assert!(address.starts_with("unix:"), "dbus-daemon printed no address: {address:?}");
        Self { dir, bus, keyring: None, address }
    }

    /// The bus address, for `DBUS_SESSION_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The secret stored under `service=hf`, `username=account`, read by libsecret's
    /// `secret-tool` (a client that is not ours); `None` when there is none.
    pub fn lookup(&self, account: &str) -> Option<String> {
        let out = self
            .command("secret-tool")
            .args(["lookup", "service", "hf", "username", account])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| missing("secret-tool", &e));
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Deletes what is stored under `service=hf`, `username=account`, with `secret-tool`
    /// (as a person would, outside hf).
    pub fn clear(&self, account: &str) {
        let status = self
            .command("secret-tool")
            .args(["clear", "service", "hf", "username", account])
            .stdin(Stdio::null())
            .status()
            .unwrap_or_else(|e| missing("secret-tool", &e));
        assert!(status.success(), "secret-tool clear failed: {status}");
    }

    /// A command on this bus, with the daemon's own home.
    fn command(&self, program: &str) -> Command {
        let dir = self.dir.path();
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir.join("home"))
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .current_dir(dir);
        cmd
    }

    /// Waits until `name` has an owner on the bus (the daemon is ready), polling the bus.
    fn wait_for_name(&mut self, name: &str) {
        let start = Instant::now();
        loop {
            let out = self
                .command("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    &format!("string:{name}"),
                ])
                .output()
                .unwrap_or_else(|e| missing("dbus-send", &e));
            if String::from_utf8_lossy(&out.stdout).contains("boolean true") {
                return;
            }
            if let Some(Ok(Some(status))) = self.keyring.as_mut().map(Child::try_wait) {
                panic!("gnome-keyring-daemon exited before it claimed {name}: {status}");
            }
            assert!(start.elapsed() < READY_TIMEOUT, "{name} did not appear on the test bus within {READY_TIMEOUT:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The temporary folder the bus and the keyring live in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        for child in self.keyring.iter_mut().chain(std::iter::once(&mut self.bus)) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn missing(program: &str, e: &std::io::Error) -> ! {
    panic!(
        "cannot run `{program}` ({e}): the keyring tests need a real Secret Service; install Debian's dbus, gnome-keyring and libsecret-tools (`scripts/test` does, as root)"
    )
}
