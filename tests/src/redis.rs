//! Redis, the shared store of the budget tests: Debian's `redis-server`, which
//! `scripts/test.sh` installs when it is missing, started on 127.0.0.1 with nothing saved to
//! disk, and stopped (or killed mid-test) by the test.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::jaeger::free_ports;

/// A running `redis-server`; stopped when dropped.
#[derive(Debug)]
pub struct Redis {
    child: Option<Child>,
    port: u16,
    /// `redis://127.0.0.1:P/`.
    pub url: String,
}

/// Where `redis-server` is: on the `PATH` (Debian puts it in /usr/bin).
fn program() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("redis-server"))
            .find(|candidate| candidate.exists())
    });
    crate::installed(
        found.unwrap_or_else(|| PathBuf::from("/usr/bin/redis-server")),
        "run scripts/test.sh, which installs Debian's redis-server",
    )
}

impl Redis {
    /// Starts `redis-server` on a free port of 127.0.0.1 and waits until it answers `PING`;
    /// `None` when it is not installed (see [`crate::installed`]).
    pub fn start() -> Option<Self> {
        let program = program()?;
        let [port] = free_ports();
        let child = Command::new(program)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let redis = Self {
            child: Some(child),
            port,
            url: format!("redis://127.0.0.1:{port}/"),
        };
        let started = Instant::now();
        while !redis.answers() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "redis-server did not answer within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(redis)
    }

    /// Whether it answers `PING` now.
    pub fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut answer = [0; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut answer).is_ok()
            && &answer == b"+PONG\r\n"
    }

    /// Sends one command (RESP), and returns the answer as Redis wrote it, in lines (an
    /// array's items each on its own): enough for `KEYS` and `PTTL`.
    pub fn command(&self, args: &[&str]) -> Vec<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("Redis answers");
        let _ = stream.set_read_timeout(Some(Duration::from_millis(300)));
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes()).expect("sends");
        let mut answer = Vec::new();
        let mut buffer = [0; 4096];
        // Until Redis stops writing: the answers asked for are small.
        while let Ok(read) = stream.read(&mut buffer) {
            if read == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..read]);
        }
        String::from_utf8_lossy(&answer)
            .lines()
            .filter(|line| !line.starts_with('*') && !line.starts_with('$'))
            .map(|line| line.trim_start_matches([':', '+']).to_owned())
            .collect()
    }

    /// Kills it, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}
