//! A sandbox per student, for the build and for every run (Linux).
//!
//! `check grade` runs code nobody has read, and some of it is written to fool or harm the
//! grader. One container for the whole class is not enough: inside it, one student could still
//! replace a classmate's binary, kill a classmate's program or forge the grade files. So every
//! student gets a sandbox of their own, twice:
//!
//! - **The build**: `rustc` alone (not cargo, not build scripts) compiles the student's one file
//!   inside bubblewrap, seeing only the toolchain, the libraries the exercises may use (copied
//!   once into a toolkit folder: no binary, no solution, no classmate), a copy of that file and
//!   an empty output folder; no network; a wall-clock limit (an endless constant evaluation is
//!   stopped) and limits on memory and file size.
//! - **The runs**: the checks of that student run inside a second bubblewrap: new user, PID,
//!   network, IPC and UTS namespaces, so a private loopback (nothing leaves, no classmate is
//!   reachable), a private process tree (nothing outlives it: when its first process ends, the
//!   kernel kills the rest) and a file system that holds the system's libraries, the grader, the
//!   student's program and an empty `/tmp` — never `solutions/`, another student's files, the
//!   teacher's home or the grade files. Each of the student's processes is started through
//!   [`confine_and_exec`]: Landlock (file-system rules, and the signal scope, so it cannot signal
//!   the checks that watch it) and resource limits (memory, processes, file size, open files,
//!   CPU). After each check, every process the program left behind is killed.
//!
//! The results come back on the in-sandbox runner's standard output, which no student process
//! holds; the grader writes the grade files itself, after every sandbox is gone.
//!
//! The facilities are the kernel's, through well-kept tools: bubblewrap (what Flatpak uses) for
//! the namespaces and the file-system view, the `landlock` crate for Landlock, `setrlimit`.
//! [`probe`] says which are missing; `grade` refuses untrusted work without them unless the
//! teacher passes `--no-sandbox`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::build::{self, Built};

/// Address space of the compiler (rustc needs a good deal).
const BUILD_MEMORY: u64 = 4 << 30;
/// Address space of a student's program: enough for a runtime's threads, not for a flood.
pub const RUN_MEMORY: u64 = 1 << 30;
/// Processes (and threads) a student's program may have at once, inside its sandbox.
pub const RUN_PROCESSES: u64 = 256;
/// The largest file a student's program may write.
pub const RUN_FILE_SIZE: u64 = 64 << 20;
/// Open files per process.
pub const RUN_OPEN_FILES: u64 = 1024;
/// CPU seconds per process (a check lasts a few seconds; a spinning program is caught earlier).
pub const RUN_CPU_SECONDS: u64 = 60;

/// One protection the sandbox uses, and whether this machine has it.
pub struct Protection {
    pub name: &'static str,
    pub stops: &'static str,
    /// Without it, `grade` refuses (unless `--no-sandbox`); without the others it warns.
    pub required: bool,
    pub available: Result<(), String>,
}

/// What this machine offers: bubblewrap with unprivileged user namespaces (required), and
/// Landlock with the signal scope (ABI 6, Linux 6.12; used where present).
pub fn probe() -> Vec<Protection> {
    vec![
        Protection {
            name: "bubblewrap (user, PID, network and IPC namespaces; a private file system view)",
            stops: "reading or changing other files, reaching other programs over the network, \
                    signalling classmates, processes that outlive grading",
            required: true,
            available: probe_bwrap(),
        },
        Protection {
            name: "Landlock ABI 6 or later (file-system rules and signal scoping)",
            stops: "a program stopping the checks that watch it (without it, such a program is \
                    graded `refused`: it harms only its own grade)",
            required: false,
            available: probe_landlock(),
        },
    ]
}

