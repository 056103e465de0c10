//! Generates include/smtp.h from src/capi with cbindgen, and gives the
//! shared library its soname and its symbol versions (libsmtp.map).

use std::env;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The ABI version: bumped only when the C ABI breaks, apart from the crate
/// version (ABI.md).
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
    println!("cargo:rerun-if-changed=libsmtp.map");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsmtp.so.{ABI_MAJOR}");
    version_symbols(&dir.join("libsmtp.map"));

    let num = version_num(&major, &minor, &patch);
    let mut config =
        cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml is readable");
    config.after_includes = Some(format!(
        "\n#define SMTP_VERSION \"{version}\"\n#define SMTP_VERSION_MAJOR {major}\n\
         #define SMTP_VERSION_MINOR {minor}\n#define SMTP_VERSION_PATCH {patch}\n\
         #define SMTP_ABI_VERSION {ABI_MAJOR}\n\
         \n\
         /* The version as one number, 0xMMmmpp (major, minor, patch; 8 bits\n \
         * each), as libcurl's LIBCURL_VERSION_NUM: 0.1.0 is 0x000100. */\n\
         #define SMTP_VERSION_NUM {num:#08x}\n\
         /* True when this header is version x.y.z or later:\n \
         * #if SMTP_AT_LEAST_VERSION(0, 2, 0) ... #endif */\n\
         #define SMTP_AT_LEAST_VERSION(x, y, z) \\\n  \
         (SMTP_VERSION_NUM >= (((x) << 16) | ((y) << 8) | (z)))\n"
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

/// 0xMMmmpp; each part must fit its 8 bits.
fn version_num(major: &str, minor: &str, patch: &str) -> u32 {
    let part = |s: &str| -> u32 {
        let n: u32 = s.parse().expect("a numeric version part");
        assert!(n < 256, "version part {n} does not fit SMTP_VERSION_NUM");
        n
    };
    (part(major) << 16) | (part(minor) << 8) | part(patch)
}

/// Links the shared library with `map` as its version script, so every
/// exported symbol carries the version node LIBSMTP_0.
///
/// rustc hands the linker a version script of its own (an anonymous node
/// listing the exported functions), and a linker takes the version of a
/// symbol from the first script naming it: GNU ld refuses an anonymous node
/// beside a named one, lld keeps rustc's. So the link goes through GNU ld
/// (`-fuse-ld=bfd`, found first in a folder given with `-B`, which gcc and
/// clang search before their own) by way of a two-line wrapper that drops
/// every version script but `map`. Ours exports the same set, `smtp_*`,
/// and hides everything else, as rustc's did.
fn version_symbols(map: &Path) {
    let target = env::var("TARGET").unwrap();
    let host = env::var("HOST").unwrap();
    let linux_gnu = env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    if !linux_gnu || target != host {
        println!("cargo:warning=libsmtp.so is built without symbol versions for {target}");
        return;
    }
    let ld = find_program("ld.bfd").unwrap_or_else(|| {
        panic!("GNU ld (ld.bfd) not found on PATH: install binutils; it versions libsmtp's symbols")
    });
    let wrapper_dir = PathBuf::from(env::var("OUT_DIR").unwrap()).join("linker");
    fs::create_dir_all(&wrapper_dir).expect("OUT_DIR is writable");
    // The linker reads a copy in OUT_DIR: a path into the source tree would
    // outlive that tree in cargo's cache when another copy of it shares the
    // target folder (cargo gives both the same build-script run).
    let copy = wrapper_dir.join("libsmtp.map");
    fs::copy(map, &copy).expect("libsmtp.map is readable");
    let map = copy.as_path();
    let wrapper = wrapper_dir.join("ld.bfd");
    let script = format!(
        "#!/bin/sh\n\
         # Written by libsmtp's build.rs: GNU ld without any version script\n\
         # but {map}.\n\
         for a do\n  shift\n  case $a in\n    \
         \"--version-script={map}\") set -- \"$@\" \"$a\" ;;\n    \
         --version-script=*) ;;\n    \
         *) set -- \"$@\" \"$a\" ;;\n  esac\ndone\n\
         exec '{ld}' \"$@\"\n",
        map = map.display(),
        ld = ld.display()
    );
    fs::write(&wrapper, script).expect("write the linker wrapper");
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).expect("chmod the wrapper");
    println!("cargo:rustc-cdylib-link-arg=-B{}", wrapper_dir.display());
    println!("cargo:rustc-cdylib-link-arg=-fuse-ld=bfd");
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,--version-script={}",
        map.display()
    );
}

/// The first `name` on PATH.
fn find_program(name: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
