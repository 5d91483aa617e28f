//! `kaiteki`: the appliance daemon and its operator tools.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "kaiteki", version, about = "Kaiteki Edge: privacy-first smart-city video analytics")]
struct Args {
    /// Log as JSON lines (for journald and log shippers) instead of human-readable text.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon.
    Run {
        #[arg(short, long, env = "KAITEKI_CONFIG")]
        config: PathBuf,
        /// Exit once every source has ended (non-looping files) and events are flushed.
        #[arg(long)]
        until_sources_end: bool,
    },
    /// Validate a config and everything it references, without starting anything.
    Check {
        #[arg(short, long, env = "KAITEKI_CONFIG")]
        config: PathBuf,
    },
    /// Run a model on an image or video file and print detections as JSON lines.
    Detect(cli::detect::DetectArgs),
    /// Score a road-damage model on a labelled dataset (CRDDC'2022 F1: IoU > 0.5, at most 5 per image).
    Eval(cli::eval::EvalArgs),
    /// Fit a camera's image-to-ground homography from point pairs and print it with its error.
    Calibrate(cli::calibrate::CalibrateArgs),
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Signed model updates: keys, bundles, signatures, pushing to a broker.
    Model {
        #[command(subcommand)]
        command: cli::model::ModelCommand,
    },
    /// Dashboard users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Schemas of the published data.
    Schema {
        #[command(subcommand)]
        command: SchemaCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Hash a password with Argon2id and print a `[[http.dashboard.users]]` entry to paste into the config.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Read the password from standard input (one line) instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum RoleArg {
    Crew,
    Admin,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the JSON Schema of the configuration file.
    Schema,
}

#[derive(Subcommand)]
enum SchemaCommand {
    /// Write the JSON Schema of every MQTT event kind to `<out-dir>/<kind>.schema.json`.
    Events {
        #[arg(long)]
        out_dir: PathBuf,
    },
}

fn role_of(r: RoleArg) -> kaiteki::dashboard::Role {
    match r {
        RoleArg::Crew => kaiteki::dashboard::Role::Crew,
        RoleArg::Admin => kaiteki::dashboard::Role::Admin,
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::init_logging(args.log_json);
    let result = match args.command {
        Command::Run { config, until_sources_end } => cli::run::run(&config, until_sources_end),
        Command::Check { config } => cli::check::check(&config),
        Command::Detect(a) => cli::detect::detect(a),
        Command::Eval(a) => cli::eval::eval(a),
        Command::Calibrate(a) => cli::calibrate::calibrate_cmd(a),
        Command::Model { command } => cli::model::run(command),
        Command::User { command: UserCommand::Add { name, role, password_stdin } } => {
            cli::user_add(&name, role_of(role), password_stdin)
        }
        Command::Config { command: ConfigCommand::Schema } => {
            println!("{}", serde_json::to_string_pretty(&kaiteki::config::json_schema()).unwrap_or_default());
            Ok(ExitCode::SUCCESS)
        }
        Command::Schema { command: SchemaCommand::Events { out_dir } } => cli::schema::events(&out_dir),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
