//! `sp-test`: the test service provider and relying party.
//!
//! A stub for now: the SAML SP, the OIDC RP, the reference phone app and the
//! `verify` command arrive with their issues (see docs/ARCHITECTURE.md).

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "sp-test",
    version,
    about = "Test service provider for the regional IdP"
)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    println!("sp-test: nothing to run yet; see docs/ARCHITECTURE.md");
    Ok(())
}
