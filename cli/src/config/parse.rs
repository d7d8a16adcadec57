//! Parsing the TOML text into a [`Config`]: every key checked, every mistake a [`ConfigError`]
//! with its position.

use std::path::{Path, PathBuf};

use keywheel::{DEFAULT_INTERVAL, Schedule};
use serde::Deserialize;
use toml::Spanned;

use super::error::Ctx;
use super::{Config, ConfigError, KeyRef, StateConfig, TfoSpec};
use crate::servers::{self, Out};
use crate::sys::files::Perms;
use crate::targets::procfs::DEFAULT_PROCFS;
use crate::targets::tickets::{DEFAULT_KEEP, DEFAULT_STEK_INTERVAL, StekSpec, config_words};
use crate::targets::values::{parse_group, parse_interval, parse_label, parse_owner};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    main_key: Option<Spanned<String>>,
    main_key_credential: Option<Spanned<String>>,
    previous_main_key: Option<Spanned<String>>,
    previous_main_key_credential: Option<Spanned<String>>,
    next_main_key: Option<Spanned<String>>,
    next_main_key_credential: Option<Spanned<String>>,
    state: Option<Spanned<String>>,
    state_credential: Option<Spanned<String>>,
    previous_state: Option<Spanned<String>>,
    previous_state_credential: Option<Spanned<String>>,
    next_state: Option<Spanned<String>>,
    next_state_credential: Option<Spanned<String>>,
    state_dir: Option<Spanned<String>>,
    #[serde(default)]
    allow_insecure_key_file: bool,
    metrics_file: Option<Spanned<String>>,
    tfo: Option<Spanned<RawTfo>>,
    #[serde(default)]
    stek: Vec<Spanned<RawStek>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTfo {
    interval: Option<Spanned<i64>>,
    procfs: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStek {
    name: Option<Spanned<String>>,
    format: Spanned<String>,
    label: Spanned<String>,
    interval: Option<Spanned<i64>>,
    keep: Option<Spanned<i64>>,
    out: Spanned<String>,
    reload: Option<Spanned<String>>,
    haproxy_socket: Option<Spanned<String>>,
    group: Option<Spanned<String>>,
    owner: Option<Spanned<String>>,
    #[serde(default)]
    allow_persistent: bool,
}

fn absolute(ctx: &Ctx<'_>, key: &str, value: &Spanned<String>) -> Result<PathBuf, ConfigError> {
    let path = PathBuf::from(value.get_ref());
    if value.get_ref().chars().any(char::is_control) {
        // A NUL byte would cut the path short at open(); other control characters are never
        // meant. Shown escaped, never raw.
        return Err(ctx.err(
            value.span(),
            key,
            &format!(
                "{} holds a control character (NUL, newline, tab, …); a path must not",
                value.get_ref().escape_debug()
            ),
        ));
    }
    if path.is_absolute() {
        Ok(path)
    } else {
        Err(ctx.err(
            value.span(),
            key,
            &format!("'{}' is not an absolute path", value.get_ref()),
        ))
    }
}

fn credential_name(
    ctx: &Ctx<'_>,
    key: &str,
    value: &Spanned<String>,
) -> Result<String, ConfigError> {
    let name = value.get_ref();
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(ctx.err(
            value.span(),
            key,
            &format!("'{name}' is not a credential name (a file name without '/')"),
        ));
    }
    Ok(name.clone())
}

/// `file` xor `credential` (both optional when `required` is false).
fn key_ref(
    ctx: &Ctx<'_>,
    name: &str,
    file: &Option<Spanned<String>>,
    credential: &Option<Spanned<String>>,
    required: bool,
) -> Result<Option<KeyRef>, ConfigError> {
    let cred_key = format!("{name}_credential");
    match (file, credential) {
        (Some(_), Some(c)) => Err(ctx.err(
            c.span(),
            &cred_key,
            &format!("set only one of {name} (a file) and {cred_key} (a systemd credential)"),
        )),
        (Some(f), None) => Ok(Some(KeyRef::File(absolute(ctx, name, f)?))),
        (None, Some(c)) => Ok(Some(KeyRef::Credential(credential_name(
            ctx, &cred_key, c,
        )?))),
        (None, None) if required => Err(ctx.file_err(format!(
            "{name} (a file) or {cred_key} (a systemd credential) is required"
        ))),
        (None, None) => Ok(None),
    }
}

fn int(ctx: &Ctx<'_>, key: &str, value: &Spanned<i64>, what: &str) -> Result<u64, ConfigError> {
    u64::try_from(*value.get_ref()).map_err(|_| {
        ctx.err(
            value.span(),
            key,
            &format!("{} is negative; it must be {what}", value.get_ref()),
        )
    })
}

