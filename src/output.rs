//! One output handle for every command: the report (standard output),
//! problems and progress (standard error), and what the terminal allows
//! (redrawing a progress line, its width, colour). The command line builds
//! it once from the process's streams ([`Output::stdio`]); a test builds it
//! over two buffers ([`Output::plain`]) and reads what a command wrote.
use std::io::{IsTerminal as _, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Where a command writes and how.
pub struct Output<'a> {
    /// The report: diffs, objects, one line per object applied.
    pub out: &'a mut dyn Write,
    /// Problems, warnings and progress.
    pub err: &'a mut dyn Write,
    /// `err` is a terminal: progress redraws one line.
    pub tty: bool,
    /// Colour on `out` (a terminal, and `NO_COLOR` unset).
    pub color: bool,
    /// Columns of the terminal `err` is, when it is one: a redrawn
    /// progress line is cut to fit, or it would wrap and pile up.
    pub width: Option<usize>,
}

impl<'a> Output<'a> {
    /// Over any writers: no terminal, no colour.
    pub fn plain(out: &'a mut dyn Write, err: &'a mut dyn Write) -> Output<'a> {
        Output {
            out,
            err,
            tty: false,
            color: false,
            width: None,
        }
    }

    /// Over the process's standard output and error (writers the caller
    /// owns, e.g. `std::io::stdout()`), with what the terminal allows:
    /// colour as anstream decides it (a terminal; `NO_COLOR`,
    /// `CLICOLOR_FORCE`, `TERM=dumb` honoured), the width from the terminal.
    pub fn stdio(out: &'a mut dyn Write, err: &'a mut dyn Write) -> Output<'a> {
        let color =
            anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never;
        let tty = std::io::stderr().is_terminal();
        let width = terminal_size::terminal_size_of(std::io::stderr())
            .map(|(w, _)| usize::from(w.0))
            .filter(|w| *w > 0 && tty);
        Output {
            out,
            err,
            tty,
            color,
            width,
        }
    }

    /// The same handle for a callee.
    pub fn reborrow(&mut self) -> Output<'_> {
        Output {
            out: &mut *self.out,
            err: &mut *self.err,
            tty: self.tty,
            color: self.color,
            width: self.width,
        }
    }
}

/// Set once a write to standard output (0) or error (1) found the reader gone.
static PIPE_CLOSED: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];

/// The process's standard output or error for the [`Output`] handle: when
/// its reader has gone (`kubectl tingyun ... | head`), further output to it
/// is dropped instead of failing the command with "Broken pipe", and
/// [`pipe_closed`] says so; the command line then ends the process the way
/// kubectl and cat end (killed by SIGPIPE: status 141 in a shell).
pub struct Std<W: Write> {
    inner: W,
    closed: &'static AtomicBool,
}

/// Standard output, see [`Std`].
pub fn stdout() -> Std<std::io::Stdout> {
    Std {
        inner: std::io::stdout(),
        closed: &PIPE_CLOSED[0],
    }
}

/// Standard error, see [`Std`].
pub fn stderr() -> Std<std::io::Stderr> {
    Std {
        inner: std::io::stderr(),
        closed: &PIPE_CLOSED[1],
    }
}

/// Did a write to standard output or error find its reader gone?
pub fn pipe_closed() -> bool {
    PIPE_CLOSED.iter().any(|c| c.load(Ordering::Relaxed))
}

impl<W: Write> Std<W> {
    fn gone<T>(&self, r: std::io::Result<T>, done: T) -> std::io::Result<T> {
        match r {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed.store(true, Ordering::Relaxed);
                Ok(done)
            }
            other => other,
        }
    }
}

impl<W: Write> Write for Std<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed.load(Ordering::Relaxed) {
            return Ok(buf.len());
        }
        let r = self.inner.write(buf);
        self.gone(r, buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.closed.load(Ordering::Relaxed) {
            return Ok(());
        }
        let r = self.inner.flush();
        self.gone(r, ())
    }
}

/// `line` cut to `width` columns (one column per character; an ellipsis
/// marks the cut), so that a redrawn progress line never wraps.
pub fn fit(line: &str, width: Option<usize>) -> String {
    match width {
        Some(w) if line.chars().count() > w => {
            let keep = w.saturating_sub(1);
            let mut cut: String = line.chars().take(keep).collect();
            if w > 0 {
                cut.push('…');
            }
            cut
        }
        _ => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_fit_the_terminal() {
        let line =
            "waiting: daemonset/tingyun-agent 1/3 ready, deployment/tingyun-operator 0/1 ready";
        let cut = fit(line, Some(40));
        assert_eq!(cut.chars().count(), 40);
        assert!(cut.ends_with('…') && line.starts_with(cut.trim_end_matches('…')));
        assert_eq!(fit(line, None), line);
        assert_eq!(fit("short", Some(80)), "short");
    }

    #[test]
    fn a_plain_handle_collects_what_a_command_writes() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut o = Output::plain(&mut out, &mut err);
        writeln!(o.reborrow().out, "report").unwrap();
        writeln!(o.err, "problem").unwrap();
        assert!(!o.tty && !o.color && o.width.is_none());
        assert_eq!(out, b"report\n");
        assert_eq!(err, b"problem\n");
    }
}
