//! The `bct` command line: arguments, dispatch to the client library, and exit codes.

mod cert;
mod keys;
pub(crate) mod output;
mod prompt;
mod query;
mod tx;

use std::path::PathBuf;

use bct_ledger::types::{Ecosystem, Period, Purpose, Role, Validator};
use bct_ledger::{Address, Amount, Hash};
use bct_wallet::client::certificate::CertificateError;
use bct_wallet::client::{Client, ClientError, DEFAULT_NODE_URL};
use bct_wallet::parse;
use clap::{Args, Parser, Subcommand};

use output::Out;

/// Exit code of a transaction the ledger rejected (at admission or in a block).
pub(crate) const EXIT_REJECTED: u8 = 3;
/// Exit code of a transaction submitted but not committed within the wait.
pub(crate) const EXIT_PENDING: u8 = 4;
/// Exit code of a certificate `bct verify` refused.
pub(crate) const EXIT_CERTIFICATE_REFUSED: u8 = 5;
/// Exit code of any other failure (usage errors exit with 2, from clap).
pub(crate) const EXIT_FAILURE: u8 = 1;

/// The wallet of a bct ledger of blue carbon tickets: keys, every transaction, queries, and
/// retirement certificates that anyone can verify offline.
#[derive(Parser, Debug)]
#[command(name = "bct", version, about, max_term_width = 100)]
#[command(after_help = "Amounts are written 12.5t or 12500kg. Exit codes: 0 done, 1 error, 2 usage error, \
                        3 transaction rejected, 4 not committed within the wait, 5 certificate refused.")]
pub(crate) struct Cli {
    /// gRPC URL of the node to talk to.
    #[arg(long, global = true, help_heading = "Global options", env = "BCT_NODE", default_value = DEFAULT_NODE_URL, value_name = "URL")]
    node: String,
    /// For an https:// node: the CA certificate (PEM) its TLS certificate is signed by, instead
    /// of the system's root certificates.
    #[arg(long, global = true, help_heading = "Global options", env = "BCT_CA_CERT", value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true, help_heading = "Global options")]
    pub(crate) json: bool,
    /// Keystore directory [default: ~/.bct/keys].
    #[arg(long, global = true, help_heading = "Global options", env = "BCT_KEYSTORE", value_name = "DIR")]
    keystore: Option<PathBuf>,
    /// Read the key passphrase from this file (first line) instead of BCT_PASSPHRASE or a prompt.
    #[arg(long, global = true, help_heading = "Global options", value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create, import, export and list keys in the encrypted keystore.
    #[command(subcommand)]
    Keys(keys::KeysCmd),
    /// Admit, update, suspend or reinstate an account; show one.
    #[command(subcommand)]
    Account(AccountCmd),
    /// Register or update a project; show or list projects.
    #[command(subcommand)]
    Project(ProjectCmd),
    /// Attest a monitoring report (verifier).
    Attest(AttestArgs),
    /// Issue a ticket backed by attestations (authority).
    Issue(IssueArgs),
    /// Move active units to another account, optionally recording the trade.
    Transfer(TransferArgs),
    /// Retire units for good, on someone's behalf; optionally write the certificate.
    Retire(RetireArgs),
    /// Pledge active units to a creditor.
    Pledge(PledgeArgs),
    /// Return pledged units to their holder (pledgee).
    Release(PledgeeArgs),
    /// Take pledged units into the pledgee's holding (pledgee).
    Seize(PledgeeArgs),
    /// Put a regulatory or judicial hold on an account or a ticket (authority).
    Freeze(FreezeArgs),
    /// Lift a hold (authority).
    Unfreeze(UnfreezeArgs),
    /// Cancel units for good, e.g. after a reversal (authority).
    Cancel(CancelArgs),
    /// Show the validator set, approve a change of it, or submit the change.
    #[command(subcommand)]
    Validators(ValidatorsCmd),
    /// The lots an account holds, and its totals by state.
    Balance(BalanceArgs),
    /// Show a ticket (with its attestations, lots and retirements) or list a project's tickets.
    #[command(subcommand)]
    Ticket(TicketCmd),
    /// List retirements (all, by beneficiary or by ticket), or show one.
    Retirements(RetirementsArgs),
    /// Show a block (the latest without HEIGHT).
    Block(BlockArgs),
    /// Show a transaction by id.
    Tx(TxShowArgs),
    /// Totals issued, active, pledged, frozen, retired and cancelled, broken down; now or as
    /// of a height.
    Supply(SupplyArgs),
    /// The node's chain, height, validators and peers.
    Status,
    /// Get a retirement certificate from the node.
    #[command(subcommand)]
    Certificate(CertificateCmd),
    /// Verify a retirement certificate offline, with only the genesis file.
    Verify(VerifyArgs),
    /// Follow committed blocks as they come.
    Watch(WatchArgs),
    /// Export a registry list as CSV (from the node's web API: `[web]` in its config.toml).
    Export(ExportArgs),
}

