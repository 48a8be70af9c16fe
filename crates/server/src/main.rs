//! `cordium-server`: serves the Cordium API, and manages its users.

use clap::{Parser, Subcommand};
use cordium_kubernetes::{KubernetesOptions, KubernetesRuntime};
use cordium_provisioner::podman::{Podman, PodmanOptions};
use cordium_provisioner::runtime::Runtime;
use cordium_server::agent::Agents;
use cordium_server::connections::ConnectionLimits;
use cordium_server::crypto::{hash_token, new_token};
use cordium_server::server;
use cordium_server::ssh;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// mimalloc instead of glibc's malloc: a request allocates and frees many small objects on
/// whichever worker thread runs it, and glibc's arenas gave their memory back and took it again
/// between calls. The load bench (`benches/load.rs`, which uses the same allocator) measured a
/// changed-layer CompileWorkspace at 74 µs of server CPU against 94 µs with glibc.
/// Its secure mode (guard pages, encrypted free lists, about 10% slower) is off: it hardens
/// against heap overflows, which the server's Rust code rules out; SQLite keeps its own malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The Cordium API server.
#[derive(Debug, Parser)]
#[command(name = "cordium-server", version, about)]
struct Cli {
    /// Where the SQLite database and the secret key live.
    #[arg(
        long,
        global = true,
        default_value = "./cordium-data",
        env = "CORDIUM_DATA_DIR"
    )]
    data_dir: PathBuf,
    /// A PostgreSQL URL (`postgres://user@host/db`) instead of the embedded SQLite, for several
    /// replicas.
    #[arg(long, global = true, env = "CORDIUM_DATABASE_URL")]
    database_url: Option<String>,
    /// Also accept OIDC ID tokens from this issuer (`iss`); needs --oidc-audience. Its keys
    /// are discovered and fetched over HTTPS, unless --oidc-jwks gives them.
    #[arg(long, global = true, requires = "oidc_audience")]
    oidc_issuer: Option<String>,
    /// The audience (`aud`) ID tokens must be issued for.
    #[arg(long, global = true)]
    oidc_audience: Option<String>,
    /// The issuer's JWKS document, saved to a file (air-gapped servers: no discovery).
    #[arg(long, global = true)]
    oidc_jwks: Option<PathBuf>,
    /// Several sign-in issuers and the workload rules, in a JSON file: {"issuers": [{"issuer",
    /// "audience", "userClaim", "adminClaim": {"claim", "value"}, "jwksFile"}], "workloads":
    /// [{"issuer", "audience", "subject", "user", "ttlSecs"}], "caFile", "jwksRefetchSecs"}.
    /// --oidc-issuer adds one more issuer.
    #[arg(long, global = true)]
    oidc_config: Option<PathBuf>,
    /// A PEM file of extra CA certificates for outbound HTTPS (OIDC issuers whose
    /// configuration names no caFile, git hosts).
    #[arg(long, global = true, value_name = "FILE")]
    outbound_ca: Option<PathBuf>,
    /// GitHub's web URL, for GitHub Enterprise Server (GitProviders of kind `github`).
    #[arg(
        long,
        global = true,
        default_value = "https://github.com",
        value_name = "URL"
    )]
    github_url: String,
    /// GitLab's web URL, for a self-managed GitLab (GitProviders of kind `gitlab`).
    #[arg(
        long,
        global = true,
        default_value = "https://gitlab.com",
        value_name = "URL"
    )]
    gitlab_url: String,
    /// Sign users in with GitHub (`cordium login --github`) through this OAuth app's client
    /// id; needs --github-sign-in-secret-file. A GitHub account is a user keyed by its id.
    #[arg(
        long,
        global = true,
        value_name = "ID",
        requires = "github_sign_in_secret_file"
    )]
    github_sign_in_client_id: Option<String>,
    /// A file holding that OAuth app's client secret.
    #[arg(long, global = true, value_name = "FILE")]
    github_sign_in_secret_file: Option<PathBuf>,
    /// How long the API token a GitHub sign-in gives lives.
    #[arg(long, global = true, value_name = "DURATION", default_value = "12h", value_parser = humantime::parse_duration)]
    github_sign_in_token_ttl: std::time::Duration,
    /// Let any GitHub account that signs in become a new user. Without it only accounts an
    /// operator linked (`user link NAME --issuer GITHUB_URL --subject ACCOUNT_ID`) sign in.
    #[arg(long, global = true)]
    github_sign_in_new_users: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(
    clippy::large_enum_variant,
    reason = "parsed once at start-up; boxing `serve`'s flags would only add noise"
)]
enum Command {
    /// Serve the API.
    ///
    /// Example: cordium-server serve --listen 127.0.0.1:50051 --data-dir /var/lib/cordium
    Serve {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:50051")]
        listen: SocketAddr,
        /// Where workspaces run: `podman` on this machine, `kubernetes` on the cluster of
        /// KUBECONFIG, or `none` (this replica only serves the API; run the runtime on exactly
        /// one replica). Default: `podman` with SQLite, `none` with --database-url (replicas
        /// share the store: name the one replica that runs workspaces explicitly).
        #[arg(long, value_enum, env = "CORDIUM_RUNTIME")]
        runtime: Option<RuntimeKind>,
        /// A registry (`host:port`) podman reaches over plain HTTP; repeat for several.
        #[arg(long = "podman-insecure-registry", value_name = "HOST:PORT")]
        insecure_registries: Vec<String>,
        /// Build images from users' Dockerfiles with the host's podman. The build runs as the
        /// host's root, and a base image's ONBUILD triggers run in it unchecked (reaching the
        /// host's network, and before podman 5.2.5 its files): only for an installation whose
        /// every user is trusted with the host. Off, such a build fails saying why.
        #[arg(long = "podman-allow-builds")]
        allow_builds: bool,
        /// The image of workspaces whose layers set none.
        #[arg(long, value_name = "IMAGE")]
        default_image: Option<String>,
        /// The namespace workspaces run in (`--runtime kubernetes`).
        #[arg(long, value_name = "NS", default_value = "default")]
        kube_namespace: String,
        /// The StorageClass of workspace volumes (`--runtime kubernetes`); default: the
        /// cluster's.
        #[arg(long, value_name = "CLASS")]
        kube_storage_class: Option<String>,
        /// Also serve SSH into workspaces on this address (e.g. `0.0.0.0:2222`): `ssh -p 2222
        /// WORKSPACE@HOST` with a key added by `cordium ssh-key add`. Off unless given.
        #[arg(long, value_name = "ADDR")]
        ssh_listen: Option<SocketAddr>,
        /// Also serve the web console on this address (e.g. `127.0.0.1:8080`): sign in with an
        /// API token. Off unless given.
        #[arg(long, value_name = "ADDR")]
        http_listen: Option<SocketAddr>,
        /// Serve workspaces' applications (`/w/WORKSPACE/APP/`) on this address, e.g.
        /// `127.0.0.1:8081`: another port of the console's host, so another origin, and an
        /// application's script cannot act as the user who opens it. The console links to
        /// applications on its own host name at this port. Off unless given (with
        /// `--http-listen`): applications are then not served.
        #[arg(long, value_name = "ADDR", requires = "http_listen")]
        http_apps_listen: Option<SocketAddr>,
        /// Mark the console's session cookie `Secure`: set when browsers reach the console
        /// over HTTPS (through a TLS-terminating proxy).
        #[arg(long)]
        http_secure_cookies: bool,
        /// How long a start may take before it fails with `startupTimeout`, e.g. `15s` or
        /// `20m`; default: 60 minutes for builds and fresh runs, 20 minutes otherwise.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        startup_timeout: Option<Duration>,
        #[command(flatten)]
        connections: ConnectionFlags,
    },
    /// Print the SSH host key's fingerprint and public key (generating the key, in the data
    /// directory, if there is none yet), to check what `ssh` shows at first connection.
    ///
    /// Example: cordium-server ssh-host-key --data-dir /var/lib/cordium
    SshHostKey,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
}

