//! TLS settings that name files: checked when set, so a missing or
//! unreadable file is reported by the setter in one sentence naming the
//! file and the operating system's reason, instead of surfacing at
//! STARTTLS. A refused setting leaves the previous one in place.

use std::path::{Path, PathBuf};

use super::Session;
use crate::error::{os_reason, Error, Result, Status};
use crate::transport::{TlsConfig, TlsContext};

impl Session {
    /// Sets (or, with `None`, removes) the PEM file of extra trust anchors.
    /// The file must be readable and hold at least one certificate.
    pub fn set_tls_ca_file(&mut self, path: Option<&str>) -> Result<()> {
        let mut candidate = self.tls.clone();
        if let Some(path) = path {
            check_file(path, "CA file")?;
        }
        candidate.ca_file = path.map(PathBuf::from);
        self.adopt(candidate)
    }

    /// Sets (or removes) the hashed directory of trust anchors. It must be
    /// a directory that can be listed.
    pub fn set_tls_ca_dir(&mut self, path: Option<&str>) -> Result<()> {
        let mut candidate = self.tls.clone();
        if let Some(path) = path {
            if let Err(e) = std::fs::read_dir(path) {
                return Err(os_error(&e, &format!("cannot read CA directory {path}")));
            }
        }
        candidate.ca_dir = path.map(PathBuf::from);
        self.adopt(candidate)
    }

    /// Sets (or, with `cert` `None`, removes) the client certificate chain
    /// and its key (`key` `None`: the key is in `cert`). Both files must be
    /// readable, and the key must match the certificate.
    pub fn set_tls_client_cert(&mut self, cert: Option<&str>, key: Option<&str>) -> Result<()> {
        let mut candidate = self.tls.clone();
        match cert {
            Some(cert) => {
                check_file(cert, "client certificate")?;
                if let Some(key) = key {
                    check_file(key, "client key")?;
                }
                candidate.cert_file = Some(PathBuf::from(cert));
                candidate.key_file = key.map(PathBuf::from);
            }
            None => {
                candidate.cert_file = None;
                candidate.key_file = None;
            }
        }
        self.adopt(candidate)
    }

    /// Keeps `candidate` if OpenSSL can load everything it names (the
    /// file's contents: PEM certificates, a matching key).
    fn adopt(&mut self, candidate: TlsConfig) -> Result<()> {
        TlsContext::new(&candidate)?;
        self.tls = candidate;
        Ok(())
    }
}

/// A regular file that can be opened and read.
fn check_file(path: &str, what: &str) -> Result<()> {
    let context = format!("cannot read {what} {path}");
    let meta = std::fs::metadata(Path::new(path)).map_err(|e| os_error(&e, &context))?;
    if meta.is_dir() {
        return Err(Error::new(
            Status::Tls,
            format!("{context}: it is a directory"),
        ));
    }
    std::fs::File::open(path).map_err(|e| os_error(&e, &context))?;
    Ok(())
}

/// A TLS setting refused for an operating-system reason; errno kept.
fn os_error(err: &std::io::Error, context: &str) -> Error {
    let mut e = Error::new(Status::Tls, format!("{context}: {}", os_reason(err)));
    e.errno = err.raw_os_error();
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Client, Kind};

    #[test]
    fn a_missing_ca_file_is_refused_at_once_and_the_old_one_kept() {
        let mut c = Client::new(Kind::Smtp);
        let e = c.set_tls_ca_file(Some("/nonexistent/ca.pem")).unwrap_err();
        assert_eq!(e.status, Status::Tls);
        assert_eq!(
            e.message,
            "cannot read CA file /nonexistent/ca.pem: No such file or directory"
        );
        assert_eq!(e.errno, Some(libc::ENOENT));
        assert_eq!(c.tls.ca_file, None);
    }

    #[test]
    fn a_directory_is_not_a_ca_file() {
        let mut c = Client::new(Kind::Smtp);
        let e = c.set_tls_ca_file(Some("/")).unwrap_err();
        assert_eq!(e.message, "cannot read CA file /: it is a directory");
    }

    /// A file holding `text`, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, text: &str) -> TempFile {
            let path = std::env::temp_dir().join(format!("libsmtp-{}-{name}", std::process::id()));
            std::fs::write(&path, text).unwrap();
            TempFile(path)
        }
        fn path(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn a_file_is_not_a_ca_directory() {
        let file = TempFile::new("not-a-dir", "x");
        let mut c = Client::new(Kind::Smtp);
        let e = c.set_tls_ca_dir(Some(file.path())).unwrap_err();
        assert_eq!(e.status, Status::Tls);
        assert_eq!(
            e.message,
            format!("cannot read CA directory {}: Not a directory", file.path())
        );
        assert_eq!(c.tls.ca_dir, None);
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_refused_in_one_line() {
        let file = TempFile::new("no-cert.pem", "not a certificate\n");
        let mut c = Client::new(Kind::Smtp);
        let e = c.set_tls_ca_file(Some(file.path())).unwrap_err();
        assert_eq!(e.status, Status::Tls);
        assert!(
            e.message
                .starts_with(&format!("cannot load CA file {}: ", file.path())),
            "{}",
            e.message
        );
        assert!(
            !e.message.contains('\n') && !e.message.contains("error:"),
            "{}",
            e.message
        );
        assert_eq!(c.tls.ca_file, None);
    }

    #[test]
    fn a_missing_key_is_refused_and_removing_a_certificate_always_works() {
        let cert = TempFile::new("cert.pem", "x");
        let mut c = Client::new(Kind::Smtp);
        let e = c
            .set_tls_client_cert(Some(cert.path()), Some("/nonexistent/key.pem"))
            .unwrap_err();
        assert_eq!(
            e.message,
            "cannot read client key /nonexistent/key.pem: No such file or directory"
        );
        assert_eq!(c.tls.cert_file, None);
        c.set_tls_client_cert(None, None).unwrap();
    }
}
