//! `train-app stage`: a run's best checkpoint into the registry and/or a `.htr` file.

use std::path::PathBuf;

use text_recognizer::StagedModel;
use text_recognizer::mlflow::MlflowClient;
use text_recognizer::training::{RunDir, read_mlflow_ids};

use crate::cli::{GlobalArgs, StageArgs};

pub fn run(args: StageArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let staged = super::attach_lm(StagedModel::from_run(&args.run_dir, &args.name)?, &args.lm)?;
    let p = &staged.manifest.provenance;
    let cer = p.valid_cer.map_or("-".into(), |c| format!("{c:.2} %"));
    let mut wrote = false;
    if let Some(output) = &args.output {
        staged.save(output)?;
        println!(
            "staged {} from epoch {} (valid CER {cer}) → {} ({:.1} MB of weights)",
            args.name,
            p.epoch,
            output.display(),
            staged.weights_len() as f64 / 1e6
        );
        wrote = true;
    }
    // `-o` alone writes a file and leaves the registry alone (scripts, tests); otherwise the
    // model is registered.
    if global.registry.is_some() || !wrote {
        let registry = global.registry();
        let run = RunDir::new(&args.run_dir);
        let files: Vec<PathBuf> = vec![
            run.config_path(),
            run.info_path(),
            run.root().join("metrics.csv"),
        ];
        let info = registry.register(&args.name, &staged, &files, p.parent.clone())?;
        for alias in &args.alias {
            registry.set_alias(&info.name, alias, info.version)?;
        }
        println!(
            "registered {}:{} from epoch {} (valid CER {cer}) in {}{}",
            info.name,
            info.version,
            info.epoch,
            registry.root().display(),
            if args.alias.is_empty() {
                String::new()
            } else {
                format!("; aliases: {}", args.alias.join(", "))
            }
        );
    }
    if let Some(uri) = &args.tracking_uri {
        register_in_mlflow(uri, &args, &staged)?;
    }
    Ok(())
}

/// Uploads the model as an artifact of the MLflow run that trained it and registers it as a
/// version of the registered model `name`, with the aliases.
fn register_in_mlflow(uri: &str, args: &StageArgs, staged: &StagedModel) -> anyhow::Result<()> {
    let Some(ids) = read_mlflow_ids(&RunDir::new(&args.run_dir)) else {
        // MLFLOW_TRACKING_URI may be set for other runs: say so, and keep what was staged.
        eprintln!(
            "warning: {} was not tracked in MLflow (no mlflow.ron): not registered at {uri}; \
             train with --tracking-uri to register there",
            args.run_dir.display()
        );
        return Ok(());
    };
    let client = MlflowClient::new(uri);
    client
        .upload_artifact(&ids.artifact_uri, "model/model.htr", staged.to_bytes()?)
        .map_err(|e| anyhow::anyhow!("MLflow at {uri}: uploading the model: {e}"))?;
    let source = format!("{}/model", ids.artifact_uri);
    let version = client
        .register_version(&args.name, &source, &ids.run_id)
        .map_err(|e| anyhow::anyhow!("MLflow at {uri}: registering {}: {e}", args.name))?;
    for alias in &args.alias {
        client
            .set_alias(&args.name, alias, &version)
            .map_err(|e| anyhow::anyhow!("MLflow at {uri}: alias {alias}: {e}"))?;
    }
    println!(
        "MLflow: registered {} version {version} ({source})",
        args.name
    );
    Ok(())
}