/// How many connections `serve` accepts and how long a silent one may stay
/// (`cordium_server::connections`).
#[derive(Debug, clap::Args)]
struct ConnectionFlags {
    /// Open connections at most; past it, new connections are closed at once.
    #[arg(long, value_name = "N", default_value_t = ConnectionLimits::default().max_connections)]
    max_connections: usize,
    /// Open connections at most from one IP address.
    #[arg(long, value_name = "N", default_value_t = ConnectionLimits::default().max_connections_per_peer)]
    max_connections_per_peer: usize,
    /// Seconds a new connection has to start speaking HTTP/2.
    #[arg(long, value_name = "SECONDS", default_value_t = ConnectionLimits::default().handshake_timeout.as_secs())]
    handshake_timeout: u64,
    /// Seconds an established connection may send nothing (clients answer the server's
    /// pings, every 30 s, so only a vanished peer is ever this quiet).
    #[arg(long, value_name = "SECONDS", default_value_t = ConnectionLimits::default().idle_timeout.as_secs())]
    idle_timeout: u64,
}

impl ConnectionFlags {
    fn limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: self.max_connections,
            max_connections_per_peer: self.max_connections_per_peer,
            handshake_timeout: Duration::from_secs(self.handshake_timeout),
            idle_timeout: Duration::from_secs(self.idle_timeout),
            ..ConnectionLimits::default()
        }
    }
}