fn interval(
    ctx: &Ctx<'_>,
    key: &str,
    value: &Option<Spanned<i64>>,
    default: u64,
) -> Result<u64, ConfigError> {
    let Some(v) = value else {
        return Ok(default);
    };
    let n = int(ctx, key, v, "even and in 10..=604800")?;
    parse_interval(&n.to_string()).map_err(|e| ctx.err(v.span(), key, &e))
}

/// Checks the configuration `text` (read from `path`).
pub(crate) fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let ctx = Ctx { path, text };
    let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
        path: path.to_owned(),
        line: e.span().map(|span| ctx.line(span)),
        message: e.message().trim_end().replace('\n', "; "),
    })?;
    let state_ref = key_ref(&ctx, "state", &raw.state, &raw.state_credential, false)?;
    let main_key = key_ref(
        &ctx,
        "main_key",
        &raw.main_key,
        &raw.main_key_credential,
        state_ref.is_none(),
    )?;
    if let (Some(_), Some(_)) = (&main_key, &state_ref) {
        let span = raw
            .state
            .as_ref()
            .or(raw.state_credential.as_ref())
            .map(Spanned::span);
        let msg = "set either a main key (main_key / main_key_credential) or a forward-secure \
                   state (state / state_credential), not both: a target never mixes the two \
                   modes";
        return Err(match span {
            Some(span) => ctx.err(span, "state", msg),
            None => ctx.file_err(msg.to_owned()),
        });
    }
    let state = match state_ref {
        Some(state) => {
            let previous = key_ref(
                &ctx,
                "previous_state",
                &raw.previous_state,
                &raw.previous_state_credential,
                false,
            )?;
            let next = key_ref(
                &ctx,
                "next_state",
                &raw.next_state,
                &raw.next_state_credential,
                false,
            )?;
            let dir = match &raw.state_dir {
                Some(d) => Some(absolute(&ctx, "state_dir", d)?),
                None => None,
            };
            if raw.previous_main_key.is_some()
                || raw.previous_main_key_credential.is_some()
                || raw.next_main_key.is_some()
                || raw.next_main_key_credential.is_some()
            {
                return Err(ctx.file_err(
                    "previous_main_key and next_main_key belong to main-key mode; with state \
                     use previous_state and next_state"
                        .to_owned(),
                ));
            }
            Some(StateConfig {
                state,
                previous,
                next,
                dir,
            })
        }
        None => {
            for (key, v, c) in [
                (
                    "previous_state",
                    &raw.previous_state,
                    &raw.previous_state_credential,
                ),
                ("next_state", &raw.next_state, &raw.next_state_credential),
                ("state_dir", &raw.state_dir, &None),
            ] {
                if let Some(v) = v.as_ref().or(c.as_ref()) {
                    return Err(ctx.err(
                        v.span(),
                        key,
                        "belongs to forward-secure mode: set state (or state_credential) too",
                    ));
                }
            }
            None
        }
    };
    let previous_main_key = key_ref(
        &ctx,
        "previous_main_key",
        &raw.previous_main_key,
        &raw.previous_main_key_credential,
        false,
    )?;
    let next_main_key = key_ref(
        &ctx,
        "next_main_key",
        &raw.next_main_key,
        &raw.next_main_key_credential,
        false,
    )?;
    for (key, other) in [
        ("previous_main_key", &previous_main_key),
        ("next_main_key", &next_main_key),
    ] {
        if other.is_some() && *other == main_key {
            return Err(ctx.file_err(format!(
                "{key} is the same as main_key; during a rollover it names the other key"
            )));
        }
    }
    let metrics_file = match &raw.metrics_file {
        Some(v) => Some(absolute(&ctx, "metrics_file", v)?),
        None => None,
    };
    let tfo = match &raw.tfo {
        Some(t) => {
            let t = t.get_ref();
            let secs = interval(&ctx, "tfo.interval", &t.interval, DEFAULT_INTERVAL)?;
            let schedule = Schedule::new(secs).map_err(|e| ctx.file_err(e.to_string()))?;
            let procfs = match &t.procfs {
                Some(p) => absolute(&ctx, "tfo.procfs", p)?,
                None => PathBuf::from(DEFAULT_PROCFS),
            };
            Some(TfoSpec { schedule, procfs })
        }
        None => None,
    };
    let mut stek = Vec::new();
    for (i, raw) in raw.stek.iter().enumerate() {
        let span = raw.span();
        let raw = raw.get_ref();
        let at = |key: &str| format!("stek[{i}].{key}");
        let format = servers::parse_format(raw.format.get_ref())
            .map_err(|e| ctx.err(raw.format.span(), &at("format"), &e))?;
        let name = match &raw.name {
            Some(n) => {
                let ok = (1..=64).contains(&n.get_ref().len())
                    && n.get_ref()
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
                if !ok || n.get_ref() == "tfo" {
                    return Err(ctx.err(
                        n.span(),
                        &at("name"),
                        &format!(
                            "'{}' is not a target name: 1..=64 of A-Z a-z 0-9 _ . - (and not \
                             'tfo')",
                            n.get_ref()
                        ),
                    ));
                }
                n.get_ref().clone()
            }
            None => format.name().to_owned(),
        };
        let label = parse_label(raw.label.get_ref())
            .map_err(|e| ctx.err(raw.label.span(), &at("label"), &e))?;
        let secs = interval(&ctx, &at("interval"), &raw.interval, DEFAULT_STEK_INTERVAL)?;
        let keep = match &raw.keep {
            Some(k) => int(&ctx, &at("keep"), k, "a number of previous keys")?,
            None => DEFAULT_KEEP,
        };
        if raw.out.get_ref() == "-" {
            return Err(ctx.err(
                raw.out.span(),
                &at("out"),
                "\"-\" (stdout) is for the command line (keywheel stek); give a file",
            ));
        }
        let out = absolute(&ctx, &at("out"), &raw.out)?;
        let reload = match &raw.reload {
            Some(r) if r.get_ref().trim().is_empty() => {
                return Err(ctx.err(r.span(), &at("reload"), "the command is empty"));
            }
            Some(r) => Some(r.get_ref().clone()),
            None => None,
        };
        let haproxy_socket = match &raw.haproxy_socket {
            Some(s) => Some(absolute(&ctx, &at("haproxy_socket"), s)?),
            None => None,
        };
        let group = match &raw.group {
            Some(g) => {
                Some(parse_group(g.get_ref()).map_err(|e| ctx.err(g.span(), &at("group"), &e))?)
            }
            None => None,
        };
        let owner = match &raw.owner {
            Some(u) => {
                Some(parse_owner(u.get_ref()).map_err(|e| ctx.err(u.span(), &at("owner"), &e))?)
            }
            None => None,
        };
        let spec = StekSpec {
            name,
            format,
            label,
            out,
            interval: secs,
            keep,
            reload,
            haproxy_socket,
            group,
            owner,
            allow_persistent: raw.allow_persistent,
        };
        let schedule = spec.check().map_err(|e| {
            let key = e.key();
            let span = match key {
                "haproxy_socket" => raw.haproxy_socket.as_ref().map(Spanned::span),
                "keep" => raw.keep.as_ref().map(Spanned::span),
                "owner" => raw.owner.as_ref().map(Spanned::span),
                "out" => Some(raw.out.span()),
                _ => raw.interval.as_ref().map(Spanned::span),
            };
            ctx.err(
                span.unwrap_or_else(|| span_of(raw)),
                &at(key),
                &e.config_text(),
            )
        })?;
        let dest = Out {
            path: &spec.out,
            abs: &spec.out,
            format,
            perms: Perms::secret(spec.group),
            owner: spec.owner,
        };
        servers::server(format)
            .check_path(&dest)
            .map_err(|e| ctx.err(raw.out.span(), &at("out"), &config_words(&e)))?;
        if let Some((other, _)) = stek
            .iter()
            .find(|(s, _): &&(StekSpec, _)| s.name == spec.name)
        {
            return Err(ctx.err(
                span.clone(),
                &at("name"),
                &format!(
                    "two [[stek]] targets are named '{}'; give each a unique name = \"...\"",
                    other.name
                ),
            ));
        }
        if let Some((other, _)) = stek
            .iter()
            .find(|(s, _): &&(StekSpec, _)| s.out == spec.out)
        {
            return Err(ctx.err(
                raw.out.span(),
                &at("out"),
                &format!(
                    "{} is also the output of target '{}'",
                    spec.out.display(),
                    other.name
                ),
            ));
        }
        stek.push((spec, schedule));
    }
    if tfo.is_none() && stek.is_empty() {
        return Err(ctx.file_err("no targets: add a [tfo] table and/or [[stek]] tables".to_owned()));
    }
    Ok(Config {
        path: path.to_owned(),
        main_key,
        state,
        previous_main_key,
        next_main_key,
        allow_insecure_key_file: raw.allow_insecure_key_file,
        metrics_file,
        tfo,
        stek,
    })
}

/// The span of a `[[stek]]` table's `format` (where a table-level error is reported).
fn span_of(raw: &RawStek) -> std::ops::Range<usize> {
    raw.format.span()
}
