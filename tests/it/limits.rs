//! No parser limits: documents far longer than tree-sitter's 32,767 lines
//! are edited (a `kind: List` item by item, any other document whole by the
//! project's span scanner), nesting deeper than any
//! manifest is refused cleanly at its position (exit 1, never the C
//! assertion's abort), nothing hangs. Results are judged by PyYAML
//! (tests/it/support/meaning.py) and by plain line comparison.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::*;

fn args(file: &Path, extra: &[&str]) -> Vec<String> {
    let mut v = vec!["patch".to_string(), file.display().to_string()];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// A `kind: List` of `n` Deployments (29 lines each) and one ServiceAccount.
fn long_list(n: usize) -> String {
    let mut s =
        String::from("apiVersion: v1\nkind: List\nmetadata:\n  resourceVersion: \"\"\nitems:\n");
    s.push_str("- apiVersion: v1\n  kind: ServiceAccount\n  metadata:\n    name: agent\n");
    for i in 0..n {
        s.push_str(&format!(
            "- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: app-{i}
    namespace: ns-{ns}
    labels:
      app: app-{i}
  spec:
    replicas: 1
    selector:
      matchLabels:
        app: app-{i}
    template:
      metadata:
        labels:
          app: app-{i}
      spec:
        containers:
        - name: main
          image: nginx:1.{i}
          ports:
          - containerPort: 80
          env:
          - name: A
            value: \"{i}\"
        # a comment inside item {i}
        - name: side
          image: \"docker.io/library/busybox:1.36\"
          args: [sleep, \"3600\"]
",
            ns = i % 7
        ));
    }
    s
}

#[test]
fn a_list_of_100_000_lines_is_edited_item_by_item() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("list.yaml");
    let output = dir.path().join("out.yaml");
    let n = 3_500;
    let text = long_list(n);
    assert!(text.lines().count() > 100_000);
    fs::write(&input, &text).unwrap();
    let edit = [
        "--registry",
        "harbor.example.com:5000/apm",
        "--pull-secret",
        "--annotation",
        "example.com/team=apm",
    ];
    let mut a = args(&input, &edit);
    a.extend(["-o".into(), output.display().to_string()]);
    let o = run(dir.path(), &a, None);
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o.stderr));
    let out = fs::read_to_string(&output).unwrap();

    // Every image line, and only those, changed among the input's lines;
    // the rest of the output is the inserted lines (annotations, secret).
    let before: Vec<&str> = text.lines().collect();
    let after: Vec<&str> = out.lines().collect();
    let mut j = 0;
    let mut changed_images = 0;
    for line in &before {
        while j < after.len() && after[j] != *line && !is_relocated(line, after[j]) {
            j += 1; // an inserted line
        }
        assert!(
            j < after.len(),
            "input line {line:?} is missing from the output"
        );
        if after[j] != *line {
            changed_images += 1;
        }
        j += 1;
    }
    assert_eq!(changed_images, 2 * n);
    let inserted = after.len() - before.len();
    // per Deployment: `annotations:` + 1 entry (+ `metadata:` only when
    // missing: it is not); the ServiceAccount: `imagePullSecrets:` + 1 item
    assert_eq!(inserted, 2 * n + 2, "lines inserted");

    // The meaning, by PyYAML
    let flags: Vec<String> = edit.iter().map(|s| s.to_string()).collect();
    meaning_check(&input, &output, &flags).unwrap();

    // Idempotent
    let mut again = args(&output, &edit);
    again.extend(["--dry-run".into()]);
    let o = run(dir.path(), &again, None);
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o.stderr));
    assert!(
        text_of(&o.stderr).contains("already up to date"),
        "{}",
        text_of(&o.stderr)
    );
}

fn is_relocated(before: &str, after: &str) -> bool {
    let (Some(b), Some(a)) = (before.split_once("image: "), after.split_once("image: ")) else {
        return false;
    };
    let name = b.1.trim_matches('"');
    let name = name.strip_prefix("docker.io/library/").unwrap_or(name);
    b.0 == a.0 && a.1.trim_matches('"') == format!("harbor.example.com:5000/apm/{name}")
}

fn text_of(b: &[u8]) -> String {
    text(b)
}

#[test]
fn a_long_document_no_edit_applies_to_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("cm.yaml");
    let mut s = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n");
    for i in 0..40_000 {
        s.push_str(&format!("  key{i}: \"image: nginx:{i}\"\n"));
    }
    s.push_str("---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: nginx\n");
    fs::write(&input, &s).unwrap();
    let o = run(
        dir.path(),
        &args(&input, &["--registry", "r.example.com/apm"]),
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o.stderr));
    let out = fs::read_to_string(&input).unwrap();
    assert_eq!(
        out,
        s.replace("image: nginx\n", "image: r.example.com/apm/nginx\n")
    );
}

/// A Deployment of `entries` env entries (one flow mapping a line) after
/// `header`: far over tree-sitter's 32,767 lines.
fn long_deployment(header: &str, entries: usize) -> String {
    let mut s = format!(
        "{header}apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: nginx # pinned later\n        env:\n"
    );
    for i in 0..entries {
        s.push_str(&format!("        - {{name: V{i}, value: x}}\n"));
    }
    s
}

