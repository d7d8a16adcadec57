//! What the daemon keeps supplied with keys, each a [`crate::daemon::target::Target`]: the
//! kernel's TCP Fast Open keys ([`tfo`], written by [`procfs`]) and one server's session-ticket
//! keys ([`tickets`], installed by a [`crate::servers::Server`]). Also the values the command
//! line and the configuration share ([`values`]).

pub(crate) mod forward;
pub(crate) mod procfs;
pub(crate) mod tfo;
pub(crate) mod tickets;
pub(crate) mod values;