/// The runtimes `serve --runtime` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RuntimeKind {
    /// podman on this machine (state in `<data-dir>/podman`).
    Podman,
    /// Kubernetes, through the cluster of KUBECONFIG.
    Kubernetes,
    /// No runtime: workspaces stay in `INIT_REQUEST` until a replica with one starts them.
    None,
}

/// `cordium-server user ...`: the operator's management of users (rules in
/// `cordium_server::store::users` and `cordium_server::auth`).
#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a new user and print their API token; only its hash is stored. A name that exists is
    /// an error (use `user token` to rotate a token).
    ///
    /// Example: cordium-server user add alice --admin
    Add {
        /// The user name.
        name: String,
        /// Let the user administer the cluster (ClusterConfig, organization Spaces).
        #[arg(long)]
        admin: bool,
    },
    /// Give an existing user a new API token and print it; the old one stops working.
    ///
    /// Example: cordium-server user token alice
    Token {
        /// The user name.
        name: String,
    },
    /// Bind an OIDC identity (issuer, subject) to an existing user, so that it acts as them
    /// (an administrator too, if they are one). Identities are never matched by name.
    ///
    /// Example: cordium-server user link carol --subject 248289761001 --oidc-issuer https://id.example.com
    Link {
        /// The user name.
        name: String,
        /// The identity's `sub` claim.
        #[arg(long)]
        subject: String,
        /// The identity's issuer (`iss`); default: --oidc-issuer.
        #[arg(long)]
        issuer: Option<String>,
    },
    /// Make a user an administrator (or, with --revoke, no longer one).
    ///
    /// Example: cordium-server user admin carol
    Admin {
        /// The user name.
        name: String,
        /// Take the administrator rights away instead.
        #[arg(long)]
        revoke: bool,
    },
    /// Disable a user: their API token, OIDC identities and session credentials are refused
    /// (open watches end) until `user enable`. Their resources are kept.
    ///
    /// Example: cordium-server user disable alice
    Disable {
        /// The user name.
        name: String,
    },
    /// Enable a disabled user again.
    Enable {
        /// The user name.
        name: String,
    },
    /// Delete a user and everything that was theirs: their workspaces, the Spaces they own with
    /// everything in them, their UserSecrets and UserConfig, their session credentials and
    /// OIDC identities. Refused while one of those workspaces runs (stop it first). A user
    /// added later under the same name starts with nothing.
    ///
    /// Example: cordium-server user delete alice
    Delete {
        /// The user name.
        name: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A humantime duration (`15s`, `20m`, `1h 30m`), not zero.
fn parse_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("the duration must be more than zero".to_owned()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("{e} (write e.g. `15s`, `20m` or `1h`)")),
    }
}