fn probe_bwrap() -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        return Err("namespaces are Linux's: grade on Linux (or in a Linux VM)".into());
    }
    let out = sandbox_command(&[], &[])
        .arg("true")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            format!("cannot run bwrap: {e} (install it: `apt install bubblewrap`)")
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "bwrap cannot create its namespaces here: {} (are unprivileged user namespaces \
             disabled? see kernel.unprivileged_userns_clone, or AppArmor's \
             kernel.apparmor_restrict_unprivileged_userns)",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The running kernel's Landlock ABI version (0 when it has none).
#[cfg(target_os = "linux")]
pub fn landlock_abi() -> i64 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a null attribute, size 0 and this flag, the call only returns the version.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    abi.max(0)
}

#[cfg(not(target_os = "linux"))]
pub fn landlock_abi() -> i64 {
    0
}

fn probe_landlock() -> Result<(), String> {
    match landlock_abi() {
        0 => Err(
            "this kernel has no Landlock (Linux 5.13+, enabled with lsm=…,landlock)"
                .into(),
        ),
        abi if abi < 6 => Err(format!(
            "this kernel's Landlock is ABI {abi}: signal scoping needs ABI 6 (Linux 6.12)"
        )),
        _ => Ok(()),
    }
}

/// `bwrap` with what every sandbox shares: every namespace new (user, PID, network, IPC, UTS,
/// cgroup), killed with its parent, a new session (no terminal to push input into), an
/// environment of three variables, the system's libraries and programs read-only, a private
/// `/proc`, `/dev` and `/tmp`. `binds` adds (host path, sandbox path, writable), `env`
/// variables.
pub fn sandbox_command(
    binds: &[(&Path, &str, bool)],
    env: &[(&str, &str)],
) -> Command {
    let mut command = Command::new("bwrap");
    command.args([
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--ro-bind",
        "/usr",
        "/usr",
    ]);
    // /bin, /lib, /lib64, /sbin: links into /usr on merged systems, folders on others.
    for top in ["/bin", "/lib", "/lib64", "/lib32", "/sbin"] {
        match fs::read_link(top) {
            Ok(target) => {
                command.arg("--symlink").arg(target).arg(top);
            }
            Err(_) if Path::new(top).is_dir() => {
                command.args(["--ro-bind", top, top]);
            }
            Err(_) => {}
        }
    }
    // The few files of /etc a program may read: names of hosts and services, the time zone,
    // and the links that name the system's compiler.
    for file in [
        "/etc/hosts",
        "/etc/nsswitch.conf",
        "/etc/localtime",
        "/etc/services",
        "/etc/protocols",
        "/etc/ld.so.cache",
        // `cc` is /usr/bin/cc → /etc/alternatives/cc → gcc on Debian and Ubuntu.
        "/etc/alternatives",
    ] {
        if Path::new(file).exists() {
            command.args(["--ro-bind", file, file]);
        }
    }
    command.args(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]);
    for (name, value) in env {
        command.args(["--setenv", name, value]);
    }
    for (host, inside, writable) in binds {
        command
            .arg(if *writable { "--bind" } else { "--ro-bind" })
            .arg(host)
            .arg(inside);
    }
    command.arg("--");
    command
}

/// The type of a resource number: glibc's own enum type, a plain int elsewhere.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
type Resource = libc::c_int;

