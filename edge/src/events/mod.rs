//! Typed, versioned events: the only data the appliance publishes.
//!
//! Every event is an [`Envelope`] around one [`EventBody`] variant. The publisher accepts nothing else
//! (the egress allow-list is the type system): no raw detections, no pixels.

pub mod decode;
pub mod envelope;
pub mod schema;
pub mod seq;
pub mod summary;
pub mod topics;

pub use decode::{decode_event, DecodeError, Decoder, ReceivedEvent};
pub use envelope::{Draft, Emitter, Envelope, EventBody, EventKind, SCHEMA_VERSION};
pub use topics::Topics;
