//! The README's tour and demo, pasted (issue 10, items 1 and 2): every command of their shell blocks runs, in
//! order, in one bash against the real binary on a fresh directory, and what each prints
//! matches the README's `# → …` lines (`…` standing for anything). A command with no such line
//! must succeed without an error body. Two deviations from a person's paste, neither changing
//! what a command does: `cargo run --release --locked --` runs the already built binary, and
//! port 8080 becomes a free port (tests run side by side).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One command of the tour, with the lines the README says it prints.
#[derive(Debug)]
struct Step {
    command: String,
    expected: Vec<String>,
}

fn readme() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    std::fs::read_to_string(path).expect("README.md")
}

/// The shell blocks of the section from `from` up to the heading `until`.
fn blocks(text: &str, from: &str, until: &str) -> Vec<String> {
    let start = text.find(from).expect("tour heading");
    let end = start + text[start..].find(until).expect("end of the tour");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text[start..end].lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// Splits a block into commands: a command continues while a line ends with `\` or a single
/// quote is open; `# → x` lines (or a trailing `  # → x`) are what the command before prints.
fn steps(block: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut open: Option<String> = None;
    for line in block.lines() {
        if let Some(command) = &mut open {
            command.push('\n');
            command.push_str(line);
        } else {
            let trimmed = line.trim_start();
            if let Some(expected) = trimmed.strip_prefix("# → ") {
                steps.last_mut().expect("an output line after a command").expected.push(expected.to_owned());
                continue;
            }
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let (command, inline) = match line.split_once("  # → ") {
                Some((c, e)) => (c.trim_end().to_owned(), Some(e.to_owned())),
                None => (line.to_owned(), None),
            };
            open = Some(command);
            if let Some(e) = inline {
                steps.push(Step { command: open.take().unwrap_or_default(), expected: vec![e] });
                continue;
            }
        }
        let command = open.as_deref().unwrap_or("");
        let quotes = command.matches('\'').count();
        if !command.ends_with('\\') && quotes.is_multiple_of(2) {
            steps.push(Step { command: open.take().unwrap_or_default(), expected: Vec::new() });
        }
    }
    assert!(open.is_none(), "a command is left open: {open:?}");
    steps
}

/// Whether `line` is what `pattern` describes (`…` matches any text).
fn matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split('…').collect();
    let mut rest = line;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else { return false };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else { return false };
            rest = &rest[at + part.len()..];
        }
    }
    rest.is_empty()
}

#[test]
fn the_readme_tour_works_when_pasted() {
    let text = readme();
    let steps: Vec<Step> =
        blocks(&text, "## A five-minute tour", "## Tracking").iter().flat_map(|b| steps(b)).collect();
    assert!(steps.len() > 25, "the tour has {} commands", steps.len());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut script = String::from(
        r#"cargo() {
  if [ "$1 $2 $3 $4" = "run --release --locked --" ]; then
    shift 4
    if [ "$BASHPID" != "$$" ]; then exec "$TOUR_BIN" "$@"; else "$TOUR_BIN" "$@"; fi
  else
    command cargo "$@"
  fi
}
"#,
    );
    for (i, step) in steps.iter().enumerate() {
        let command = step.command.replace("localhost:8080", &format!("localhost:{port}"));
        script.push_str(&format!("printf '\\n@@CMD {i}\\n'\n{command}\nprintf '\\n@@STATUS {i} %d\\n' \"$?\"\n"));
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("bash");
    for (key, _) in std::env::vars() {
        if key.starts_with("CLICKTRAIL_") {
            cmd.env_remove(key);
        }
    }
    let mut child = cmd
        .args(["-c", &script])
        .current_dir(dir.path())
        .env("TOUR_BIN", env!("CARGO_BIN_EXE_clicktrail"))
        .env("CLICKTRAIL_LISTEN", format!("127.0.0.1:{port}"))
        .env("CLICKTRAIL_GEOIP_AUTO_INSTALL", "false")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).ok();
        out
    });
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the tour did not finish in 300 s: {}", reader.join().unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = reader.join().unwrap();
    let mut err = String::new();
    child.stderr.take().map(|mut e| e.read_to_string(&mut err));
    assert!(status.success(), "the tour's shell failed: {out}\n{err}");

    for (i, step) in steps.iter().enumerate() {
        let begin = format!("\n@@CMD {i}\n");
        let start =
            out.find(&begin).unwrap_or_else(|| panic!("command {i} never ran: {}\n{out}", step.command)) + begin.len();
        let end = start + out[start..].find(&format!("\n@@STATUS {i} ")).expect("its status");
        let printed = &out[start..end];
        let code = out[end..].lines().nth(1).and_then(|l| l.rsplit(' ').next()).unwrap_or("?").to_owned();
        assert_eq!(code, "0", "`{}` failed ({code}): {printed}\n{err}", step.command);
        let lines: Vec<&str> = printed.lines().collect();
        let mut from = 0;
        for expected in &step.expected {
            let at = lines[from..].iter().position(|l| matches(expected, l.trim_end()));
            let at = at.unwrap_or_else(|| {
                panic!("`{}` printed\n{printed}\nnot\n{expected}\n\nThe whole tour:\n{out}", step.command)
            });
            from += at + 1;
        }
        let says_error = printed.contains("\"error\":{") || printed.contains("error_code");
        assert!(!says_error || !step.expected.is_empty(), "`{}` answered an error: {printed}", step.command);
    }
    assert!(dir.path().join("tour-data/events.db").is_file() && dir.path().join("demo-data/events.db").is_file());
}

#[test]
fn the_output_patterns_read_as_meant() {
    assert!(matches("{\"id\":1,…,\"name\":\"A\"}", "{\"id\":1,\"x\":2,\"name\":\"A\"}"));
    assert!(matches("location: https://x/?cid=…&s1=fb", "location: https://x/?cid=0190&s1=fb"));
    assert!(!matches("{\"id\":1,…}", "{\"id\":12}x"));
    assert!(!matches("HTTP/1.1 302 Found", "HTTP/1.1 404 Not Found"));
    let parsed = steps("# c\ncurl a \\\n  -d '{\n}'\n# → {…}\necho x  # → x\n");
    assert_eq!(parsed.len(), 2);
    assert_eq!(parsed[0].expected, ["{…}"]);
    assert_eq!(parsed[1].command, "echo x");
}
