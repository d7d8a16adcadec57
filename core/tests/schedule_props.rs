//! Properties of the TFO schedule, as stated in SPEC.md ("Schedule properties").
#![allow(clippy::unwrap_used)]

use keywheel::schedule::{Schedule, Slot};
use keywheel::{MAX_INTERVAL, MAX_TIME, MIN_INTERVAL, MIN_TIME};
use proptest::prelude::*;

fn interval() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(MIN_INTERVAL),
        Just(MAX_INTERVAL),
        (MIN_INTERVAL / 2..=MAX_INTERVAL / 2).prop_map(|h| h * 2),
    ]
}

fn time() -> impl Strategy<Value = u64> {
    prop_oneof![Just(MIN_TIME), Just(MAX_TIME), MIN_TIME..=MAX_TIME]
}

/// The keys a daemon has installed at local (integer) unix time `local`, given that it has run
/// long enough: it wakes at every half-interval boundary `b` plus 2.02 s and installs
/// `slot(floor(wake time)) = slot(b + 2)`. At integer time `l`, the last wake `b + 2.02 <= l`
/// means `b <= l - 3`.
fn installed(schedule: &Schedule, local: u64) -> Slot {
    let half = schedule.interval() / 2;
    let b = (local - 3) / half * half;
    schedule.at(b + 2).unwrap()
}

proptest! {
    #[test]
    fn counters_follow_the_spec(interval in interval(), now in time()) {
        let slot = Schedule::new(interval).unwrap().at(now).unwrap();
        prop_assert_eq!(slot.now(), now);
        prop_assert_eq!(slot.primary(), now / interval);
        if now % interval >= interval / 2 {
            prop_assert_eq!(slot.backup(), slot.primary() + 1);
        } else {
            prop_assert_eq!(slot.backup(), slot.primary() - 1);
        }
    }

    #[test]
    fn next_wake_is_the_next_half_boundary(interval in interval(), now in time()) {
        let half = interval / 2;
        let slot = Schedule::new(interval).unwrap().at(now).unwrap();
        prop_assert!(slot.next_wake() > now);
        prop_assert!(slot.next_wake() - now <= half);
        prop_assert_eq!(slot.next_wake() % half, 0);
        prop_assert_eq!(slot.wake_time(), (slot.next_wake() + 2, 20_000_000));
    }

    #[test]
    fn slot_is_constant_until_next_wake(interval in interval(), now in time(), frac in 0.0f64..1.0) {
        let schedule = Schedule::new(interval).unwrap();
        let slot = schedule.at(now).unwrap();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let later = (now + ((slot.next_wake() - 1 - now) as f64 * frac) as u64).min(MAX_TIME);
        let other = schedule.at(later).unwrap();
        prop_assert_eq!((other.primary(), other.backup(), other.next_wake()),
                        (slot.primary(), slot.backup(), slot.next_wake()));
        if slot.next_wake() <= MAX_TIME {
            let after = schedule.at(slot.next_wake()).unwrap();
            prop_assert_ne!((after.primary(), after.backup()), (slot.primary(), slot.backup()));
        }
    }

    #[test]
    fn backup_is_a_neighbour_primary(interval in interval(), now in time()) {
        // The backup key is the primary key of the interval before or after: the one a node on
        // the other side of the interval boundary uses.
        let schedule = Schedule::new(interval).unwrap();
        let slot = schedule.at(now).unwrap();
        let neighbour_time = slot.backup() * interval;
        if (MIN_TIME..=MAX_TIME).contains(&neighbour_time) {
            prop_assert_eq!(schedule.at(neighbour_time).unwrap().primary(), slot.backup());
        }
    }

    #[test]
    fn skewed_nodes_accept_each_others_primary(
        interval in interval(),
        now in (MIN_TIME + MAX_INTERVAL)..=(MAX_TIME - MAX_INTERVAL),
        skew_frac in -1.0f64..=1.0,
    ) {
        // Two daemons whose clocks differ by less than half an interval minus the 2.02 s wake
        // fudge: each always holds, as primary or backup, the key the other uses as primary.
        // In whole seconds this holds up to a skew of exactly half an interval (both daemons
        // wake 2.02 s after their own boundaries), which is what is checked here.
        let schedule = Schedule::new(interval).unwrap();
        let max_skew = interval / 2;
        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        let skew = (max_skew as f64 * skew_frac) as i64;
        let a = now;
        let b = now.checked_add_signed(skew).unwrap();
        let (sa, sb) = (installed(&schedule, a), installed(&schedule, b));
        prop_assert!(sb.primary() == sa.primary() || sb.backup() == sa.primary(), "{:?} {:?}", sa, sb);
        prop_assert!(sa.primary() == sb.primary() || sa.backup() == sb.primary(), "{:?} {:?}", sa, sb);
    }

    #[test]
    fn bad_intervals_are_refused(interval in any::<u64>()) {
        let ok = (MIN_INTERVAL..=MAX_INTERVAL).contains(&interval) && interval % 2 == 0;
        prop_assert_eq!(Schedule::new(interval).is_ok(), ok);
    }

    #[test]
    fn bad_times_are_refused(now in any::<u64>()) {
        let schedule = Schedule::new(MIN_INTERVAL).unwrap();
        prop_assert_eq!(schedule.at(now).is_ok(), (MIN_TIME..=MAX_TIME).contains(&now));
    }
}

