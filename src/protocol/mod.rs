//! The protocol core: pure functions and state machines over bytes, with no
//! I/O. Everything here is unit-tested without sockets.

pub mod address;
pub mod command;
pub mod data;
pub mod ehlo;
pub mod reply;
pub mod sasl;