async fn run(mut cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    // Resolved once: every path handed to podman (which runs in other directories) is
    // absolute, whatever --data-dir was given as.
    cli.data_dir = std::path::absolute(&cli.data_dir)
        .map_err(|e| format!("--data-dir {}: {e}", cli.data_dir.display()))?;
    let mut oidc = match &cli.oidc_config {
        Some(path) => Some(cordium_server::auth::OidcConfig::read(path)?),
        None => None,
    };
    let issuer = cli.oidc_issuer.clone();
    if let (Some(issuer), Some(audience)) = (cli.oidc_issuer.clone(), cli.oidc_audience.clone()) {
        let config = oidc.get_or_insert_with(Default::default);
        config.issuers.push(cordium_server::auth::IssuerConfig {
            issuer,
            audience,
            user_claim: None,
            admin_claim: None,
            jwks_file: cli.oidc_jwks.clone(),
        });
        config.check()?;
    }
    if let Some(config) = oidc.as_mut()
        && config.ca_file.is_none()
    {
        config.ca_file.clone_from(&cli.outbound_ca);
    }
    let api = server::open_with(&cli.data_dir, cli.database_url.as_deref(), oidc)
        .await?
        .with_git(git_connect(&cli)?);
    match cli.command {
        Command::Serve {
            listen,
            runtime,
            insecure_registries,
            allow_builds,
            default_image,
            kube_namespace,
            kube_storage_class,
            ssh_listen,
            http_listen,
            http_apps_listen,
            http_secure_cookies,
            startup_timeout,
            connections,
        } => {
            let driver = cordium_server::driver::DriverOptions {
                startup_timeout,
                ..Default::default()
            };
            let runtime = runtime.unwrap_or(if cli.database_url.is_some() {
                tracing::info!(
                    "no --runtime with --database-url: this replica only serves the API"
                );
                RuntimeKind::None
            } else {
                RuntimeKind::Podman
            });
            let api = match runtime {
                RuntimeKind::None => api,
                RuntimeKind::Podman => {
                    let mut options = PodmanOptions::new(cli.data_dir.join("podman"));
                    options.insecure_registries = insecure_registries;
                    options.allow_builds = allow_builds;
                    options.installation = Some(api.store().installation().to_owned());
                    if let Some(image) = default_image {
                        options.default_image = image;
                    }
                    let agents = Agents::new(&cli.data_dir.join("agents"))?;
                    options.agent_sockets = Some(agents.dir().to_owned());
                    let runtime: Arc<dyn Runtime> = Arc::new(Podman::new(options)?);
                    server::start_driver_with_options(api.with_agents(agents), runtime, driver)
                }
                RuntimeKind::Kubernetes => {
                    let mut options = KubernetesOptions {
                        namespace: kube_namespace,
                        storage_class: kube_storage_class,
                        installation: Some(api.store().installation().to_owned()),
                        ..KubernetesOptions::default()
                    };
                    if let Some(image) = default_image {
                        options.default_image = image;
                    }
                    let runtime: Arc<dyn Runtime> =
                        Arc::new(KubernetesRuntime::from_kubeconfig(options).await?);
                    server::start_driver_with_options(api, runtime, driver)
                }
            };
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let mut api = api;
            if let Some(addr) = ssh_listen {
                let mut stopped = stopped.clone();
                let shutdown = async move {
                    let _ = stopped.wait_for(|s| *s).await;
                };
                (api, _) =
                    ssh::start(api, &cli.data_dir, addr, connections.limits(), shutdown).await?;
            }
            if let Some(addr) = http_listen {
                let options = cordium_server::console::ConsoleOptions {
                    secure_cookies: http_secure_cookies,
                    ..Default::default()
                };
                let mut stopped = stopped.clone();
                let shutdown = async move {
                    let _ = stopped.wait_for(|s| *s).await;
                };
                let limits = connections.limits();
                if let Some(apps) = http_apps_listen {
                    let (bound, apps) = cordium_server::console::spawn_with_applications(
                        api.clone(),
                        addr,
                        apps,
                        limits,
                        options,
                        shutdown,
                    )
                    .await?;
                    tracing::info!(
                        "serving the web console on http://{bound}, applications on http://{apps}"
                    );
                } else {
                    let bound = cordium_server::console::spawn(
                        api.clone(),
                        addr,
                        limits,
                        options,
                        shutdown,
                    )
                    .await?;
                    tracing::info!("serving the web console on http://{bound}");
                }
            }
            let listener = server::bind(listen).await?;
            tracing::info!("serving on {}", listener.local_addr()?);
            let shutdown = async move {
                let _ = tokio::signal::ctrl_c().await;
                let _ = stop.send(true);
            };
            drop(stopped);
            server::serve_with(api, listener, connections.limits(), shutdown).await?;
        }
        Command::SshHostKey => {
            let key =
                ssh::host_key::load_or_create(&cli.data_dir.join(ssh::host_key::HOST_KEY_FILE))?;
            println!("{}", ssh::host_key::fingerprint(&key));
            println!("{}", ssh::host_key::public_line(&key));
        }
        Command::User(command) => user(api.store(), command, issuer.as_deref()).await?,
    }
    Ok(())
}

