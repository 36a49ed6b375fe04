//! Hints for two easy command-line mistakes:
//! * `--pull-secret NAME` (space): flags whose value is optional take it only
//!   after `=`, so NAME became a separate argument;
//! * `patch -o yaml`: `-o` is the output *path* of `patch`, not a format.
use clap::Command;

/// Words that `-o` takes as a format in kubectl; as a `patch` output path
/// they are almost always a mistake.
pub const FORMAT_WORDS: [&str; 4] = ["yaml", "json", "name", "wide"];

/// When the command line has `--flag WORD` for a flag whose value is
/// optional (`--flag[=VALUE]`), say how to write it. `argv` excludes the
/// program name.
pub fn space_instead_of_equals(root: &Command, argv: &[String]) -> Option<String> {
    let mut cmd = root;
    let mut hints = Vec::new();
    for (i, w) in argv.iter().enumerate() {
        if let Some(sub) = cmd.find_subcommand(w) {
            cmd = sub;
            continue;
        }
        let Some(long) = w.strip_prefix("--") else {
            continue;
        };
        let Some(arg) = cmd.get_arguments().find(|a| a.get_long() == Some(long)) else {
            continue;
        };
        let optional = arg.get_num_args().is_some_and(|n| n.min_values() == 0);
        if !optional || !arg.is_require_equals_set() {
            continue;
        }
        let Some(next) = argv.get(i + 1) else {
            continue;
        };
        if next.starts_with('-') || std::path::Path::new(next).exists() {
            continue;
        }
        let possible = arg.get_possible_values();
        if !possible.is_empty() && !possible.iter().any(|p| p.matches(next, false)) {
            continue;
        }
        hints.push(format!(
            "hint: --{long} takes its value only after '=': write --{long}={next} \
             (\"--{long} {next}\" means --{long} with its default and {next:?} as a separate argument)"
        ));
    }
    (!hints.is_empty()).then(|| hints.join("\n"))
}

/// `patch -o yaml` and friends: refuse, since the file would be named `yaml`.
pub fn output_format_word(output: Option<&str>) -> Option<String> {
    let out = output?;
    FORMAT_WORDS.contains(&out).then(|| {
        format!(
            "-o/--output of `patch` is the path to write the result to, not an output format: \
             -o {out} would create a file named {out:?}.\n\
             hint: the result is YAML already; use -o - for standard output, or --output=./{out} \
             if you really mean a file named {out:?}"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_words_are_refused_paths_are_not() {
        assert!(output_format_word(Some("yaml")).is_some());
        assert!(output_format_word(Some("wide")).is_some());
        assert!(output_format_word(Some("./yaml")).is_none());
        assert!(output_format_word(Some("out.yaml")).is_none());
        assert!(output_format_word(None).is_none());
    }
}
