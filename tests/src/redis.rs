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
    /// Where a durable server keeps its append-only file (`fsync`ed on every write), so that
    /// a restart after `SIGKILL` finds every write it answered.
    dir: Option<PathBuf>,
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
        program()?;
        let [port] = free_ports();
        let mut redis = Self {
            child: None,
            port,
            url: format!("redis://127.0.0.1:{port}/"),
            dir: None,
        };
        redis.restart();
        Some(redis)
    }

    /// Starts a `redis-server` that keeps its data in a directory of its own under `target/`
    /// (an append-only file, `fsync`ed on every write), as production Redis does: killed and
    /// restarted, it has every write it answered.
    pub fn start_durable(name: &str) -> Option<Self> {
        program()?;
        let [port] = free_ports();
        let dir =
            std::env::temp_dir().join(format!("tracing-ai-redis-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a directory for Redis' data");
        let mut redis = Self {
            child: None,
            port,
            url: format!("redis://127.0.0.1:{port}/"),
            dir: Some(dir),
        };
        redis.restart();
        Some(redis)
    }

    /// (Re)starts the server on its port (with its data directory, when durable), and waits
    /// until it answers `PING`.
    pub fn restart(&mut self) {
        self.kill();
        let program = program().expect("redis-server is installed");
        let mut command = Command::new(program);
        command.args(["--bind", "127.0.0.1", "--port", &self.port.to_string()]);
        match &self.dir {
            Some(dir) => command.arg("--dir").arg(dir).args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ]),
            None => command.args(["--save", "", "--appendonly", "no"]),
        };
        let child = command
            .args(["--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let started = Instant::now();
        while !self.answers() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "redis-server did not answer within 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it (`SIGSTOP`), as a Redis stalled by a fork, a slow disk or a paused VM is: its
    /// connections stay open and nothing is answered until [`resume`](Self::resume).
    pub fn stop(&self) {
        self.signal("-STOP");
    }

    /// Resumes it (`SIGCONT`) after [`stop`](Self::stop): it answers what was sent meanwhile.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("redis-server runs").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} {pid}");
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

    /// Kills it (`SIGKILL`), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A stopped process dies of SIGKILL as well.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