/// `bct supply`.
#[derive(Args, Debug)]
pub(crate) struct SupplyArgs {
    /// The totals as they were after this block (default: now).
    #[arg(long)]
    pub height: Option<u64>,
}

#[derive(Args, Debug)]
struct ExportArgs {
    /// The list.
    #[arg(value_parser = ["projects", "issuances", "tickets", "retirements", "trades", "participants"])]
    list: String,
    /// Output format.
    #[arg(long, default_value = "csv", value_parser = ["csv"])]
    format: String,
    /// The node's web address (not its gRPC address).
    #[arg(long, env = "BCT_WEB", default_value = bct_wallet::client::web::DEFAULT_WEB_URL, value_name = "URL")]
    web: String,
    /// Write the file here instead of to standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Text in the beneficiary (retirements).
    #[arg(long, help_heading = "Filters")]
    beneficiary: Option<String>,
    /// Purpose: voluntary, event, compliance, judicial_restoration, other (retirements).
    #[arg(long, help_heading = "Filters")]
    purpose: Option<String>,
    /// Project id.
    #[arg(long, help_heading = "Filters")]
    project: Option<String>,
    /// Ticket id.
    #[arg(long, help_heading = "Filters")]
    ticket: Option<String>,
    /// Ecosystem: mangrove, salt_marsh, seagrass, seaweed_farm, shellfish_farm, mudflat, water_column, other.
    #[arg(long, help_heading = "Filters")]
    ecosystem: Option<String>,
    /// Jurisdiction code or prefix (retirements).
    #[arg(long, help_heading = "Filters")]
    jurisdiction: Option<String>,
    /// From this day, YYYY-MM-DD (retirements, trades).
    #[arg(long, help_heading = "Filters")]
    from: Option<String>,
    /// Until this day, YYYY-MM-DD (retirements, trades).
    #[arg(long, help_heading = "Filters")]
    until: Option<String>,
    /// Text in the id or name (projects, participants).
    #[arg(long, help_heading = "Filters")]
    q: Option<String>,
    /// Region code or prefix (projects).
    #[arg(long, help_heading = "Filters")]
    region: Option<String>,
    /// Status (projects: active, suspended, closed; participants: admitted, suspended, frozen).
    #[arg(long, help_heading = "Filters")]
    status: Option<String>,
    /// Role: authority, verifier, exchange, holder (participants).
    #[arg(long, help_heading = "Filters")]
    role: Option<String>,
}

/// How a transaction is signed and sent.
#[derive(Args, Debug, Clone)]
pub(crate) struct TxOpts {
    /// Name of the key that signs, in the keystore.
    #[arg(long, env = "BCT_KEY", value_name = "NAME")]
    key: String,
    /// Nonce to sign with [default: the account's next nonce, from the node].
    #[arg(long)]
    nonce: Option<u64>,
    /// Last height at which the transaction may be included [default: the node's height +
    /// 1000]; 0: it never expires.
    #[arg(long, value_name = "HEIGHT")]
    expiry_height: Option<u64>,
    /// Return once the node has admitted the transaction, without waiting for the commit.
    #[arg(long)]
    no_wait: bool,
    /// How long the node should wait for the commit, in ms [default: the node's].
    #[arg(long, value_name = "MS")]
    wait_ms: Option<u32>,
}

