//! Time, injected: the [`Clock`] trait, the system clock and a manual clock for tests.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A point in time: whole milliseconds since the Unix epoch, UTC.
///
/// Milliseconds are fine enough for key lifetimes and 30-second TTLs, fit in
/// 8 bytes of an export, and compare exactly in tests. `Display` and `Debug`
/// show RFC 3339 UTC.
///
/// ```
/// use std::time::Duration;
/// use pinset_keys::Timestamp;
///
/// let t = Timestamp::from_unix_millis(1_700_000_000_123);
/// assert_eq!(t.to_string(), "2023-11-14T22:13:20.123Z");
/// assert_eq!(t.saturating_add(Duration::from_secs(30)).as_unix_millis(), 1_700_000_030_123);
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// 1970-01-01T00:00:00.000Z.
    pub const UNIX_EPOCH: Timestamp = Timestamp(0);

    /// The instant `millis` milliseconds after the Unix epoch.
    pub const fn from_unix_millis(millis: u64) -> Self {
        Timestamp(millis)
    }

    /// The instant `secs` seconds after the Unix epoch (saturating).
    pub const fn from_unix_secs(secs: u64) -> Self {
        Timestamp(secs.saturating_mul(1000))
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_unix_millis(self) -> u64 {
        self.0
    }

    /// The instant `time` names, truncated to the millisecond. Times before
    /// the epoch become the epoch; times past year 584 million saturate.
    pub fn from_system_time(time: SystemTime) -> Self {
        let millis = time
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        Timestamp(u64::try_from(millis).unwrap_or(u64::MAX))
    }

    /// The same instant as a [`SystemTime`].
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0)
    }

    /// `self + duration`, truncated to the millisecond and saturating.
    pub fn saturating_add(self, duration: Duration) -> Self {
        Timestamp(self.0.saturating_add(millis_of(duration)))
    }

    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

/// Whole milliseconds of `duration`, saturating.
fn millis_of(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        Timestamp::from_system_time(time)
    }
}

impl From<Timestamp> for SystemTime {
    fn from(time: Timestamp) -> Self {
        time.to_system_time()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0 % 1000;
        let secs = self.0 / 1000;
        let (hour, min, sec) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
        // u64::MAX ms is about 2.1e11 days: well inside i64.
        let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{hour:02}:{min:02}:{sec:02}.{millis:03}Z"
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Where the key lifecycle reads the time: inject one to make expiry exact in tests.
///
/// Must be `Send + Sync`: rings and temporary-key tables are shared across threads.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for Box<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

/// The operating system's wall clock, to the millisecond.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_system_time(SystemTime::now())
    }
}

/// A clock that never steps: the wall time when the process first read it,
/// plus the time elapsed since on the operating system's monotonic clock.
///
/// For time-to-live checks within one process: Enfuce controlIds and
/// tzpks, and Mastercard replay windows. An NTP step or a manual change of
/// the wall clock moves [`SystemClock`] by hours; it does not move this one,
/// so a forward step cannot expire every live control (or purge every
/// replay fingerprint) at once, and a backward step cannot stretch a
/// 30-second control. Every `MonotonicClock` in a process shares one anchor,
/// so their readings compare.
///
/// Its readings drift from wall time by whatever the wall clock was slewed
/// or stepped since the anchor: keep [`SystemClock`] for audit timestamps
/// and for dates that must survive a restart (RSA key not-after dates and
/// grace periods, which are exported).
///
/// ```
/// use pinset_keys::{Clock, MonotonicClock};
///
/// let clock = MonotonicClock;
/// let (a, b) = (clock.now(), MonotonicClock.now());
/// assert!(b >= a); // one anchor: readings compare across instances
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MonotonicClock;

impl MonotonicClock {
    fn anchor() -> &'static (Instant, Timestamp) {
        static ANCHOR: OnceLock<(Instant, Timestamp)> = OnceLock::new();
        ANCHOR.get_or_init(|| (Instant::now(), SystemClock.now()))
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> Timestamp {
        let (instant, wall) = Self::anchor();
        wall.saturating_add(instant.elapsed())
    }
}

/// A clock that moves only when told to, for exact tests of expiry.
///
/// Clones share one time, so hand a clone to the ring or table and keep one
/// to move it.
///
/// ```
/// use std::time::Duration;
/// use pinset_keys::{Clock, ManualClock, Timestamp};
///
/// let clock = ManualClock::new(Timestamp::from_unix_secs(1_700_000_000));
/// let shared = clock.clone();
/// clock.advance(Duration::from_secs(30));
/// assert_eq!(shared.now(), Timestamp::from_unix_secs(1_700_000_030));
/// ```
#[derive(Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock(Arc::new(AtomicU64::new(start.0)))
    }

    /// Moves the clock to `time`, forwards or back.
    pub fn set(&self, time: Timestamp) {
        self.0.store(time.0, Ordering::SeqCst);
    }

    /// Moves the clock forward by `duration` (to the millisecond, saturating).
    pub fn advance(&self, duration: Duration) {
        let step = millis_of(duration);
        // The closure always returns `Some`, so the update cannot fail.
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
                Some(t.saturating_add(step))
            });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ManualClock({})", self.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_display() {
        assert_eq!(
            Timestamp::UNIX_EPOCH.to_string(),
            "1970-01-01T00:00:00.000Z"
        );
        // 2000-02-29 (leap day) 12:34:56.789
        assert_eq!(
            Timestamp::from_unix_millis(951_827_696_789).to_string(),
            "2000-02-29T12:34:56.789Z"
        );
        assert_eq!(
            Timestamp::from_unix_secs(4_102_444_800).to_string(),
            "2100-01-01T00:00:00.000Z"
        );
        // Must not panic at the far end.
        assert!(!Timestamp::from_unix_millis(u64::MAX).to_string().is_empty());
    }

    #[test]
    fn system_time_round_trip() {
        let t = Timestamp::from_unix_millis(1_234_567_890_123);
        assert_eq!(Timestamp::from(SystemTime::from(t)), t);
        assert_eq!(
            Timestamp::from_system_time(UNIX_EPOCH - Duration::from_secs(1)),
            Timestamp::UNIX_EPOCH
        );
    }

    #[test]
    fn monotonic_clock_never_goes_back_and_starts_at_wall_time() {
        let wall_before = SystemClock.now();
        let mut last = MonotonicClock.now();
        assert!(last.as_unix_millis() >= Timestamp::from_unix_secs(1_600_000_000).as_unix_millis());
        assert!(last >= MonotonicClock::anchor().1);
        for _ in 0..10_000 {
            let now = MonotonicClock.now();
            assert!(now >= last);
            last = now;
        }
        // The anchor was read from the wall clock, not made up.
        assert!(MonotonicClock::anchor().1 <= SystemClock.now().max(wall_before));
    }

    #[test]
    fn manual_clock_saturates() {
        let clock = ManualClock::new(Timestamp::from_unix_millis(u64::MAX - 1));
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.now().as_unix_millis(), u64::MAX);
    }
}
