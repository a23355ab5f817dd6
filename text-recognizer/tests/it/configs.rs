//! Every training config shipped in datasets/configs parses and validates, so a recipe in the
//! README or a GPU script never fails on a typo after the machine is paid for.

use text_recognizer::training::TrainingConfig;

use crate::repo_root;

fn configs(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("configs folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            configs(&path, out);
        } else if path.extension().is_some_and(|e| e == "ron") {
            out.push(path);
        }
    }
}

#[test]
fn shipped_configs_parse_and_validate() {
    let mut found = Vec::new();
    configs(&repo_root().join("datasets/configs"), &mut found);
    assert!(found.len() >= 8, "{found:?}");
    for path in found {
        let config = TrainingConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
        config
            .validate()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        config
            .model
            .resolve()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}
