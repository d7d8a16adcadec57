//! Error messages at the extremes of their numbers (the shared vectors cover the usual values):
//! the expected texts are written out by hand from the messages' templates.

use keywheel::Error;

#[test]
fn numbers_of_every_width() {
    let cases: [(Error, &str); 9] = [
        (
            Error::Time { value: u64::MAX },
            "time 18446744073709551615 is out of range; it must be in 1000000..=100000000000",
        ),
        (
            Error::Time { value: 0 },
            "time 0 is out of range; it must be in 1000000..=100000000000",
        ),
        (
            Error::Interval { value: u64::MAX },
            "interval 18446744073709551615 is odd; it must be even and in 10..=604800",
        ),
        (
            Error::Interval {
                value: 10_000_000_000_000_000_000,
            },
            "interval 10000000000000000000 is out of range; it must be even and in 10..=604800",
        ),
        (
            Error::Keep {
                keep: u64::MAX,
                interval: 2,
            },
            "keep 18446744073709551615 with interval 2 accepts tickets up to \
             18446744073709551615 s old; (keep + 1) * interval must be at most 604800 \
             (7 days, RFC 8446), so keep must be in 0..=302399",
        ),
        (
            Error::Keep {
                keep: 0,
                interval: 604_801,
            },
            "keep 0 with interval 604801 accepts tickets up to 604801 s old; (keep + 1) * \
             interval must be at most 604800 (7 days, RFC 8446), so keep must be in 0..=0",
        ),
        (
            Error::BufferTooSmall {
                len: 9,
                needed: 100,
            },
            "output buffer is 9 bytes; it must be at least 100 bytes",
        ),
        (
            Error::FormatStrength { format: "nginx48" },
            "the key's strength does not match format nginx48",
        ),
        (
            Error::FormatKeep {
                format: "haproxy",
                keep: 10,
            },
            "keep 10 does not fit format haproxy: HAProxy uses exactly 3 keys (previous, \
             current, next), so keep must be 1",
        ),
    ];
    for (err, message) in cases {
        assert_eq!(err.to_string(), message);
        // Width and alignment do not apply to a message (as with `write!` into the formatter).
        assert_eq!(format!("{err:>300}"), message);
        let mut written = String::new();
        err.write_message(&mut written).unwrap_or_default();
        assert_eq!(written, message);
    }
}
