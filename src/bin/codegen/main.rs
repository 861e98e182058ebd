//! Shape generator. `codegen` regenerates `src/shapes/{contacts,incidents}.rs` from the
//! documentation-free model copies in `models/`; `codegen strip IN OUT` makes such a copy
//! from a botocore `service-2.json`; `codegen --check` fails if the committed output is stale.

mod generate;

use std::path::Path;
use std::process::ExitCode;

/// (model copy in the repo, generated module)
pub const TARGETS: &[(&str, &str)] = &[
    ("models/ssm-contacts.json", "src/shapes/contacts.rs"),
    ("models/ssm-incidents.json", "src/shapes/incidents.rs"),
];

fn read_json(path: &Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn render(model: &str) -> Result<String, String> {
    generate::generate(&read_json(Path::new(model))?, model)
}

fn run(args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("strip") => {
            let [_, input, output] = args else {
                return Err("usage: codegen strip <service-2.json> <out.json>".into());
            };
            let mut v = read_json(Path::new(input))?;
            generate::strip_docs(&mut v);
            let text = serde_json::to_string_pretty(&v).map_err(|e| e.to_string())? + "\n";
            std::fs::write(output, text).map_err(|e| format!("{output}: {e}"))
        }
        Some("--check") => {
            for (model, out) in TARGETS {
                let fresh = render(model)?;
                let committed = std::fs::read_to_string(out).unwrap_or_default();
                if fresh != committed {
                    return Err(format!("{out} is stale: run `cargo run --bin codegen`"));
                }
            }
            Ok(())
        }
        None => {
            for (model, out) in TARGETS {
                std::fs::write(out, render(model)?).map_err(|e| format!("{out}: {e}"))?;
                println!("wrote {out}");
            }
            Ok(())
        }
        Some(other) => Err(format!(
            "unknown argument {other:?}; use `strip`, `--check` or nothing"
        )),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("codegen: {e}");
            ExitCode::FAILURE
        }
    }
}
