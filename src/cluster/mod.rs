//! Everything that talks to a cluster: connection flags, pull secrets,
//! server-side apply, restarting the agent and waiting for it.
pub mod apply;
pub mod connect;
pub mod dockerconfig;
pub mod errors;
pub mod guard;
pub mod livediff;
pub mod objects;
pub mod restart;
pub mod secret;
pub mod wait;
