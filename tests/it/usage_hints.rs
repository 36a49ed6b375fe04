//! Two easy mistakes get a hint instead of a surprise: `patch -o yaml`
//! (would write a file named `yaml`) and `--pull-secret NAME` with a space.

use crate::support::{bin, fixture_copy, stderr};

#[test]
fn output_format_words_are_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let file = fixture_copy(dir.path(), "tingyunagent.yaml");
    let before = std::fs::read(&file).unwrap();
    for word in ["yaml", "json", "name", "wide"] {
        let out = bin()
            .current_dir(dir.path())
            .args(["patch", "tingyunagent.yaml", "-o", word])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "-o {word}");
        let err = stderr(&out);
        assert!(err.contains(&format!("--output=./{word}")), "{err}");
        assert!(!dir.path().join(word).exists(), "-o {word} wrote a file");
    }
    assert_eq!(std::fs::read(&file).unwrap(), before);
    // the explicit path form still works
    let out = bin()
        .current_dir(dir.path())
        .args(["patch", "tingyunagent.yaml", "--output=./yaml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("yaml").exists());
}

#[test]
fn a_value_after_a_space_to_an_optional_value_flag_suggests_equals() {
    let dir = tempfile::tempdir().unwrap();
    fixture_copy(dir.path(), "tingyunagent.yaml");
    for (args, hint) in [
        (
            vec!["patch", "tingyunagent.yaml", "--pull-secret", "my-secret"],
            "--pull-secret=my-secret",
        ),
        (
            vec![
                "patch",
                "--inject-pull-secret",
                "my-secret",
                "tingyunagent.yaml",
            ],
            "--inject-pull-secret=my-secret",
        ),
        (
            vec!["patch", "--pull-secret", "my-secret"],
            "--pull-secret=my-secret",
        ),
        (
            vec!["apply", "tingyunagent.yaml", "--dry-run", "server"],
            "--dry-run=server",
        ),
    ] {
        let out = bin().current_dir(dir.path()).args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = stderr(&out);
        assert!(err.contains(hint), "{args:?}: no hint {hint}:\n{err}");
    }
    // a bare flag before the file is fine and gets no hint
    let out = bin()
        .current_dir(dir.path())
        .args(["patch", "--pull-secret", "tingyunagent.yaml", "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("hint:"));
}
