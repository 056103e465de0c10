//! Generates include/smtp.h from src/capi with cbindgen, and gives the
//! shared library its soname.

use std::env;
use std::path::PathBuf;

/// The ABI version: bumped only when the C ABI breaks, apart from the crate
/// version.
const ABI_MAJOR: &str = "0";

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let version = env::var("CARGO_PKG_VERSION").unwrap();
    let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let minor = env::var("CARGO_PKG_VERSION_MINOR").unwrap();
    let patch = env::var("CARGO_PKG_VERSION_PATCH").unwrap();
    println!("cargo:rerun-if-changed=src/capi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsmtp.so.{ABI_MAJOR}");

    let mut config =
        cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml is readable");
    config.after_includes = Some(format!(
        "\n#define SMTP_VERSION \"{version}\"\n#define SMTP_VERSION_MAJOR {major}\n\
         #define SMTP_VERSION_MINOR {minor}\n#define SMTP_VERSION_PATCH {patch}\n\
         #define SMTP_ABI_VERSION {ABI_MAJOR}\n"
    ));
    // Only the C boundary goes into the header: src/capi and the modules
    // it declares.
    let builder = cbindgen::Builder::new().with_src(dir.join("src/capi/mod.rs"));
    let bindings = builder
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    // cbindgen closes its C++ guards with "//" comments, which C89 and
    // C90 with -pedantic-errors refuse; the header keeps to /* */.
    let mut text = Vec::new();
    bindings.write(&mut text);
    let text = String::from_utf8(text)
        .expect("cbindgen writes UTF-8")
        .replace("#endif // __cplusplus", "#endif /* __cplusplus */")
        .replace("#endif  // __cplusplus", "#endif /* __cplusplus */")
        .replace("}  // extern \"C\"", "} /* extern \"C\" */");
    let path = dir.join("include/smtp.h");
    // Written only when changed, so an unchanged header keeps its mtime.
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(&path, text).expect("include/smtp.h is writable");
    }
}
