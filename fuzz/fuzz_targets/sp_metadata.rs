//! A service provider's SAML metadata, as the IdP fetches it from the SP's URL or reads
//! it from a file: `saml::metadata::sp::parse_sp_metadata` (the XML guard, the parser,
//! the enveloped signature when the source names signer certificates, the entity,
//! validity, keys, endpoints and algorithms).
//!
//! The first byte chooses: bit 0 set, the document must be signed by the test SP's RSA
//! certificate or an ECDSA certificate; bit 1, which of the two development SPs'
//! entityIDs is expected.
#![no_main]

use idp::saml::metadata::sp::parse_sp_metadata;
use idp_fuzz::{note, saml_trusted, NOW};
use libfuzzer_sys::fuzz_target;

const ENTITY_IDS: [&str; 2] = [
    "https://localhost:9443/sp/region-journal",
    "https://localhost:9443/sp/storstad-omsorg",
];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(xml) = std::str::from_utf8(rest) else {
        return;
    };
    let signers = (mode & 1 == 1).then(saml_trusted);
    let entity_id = ENTITY_IDS[usize::from(mode >> 1 & 1)];
    let parsed = parse_sp_metadata(xml, entity_id, signers, NOW);
    note(|| format!("{parsed:?}"));
});
