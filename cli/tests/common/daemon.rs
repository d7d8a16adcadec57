//! A daemon under test: spawned with its stderr lines on a channel, READY=1 on a notify
//! socket, stopped by SIGTERM (and checked to die by it).

use std::io::{BufRead, BufReader};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::command;

const SIGTERM: i32 = 15;

/// A running daemon with its stderr lines arriving on a channel.
pub struct Daemon {
    pub child: Child,
    pub lines: Receiver<String>,
    pub seen: Vec<String>,
    pub started: Instant,
}

impl Daemon {
    pub fn spawn(binary: &str, args: &[&str], notify_socket: &str) -> Daemon {
        let mut cmd = command(binary);
        cmd.args(args).env("NOTIFY_SOCKET", notify_socket);
        Daemon::spawn_command(cmd)
    }

    /// Spawns `cmd` (its stderr is captured).
    pub fn spawn_command(mut cmd: Command) -> Daemon {
        cmd.stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                if tx.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        Daemon {
            child,
            lines: rx,
            seen: Vec::new(),
            started: Instant::now(),
        }
    }

    /// Collects lines until one satisfies `pred` (returned), failing after `within`.
    pub fn wait_line(&mut self, within: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(e) => panic!("no expected line ({e}); stderr so far: {:#?}", self.seen),
            }
        }
    }

    /// Like [`Daemon::wait_line`], but a line already seen counts too.
    pub fn wait_seen(&mut self, within: Duration, pred: impl Fn(&str) -> bool) -> String {
        if let Some(line) = self.seen.iter().find(|l| pred(l)) {
            return line.clone();
        }
        self.wait_line(within, pred)
    }

    pub fn assert_running(&mut self) {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "daemon exited; stderr: {:#?}",
            self.seen
        );
    }

    /// Sends SIGTERM, checks the daemon died by it, and returns all its stderr lines.
    pub fn terminate(mut self) -> Vec<String> {
        self.assert_running();
        let pid = Pid::from_raw(self.child.id() as i32);
        kill(pid, Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                self.child.kill().unwrap();
                self.child.wait().unwrap();
                panic!("SIGTERM did not end the daemon; stderr: {:#?}", self.seen);
            }
            thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(status.signal(), Some(SIGTERM), "{status:?}");
        let rest: Vec<String> = self.lines.iter().collect();
        self.seen.extend(rest);
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Daemon {
    /// A failed scenario must not leave its daemon running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A datagram socket bound where $NOTIFY_SOCKET will point.
pub fn notify_listener(
    abstract_name: Option<&str>,
    path: &std::path::Path,
) -> (UnixDatagram, String) {
    let (sock, env) = match abstract_name {
        Some(name) => {
            let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
            (UnixDatagram::bind_addr(&addr).unwrap(), format!("@{name}"))
        }
        None => (
            UnixDatagram::bind(path).unwrap(),
            path.to_str().unwrap().to_owned(),
        ),
    };
    sock.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    (sock, env)
}

pub fn expect_ready(sock: &UnixDatagram) {
    let mut buf = [0u8; 64];
    let n = sock.recv(&mut buf).expect("no READY=1 on NOTIFY_SOCKET");
    assert_eq!(&buf[..n], b"READY=1");
}
