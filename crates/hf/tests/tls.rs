//! HTTPS endpoints: a custom CA bundle from `SSL_CERT_FILE`/`REQUESTS_CA_BUNDLE` is trusted,
//! and without it the failure names the host and the CAs that were tried.
//!
//! A test CA and a certificate for 127.0.0.1 are made with `openssl`; a small TLS front
//! (Python's `ssl` module) terminates HTTPS and forwards to our Hub.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{READ, context, repo_hub};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Makes `ca.pem`, and `srv.pem`/`srv.key` for 127.0.0.1 signed by it.
fn make_certs(dir: &Path) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=hfkit test CA"]);
    openssl(dir, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend(["-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1"]);
    openssl(dir, &csr);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "srv.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

const TLS_FRONT: &str = r#"
import socket, ssl, sys, threading
cert, key, upstream_port = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(16)
print(srv.getsockname()[1], flush=True)
def pipe(a, b):
    try:
        while (data := a.recv(65536)):
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
def serve(raw):
    try:
        tls = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError):
        raw.close()
        return
    up = socket.create_connection(("127.0.0.1", upstream_port))
    threading.Thread(target=pipe, args=(up, tls), daemon=True).start()
    pipe(tls, up)
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"#;

struct Front(Child);

impl Drop for Front {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn custom_ca_bundle_is_trusted_and_its_absence_is_explained() {
    let hub = repo_hub();
    let mut t = context(&hub);
    let dir = t.root().join("tls");
    std::fs::create_dir_all(&dir).unwrap();
    make_certs(&dir);
    let upstream = hub.url().rsplit(':').next().unwrap().to_owned();
    let mut child = t
        .command(t.python_bin())
        .args(["-c", TLS_FRONT, "../tls/srv.pem", "../tls/srv.key", &upstream])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut port = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut port).unwrap();
    let _front = Front(child);
    let endpoint = format!("https://127.0.0.1:{}", port.trim());
    t.set_env("HF_ENDPOINT", &endpoint).set_env("HF_TOKEN", READ);

    let run = t.hf(&["auth", "whoami"]);
    run.expect_code(1);
    assert!(run.stderr.contains("the TLS certificate of 127.0.0.1 could not be verified"), "{}", run.stderr);
    assert!(run.stderr.contains("SSL_CERT_FILE"), "the error says how to add a CA: {}", run.stderr);

    let ca = dir.join("ca.pem");
    t.set_env("SSL_CERT_FILE", ca.to_str().unwrap());
    assert_eq!(t.hf(&["auth", "whoami", "-q"]).expect_code(0).stdout, "alice\n");
    t.hf(&["download", "acme/tiny", "config.json"]).expect_code(0);

    t.remove_env("SSL_CERT_FILE").set_env("REQUESTS_CA_BUNDLE", ca.to_str().unwrap());
    assert_eq!(t.hf(&["auth", "whoami", "-q"]).expect_code(0).stdout, "alice\n");

    let wrong = dir.join("srv.pem"); // a leaf certificate is not the issuing CA
    t.set_env("REQUESTS_CA_BUNDLE", wrong.to_str().unwrap());
    let run = t.hf(&["auth", "whoami"]);
    run.expect_code(1);
    assert!(run.stderr.contains(&format!("the CA file {}", wrong.display())), "{}", run.stderr);
}