/// Sets each limit, soft and hard alike (a program cannot raise it again). Only `setrlimit`,
/// which is async-signal-safe: it may run between fork and exec.
fn set_limits(limits: &[(Resource, u64)]) -> std::io::Result<()> {
    for &(resource, value) in limits {
        let limit = libc::rlimit {
            rlim_cur: value,
            rlim_max: value,
        };
        // SAFETY: a plain system call on owned data.
        if unsafe { libc::setrlimit(resource, &limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Sets resource limits in the child between fork and exec.
fn with_limits(command: &mut Command, limits: Vec<(Resource, u64)>) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure only calls `set_limits` (setrlimit, async-signal-safe) on owned data.
    unsafe {
        command.pre_exec(move || set_limits(&limits));
    }
}

/// What a sandboxed build needs: the compiler and the libraries, and nothing else.
pub struct Toolkit {
    /// The toolchain's root (`rustc --print sysroot`), bound read-only.
    sysroot: PathBuf,
    /// The libraries, copied out of the target directory: `lib*.rlib`, `lib*.rmeta`, and the
    /// proc-macro `lib*.so` files, and nothing else.
    deps: PathBuf,
    /// `--extern NAME=FILE` for each crate a program may `use` (file names inside `deps`).
    externs: Vec<(String, String)>,
}

impl Toolkit {
    /// Builds the workbook's libraries once (trusted code only: the workbook and its
    /// dependencies, with a starter as the program) and copies them into `dir/deps`.
    pub fn prepare(dir: &Path, placeholder: &Path) -> anyhow::Result<Toolkit> {
        let (target_dir, _profile_dir, profile) = build::target_and_profile()?;
        let mut bins = BTreeMap::new();
        bins.insert("xc_toolkit".to_string(), placeholder.to_path_buf());
        let scratch = build::write_scratch(&target_dir, &bins)?;
        let out =
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args([
                    "build",
                    "--offline",
                    "--message-format=json",
                    "--profile",
                    &profile,
                ])
                .arg("--manifest-path")
                .arg(scratch.join("Cargo.toml"))
                .arg("--target-dir")
                .arg(&target_dir)
                .stdin(Stdio::null())
                .stderr(Stdio::piped())
                .output()
                .context("cannot run cargo")?;
        if !out.status.success() {
            bail!(
                "cannot build the workbook's libraries for the sandbox:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let deps = dir.join("deps");
        let _ = fs::remove_dir_all(&deps);
        fs::create_dir_all(&deps)
            .with_context(|| format!("cannot create {}", deps.display()))?;
        let wanted = build::direct_crates()?;
        let mut externs = Vec::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if message["reason"] != "compiler-artifact" {
                continue;
            }
            let kinds = message["target"]["kind"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let is_lib = kinds
                .iter()
                .any(|k| matches!(k.as_str(), Some("lib" | "rlib" | "proc-macro")));
            if !is_lib {
                continue;
            }
            let name = message["target"]["name"]
                .as_str()
                .unwrap_or("")
                .replace('-', "_");
            for file in message["filenames"].as_array().into_iter().flatten() {
                let Some(file) = file.as_str().map(PathBuf::from) else {
                    continue;
                };
                let Some(base) = file.file_name() else {
                    continue;
                };
                let copy = deps.join(base);
                if fs::hard_link(&file, &copy).is_err() {
                    fs::copy(&file, &copy)
                        .with_context(|| format!("cannot copy {}", file.display()))?;
                }
                let base = base.to_string_lossy().into_owned();
                if wanted.contains(&name)
                    && (base.ends_with(".rlib") || base.ends_with(".so"))
                {
                    externs.retain(|(n, _): &(String, String)| n != &name);
                    externs.push((name.clone(), base));
                }
            }
        }
        for name in &wanted {
            if !externs.iter().any(|(n, _)| n == name) {
                bail!("the sandbox's toolkit has no library for `{name}`");
            }
        }
        let sysroot = Command::new("rustc")
            .args(["--print", "sysroot"])
            .output()
            .context("cannot run rustc")?;
        let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
        if !sysroot.join("bin").join("rustc").is_file() {
            bail!("cannot find the compiler in {}", sysroot.display());
        }
        Ok(Toolkit {
            sysroot,
            deps,
            externs,
        })
    }

    /// Builds one student's file in a sandbox of its own: a copy of the file in `work/src`,
    /// the program in `work/out/program`. Compiler messages name the file as `display`.
    pub fn build(
        &self,
        source: &Path,
        work: &Path,
        display: &str,
        limit: Duration,
    ) -> Built {
        match self.try_build(source, work, display, limit) {
            Ok(built) => built,
            Err(err) => Built::Refused(format!("{err:#}")),
        }
    }

    fn try_build(
        &self,
        source: &Path,
        work: &Path,
        display: &str,
        limit: Duration,
    ) -> anyhow::Result<Built> {
        let src = work.join("src");
        let out = work.join("out");
        let _ = fs::remove_dir_all(work);
        fs::create_dir_all(&src)?;
        fs::create_dir_all(&out)?;
        fs::copy(source, src.join("main.rs"))
            .with_context(|| format!("cannot copy {display}"))?;
        let sysroot = self.sysroot.to_string_lossy().into_owned();
        let mut command = sandbox_command(
            &[
                (&self.sysroot, &sysroot, false),
                (&self.deps, "/grader/deps", false),
                (&src, "/grader/src", false),
                (&out, "/grader/out", true),
            ],
            &[
                // What cargo tells a crate about itself (`#[command(version)]` reads these).
                ("CARGO_PKG_NAME", "exercise"),
                ("CARGO_PKG_VERSION", "0.0.0"),
                ("CARGO_PKG_VERSION_MAJOR", "0"),
                ("CARGO_PKG_VERSION_MINOR", "0"),
                ("CARGO_PKG_VERSION_PATCH", "0"),
                ("CARGO_PKG_VERSION_PRE", ""),
                ("CARGO_PKG_AUTHORS", ""),
                ("CARGO_PKG_DESCRIPTION", ""),
                ("CARGO_PKG_HOMEPAGE", ""),
                ("CARGO_PKG_REPOSITORY", ""),
                ("CARGO_PKG_LICENSE", ""),
                ("CARGO_PKG_LICENSE_FILE", ""),
                ("CARGO_PKG_RUST_VERSION", ""),
                ("CARGO_PKG_README", ""),
                ("CARGO_CRATE_NAME", "program"),
                ("CARGO_BIN_NAME", "program"),
                ("CARGO_MANIFEST_DIR", "/grader/src"),
                ("CARGO_MANIFEST_PATH", "/grader/src/Cargo.toml"),
            ],
        );
        command
            .arg(self.sysroot.join("bin").join("rustc"))
            .args([
                "--edition=2024",
                "--crate-type=bin",
                "--crate-name=program",
                "--error-format=human",
                "--color=never",
                // As cargo's dev profile: the checks see what `cargo run` gives the student
                // (overflow checks included), without debug information (smaller, faster).
                "-Copt-level=0",
                "-Cdebug-assertions=on",
                "-Coverflow-checks=on",
                "-Cdebuginfo=0",
                "-Lnative=/grader/deps",
                "-Ldependency=/grader/deps",
            ])
            .args(
                self.externs.iter().map(|(name, file)| {
                    format!("--extern={name}=/grader/deps/{file}")
                }),
            )
            .args(["-o", "/grader/out/program", "/grader/src/main.rs"]);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        with_limits(
            &mut command,
            vec![
                (libc::RLIMIT_AS, BUILD_MEMORY),
                (libc::RLIMIT_FSIZE, 1 << 30),
                (libc::RLIMIT_CORE, 0),
            ],
        );
        let (status, stderr) = run_bounded(command, limit, 256 * 1024)?;
        let messages =
            String::from_utf8_lossy(&stderr).replace("/grader/src/main.rs", display);
        let program = out.join("program");
        match status {
            None => Ok(Built::Refused(format!(
                "the build ran longer than {} s and was stopped (an endless constant \
                 evaluation or macro?)",
                limit.as_secs()
            ))),
            Some(true) if program.is_file() => Ok(Built::Exe {
                program,
                warnings: messages,
            }),
            _ => Ok(Built::CompileError(messages)),
        }
    }
}

/// Runs `command` with its stderr captured (at most `cap` bytes kept), killed after `limit`.
/// Returns (`Some(success)`, or `None` when it ran out of time; stderr).
pub fn run_bounded(
    mut command: Command,
    limit: Duration,
    cap: usize,
) -> anyhow::Result<(Option<bool>, Vec<u8>)> {
    let mut child = command.spawn().context("cannot start bwrap")?;
    let stderr = child.stderr.take();
    let reader = thread::spawn(move || {
        let mut kept = Vec::new();
        if let Some(mut stderr) = stderr {
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
        kept
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status.success());
        }
        if started.elapsed() > limit {
            // bwrap runs the build in a PID namespace: killing it ends everything inside.
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(20));
    };
    let stderr = reader.join().unwrap_or_default();
    Ok((status, stderr))
}

/// The in-sandbox side: `check __confine -- PROGRAM ARGS…` applies Landlock and the resource
/// limits to itself, then becomes the student's program (`exec`). Landlock is inherited by
/// every process the program starts, and cannot be undone.
///
/// What it allows: read and execute the system's files (`/usr`, `/etc`'s few, `/proc` of its
/// own processes) and the program; read and write `/tmp` (private to this student's sandbox).
/// What it stops: every other file, and (ABI 6) sending a signal to, or connecting to an
/// abstract socket of, any process outside its own domain — the runner that watches it.
#[cfg(target_os = "linux")]
pub fn confine_and_exec(program: &Path, args: &[String]) -> anyhow::Result<()> {
    use landlock::{
        ABI, Access, AccessFs, CompatLevel, Compatible, Ruleset, RulesetAttr,
        RulesetCreatedAttr, Scope, path_beneath_rules,
    };
    use std::os::unix::process::CommandExt;

    let abi = ABI::V6;
    let read = AccessFs::from_read(abi);
    let all = AccessFs::from_all(abi);
    let readable: Vec<&str> =
        ["/usr", "/bin", "/lib", "/lib64", "/etc", "/proc", "/dev"]
            .into_iter()
            .filter(|p| Path::new(p).exists())
            .collect();
    let status = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)?
        .scope(Scope::Signal | Scope::AbstractUnixSocket)?
        .create()?
        .add_rules(path_beneath_rules(readable, read))?
        .add_rules(path_beneath_rules([program], read))?
        .add_rules(path_beneath_rules(["/tmp"], all))?
        .add_rules(path_beneath_rules(["/dev/null"], all))?
        .restrict_self()
        .context("cannot apply Landlock")?;
    let _ = status; // Best effort: `probe` said before grading what this kernel enforces.
    set_limits(&[
        (libc::RLIMIT_AS, RUN_MEMORY),
        (libc::RLIMIT_NPROC, RUN_PROCESSES),
        (libc::RLIMIT_FSIZE, RUN_FILE_SIZE),
        (libc::RLIMIT_NOFILE, RUN_OPEN_FILES),
        (libc::RLIMIT_CPU, RUN_CPU_SECONDS),
        (libc::RLIMIT_CORE, 0),
    ])
    .context("cannot set a limit")?;
    let err = Command::new(program).args(args).exec();
    Err(err).with_context(|| format!("cannot start {}", program.display()))
}

#[cfg(not(target_os = "linux"))]
pub fn confine_and_exec(program: &Path, args: &[String]) -> anyhow::Result<()> {
    let _ = (program, args);
    bail!("the sandbox is Linux's")
}

/// Inside the runs' sandbox, after each check: kills every process but the sandbox's init
/// (PID 1) and this runner. The PID namespace holds only this student's processes, so
/// whatever the program left behind — a daemon, a child that changed its process group — is
/// found here.
#[cfg(target_os = "linux")]
pub fn kill_strays() {
    let me = std::process::id();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != 1 && pid != me {
            // SAFETY: a plain system call.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub fn kill_strays() {}

/// Makes this process's memory and descriptors unreadable to processes of the same user
/// (`/proc/PID/fd`, `/proc/PID/mem`, ptrace): a student's program cannot write into the
/// runner's standard output even where Landlock is missing.
#[cfg(target_os = "linux")]
pub fn not_dumpable() {
    // SAFETY: a plain system call.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

#[cfg(not(target_os = "linux"))]
pub fn not_dumpable() {}
