//! Progress on stderr: a spinner with elapsed time on a terminal, plain
//! lines (on each state change, and once a minute) otherwise.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct Reporter {
    inner: Arc<Inner>,
}

struct Inner {
    quiet: bool,
    verbose: bool,
    multi: Option<MultiProgress>,
}

impl Reporter {
    pub fn new(quiet: bool, verbose: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        Reporter {
            inner: Arc::new(Inner {
                quiet,
                verbose,
                multi: (tty && !quiet).then(MultiProgress::new),
            }),
        }
    }

    /// A log line (not shown with -q).
    pub fn info(&self, line: &str) {
        if self.inner.quiet {
            return;
        }
        match &self.inner.multi {
            Some(m) => {
                let _ = m.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    /// A line shown only with -v.
    pub fn debug(&self, line: &str) {
        if self.inner.verbose {
            self.info(line);
        }
    }

    pub fn is_verbose(&self) -> bool {
        self.inner.verbose
    }

    /// One long-running task, e.g. `apim-src: create`.
    pub fn task(&self, label: &str) -> Task {
        let bar = self.inner.multi.as_ref().map(|m| {
            let b = m.add(ProgressBar::new_spinner());
            b.set_style(
                ProgressStyle::with_template("{spinner} {prefix} [{elapsed_precise}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.set_prefix(label.to_string());
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        Task {
            reporter: self.clone(),
            label: label.to_string(),
            bar,
            started: Instant::now(),
            last: Mutex::new((String::new(), Instant::now())),
        }
    }
}

pub struct Task {
    reporter: Reporter,
    label: String,
    bar: Option<ProgressBar>,
    started: Instant,
    last: Mutex<(String, Instant)>,
}

impl Task {
    pub fn state(&self, state: &str) {
        if let Some(b) = &self.bar {
            b.set_message(state.to_string());
            return;
        }
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.0 != state || last.1.elapsed() >= Duration::from_secs(60) {
            self.reporter.info(&format!(
                "{}: {state} (elapsed {})",
                self.label,
                fmt_elapsed(self.started.elapsed())
            ));
            *last = (state.to_string(), Instant::now());
        }
    }

    pub fn finish(&self, message: &str) {
        let line = format!("{}: {message} (after {})", self.label, fmt_elapsed(self.started.elapsed()));
        match &self.bar {
            Some(b) => b.finish_with_message(message.to_string()),
            None => self.reporter.info(&line),
        }
    }
}

pub fn fmt_elapsed(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// Parses `90s`, `30m`, `2h`, `30d`, `1h30m`. A number without a unit
/// is refused: `--max-age 30` meant 30 days to the user who lost backups
/// to it, and 30 seconds to the tool.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{t}' has no unit: {t} what? write {t}d for days, or {t}h, {t}m, {t}s"));
    }
    let mut total = 0u64;
    let mut num = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().map_err(|_| format!("'{text}' is not a duration (try 90s, 30m, 2h)"))?;
        num.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => return Err(format!("'{text}' is not a duration (try 90s, 30m, 2h)")),
        };
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| too_long(text))?;
    }
    if !num.is_empty() || t.is_empty() {
        return Err(format!("'{text}' is not a duration (try 90s, 30m, 2h)"));
    }
    capped(total, text)
}

/// The longest duration any flag takes: ten years. Longer ones are typos,
/// and deadlines and ages computed from them must not overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 366 * 86400);

fn capped(secs: u64, text: &str) -> Result<Duration, String> {
    let d = Duration::from_secs(secs);
    if d > MAX_DURATION {
        return Err(too_long(text));
    }
    Ok(d)
}

fn too_long(text: &str) -> String {
    format!("'{text}' is longer than the 10 years (3660d) a duration may be")
}

/// Libraries report through this: lines, tasks, and operations as they start.
impl arm_client::Observer for Reporter {
    fn info(&self, line: &str) {
        Reporter::info(self, line)
    }

    fn task(&self, label: &str) -> Box<dyn arm_client::TaskObserver + '_> {
        Box::new(Reporter::task(self, label))
    }

    /// Recorded in the state directory the moment Azure accepted it, so a
    /// run killed outright (kill -9, a lost CI runner) leaves a way back;
    /// the document itself is printed only when there is something to
    /// resume (a stop, --no-wait).
    fn started(&self, label: &str, resume: &serde_json::Value) {
        let binary = crate::session::resumed_by(resume);
        match crate::record::started(resume) {
            Some(path) => self.debug(&format!(
                "{label}: started; recorded in {} ({binary} --resume takes it from there if this run dies)",
                path.display()
            )),
            // No state directory: the log is the only record left.
            None => self.info(&format!(
                "{label}: started; if this run dies, resume it with: echo '{resume}' | {binary} --resume"
            )),
        }
    }

    fn ended(&self, op: &arm_client::PendingOperation) {
        crate::record::ended(op);
    }
}

impl arm_client::TaskObserver for Task {
    fn state(&self, state: &str) {
        Task::state(self, state)
    }

    fn finish(&self, outcome: &str) {
        Task::finish(self, outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1s").unwrap(), Duration::from_secs(1));
        let e = parse_duration("30").unwrap_err();
        assert!(e.contains("30 what? write 30d"), "{e}");
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172800));
        assert_eq!(parse_duration("3660d").unwrap(), MAX_DURATION);
        for bad in [
            "",
            "h",
            "5x",
            "1h5",
            "-3s",
            "18446744073709551615",
            "18446744073709551615s",
            "3661d",
            "99999999999999999d",
            "1h99999999999999999999s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn elapsed_format() {
        assert_eq!(fmt_elapsed(Duration::from_secs(3725)), "1:02:05");
    }
}