#[derive(Subcommand, Debug)]
enum AccountCmd {
    /// Admit a participant (authority; or an exchange admitting a holder).
    Admit {
        /// The new account's address (bct1...).
        #[arg(value_parser = parse::address)]
        address: Address,
        /// authority, verifier, exchange or holder.
        #[arg(long, value_parser = parse::role)]
        role: Role,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Jurisdiction code, e.g. CN-FJ.
        #[arg(long)]
        jurisdiction: String,
        #[command(flatten)]
        tx: TxOpts,
    },
    /// Change an account's name, jurisdiction or role.
    Update {
        /// The account (bct1...).
        #[arg(value_parser = parse::address)]
        address: Address,
        /// New display name.
        #[arg(long)]
        name: Option<String>,
        /// New jurisdiction code.
        #[arg(long)]
        jurisdiction: Option<String>,
        /// New role (authority only).
        #[arg(long, value_parser = parse::role)]
        role: Option<Role>,
        #[command(flatten)]
        tx: TxOpts,
    },
    /// Suspend an account: it may neither sign nor receive.
    Suspend {
        /// The account (bct1...).
        #[arg(value_parser = parse::address)]
        address: Address,
        /// Why (public).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        tx: TxOpts,
    },
    /// Lift an account's suspension.
    Reinstate {
        /// The account (bct1...).
        #[arg(value_parser = parse::address)]
        address: Address,
        #[command(flatten)]
        tx: TxOpts,
    },
    /// Show an account.
    Show {
        /// The account (bct1...).
        #[arg(value_parser = parse::address)]
        address: Address,
    },
    /// The transactions that concern an account, newest first.
    Txs {
        /// The account (bct1...).
        #[arg(value_parser = parse::address)]
        address: Address,
        /// Most transactions to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

#[derive(Subcommand, Debug)]
enum ProjectCmd {
    /// Register a project (authority).
    Register(RegisterProjectArgs),
    /// Change a project's name, owner, area or status (authority).
    Update(UpdateProjectArgs),
    /// Show a project with its tickets and attestations.
    Show {
        /// Project id.
        id: String,
    },
    /// List every project.
    List,
}

#[derive(Args, Debug)]
struct RegisterProjectArgs {
    /// Readable id, e.g. FJ-LJ-KELP-001 (letters, digits, - and _).
    id: String,
    /// Display name.
    #[arg(long)]
    name: String,
    /// Owner (an admitted account, bct1...).
    #[arg(long, value_parser = parse::address)]
    owner: Address,
    /// mangrove, salt_marsh, seagrass, seaweed_farm, shellfish_farm, mudflat, water_column or other.
    #[arg(long, value_parser = parse::ecosystem)]
    ecosystem: Ecosystem,
    /// Administrative region code, e.g. CN-FJ-350122.
    #[arg(long)]
    region: String,
    /// Latitude of the centre, decimal degrees (e.g. 26.2).
    #[arg(long, allow_hyphen_values = true, requires = "longitude")]
    latitude: Option<String>,
    /// Longitude of the centre, decimal degrees (e.g. 119.54).
    #[arg(long, allow_hyphen_values = true, requires = "latitude")]
    longitude: Option<String>,
    /// Area in hectares, up to 2 decimals (e.g. 171.8).
    #[arg(long, value_parser = parse::area_centiha, value_name = "HECTARES")]
    area: u64,
    /// Methodology id, e.g. "HY/T 0349-2022".
    #[arg(long)]
    methodology: String,
    /// Methodology version, e.g. 2022.
    #[arg(long)]
    methodology_version: String,
    #[command(flatten)]
    tx: TxOpts,
}

#[derive(Args, Debug)]
struct UpdateProjectArgs {
    /// Project id.
    id: String,
    /// New display name.
    #[arg(long)]
    name: Option<String>,
    /// New owner (bct1...).
    #[arg(long, value_parser = parse::address)]
    owner: Option<Address>,
    /// New area in hectares.
    #[arg(long, value_parser = parse::area_centiha, value_name = "HECTARES")]
    area: Option<u64>,
    /// Make the project issuable again.
    #[arg(long, conflicts_with_all = ["suspend", "close"])]
    activate: bool,
    /// Suspend issuance, saying why.
    #[arg(long, value_name = "REASON", conflicts_with = "close")]
    suspend: Option<String>,
    /// Close the project for good.
    #[arg(long)]
    close: bool,
    #[command(flatten)]
    tx: TxOpts,
}

/// Where a monitoring report is: the file itself (hashed with blake3), or its hash.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
struct ReportArgs {
    /// The verification report file; its blake3 hash is what is attested.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// The blake3 hash of the verification report, 64 hex digits.
    #[arg(long, value_parser = parse::hash, value_name = "HEX")]
    report_hash: Option<Hash>,
}

#[derive(Args, Debug)]
struct AttestArgs {
    /// Project id.
    #[arg(long)]
    project: String,
    /// Monitoring period, START..END, e.g. 2021-01-01..2021-12-31.
    #[arg(long, value_parser = parse::period)]
    period: Period,
    /// Verified quantity (12.5t or 12500kg).
    #[arg(long, value_parser = parse::amount)]
    quantity: Amount,
    #[command(flatten)]
    report: ReportArgs,
    /// Methodology id [default: the project's].
    #[arg(long, requires = "methodology_version")]
    methodology: Option<String>,
    /// Methodology version [default: the project's].
    #[arg(long, requires = "methodology")]
    methodology_version: Option<String>,
    /// The verifier's statement (opinion, report reference).
    #[arg(long, default_value = "")]
    statement: String,
    #[command(flatten)]
    tx: TxOpts,
}

#[derive(Args, Debug)]
struct IssueArgs {
    /// Project id.
    #[arg(long)]
    project: String,
    /// Monitoring period, START..END (as attested).
    #[arg(long, value_parser = parse::period)]
    period: Period,
    /// Quantity to issue (at most what the verifiers attested).
    #[arg(long, value_parser = parse::amount)]
    quantity: Amount,
    #[command(flatten)]
    report: ReportArgs,
    /// First holder [default: the project owner].
    #[arg(long, value_parser = parse::address)]
    recipient: Option<Address>,
    #[command(flatten)]
    tx: TxOpts,
}

#[derive(Args, Debug)]
struct TransferArgs {
    /// Ticket id.
    ticket: String,
    /// Recipient (bct1...).
    #[arg(long, value_parser = parse::address)]
    to: Address,
    /// Quantity (lowest serials move first).
    #[arg(long, value_parser = parse::amount)]
    quantity: Amount,
    /// Sale price per tonne, in the currency's major unit (e.g. 20 or 183.50); records the trade.
    #[arg(long, value_name = "PRICE")]
    price_per_tonne: Option<String>,
    /// Currency of the price, ISO 4217.
    #[arg(long, default_value = "CNY", value_parser = parse::currency, requires = "price_per_tonne")]
    currency: String,
    /// The exchange's trade reference.
    #[arg(long, requires = "price_per_tonne", value_name = "REF")]
    trade_ref: Option<String>,
    #[command(flatten)]
    tx: TxOpts,
}

#[derive(Args, Debug)]
struct RetireArgs {
    /// Ticket id.
    ticket: String,
    /// Quantity (lowest serials first).
    #[arg(long, value_parser = parse::amount)]
    quantity: Amount,
    /// On whose behalf (a company, an event, a court case).
    #[arg(long)]
    beneficiary: String,
    /// voluntary, event, compliance, judicial_restoration or other.
    #[arg(long, value_parser = parse::purpose)]
    purpose: Purpose,
    /// Jurisdiction of the claim, e.g. CN-FJ.
    #[arg(long)]
    jurisdiction: String,
    /// Free text.
    #[arg(long, default_value = "")]
    note: String,
    /// After the commit, write the retirement certificate to this file.
    #[arg(long, value_name = "FILE", conflicts_with = "no_wait")]
    certificate: Option<PathBuf>,
    #[command(flatten)]
    tx: TxOpts,
}

#[derive(Args, Debug)]
struct PledgeArgs {
    /// Ticket id.
    ticket: String,
    /// Quantity.
    #[arg(long, value_parser = parse::amount)]
    quantity: Amount,
    /// The creditor (bct1...).
    #[arg(long, value_parser = parse::address)]
    pledgee: Address,
    #[command(flatten)]
    tx: TxOpts,
}

#[derive(Args, Debug)]
struct PledgeeArgs {
    /// Ticket id.
    ticket: String,
    /// The pledgor, who pledged the units (bct1...).
    #[arg(long, value_parser = parse::address)]
    holder: Address,
    /// Quantity.
    #[arg(long, value_parser = parse::amount)]
    quantity: Amount,
    #[command(flatten)]
    tx: TxOpts,
}

/// What a hold applies to.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
struct TargetArgs {
    /// An account (bct1...).
    #[arg(long, value_parser = parse::address)]
    account: Option<Address>,
    /// A ticket id.
    #[arg(long)]
    ticket: Option<String>,
}

#[derive(Args, Debug)]
struct FreezeArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Why (public).
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    tx: TxOpts,
}

#[derive(Args, Debug)]
struct UnfreezeArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    tx: TxOpts,
}

