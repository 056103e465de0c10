//! Throwaway certificates for TLS tests, made once per test process with the
//! `openssl` command: a CA, a server certificate it signed for localhost and
//! 127.0.0.1 ("good"), one for another name only ("wrong name"), one whose
//! validity ended years ago ("expired"), and a self-signed one nobody trusts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The files, in a temporary folder that lives as long as the process.
pub struct Certs {
    /// The folder holding every file below.
    pub dir: tempfile::TempDir,
    /// The CA certificate (PEM): the trust anchor for the others.
    pub ca: PathBuf,
    /// Signed by the CA for DNS:localhost and IP:127.0.0.1.
    pub good_cert: PathBuf,
    /// The key of `good_cert`.
    pub good_key: PathBuf,
    /// Signed by the CA for DNS:wrong.example only.
    pub wrong_name_cert: PathBuf,
    /// The key of `wrong_name_cert`.
    pub wrong_name_key: PathBuf,
    /// Signed by the CA for localhost and 127.0.0.1, valid only in 2020.
    pub expired_cert: PathBuf,
    /// The key of `expired_cert`.
    pub expired_key: PathBuf,
    /// Self-signed for localhost and 127.0.0.1: trusted by no one.
    pub self_signed_cert: PathBuf,
    /// The key of `self_signed_cert`.
    pub self_signed_key: PathBuf,
}

/// The name in `wrong_name_cert`.
pub const WRONG_NAME: &str = "wrong.example";

/// The certificates of this test process, made on first use.
pub fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(make)
}

/// Runs `openssl` in `dir` with `args` (split on spaces) then `subject`
/// as the value of -subj when not empty.
fn openssl(dir: &Path, args: &str, subject: &str) {
    let mut cmd = Command::new("openssl");
    cmd.args(args.split_whitespace()).current_dir(dir);
    if !subject.is_empty() {
        cmd.args(["-subj", subject]);
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run the openssl command ({e}): install Debian's openssl package")
    });
    assert!(
        out.status.success(),
        "openssl {args} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write certificate helper file");
}

const NEW_KEY: &str = "req -newkey rsa:2048 -nodes";
const LOCAL_SAN: &str = "DNS:localhost,IP:127.0.0.1";

/// A key and a signing request for `san`, then the CA's signature over it.
fn signed(dir: &Path, name: &str, san: &str) {
    write(
        dir,
        &format!("{name}.ext"),
        &format!("subjectAltName={san}\n"),
    );
    openssl(
        dir,
        &format!("{NEW_KEY} -keyout {name}.key -out {name}.csr"),
        "/CN=libsmtp test server",
    );
    openssl(
        dir,
        &format!(
            "x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -set_serial {} -days 3650 \
             -sha256 -extfile {name}.ext -out {name}.pem",
            serial()
        ),
        "",
    );
}

fn serial() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(100);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Whether this OpenSSL's `x509` command takes explicit validity dates
/// (`-not_before`/`-not_after`, OpenSSL 3.4 and later).
fn x509_takes_dates(dir: &Path) -> bool {
    Command::new("openssl")
        .args(["x509", "-help"])
        .current_dir(dir)
        .output()
        .map(|o| {
            let help = String::from_utf8_lossy(&o.stdout).into_owned()
                + &String::from_utf8_lossy(&o.stderr);
            help.contains("-not_after")
        })
        .unwrap_or(false)
}

/// Signed by the CA for localhost, with a validity that ended in 2021.
fn expired(dir: &Path) {
    write(dir, "expired.ext", &format!("subjectAltName={LOCAL_SAN}\n"));
    openssl(
        dir,
        &format!("{NEW_KEY} -keyout expired.key -out expired.csr"),
        "/CN=libsmtp expired server",
    );
    if x509_takes_dates(dir) {
        openssl(
            dir,
            &format!(
                "x509 -req -in expired.csr -CA ca.pem -CAkey ca.key -set_serial {} \
                 -not_before 20200101000000Z -not_after 20210101000000Z -sha256 \
                 -extfile expired.ext -out expired.pem",
                serial()
            ),
            "",
        );
        return;
    }
    // Older OpenSSL (3.0 here): `openssl ca` takes -startdate/-enddate.
    write(
        dir,
        "ca.cnf",
        "[ca]\ndefault_ca = tca\n[tca]\ndir = .\ndatabase = index.txt\n\
         new_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = any\n\
         unique_subject = no\n[any]\ncommonName = supplied\n",
    );
    write(dir, "index.txt", "");
    write(dir, "serial", "1000\n");
    openssl(
        dir,
        "ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr \
         -out expired.pem -startdate 20200101000000Z -enddate 20210101000000Z \
         -extfile expired.ext -notext",
        "",
    );
}

fn make() -> Certs {
    let dir = tempfile::tempdir().expect("temp dir for certificates");
    let d = dir.path();
    openssl(
        d,
        "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 -sha256",
        "/CN=libsmtp test CA",
    );
    signed(d, "good", LOCAL_SAN);
    signed(d, "wrong", &format!("DNS:{WRONG_NAME}"));
    expired(d);
    openssl(
        d,
        &format!(
            "req -x509 -newkey rsa:2048 -nodes -keyout self.key -out self.pem -days 3650 \
             -sha256 -addext subjectAltName={LOCAL_SAN}"
        ),
        "/CN=libsmtp self-signed",
    );
    Certs {
        ca: d.join("ca.pem"),
        good_cert: d.join("good.pem"),
        good_key: d.join("good.key"),
        wrong_name_cert: d.join("wrong.pem"),
        wrong_name_key: d.join("wrong.key"),
        expired_cert: d.join("expired.pem"),
        expired_key: d.join("expired.key"),
        self_signed_cert: d.join("self.pem"),
        self_signed_key: d.join("self.key"),
        dir,
    }
}