/// [`long_deployment`] written to a file of a new directory.
fn long_deployment_file(
    header: &str,
    entries: usize,
) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("dep.yaml");
    let s = long_deployment(header, entries);
    fs::write(&input, &s).unwrap();
    (dir, input, s)
}

/// `patch FILE --registry r.example.com/apm`: exit code and stderr.
fn relocate(dir: &tempfile::TempDir, input: &Path) -> (Option<i32>, String) {
    let o = run(
        dir.path(),
        &args(input, &["--registry", "r.example.com/apm"]),
        None,
    );
    (o.status.code(), text_of(&o.stderr))
}

#[test]
fn a_long_document_that_is_not_a_list_is_edited_whole() {
    let (dir, input, s) = long_deployment_file("", 100_000);
    let (code, err) = relocate(&dir, &input);
    assert_eq!(code, Some(0), "{err}");
    // exactly the image line changed, every other byte kept
    assert_eq!(
        fs::read_to_string(&input).unwrap(),
        s.replace(
            "image: nginx # pinned later",
            "image: r.example.com/apm/nginx # pinned later"
        )
    );
    assert!(
        err.contains("dep.yaml:10: Deployment/d: image nginx -> r.example.com/apm/nginx"),
        "{err}"
    );
}

#[test]
fn a_long_document_only_tree_sitter_could_read_is_refused_with_what_to_do() {
    // a `%YAML` directive is left to tree-sitter, which cannot take 35,000 lines
    let (dir, input, s) = long_deployment_file("%YAML 1.1\n---\n", 35_000);
    let (code, err) = relocate(&dir, &input);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.starts_with(&format!("{}:1:1: ", input.display())) && err.contains("split it"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&input).unwrap(), s);
}

/// A file whose nesting is `levels` deep at line `line`, column `col`.
struct Deep {
    name: &'static str,
    text: String,
    line: usize,
    col: usize,
}

fn deep_inputs(levels: usize) -> Vec<Deep> {
    let head = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n";
    // indented nesting grows quadratically in bytes: 1,000 levels are 0.5 MB
    let indented = levels.min(1_000);
    let mut block = head.to_string();
    for i in 0..indented {
        block.push_str(&" ".repeat(i + 2));
        block.push_str("k:\n");
    }
    let mut mutate = format!("{head}  mutate.yaml: |\n");
    for i in 0..indented {
        mutate.push_str(&" ".repeat(i + 4));
        mutate.push_str("k:\n");
    }
    let json_head = "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"x\"}, \"x\": ";
    vec![
        // data's mapping (line 6) is level 2, each next line one deeper
        Deep {
            name: "block mappings",
            text: block,
            line: 6 + 199,
            col: 199 + 2 + 1,
        },
        // `a`'s sequence is level 3, each `- ` one deeper
        Deep {
            name: "compact block sequences",
            text: format!("{head}  a:\n  {}x\n", "- ".repeat(levels)),
            line: 7,
            col: 3 + 2 * 198,
        },
        // saphyr's scanner stops at its 255th open bracket
        Deep {
            name: "flow sequences",
            text: format!("{head}  a: {}{}\n", "[".repeat(levels), "]".repeat(levels)),
            line: 6,
            col: 6 + 255,
        },
        // the 256th open brace: the 255th nested one
        Deep {
            name: "flow mappings in JSON",
            text: format!(
                "{json_head}{}1{}}}\n",
                "{\"a\": ".repeat(levels),
                "}".repeat(levels)
            ),
            line: 1,
            col: json_head.len() + 1 + 6 * 254,
        },
        // inside mutate.yaml: the inner document's own nesting, located
        // in the outer file
        Deep {
            name: "mutate.yaml",
            text: mutate,
            line: 7 + 200,
            col: 4 + 200 + 1,
        },
    ]
}

#[test]
fn nesting_10_000_levels_deep_is_refused_at_its_place_without_abort() {
    let dir = tempfile::tempdir().unwrap();
    for deep in deep_inputs(10_000) {
        let input = dir.path().join("deep.yaml");
        fs::write(&input, &deep.text).unwrap();
        let started = Instant::now();
        let o = run(
            dir.path(),
            &args(
                &input,
                &["--registry", "r.example.com/apm", "--inject-pull-secret"],
            ),
            None,
        );
        let took = started.elapsed();
        let err = text_of(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{}: {err}", deep.name);
        let inner = if deep.name == "mutate.yaml" {
            "mutate.yaml: "
        } else {
            ""
        };
        let want = format!(
            "{}:{}:{}: {inner}nested more than 200 levels deep",
            input.display(),
            deep.line,
            deep.col
        );
        assert!(
            err.starts_with(&want),
            "{}: want {want:?}, got {err}",
            deep.name
        );
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(fs::read_to_string(&input).unwrap(), deep.text);
        // a hang would take minutes; this is seconds even on a loaded machine
        assert!(took < Duration::from_secs(60), "{}: {took:?}", deep.name);
    }
}

#[test]
fn nesting_150_levels_deep_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    for deep in deep_inputs(150) {
        let input = dir.path().join("deep.yaml");
        fs::write(&input, &deep.text).unwrap();
        let o = run(
            dir.path(),
            &args(&input, &["--registry", "r.example.com/apm", "--dry-run"]),
            None,
        );
        let err = text_of(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{}: {err}", deep.name);
    }
}
