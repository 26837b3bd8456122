#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod clock;
mod control;
mod error;
mod ids;
mod kek;
mod ring;
mod snapshot;
mod store;
mod tzpk;
mod zone;

pub use clock::{Clock, ManualClock, MonotonicClock, SystemClock, Timestamp};
pub use control::{ControlBinding, ControlOperation, ControlStore, TzpkCustody};
pub use error::{ImportError, KeyError, StoreError, TzpkError};
pub use ids::{ControlId, InvalidId, KeyIndex, PlasticRef, ZpkIndex};
pub use kek::{Kek, MasterKek};
pub use pinset_module::{KeyPurpose, KeyRef};
pub use ring::{LiveKey, NewKey, PublicKeyForm, PublishedKey, RetiredKey, Rotation, RsaKeyRing};
pub use store::{KeyState, KeyStore, MemoryKeyStore, RingEntry, RingSnapshot};
pub use tzpk::{DEFAULT_TZPK_TTL, MemoryControlStore, TemporaryKeys, WrappedTzpk};
pub use zone::{ZoneKeyInfo, ZoneKeys};
