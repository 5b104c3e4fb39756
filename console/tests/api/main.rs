//! The console's tests: the real console on port 0, in front of a fake of the services it
//! forwards to (they are separate processes; the whole stack in a browser is e2e's).

mod overview;
mod page;
mod proxy;
mod session;
mod support;
