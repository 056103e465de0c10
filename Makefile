# libsmtp: build, install and uninstall as packagers expect.
#
#   make                        cargo build --release, then the static library
#                               with only smtp_* global, the stripped shared
#                               library and its debug file, smtp-send, smtp.pc
#   make install                into PREFIX (default /usr/local)
#   make uninstall              removes what install put there
#   make clean                  removes what make built outside cargo's target/
#
# Variables (all may be given on the command line or in the environment):
#   PREFIX      /usr/local
#   LIBDIR      PREFIX/lib         (Debian: PREFIX/lib/<multiarch triplet>)
#   INCLUDEDIR  PREFIX/include
#   BINDIR      PREFIX/bin
#   MANDIR      PREFIX/share/man
#   PKGCONFIGDIR LIBDIR/pkgconfig
#   DEBUGDIR    PREFIX/lib/debug   the debug file of the shared library goes to
#               DEBUGDIR/LIBDIR/libsmtp.so.VERSION.debug, where gdb looks for
#               it when PREFIX is /usr (gdb's debug-file-directory)
#   SPLIT_DEBUG yes: install the shared library stripped and its debug file
#               under DEBUGDIR; no: install it as built and leave stripping to
#               the packager (Debian's dh_strip makes the -dbgsym package)
#   DESTDIR     staging root prepended to every installed path
#   PROFILE     release (default) or debug: which cargo build to install
#   CARGO, CARGO_TARGET_DIR, CC, CFLAGS, CPPFLAGS, LDFLAGS as usual
#
# The shared library is the one cargo links (build.rs gives it the soname
# libsmtp.so.0 and the version node LIBSMTP_0 on every symbol). The static
# library is cargo's libsmtp.a prelinked into one relocatable object whose
# global symbols other than smtp_* are made local, so a program linking it
# meets none of the Rust runtime's or compiler-builtins' names.

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DEBUGDIR ?= $(PREFIX)/lib/debug
SPLIT_DEBUG ?= yes
DESTDIR ?=
PROFILE ?= release

CARGO ?= cargo
CC ?= cc
LD ?= ld
AR ?= ar
OBJCOPY ?= objcopy
READELF ?= readelf
INSTALL ?= install
CFLAGS ?= -O2 -g
SMTP_SEND_CFLAGS := -std=c11 -Wall -Wextra -Wpedantic -Iinclude

ifeq ($(PROFILE),release)
CARGO_PROFILE_FLAG := --release
else ifeq ($(PROFILE),debug)
CARGO_PROFILE_FLAG :=
else
$(error PROFILE must be release or debug)
endif

TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
OUT := $(TARGET_DIR)/$(PROFILE)
# What this Makefile builds from cargo's output, ready to install.
STAGE := $(OUT)/make

