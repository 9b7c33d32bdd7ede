//! `fakemm`: a fake Mattermost server (API v4 subset) for matterbak's tests, benchmarks and demo.
//!
//! Build a [`World`] (usually with [`World::generate`]), start it with [`FakeServer::start`],
//! point the client at [`FakeServer::base_url`], and inspect/mutate data with
//! [`FakeServer::with_world`]. See README.md for the data set and the known differences from
//! the real server.

pub mod content;
pub mod control;
pub mod error;
pub mod faults;
pub mod generate;
pub mod gzip;
pub mod hostile;
pub mod id;
pub mod posts;
pub mod ratelimit;
pub mod render;
pub mod routes;
pub mod server;
pub mod tls;
pub mod totp;
pub mod world;

#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod listing_tests;
#[cfg(test)]
mod policy_tests;
#[cfg(test)]
mod tests;

pub use faults::{Fault, FaultEvent, FaultKind, Faults};
pub use generate::Scale;
pub use gzip::WebserverMode;
pub use hostile::{Hostile, HostileMode};
pub use id::Id;
pub use posts::PostsQuery;
pub use server::FakeServer;
pub use world::{Config, World};
