//! Golden files: each `tests/config_errors/*.yaml` is invalid, and its error message is
//! pinned in the `.err` beside it. `BLESS=1` rewrites the `.err` files.

use std::path::Path;

#[test]
fn invalid_configs_report_file_line_field_and_hint() {
    let dir = Path::new("tests/config_errors");
    let bless = std::env::var_os("BLESS").is_some();
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    let mut failures = Vec::new();
    for yaml in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
    {
        let message = match tollgate::config::Config::load(yaml) {
            Ok(_) => format!("{} unexpectedly loaded\n", yaml.display()),
            Err(e) => format!("{e}\n"),
        };
        let golden = yaml.with_extension("err");
        if bless {
            std::fs::write(&golden, &message).expect("write golden");
        } else {
            let want = std::fs::read_to_string(&golden).unwrap_or_default();
            if want != message {
                failures.push(format!(
                    "{}:\n  want: {want:?}\n  got:  {message:?}",
                    yaml.display()
                ));
            }
        }
        checked += 1;
    }
    assert!(checked >= 10, "golden files present");
    assert!(
        failures.is_empty(),
        "run with BLESS=1 to accept:\n{}",
        failures.join("\n")
    );
}
