//! The values the command line and the configuration file share, checked with the same
//! messages: interval, unix time, label, keep, group.

use keywheel::{MAX_INTERVAL, MAX_LABEL_LEN, MAX_TIME, MIN_INTERVAL, MIN_TIME, Schedule};
use nix::unistd::{Gid, Group, Uid, User};

/// A rotation interval in seconds: even, 10..=604800.
pub(crate) fn parse_interval(s: &str) -> Result<u64, String> {
    let value: u64 = s
        .parse()
        .map_err(|e| format!("'{s}' is not a number of seconds ({e})"))?;
    if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&value) {
        // Out of range first: a huge odd value is not merely "odd".
        return Err(format!(
            "interval {value} is out of range; it must be even and in \
             {MIN_INTERVAL}..={MAX_INTERVAL}"
        ));
    }
    Schedule::new(value)
        .map(|schedule| schedule.interval())
        .map_err(|e| e.to_string())
}

/// A unix time in 1000000..=100000000000.
pub(crate) fn parse_time(s: &str) -> Result<u64, String> {
    let value: u64 = s
        .parse()
        .map_err(|e| format!("'{s}' is not a unix time in seconds ({e})"))?;
    if (MIN_TIME..=MAX_TIME).contains(&value) {
        Ok(value)
    } else {
        Err(keywheel::Error::Time { value }.to_string())
    }
}

/// A label: 1..=64 bytes of UTF-8.
pub(crate) fn parse_label(s: &str) -> Result<String, String> {
    if (1..=MAX_LABEL_LEN).contains(&s.len()) {
        Ok(s.to_owned())
    } else {
        Err(keywheel::Error::LabelLength { len: s.len() }.to_string())
    }
}

/// A number of previous keys (its range depends on the interval and the format).
pub(crate) fn parse_keep(s: &str) -> Result<u64, String> {
    s.parse()
        .map_err(|e| format!("'{s}' is not a number of previous keys ({e})"))
}

/// A group by name or number.
pub(crate) fn parse_group(s: &str) -> Result<Gid, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse()
            .map(Gid::from_raw)
            .map_err(|e| format!("group id {s} is out of range ({e})"));
    }
    match Group::from_name(s) {
        Ok(Some(group)) => Ok(group.gid),
        Ok(None) => Err(format!("group '{s}' does not exist")),
        Err(e) => Err(format!("cannot look group '{s}' up: {e}")),
    }
}

/// A user by name or numeric id (`--owner`, `owner =`): its uid and primary group id.
pub(crate) fn parse_owner(s: &str) -> Result<(u32, u32), String> {
    let found = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let uid: u32 = s
            .parse()
            .map_err(|e| format!("user id {s} is out of range ({e})"))?;
        User::from_uid(Uid::from_raw(uid))
    } else {
        User::from_name(s)
    };
    match found {
        Ok(Some(user)) => Ok((user.uid.as_raw(), user.gid.as_raw())),
        Ok(None) => Err(format!("user '{s}' does not exist")),
        Err(e) => Err(format!("cannot look user '{s}' up: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_errors_name_value_and_range() {
        assert_eq!(
            parse_interval("11").unwrap_err(),
            "interval 11 is odd; it must be even and in 10..=604800"
        );
        assert_eq!(
            parse_interval("604802").unwrap_err(),
            "interval 604802 is out of range; it must be even and in 10..=604800"
        );
        assert!(parse_interval("ten").unwrap_err().contains("'ten'"));
        for huge in ["604801", "9", "9223372036854775807"] {
            assert_eq!(
                parse_interval(huge).unwrap_err(),
                format!("interval {huge} is out of range; it must be even and in 10..=604800")
            );
        }
        assert_eq!(
            parse_time("999999").unwrap_err(),
            "time 999999 is out of range; it must be in 1000000..=100000000000"
        );
        assert_eq!(parse_time("1000000"), Ok(1_000_000));
        assert_eq!(
            parse_label("").unwrap_err(),
            "label is 0 bytes; it must be 1..=64 bytes of UTF-8"
        );
        assert!(parse_keep("-1").unwrap_err().contains("'-1'"));
        assert_eq!(
            parse_group("no-such-group-kw").unwrap_err(),
            "group 'no-such-group-kw' does not exist"
        );
        assert_eq!(parse_group("0"), Ok(Gid::from_raw(0)));
        assert_eq!(
            parse_owner("no-such-user-kw").unwrap_err(),
            "user 'no-such-user-kw' does not exist"
        );
        assert_eq!(parse_owner("0"), Ok((0, 0)));
        assert_eq!(parse_owner("root"), Ok((0, 0)));
    }
}