#[derive(Args, Debug)]
struct CancelArgs {
    /// Ticket id.
    ticket: String,
    /// Holder whose active or frozen units are cancelled (bct1...).
    #[arg(long, value_parser = parse::address)]
    holder: Address,
    /// Quantity.
    #[arg(long, value_parser = parse::amount)]
    quantity: Amount,
    /// Why (public).
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    tx: TxOpts,
}

/// A new validator set.
#[derive(Args, Debug)]
struct ValidatorSetArgs {
    /// A validator of the new set, PUBLIC_KEY_HEX:POWER:NAME (repeat for each).
    #[arg(long = "validator", value_parser = parse::validator, value_name = "KEY:POWER:NAME")]
    validators: Vec<Validator>,
    /// A JSON file with the new set: a list of {"public_key", "power", "name"} (as in genesis.json).
    #[arg(long, value_name = "FILE")]
    validators_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum ValidatorsCmd {
    /// Show the validator set that decides the next block.
    Show,
    /// Sign your approval of a new validator set with a validator key, and print it.
    Approve {
        #[command(flatten)]
        set: ValidatorSetArgs,
        /// Which change this is: the number of validator set changes so far, plus one.
        #[arg(long)]
        version: u64,
        /// Chain id [default: the node's].
        #[arg(long)]
        chain_id: Option<String>,
        /// Name of the validator's key, in the keystore.
        #[arg(long, env = "BCT_KEY", value_name = "NAME")]
        key: String,
    },
    /// Replace the validator set (authority), with approvals of more than 2/3 of the power.
    Update {
        #[command(flatten)]
        set: ValidatorSetArgs,
        /// An approval, PUBLIC_KEY_HEX:SIGNATURE_HEX, as `bct validators approve` prints (repeat).
        #[arg(long = "approval", value_parser = parse::approval, value_name = "KEY:SIGNATURE", required = true)]
        approvals: Vec<bct_ledger::tx::Approval>,
        #[command(flatten)]
        tx: TxOpts,
    },
}

#[derive(Args, Debug)]
struct BalanceArgs {
    /// The account (bct1...).
    #[arg(value_parser = parse::address)]
    address: Address,
    /// Only lots of this ticket.
    #[arg(long)]
    ticket: Option<String>,
}

#[derive(Subcommand, Debug)]
enum TicketCmd {
    /// Show a ticket with its attestations, lots and retirements.
    Show {
        /// Ticket id.
        id: String,
    },
    /// List the tickets of a project.
    List {
        /// Project id.
        project: String,
    },
}

#[derive(Args, Debug)]
struct RetirementsArgs {
    /// Only retirements for this beneficiary.
    #[arg(long, conflicts_with_all = ["ticket", "id"])]
    beneficiary: Option<String>,
    /// Only retirements of this ticket.
    #[arg(long, conflicts_with = "id")]
    ticket: Option<String>,
    /// Only at or above this height.
    #[arg(long)]
    from_height: Option<u64>,
    /// Only at or below this height.
    #[arg(long)]
    to_height: Option<u64>,
    /// Show this retirement only.
    #[arg(long)]
    id: Option<u64>,
    /// Most retirements to list.
    #[arg(long, default_value_t = 1000)]
    limit: usize,
}

#[derive(Args, Debug)]
struct BlockArgs {
    /// Height [default: the latest].
    height: Option<u64>,
}

#[derive(Args, Debug)]
struct TxShowArgs {
    /// Transaction id, 64 hex digits.
    #[arg(value_parser = parse::hash)]
    id: Hash,
}

#[derive(Subcommand, Debug)]
enum CertificateCmd {
    /// Fetch the certificate of a retirement and write it as a self-contained JSON file.
    Get {
        /// Retirement id.
        retirement_id: u64,
        /// File to write.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Verify the certificate against this genesis file before writing it.
        #[arg(long, value_name = "FILE")]
        genesis: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
struct VerifyArgs {
    /// The certificate file (from `bct certificate get` or `bct retire --certificate`).
    file: PathBuf,
    /// The network's genesis.json: the only thing trusted.
    #[arg(long, value_name = "FILE")]
    genesis: PathBuf,
}

#[derive(Args, Debug)]
struct WatchArgs {
    /// First height to show [default: the next block].
    #[arg(long)]
    from_height: Option<u64>,
}

impl Cli {
    fn out(&self) -> Out {
        Out { json: self.json }
    }

    async fn client(&self) -> Result<Client, ClientError> {
        let ca = match &self.ca_cert {
            Some(path) => Some(std::fs::read(path).map_err(|e| ClientError::BadUrl {
                url: self.node.clone(),
                reason: format!("cannot read the CA certificate {} (--ca-cert): {e}", path.display()),
            })?),
            None => None,
        };
        Client::connect_tls(&self.node, ca.as_deref()).await
    }
}

/// `bct export`: streams a CSV export from the node's web API to a file or standard output.
async fn export(a: &ExportArgs) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use bct_wallet::client::web::{get_into, query_string};
    let filters = [
        ("beneficiary", &a.beneficiary),
        ("purpose", &a.purpose),
        ("project", &a.project),
        ("ticket", &a.ticket),
        ("ecosystem", &a.ecosystem),
        ("jurisdiction", &a.jurisdiction),
        ("from", &a.from),
        ("until", &a.until),
        ("q", &a.q),
        ("region", &a.region),
        ("status", &a.status),
        ("role", &a.role),
    ];
    let pairs: Vec<(&str, &str)> = filters.iter().filter_map(|(k, v)| v.as_deref().map(|v| (*k, v))).collect();
    let mut path = format!("/api/v1/export/{}.{}", a.list, a.format);
    if !pairs.is_empty() {
        path = format!("{path}?{}", query_string(&pairs));
    }
    match &a.output {
        Some(file) => {
            // written next to the target and renamed, so a failed export leaves no partial file
            let tmp = file.with_extension("partial");
            let mut f =
                tokio::fs::File::create(&tmp).await.with_context(|| format!("cannot create {}", tmp.display()))?;
            let result = get_into(&a.web, &path, &mut f).await;
            drop(f);
            match result {
                Ok(n) => {
                    tokio::fs::rename(&tmp, file).await.with_context(|| format!("cannot write {}", file.display()))?;
                    eprintln!("Wrote {} ({n} bytes) from {}{path}", file.display(), a.web.trim_end_matches('/'));
                    Ok(())
                }
                Err(e) => {
                    let _ = tokio::fs::remove_file(&tmp).await;
                    Err(e.into())
                }
            }
        }
        None => {
            let mut stdout = tokio::io::stdout();
            get_into(&a.web, &path, &mut stdout).await?;
            Ok(())
        }
    }
}

/// Runs the command; an error becomes the message and exit code chosen by [`exit_code`].
pub(crate) async fn run(cli: Cli) -> anyhow::Result<()> {
    let out = cli.out();
    match &cli.command {
        Command::Keys(cmd) => keys::run(&cli, cmd, out),
        Command::Verify(args) => cert::verify(&args.file, &args.genesis, out),
        Command::Certificate(CertificateCmd::Get { retirement_id, output, genesis }) => {
            cert::get(&cli.client().await?, *retirement_id, output, genesis.as_deref(), out).await
        }
        Command::Account(AccountCmd::Show { address }) => query::account(&cli.client().await?, address, out).await,
        Command::Account(AccountCmd::Txs { address, limit }) => {
            query::account_txs(&cli.client().await?, address, *limit, out).await
        }
        Command::Project(ProjectCmd::Show { id }) => query::project(&cli.client().await?, id, out).await,
        Command::Project(ProjectCmd::List) => query::projects(&cli.client().await?, out).await,
        Command::Balance(a) => query::balance(&cli.client().await?, &a.address, a.ticket.as_deref(), out).await,
        Command::Ticket(TicketCmd::Show { id }) => query::ticket(&cli.client().await?, id, out).await,
        Command::Ticket(TicketCmd::List { project }) => query::tickets(&cli.client().await?, project, out).await,
        Command::Retirements(a) => query::retirements(&cli.client().await?, a, out).await,
        Command::Block(a) => query::block(&cli.client().await?, a.height, out).await,
        Command::Tx(a) => query::transaction(&cli.client().await?, &a.id, out).await,
        Command::Supply(a) => query::supply(&cli.client().await?, a.height, out).await,
        Command::Status => query::status(&cli.client().await?, out).await,
        Command::Validators(ValidatorsCmd::Show) => query::validators(&cli.client().await?, out).await,
        Command::Watch(a) => query::watch(&cli.client().await?, a.from_height, out).await,
        Command::Export(a) => export(a).await,
        Command::Validators(ValidatorsCmd::Approve { set, version, chain_id, key }) => {
            tx::approve(&cli, set, *version, chain_id.as_deref(), key, out).await
        }
        _ => tx::run(&cli, out).await,
    }
}

/// An argument that cannot be read, found after clap (it depends on another argument, such as
/// a price and its currency): exit code 2, as clap's own usage errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Usage(pub(crate) String);

/// Exit code of a usage error (clap's).
pub(crate) const EXIT_USAGE: u8 = 2;

/// A failure as the JSON object `--json` prints on stdout: `error` (the message), `exit_code`,
/// and for a refused certificate `verified: false` with the `reason`.
pub(crate) fn error_json(e: &anyhow::Error) -> serde_json::Value {
    let mut v = serde_json::json!({ "error": format!("{e:#}"), "exit_code": exit_code(e) });
    if let Some(c) = e.chain().find_map(|c| c.downcast_ref::<CertificateError>()) {
        v["verified"] = false.into();
        v["reason"] = c.to_string().into();
    }
    v
}

/// The exit code for a failure: what kind of failure is in the error's chain.
pub(crate) fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if let Some(ClientError::Rejected { .. }) = cause.downcast_ref::<ClientError>() {
            return EXIT_REJECTED;
        }
        if cause.downcast_ref::<tx::NotCommitted>().is_some() || cause.downcast_ref::<tx::StoppedWaiting>().is_some() {
            return EXIT_PENDING;
        }
        if cause.downcast_ref::<CertificateError>().is_some() {
            return EXIT_CERTIFICATE_REFUSED;
        }
        if cause.downcast_ref::<Usage>().is_some() {
            return EXIT_USAGE;
        }
    }
    EXIT_FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_exit_codes_and_json_errors() {
        let usage = anyhow::Error::new(Usage("--price: 20.123 has more than 2 decimals".into()));
        assert_eq!(exit_code(&usage), EXIT_USAGE);
        let missing = anyhow::anyhow!("transaction ab is unknown to this node");
        assert_eq!(exit_code(&missing), EXIT_FAILURE);
        let v = error_json(&usage);
        assert_eq!(v["exit_code"], 2);
        assert!(v["error"].as_str().is_some_and(|e| e.contains("more than 2 decimals")), "{v}");
        let refused = anyhow::Error::new(CertificateError::BadTxSignature).context("certificate c.json is refused");
        let v = error_json(&refused);
        assert_eq!((v["exit_code"].as_u64(), v["verified"].as_bool()), (Some(5), Some(false)), "{v}");
        assert!(v["reason"].as_str().is_some_and(|r| r.contains("signature")), "{v}");
    }
}