#[test]
fn skew_bound_is_tight() {
    // One second more skew than the bound above breaks the property: the bound is the real one.
    let schedule = Schedule::new(3600).unwrap();
    let (n, half) = (1_000_000, 1800);
    // Node A just woke in the second half of interval n: primary n, backup n + 1.
    let a = n * 3600 + half + 3;
    let sa = installed(&schedule, a);
    assert_eq!((sa.primary(), sa.backup()), (n, n + 1));
    // Node B behind by exactly half an interval still agrees...
    let sb = installed(&schedule, a - half);
    assert!(sa.primary() == sb.primary() || sa.backup() == sb.primary());
    // ...one second more and B (primary n - 1) uses a key that A does not hold.
    let sb = installed(&schedule, a - half - 1);
    assert_eq!((sb.primary(), sb.backup()), (n - 1, n));
    assert!(sa.primary() != sb.primary() && sa.backup() != sb.primary());
}

#[test]
fn error_messages_name_value_and_range() {
    assert_eq!(
        Schedule::new(11).unwrap_err().to_string(),
        "interval 11 is odd; it must be even and in 10..=604800"
    );
    assert_eq!(
        Schedule::new(8).unwrap_err().to_string(),
        "interval 8 is out of range; it must be even and in 10..=604800"
    );
    assert_eq!(
        Schedule::new(604_802).unwrap_err().to_string(),
        "interval 604802 is out of range; it must be even and in 10..=604800"
    );
    let schedule = Schedule::new(10).unwrap();
    assert_eq!(
        schedule.at(999_999).unwrap_err().to_string(),
        "time 999999 is out of range; it must be in 1000000..=100000000000"
    );
    assert_eq!(
        schedule.at(100_000_000_001).unwrap_err().to_string(),
        "time 100000000001 is out of range; it must be in 1000000..=100000000000"
    );
}

#[test]
fn tofurkey_arithmetic_examples() {
    // Worked examples of SPEC.md: interval 10, half 5.
    let s = Schedule::new(10).unwrap();
    let at = |t| {
        let x = s.at(t).unwrap();
        (x.primary(), x.backup(), x.next_wake())
    };
    assert_eq!(at(1_000_000), (100_000, 99_999, 1_000_005));
    assert_eq!(at(1_000_004), (100_000, 99_999, 1_000_005));
    assert_eq!(at(1_000_005), (100_000, 100_001, 1_000_010));
    assert_eq!(at(1_000_009), (100_000, 100_001, 1_000_010));
    assert_eq!(at(1_000_010), (100_001, 100_000, 1_000_015));
}
