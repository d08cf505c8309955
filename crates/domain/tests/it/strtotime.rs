//! The differential test of time expressions against PHP's `strtotime` (SPEC §3).
//!
//! `tests/strtotime/corpus.tsv` holds thousands of (expression, zone, now) cases with PHP's own
//! answers, written by `gen_corpus.py | php oracle.php` (see `gen_corpus.py`). The first test
//! compares Clicktrail with the stored answers on any machine; the second runs PHP itself on the
//! same cases (CI installs `php-cli` and sets `PHP_ORACLE=required`, so a missing PHP fails
//! there instead of passing quietly).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::str::FromStr;

use chrono_tz::Tz;
use clicktrail_domain::timeexpr::strtotime;

struct Case {
    line: String,
    expression: String,
    zone: Tz,
    now: i64,
    php: Option<i64>,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/strtotime")
}

fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn read_cases(text: &str) -> Vec<Case> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 4, "a corpus line has four columns: {line:?}");
            Case {
                line: cols[..3].join("\t"),
                expression: unescape(cols[0]),
                zone: Tz::from_str(cols[1]).unwrap_or_else(|_| panic!("zone {}", cols[1])),
                now: cols[2].parse().unwrap(),
                php: if cols[3] == "false" { None } else { Some(cols[3].parse().unwrap()) },
            }
        })
        .collect()
}

fn corpus() -> Vec<Case> {
    read_cases(&std::fs::read_to_string(dir().join("corpus.tsv")).unwrap())
}

/// Compares Clicktrail with the answers of `cases`; panics listing the differences.
fn compare(cases: &[Case], source: &str) {
    let differences: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let ours = strtotime(&case.expression, case.now, case.zone);
            (ours != case.php).then(|| {
                format!("{:?} in {} at {}: php {:?}, ours {:?}", case.expression, case.zone, case.now, case.php, ours)
            })
        })
        .collect();
    println!("strtotime: compared {} cases with {source}: {} differences", cases.len(), differences.len());
    assert!(
        differences.is_empty(),
        "{} of {} cases differ from {source}:\n{}",
        differences.len(),
        cases.len(),
        differences.join("\n")
    );
}

#[test]
fn every_case_matches_the_answer_php_gave() {
    let cases = corpus();
    assert!(cases.len() >= 2_000, "the corpus has {} cases", cases.len());
    assert!(cases.iter().filter(|c| c.php.is_none()).count() >= 50, "the corpus keeps cases PHP refuses");
    compare(&cases, "the stored PHP answers");
}

#[test]
fn php_itself_agrees_on_every_case() {
    let required = std::env::var("PHP_ORACLE").is_ok_and(|v| v == "required");
    let spawned =
        Command::new("php").arg(dir().join("oracle.php")).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if !required => {
            eprintln!("strtotime: php not found ({e}); the stored answers were compared instead");
            return;
        }
        Err(e) => panic!("PHP_ORACLE=required is set but php cannot run: {e}"),
    };
    let cases = corpus();
    let input: String = cases.iter().map(|c| format!("{}\n", c.line)).collect();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "php failed: {}", String::from_utf8_lossy(&output.stderr));
    let live = read_cases(&String::from_utf8(output.stdout).unwrap());
    assert_eq!(live.len(), cases.len(), "php answered every case");
    compare(&live, "PHP itself");
}