# The package version is Cargo.toml's; the soname's number is the ABI
# version the header states (SMTP_ABI_VERSION, set in build.rs).
VERSION := $(shell sed -n 's/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)
ABI := $(shell sed -n 's/^const ABI_MAJOR: &str = "\([0-9]*\)".*/\1/p' build.rs)
SONAME := libsmtp.so.$(ABI)
REALNAME := libsmtp.so.$(VERSION)

MAN1 := man/smtp-send.1
MAN3 := man/libsmtp.3

STAGED := $(STAGE)/$(REALNAME) $(STAGE)/libsmtp.a $(STAGE)/smtp-send $(STAGE)/smtp.pc
ifeq ($(SPLIT_DEBUG),yes)
STAGED += $(STAGE)/$(REALNAME).debug
endif

.PHONY: all install uninstall clean FORCE

all: $(STAGED)

# cargo decides what needs rebuilding; what is made from its outputs is
# remade only when they changed. Without cargo on PATH (`sudo make install`
# after `make`, with a toolchain in the user's home) the existing build is
# installed.
$(OUT)/libsmtp.so $(OUT)/libsmtp.a &: FORCE
	@if command -v $(CARGO) >/dev/null 2>&1; then \
		echo "$(CARGO) build $(CARGO_PROFILE_FLAG) --lib"; \
		$(CARGO) build $(CARGO_PROFILE_FLAG) --lib; \
	elif [ -f $(OUT)/libsmtp.so ] && [ -f $(OUT)/libsmtp.a ]; then \
		echo "$(CARGO) not found: using the build in $(OUT)"; \
	else \
		echo "$(CARGO) not found, and nothing built in $(OUT): install Rust (rustup)" >&2; \
		exit 1; \
	fi

$(STAGE):
	mkdir -p $@

# The static library: every member linked into one relocatable object (ld -r)
# from the smtp_* functions down, dropping the sections nothing reaches
# (--gc-sections) and LLVM's embedded bitcode; then every defined global
# symbol but smtp_* made local. References between the library's own parts
# are resolved inside the object; what it needs from OpenSSL, libc and
# libgcc stays undefined. Symbols are listed with readelf, which, unlike
# nm, never hands objects to an LTO plugin.
GLOBALS = $(READELF) -sW $(1) | awk '($$5 == "GLOBAL" || $$5 == "WEAK") && $$7 != "UND" && $$8 ~ /^smtp_/ { print $$8 }' | sort -u
$(STAGE)/libsmtp.a: $(OUT)/libsmtp.a | $(STAGE)
	rm -f $@ $(STAGE)/libsmtp.o $(STAGE)/libsmtp.keep
	$(call GLOBALS,$(OUT)/libsmtp.a) > $(STAGE)/libsmtp.keep
	test -s $(STAGE)/libsmtp.keep
	$(LD) -r --gc-sections $$(sed 's/^/-u /' $(STAGE)/libsmtp.keep) \
		-o $(STAGE)/libsmtp.o --whole-archive $(OUT)/libsmtp.a
	$(OBJCOPY) --remove-section=.llvmbc --remove-section=.llvmcmd \
		--keep-global-symbols=$(STAGE)/libsmtp.keep $(STAGE)/libsmtp.o
	$(AR) rcs $@ $(STAGE)/libsmtp.o
	rm -f $(STAGE)/libsmtp.o $(STAGE)/libsmtp.keep

# The shared library, and with SPLIT_DEBUG=yes its debug information in a
# file of its own, named by a .gnu_debuglink section in the stripped library.
ifeq ($(SPLIT_DEBUG),yes)
$(STAGE)/$(REALNAME) $(STAGE)/$(REALNAME).debug: $(OUT)/libsmtp.so | $(STAGE)
	rm -f $(STAGE)/$(REALNAME) $(STAGE)/$(REALNAME).debug
	$(OBJCOPY) --only-keep-debug $< $(STAGE)/$(REALNAME).debug
	chmod 0644 $(STAGE)/$(REALNAME).debug
	cd $(STAGE) && $(OBJCOPY) --strip-unneeded --remove-section=.comment \
		--add-gnu-debuglink=$(REALNAME).debug $(abspath $<) $(REALNAME)
else
$(STAGE)/$(REALNAME): $(OUT)/libsmtp.so | $(STAGE)
	cp $< $@
endif

# smtp-send, linked against the library by its soname and with no rpath.
$(STAGE)/smtp-send: examples-c/smtp-send.c include/smtp.h $(STAGE)/$(REALNAME)
	ln -sf $(REALNAME) $(STAGE)/$(SONAME)
	ln -sf $(SONAME) $(STAGE)/libsmtp.so
	$(CC) $(CPPFLAGS) $(CFLAGS) $(SMTP_SEND_CFLAGS) -o $@ examples-c/smtp-send.c \
		$(LDFLAGS) -L$(STAGE) -lsmtp

# The pkg-config file. OpenSSL comes through its own .pc files; the other
# libraries are the ones a static link needs beyond libc (rustc
# --print native-static-libs, less -lgcc_s: gcc adds libgcc_eh itself to a
# -static link, and libgcc_s as needed to a dynamic one).
$(STAGE)/smtp.pc: smtp.pc.in Cargo.toml Makefile FORCE | $(STAGE)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    smtp.pc.in > $@.tmp
	cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

install: all
	$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3
	$(INSTALL) -m 0644 $(STAGE)/$(REALNAME) $(DESTDIR)$(LIBDIR)/$(REALNAME)
	ln -sfn $(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sfn $(SONAME) $(DESTDIR)$(LIBDIR)/libsmtp.so
	$(INSTALL) -m 0644 $(STAGE)/libsmtp.a $(DESTDIR)$(LIBDIR)/libsmtp.a
	$(INSTALL) -m 0644 include/smtp.h $(DESTDIR)$(INCLUDEDIR)/smtp.h
	$(INSTALL) -m 0644 $(STAGE)/smtp.pc $(DESTDIR)$(PKGCONFIGDIR)/smtp.pc
	$(INSTALL) -m 0755 $(STAGE)/smtp-send $(DESTDIR)$(BINDIR)/smtp-send
	$(INSTALL) -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/smtp-send.1
	$(INSTALL) -m 0644 $(MAN3) $(DESTDIR)$(MANDIR)/man3/libsmtp.3
ifeq ($(SPLIT_DEBUG),yes)
	$(INSTALL) -d $(DESTDIR)$(DEBUGDIR)$(LIBDIR)
	$(INSTALL) -m 0644 $(STAGE)/$(REALNAME).debug $(DESTDIR)$(DEBUGDIR)$(LIBDIR)/$(REALNAME).debug
endif

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/$(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME) \
		$(DESTDIR)$(LIBDIR)/libsmtp.so $(DESTDIR)$(LIBDIR)/libsmtp.a \
		$(DESTDIR)$(INCLUDEDIR)/smtp.h $(DESTDIR)$(PKGCONFIGDIR)/smtp.pc \
		$(DESTDIR)$(BINDIR)/smtp-send \
		$(DESTDIR)$(MANDIR)/man1/smtp-send.1 $(DESTDIR)$(MANDIR)/man3/libsmtp.3 \
		$(DESTDIR)$(DEBUGDIR)$(LIBDIR)/$(REALNAME).debug

clean:
	rm -rf $(STAGE)

FORCE:
