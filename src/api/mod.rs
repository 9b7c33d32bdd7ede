//! The Mattermost REST API v4 client: auth, rate limit, bounded reads, typed endpoints.
//!
//! It never touches the disk: downloads are handed out as a [`Download`] stream.

mod client;
mod endpoints;
mod error;
mod gate;
mod listing;
pub mod model;
mod pace;
mod retry;

pub use client::{Client, ClientOptions, Download};
pub use endpoints::Anchor;
pub use error::ApiError;
pub use pace::MinSpeed;
pub use retry::{is_retryable, RetryPolicy};

/// Posts per page (the server's maximum).
pub const PER_PAGE: usize = 200;