/// Runs one `user` command on the store.
async fn user(
    store: &cordium_server::store::Store,
    command: UserCommand,
    oidc_issuer: Option<&str>,
) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        UserCommand::Add { name, admin } => {
            cordium_spec::shapes::check_name(&name).map_err(|e| e.message)?;
            let token = new_token()?;
            store.add_user(&name, &hash_token(&token), admin).await?;
            println!("{token}");
        }
        UserCommand::Token { name } => {
            let token = new_token()?;
            store.rotate_token(&name, &hash_token(&token)).await?;
            println!("{token}");
        }
        UserCommand::Link {
            name,
            subject,
            issuer,
        } => {
            let issuer = issuer
                .as_deref()
                .or(oidc_issuer)
                .ok_or("name the identity's issuer with --issuer (or --oidc-issuer)")?;
            store.link_identity(&name, issuer, &subject).await?;
            eprintln!("the identity (issuer `{issuer}`, subject `{subject}`) now acts as `{name}`");
        }
        UserCommand::Admin { name, revoke } => store.set_admin(&name, !revoke).await?,
        UserCommand::Disable { name } => store.set_disabled(&name, true).await?,
        UserCommand::Enable { name } => store.set_disabled(&name, false).await?,
        UserCommand::Delete { name } => {
            let deleted = store.delete_user(&name).await?;
            eprintln!(
                "deleted user `{name}`: {} resources, {} session credentials",
                deleted.resources, deleted.sessions
            );
        }
    }
    Ok(())
}

/// Connecting git accounts, and GitHub sign-in when configured.
fn git_connect(
    cli: &Cli,
) -> Result<cordium_server::service::GitConnect, Box<dyn std::error::Error>> {
    let connect = cordium_server::service::GitConnect::new(
        cordium_api::outbound::Outbound::new(cli.outbound_ca.as_deref())?,
        cordium_server::git_oauth::GitHosts {
            github: cli.github_url.clone(),
            gitlab: cli.gitlab_url.clone(),
        },
    );
    let (Some(client_id), Some(file)) = (
        &cli.github_sign_in_client_id,
        &cli.github_sign_in_secret_file,
    ) else {
        return Ok(connect);
    };
    let secret = std::fs::read_to_string(file)
        .map_err(|e| format!("--github-sign-in-secret-file {}: {e}", file.display()))?;
    Ok(
        connect.with_github_sign_in(cordium_server::service::GitHubSignIn {
            client_id: client_id.clone(),
            client_secret: secret.trim().to_owned(),
            token_ttl_secs: cli.github_sign_in_token_ttl.as_secs().max(60),
            new_users: cli.github_sign_in_new_users,
        }),
    )
}
