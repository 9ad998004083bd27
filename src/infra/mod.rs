//! What the stages stand on, none of it about stance: fetching and verifying
//! the models ([`provision`]), files written whole or not at all
//! ([`atomic`]), inputs of any size in shards and runs that carry on after
//! an interruption ([`stream`], [`resume`]), stopping cleanly on Ctrl-C
//! ([`signals`]) and the allocator's high-water mark ([`alloc`]).

pub mod alloc;
pub mod atomic;
pub mod provision;
pub mod resume;
pub mod signals;
pub mod stream;
