//! A faithful model of glibc's `getopt(3)` for short options, as tofurkey calls it with an
//! option string that starts with ':' (so `getopt` itself prints nothing and reports a missing
//! argument as ':').
//!
//! GNU behaviour reproduced: options may be clustered (`-vno`), an option's argument may be glued
//! to it (`-kFILE`, `-i10`) or be the next word even if that word starts with '-' (`-k -v` takes
//! "-v" as the file), non-option words are permuted to the end so options after them are still
//! seen (`tofurkey extra -v`), `--` ends the options, a lone `-` is a non-option, and `--foo` is
//! the cluster "-foo" (so its first option character is '-'). With `POSIXLY_CORRECT` set in the
//! environment, scanning stops at the first non-option, as glibc does.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// One result of the scan.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Item {
    /// A known option, with its argument when the option string says it takes one.
    Opt(u8, Option<OsString>),
    /// An option character that is not in the option string (getopt's '?', `optopt` = the byte).
    Invalid(u8),
    /// An option that takes an argument, given as the last word without one (getopt's ':').
    MissingArgument(u8),
}

/// The scanner over argv (without the program name).
pub(crate) struct Getopt<'a> {
    args: &'a [OsString],
    /// Option characters; a character followed by ':' takes an argument.
    spec: &'a [u8],
    /// Index of the word being scanned.
    index: usize,
    /// Position inside the current option cluster (0 when not inside one).
    pos: usize,
    /// Stop at the first non-option word (POSIXLY_CORRECT).
    posix: bool,
    /// Non-option words seen (these are what remain after getopt's `optind`).
    operands: usize,
    done: bool,
}

impl<'a> Getopt<'a> {
    /// A scanner for `args` with getopt option string `spec` (a leading ':' is allowed and only
    /// means "report missing arguments as ':'", which is the only mode modelled).
    pub(crate) fn new(args: &'a [OsString], spec: &'a str, posix: bool) -> Self {
        let spec = spec.as_bytes();
        let spec = spec.strip_prefix(b":").unwrap_or(spec);
        Getopt {
            args,
            spec,
            index: 0,
            pos: 0,
            posix,
            operands: 0,
            done: false,
        }
    }

    /// How many non-option words there are; meaningful once [`Getopt::next`] returned `None`.
    pub(crate) fn operands(&self) -> usize {
        self.operands
    }

    /// Whether `c` is an option, and whether it takes an argument. ':' is never an option.
    fn lookup(&self, c: u8) -> Option<bool> {
        if c == b':' {
            return None;
        }
        let at = self.spec.iter().position(|&s| s == c)?;
        Some(self.spec.get(at + 1) == Some(&b':'))
    }
}

impl Iterator for Getopt<'_> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        if self.done {
            return None;
        }
        if self.pos == 0 {
            // Find the next option word, counting (and, as glibc would, permuting past)
            // non-option words.
            loop {
                let Some(word) = self.args.get(self.index) else {
                    self.done = true;
                    return None;
                };
                let bytes = word.as_bytes();
                if bytes == b"--" {
                    self.operands += self.args.len() - self.index - 1;
                    self.done = true;
                    return None;
                }
                if bytes.len() > 1 && bytes[0] == b'-' {
                    self.pos = 1;
                    break;
                }
                if self.posix {
                    self.operands += self.args.len() - self.index;
                    self.done = true;
                    return None;
                }
                self.operands += 1;
                self.index += 1;
            }
        }
        let word = self.args[self.index].as_bytes();
        let c = word[self.pos];
        self.pos += 1;
        let at_end = self.pos == word.len();
        let Some(takes_arg) = self.lookup(c) else {
            if at_end {
                self.pos = 0;
                self.index += 1;
            }
            return Some(Item::Invalid(c));
        };
        if !takes_arg {
            if at_end {
                self.pos = 0;
                self.index += 1;
            }
            return Some(Item::Opt(c, None));
        }
        // The argument is the rest of this word, or else the whole next word.
        let arg = if at_end {
            self.index += 1;
            match self.args.get(self.index) {
                Some(next) => next.clone(),
                None => {
                    self.pos = 0;
                    return Some(Item::MissingArgument(c));
                }
            }
        } else {
            OsStr::from_bytes(&word[self.pos..]).to_os_string()
        };
        self.pos = 0;
        self.index += 1;
        Some(Item::Opt(c, Some(arg)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = ":k:i:P:T:a:vVno";

    fn scan(words: &[&str], posix: bool) -> (Vec<Item>, usize) {
        let args: Vec<OsString> = words.iter().map(OsString::from).collect();
        let mut g = Getopt::new(&args, SPEC, posix);
        let items: Vec<Item> = g.by_ref().collect();
        (items, g.operands())
    }

    fn opt(c: u8, arg: Option<&str>) -> Item {
        Item::Opt(c, arg.map(OsString::from))
    }

    #[test]
    fn clusters_and_glued_arguments() {
        let (items, operands) = scan(&["-vno", "-kFILE", "-i10", "-Vo"], false);
        assert_eq!(
            items,
            vec![
                opt(b'v', None),
                opt(b'n', None),
                opt(b'o', None),
                opt(b'k', Some("FILE")),
                opt(b'i', Some("10")),
                opt(b'V', None),
                opt(b'o', None),
            ]
        );
        assert_eq!(operands, 0);
    }

    #[test]
    fn argument_in_next_word_even_if_dashed() {
        let (items, _) = scan(&["-k", "-v", "-vk", "--"], false);
        assert_eq!(
            items,
            vec![
                opt(b'k', Some("-v")),
                opt(b'v', None),
                opt(b'k', Some("--"))
            ]
        );
    }

    #[test]
    fn permutation_double_dash_and_lone_dash() {
        let (items, operands) = scan(&["x", "-v", "-", "y", "-o"], false);
        assert_eq!(items, vec![opt(b'v', None), opt(b'o', None)]);
        assert_eq!(operands, 3);
        let (items, operands) = scan(&["-v", "--", "-o", "z"], false);
        assert_eq!(items, vec![opt(b'v', None)]);
        assert_eq!(operands, 2);
        let (items, operands) = scan(&["-v", "--"], false);
        assert_eq!(items, vec![opt(b'v', None)]);
        assert_eq!(operands, 0);
    }

    #[test]
    fn posixly_correct_stops_at_first_operand() {
        let (items, operands) = scan(&["-v", "x", "-o"], true);
        assert_eq!(items, vec![opt(b'v', None)]);
        assert_eq!(operands, 2);
    }

    #[test]
    fn errors() {
        let (items, _) = scan(&["-vx"], false);
        assert_eq!(items[1], Item::Invalid(b'x'));
        let (items, _) = scan(&["--foo"], false);
        assert_eq!(items[0], Item::Invalid(b'-'));
        let (items, _) = scan(&["-:"], false);
        assert_eq!(items[0], Item::Invalid(b':'));
        let (items, _) = scan(&["-v", "-i"], false);
        assert_eq!(items[1], Item::MissingArgument(b'i'));
        let (items, _) = scan(&["-vk"], false);
        assert_eq!(items[1], Item::MissingArgument(b'k'));
    }
}
