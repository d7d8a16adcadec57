//! Man pages: `keywheel(1)` and `keywheel-<subcommand>(1)` rendered from the clap definition
//! (the source of `--help` too) with clap_mangen, and `tofurkey(1)` rendered from tofurkey's
//! usage text (the one it prints after a usage error), with the flags its usage text does
//! not list. The pages are committed under man/; a test regenerates them and fails on drift.

use std::fmt::Write as _;

/// Every man page: (file name, roff source).
pub fn pages() -> Vec<(String, Vec<u8>)> {
    let mut pages = Vec::new();
    let mut cmd = crate::cmd::command().disable_help_subcommand(true);
    cmd.build();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages.push(render(sub.clone()));
    }
    pages.insert(0, render(cmd));
    pages.push(("tofurkey.1".to_owned(), tofurkey_page().into_bytes()));
    pages
}

fn render(cmd: clap::Command) -> (String, Vec<u8>) {
    let extra = cmd
        .get_after_long_help()
        .or_else(|| cmd.get_after_help())
        .map(|t| t.to_string());
    let has_subcommands = cmd.get_subcommands().next().is_some();
    let man = clap_mangen::Man::new(cmd);
    let mut out = Vec::new();
    // Rendering into a Vec cannot fail. The after-help text (exit status, examples) keeps its
    // line breaks, as --help shows it.
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    if has_subcommands {
        let _ = man.render_subcommands_section(&mut out);
    }
    if let Some(text) = extra {
        out.extend_from_slice(b".SH \"EXIT STATUS AND EXAMPLES\"\n.nf\n");
        for line in text.lines() {
            out.extend_from_slice(roff(line).as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(b".fi\n");
    }
    let _ = man.render_version_section(&mut out);
    (man.get_filename(), out)
}

/// Escapes text for roff: backslashes, and a leading '.' or '\''.
fn roff(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

/// tofurkey(1): SYNOPSIS and OPTIONS are tofurkey's usage text, paragraph by paragraph.
fn tofurkey_page() -> String {
    let usage = crate::tofurkey::usage_text();
    let mut o = String::new();
    let version = env!("CARGO_PKG_VERSION");
    let _ = writeln!(o, ".TH TOFURKEY 1 \"\" \"keywheel {version}\"");
    o.push_str(".SH NAME\ntofurkey \\- distributed sync of Linux TCP Fast Open key rotations\n");
    let mut options: Vec<(String, Vec<String>)> = Vec::new();
    let mut tail: Vec<String> = Vec::new();
    for line in usage.lines() {
        if let Some(synopsis) = line.strip_prefix("Usage: ") {
            o.push_str(".SH SYNOPSIS\n");
            let _ = writeln!(o, "{}", roff(synopsis));
        } else if let Some(rest) = line.strip_prefix("  -") {
            let (flag, text) = rest.split_at(1);
            options.push((format!("-{flag}"), vec![text.trim().to_owned()]));
        } else if let Some(more) = line.strip_prefix("     ") {
            if let Some((_, text)) = options.last_mut() {
                text.push(more.trim().to_owned());
            }
        } else if !line.is_empty() {
            tail.push(line.to_owned());
        }
    }
    o.push_str(".SH DESCRIPTION\n");
    o.push_str(
        "A drop\\-in replacement for tofurkey 1.3.4, part of keywheel: the same flags, output \
         lines, exit behaviour and keys. It writes \"primary,backup\" TCP Fast Open keys to \
         the kernel, derived from a main secret shared by the cluster and the clock, at start \
         and 2.02 s after every half\\-interval boundary of unix time.\n",
    );
    o.push_str(".SH OPTIONS\n");
    for (flag, text) in &options {
        let _ = writeln!(o, ".TP\n\\fB{}\\fR\n{}", roff(flag), roff(&text.join(" ")));
    }
    o.push_str(
        ".SH ADDITIONAL OPTIONS\nAccepted by tofurkey 1.3.4 but not listed in its usage text:\n",
    );
    for (flag, text) in [
        ("-V", "Verbose, and print the keys written (secret!)."),
        (
            "-P path",
            "The procfs file to write instead of /proc/sys/net/ipv4/tcp_fastopen_key (for testing).",
        ),
        (
            "-T unix_time",
            "Compute the keys for this fake unix time (1000000..=100000000000); implies -o.",
        ),
    ] {
        let _ = writeln!(o, ".TP\n\\fB{}\\fR\n{}", roff(flag), roff(text));
    }
    o.push_str(
        ".SH EXIT STATUS\nUsage errors print \"error: ...\" and the usage text and exit with \
         status 2. Runtime errors print \"FATAL: ...\" and abort (SIGABRT; no core file). In \
         one\\-shot mode the exit status is 0 after the keys are set. The daemon runs until \
         killed; SIGTERM ends it by the signal.\n",
    );
    o.push_str(
        ".SH ENVIRONMENT\n.TP\n\\fBNOTIFY_SOCKET\\fR\nREADY=1 is sent there after the first \
         write (systemd Type=notify).\n.TP\n\\fBPOSIXLY_CORRECT\\fR\nOptions stop at the first \
         operand, as with getopt(3).\n",
    );
    o.push_str(".SH NOTES\n");
    for line in &tail {
        let _ = writeln!(o, "{}\n.br", roff(line));
    }
    o.push_str(".SH SEE ALSO\n\\fBkeywheel\\fR(1), \\fBkeywheel\\-tfo\\fR(1)\n");
    o
}
