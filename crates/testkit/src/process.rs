//! External programs run from tests (mosquitto clients, Python scripts, the AWS CLI, the thingd
//! binary): stdout read line by line and stderr collected, every wait bounded by [`WAIT`], and a
//! missing program reported with the package that provides it.

use std::ffi::OsString;
use std::io::ErrorKind;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// How long any single wait (a line, an exit, a packet) may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(30);

/// The Debian or PyPI package that provides an external program, for the failure message.
fn package_of(program: &str) -> &'static str {
    match program {
        "mosquitto_pub" | "mosquitto_sub" => {
            "the Debian package mosquitto-clients (apt-get install mosquitto-clients)"
        }
        "python3" => {
            "Python 3 with paho-mqtt and boto3 (apt-get install python3 python3-pip; pip install \
             paho-mqtt boto3; .ci/run installs them)"
        }
        "aws" => "the AWS CLI v1 from PyPI (pip install awscli; .ci/run installs it)",
        "kill" => "procps (apt-get install procps)",
        "stdbuf" => "coreutils",
        _ => "it",
    }
}

fn spawn_error(program: &str, error: &std::io::Error) -> String {
    if error.kind() == ErrorKind::NotFound {
        format!(
            "`{program}` is not installed; these tests need {}",
            package_of(program)
        )
    } else {
        format!("cannot start `{program}`: {error}")
    }
}

/// Fails the test with the package to install if `program` is not on the PATH.
pub fn require_tool(program: &str) {
    let found = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "{}",
        spawn_error(program, &std::io::Error::from(ErrorKind::NotFound))
    );
}

/// A running external program whose stdout is read line by line and whose stderr is collected.
pub struct Proc {
    name: String,
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    /// Every stdout line read so far.
    pub transcript: Vec<String>,
    stderr: Arc<Mutex<String>>,
    /// Counts stderr lines; closed when stderr ends.
    stderr_lines: tokio::sync::watch::Receiver<usize>,
    stderr_task: tokio::task::JoinHandle<()>,
}

/// How an external program ended.
#[derive(Debug)]
pub struct Finished {
    /// The exit status.
    pub status: ExitStatus,
    /// Every stdout line, including those read while it ran.
    pub stdout: Vec<String>,
    /// Everything written to stderr.
    pub stderr: String,
}

impl Finished {
    /// Whether a stdout line contains `text`.
    pub fn printed(&self, text: &str) -> bool {
        self.stdout.iter().any(|l| l.contains(text))
    }

    /// Panics with the transcript unless the program exited with status 0.
    pub fn assert_success(&self, what: &str) {
        assert!(
            self.status.success(),
            "{what} failed with {}\nstdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout.join("\n"),
            self.stderr
        );
    }
}

impl Proc {
    /// Starts `program` with `args`, stdin closed unless `stdin` is given (then written and closed).
    pub fn spawn<I, S>(program: &str, args: I, stdin: Option<Vec<u8>>) -> Proc
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut command = Command::new(program);
        command.args(args.into_iter().map(Into::into));
        Self::spawn_command(program, command, stdin)
    }

    /// Starts a prepared command (its stdio is replaced by pipes).
    pub fn spawn_command(name: &str, mut command: Command, stdin: Option<Vec<u8>>) -> Proc {
        command
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{}", spawn_error(name, &e)));
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            tokio::spawn(async move {
                let _ = pipe.write_all(&input).await;
                let _ = pipe.shutdown().await;
            });
        }
        let stdout = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_lines = BufReader::new(child.stderr.take().expect("stderr is piped")).lines();
        let sink = stderr.clone();
        let (count, stderr_lines) = tokio::sync::watch::channel(0usize);
        let stderr_task = tokio::spawn(async move {
            while let Ok(Some(line)) = err_lines.next_line().await {
                {
                    let mut all = sink.lock().expect("stderr lock");
                    all.push_str(&line);
                    all.push('\n');
                }
                count.send_modify(|n| *n += 1);
            }
        });
        Proc {
            name: name.to_string(),
            child,
            stdout,
            transcript: Vec::new(),
            stderr,
            stderr_lines,
            stderr_task,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the process is running")
    }

    /// Everything written to stderr so far.
    pub fn stderr_so_far(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    fn context(&self) -> String {
        format!(
            "{}\nstdout so far:\n{}\nstderr so far:\n{}",
            self.name,
            self.transcript.join("\n"),
            self.stderr_so_far()
        )
    }

    /// Reads stdout until a line satisfies `predicate` and returns it; fails the test on EOF or
    /// after [`WAIT`].
    pub async fn line_where(&mut self, what: &str, predicate: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.stdout.next_line()).await {
                Err(_) => panic!("timed out waiting for {what} from {}", self.context()),
                Ok(Err(e)) => panic!("reading the stdout of {}: {e}", self.context()),
                Ok(Ok(None)) => {
                    let status = tokio::time::timeout(WAIT, self.child.wait()).await;
                    panic!(
                        "{} ended ({status:?}) before {what}; {}",
                        self.name,
                        self.context()
                    )
                }
                Ok(Ok(Some(line))) => {
                    self.transcript.push(line.clone());
                    if predicate(&line) {
                        return line;
                    }
                }
            }
        }
    }

    /// The first stderr line so far that satisfies `predicate`.
    fn stderr_line(&self, predicate: &impl Fn(&str) -> bool) -> Option<String> {
        self.stderr_so_far()
            .lines()
            .find(|l| predicate(l))
            .map(str::to_string)
    }

    /// Waits until a stderr line satisfies `predicate` and returns it; fails the test when
    /// stderr ends first or after [`WAIT`].
    pub async fn stderr_line_where(
        &mut self,
        what: &str,
        predicate: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(line) = self.stderr_line(&predicate) {
                return line;
            }
            match tokio::time::timeout_at(deadline, self.stderr_lines.changed()).await {
                Err(_) => panic!(
                    "timed out waiting for {what} on the stderr of {}",
                    self.context()
                ),
                Ok(Err(_)) => {
                    // stderr ended: one last look, since the final lines may have just arrived.
                    if let Some(line) = self.stderr_line(&predicate) {
                        return line;
                    }
                    panic!(
                        "{} closed stderr before {what}; {}",
                        self.name,
                        self.context()
                    )
                }
                Ok(Ok(())) => {}
            }
        }
    }

    /// Waits (up to [`WAIT`]) for the program to exit, reading the rest of its output.
    pub async fn finish(self) -> Finished {
        self.finish_within(WAIT).await
    }

    /// Waits up to `limit` for the program to exit, reading the rest of its output.
    pub async fn finish_within(mut self, limit: Duration) -> Finished {
        let name = self.name.clone();
        let rest = async {
            while let Some(line) = self.stdout.next_line().await.unwrap_or(None) {
                self.transcript.push(line);
            }
            self.child.wait().await
        };
        let status = match tokio::time::timeout(limit, rest).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => panic!("waiting for {name}: {e}"),
            Err(_) => panic!("{name} did not exit within {limit:?}; {}", self.context()),
        };
        let _ = tokio::time::timeout(WAIT, &mut self.stderr_task).await;
        let stderr = self.stderr_so_far();
        Finished {
            status,
            stdout: std::mem::take(&mut self.transcript),
            stderr,
        }
    }
}

/// Runs a program to completion with a timeout.
pub async fn run<I, S>(program: &str, args: I, stdin: Option<Vec<u8>>) -> Finished
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    Proc::spawn(program, args, stdin).finish().await
}
