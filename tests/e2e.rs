//! The end-to-end tests, one crate: every area a module, so the suite
//! links once instead of once per file (measured: see the README).

mod common;

mod attacks;
mod auth;
mod azure_paths;
mod backup_restore;
mod bad_input;
mod blob_store;
mod diff;
mod examples;
mod families;
mod faults;
mod fleet;
mod keyvault;
mod makefile;
mod namedvalues;
mod provision;
mod python_sdk;
mod readme;
mod secrets;
mod sync;
mod teardown;
mod throttling;
