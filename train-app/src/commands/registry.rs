//! `train-app registry`: list, show, alias, delete.

use text_recognizer::registry::{Selector, VersionInfo, parse_versioned};

use crate::cli::{GlobalArgs, RegistryCommand};

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}"))
}

/// `YYYY-MM-DD HH:MM` (UTC).
fn date(secs: u64) -> String {
    let t = text_recognizer::export::utc_timestamp(secs);
    format!("{} {}", &t[..10], &t[11..16])
}

pub fn run(cmd: RegistryCommand, global: &GlobalArgs) -> anyhow::Result<()> {
    let registry = global.registry();
    match cmd {
        RegistryCommand::List { name: None } => {
            println!(
                "{:<24} {:>8} {:>8} {:>10}  aliases",
                "model", "versions", "newest", "valid CER"
            );
            for name in registry.names()? {
                let versions = registry.versions(&name)?;
                let aliases = registry.aliases(&name)?;
                let newest = versions.last();
                println!(
                    "{:<24} {:>8} {:>8} {:>10}  {}",
                    name,
                    versions.len(),
                    newest.map_or("-".into(), |v| v.version.to_string()),
                    pct(newest.and_then(|v| v.valid_cer)),
                    aliases
                        .iter()
                        .map(|(a, v)| format!("{a}→{v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
            }
        }
        RegistryCommand::List { name: Some(name) } => {
            let aliases = registry.aliases(&name)?;
            println!(
                "{:>7}  {:<16} {:>5} {:>10} {:>10}  aliases  run",
                "version", "registered", "epoch", "valid CER", "valid WER"
            );
            for v in registry.versions(&name)? {
                let names: Vec<&str> = aliases
                    .iter()
                    .filter(|(_, n)| **n == v.version)
                    .map(|(a, _)| a.as_str())
                    .collect();
                println!(
                    "{:>7}  {:<16} {:>5} {:>10} {:>10}  {:<7}  {}",
                    v.version,
                    date(v.created),
                    v.epoch,
                    pct(v.valid_cer),
                    pct(v.valid_wer),
                    names.join(","),
                    v.run_dir.as_deref().unwrap_or("-")
                );
            }
        }
        RegistryCommand::Show { model } => {
            let (name, selector) = parse_versioned(&model)?;
            let (path, info) = registry.resolve(&name, &selector)?;
            show(&info, &path);
            let aliases: Vec<String> = registry
                .aliases(&name)?
                .into_iter()
                .filter(|(_, v)| *v == info.version)
                .map(|(a, _)| a)
                .collect();
            println!(
                "aliases:    {}",
                if aliases.is_empty() {
                    "-".into()
                } else {
                    aliases.join(", ")
                }
            );
        }
        RegistryCommand::Alias { target, alias } => {
            let (name, selector) = parse_versioned(&target)?;
            if selector == Selector::Latest {
                anyhow::bail!(
                    "{target}: name the version (NAME@3, NAME:3) or an alias (NAME@staging)"
                );
            }
            let version = registry.resolve_version(&name, &selector)?;
            registry.set_alias(&name, &alias, version)?;
            println!("{name}@{alias} → {version}");
        }
        RegistryCommand::Unalias { name, alias } => {
            registry.remove_alias(&name, &alias)?;
            println!("removed {name}@{alias}");
        }
        RegistryCommand::Delete { model, all } => {
            let (name, selector) = parse_versioned(&model)?;
            match (selector, all) {
                (Selector::Latest, true) => {
                    registry.delete_model(&name)?;
                    println!("deleted {name} (every version)");
                }
                (Selector::Latest, false) => {
                    anyhow::bail!(
                        "{model}: name a version (NAME:3) or delete the whole model with --all"
                    )
                }
                (selector, _) => {
                    let v = registry.resolve_version(&name, &selector)?;
                    registry.delete_version(&name, v)?;
                    println!("deleted {name}:{v}");
                }
            }
        }
    }
    Ok(())
}

fn show(v: &VersionInfo, path: &std::path::Path) {
    println!("model:      {}:{}", v.name, v.version);
    println!("file:       {}", path.display());
    println!("registered: {}", date(v.created));
    println!("run:        {}", v.run_dir.as_deref().unwrap_or("-"));
    println!("epoch:      {}", v.epoch);
    println!(
        "valid CER:  {} %   WER: {} %",
        pct(v.valid_cer),
        pct(v.valid_wer)
    );
    println!("parent:     {}", v.parent.as_deref().unwrap_or("-"));
    println!("commit:     {}", v.git_commit.as_deref().unwrap_or("-"));
    println!("files:      {}", v.files.join(", "));
    for d in &v.data {
        println!("data:       {d}");
    }
}
