#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets (fuzz/seeds/<target>/) from the
repository's development PKI and configuration: real documents of each kind, validly
signed where the target checks a signature, so that the fuzzer starts from inputs that
pass every check. Run from anywhere; needs Python's `cryptography` and `xmlsec1`.

The seeds are committed; run this again only to change them. Times are fixed (around
NOW in fuzz/src/lib.rs), so the output depends only on the keys (ECDSA and the CRL and
OCSP signatures are randomised or time-free, so bytes may differ between runs).
"""

import base64
import datetime
import hashlib
import json
import pathlib
import subprocess
import tempfile
import urllib.parse
import zlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parent
CERTS = ROOT / "certs-dev"
SEEDS = FUZZ / "seeds"

NOW = datetime.datetime(2026, 12, 6, 0, 0, tzinfo=datetime.timezone.utc)
OCSP_NONCE = b"idp-fuzz-ocsp-nonce-0123456789ab"  # ocsp_response.rs
CHALLENGE = b"idp-fuzz-mobile-challenge-012345"  # mobile_api.rs
IDP = "https://localhost:8443"
SP = "https://localhost:9443/sp/region-journal"

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"


def read(path):
    return (CERTS / path).read_bytes()


def cert(path):
    return x509.load_pem_x509_certificate(read(path))


def key(path):
    return serialization.load_pem_private_key(read(path), None)


def write(target, name, data):
    directory = SEEDS / target
    directory.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (directory / name).write_bytes(data)


def b64(data):
    return base64.b64encode(data).decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ecdsa_fixed(signature, length=32):
    r, s = decode_dss_signature(signature)
    return r.to_bytes(length, "big") + s.to_bytes(length, "big")


def sign_bytes(private, data, pss=False):
    if isinstance(private, ec.EllipticCurvePrivateKey):
        return private.sign(data, ec.ECDSA(hashes.SHA256()))
    if pss:
        return private.sign(
            data,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
            hashes.SHA256(),
        )
    return private.sign(data, padding.PKCS1v15(), hashes.SHA256())


# --- SAML ------------------------------------------------------------------------------

def signature_template(ref_id, method):
    c14n = "http://www.w3.org/2001/10/xml-exc-c14n#"
    return (
        '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
        f'<ds:CanonicalizationMethod Algorithm="{c14n}"/>'
        f'<ds:SignatureMethod Algorithm="{method}"/>'
        f'<ds:Reference URI="#{ref_id}"><ds:Transforms>'
        '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
        f'<ds:Transform Algorithm="{c14n}"/></ds:Transforms>'
        '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
        "<ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo>"
        "<ds:SignatureValue></ds:SignatureValue></ds:Signature>"
    )


def xmlsec_sign(template, key_path, root):
    """Signs an enveloped-signature template with xmlsec1 (root: ns:LocalName whose ID
    attribute the reference names)."""
    with tempfile.TemporaryDirectory() as tmp:
        source = pathlib.Path(tmp) / "template.xml"
        source.write_text(template)
        out = subprocess.run(
            ["xmlsec1", "--sign", "--privkey-pem", str(CERTS / key_path),
             "--id-attr:ID", root, str(source)],
            check=True, capture_output=True,
        ).stdout.decode()
    # xmlsec1 adds an XML declaration; keep the message as an SP sends it, without.
    if out.startswith("<?xml"):
        out = out[out.index("?>") + 2:].lstrip()
    return out.rstrip("\n")


def authn_request(req_id, method=None):
    signature = signature_template(req_id, method) if method else ""
    return (
        '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{req_id}" Version="2.0" '
        f'IssueInstant="2026-12-05T23:59:30Z" Destination="{IDP}/saml/sso" '
        f'AssertionConsumerServiceURL="{SP}/acs" '
        'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" ForceAuthn="false">'
        f"<saml:Issuer>{SP}</saml:Issuer>{signature}"
        '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" '
        'AllowCreate="true"/>'
        '<samlp:RequestedAuthnContext Comparison="minimum">'
        "<saml:AuthnContextClassRef>http://id.sambi.se/loa/loa3</saml:AuthnContextClassRef>"
        "</samlp:RequestedAuthnContext></samlp:AuthnRequest>"
    )


def logout_request(req_id, method=None):
    signature = signature_template(req_id, method) if method else ""
    return (
        '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{req_id}" Version="2.0" '
        f'IssueInstant="2026-12-05T23:59:30Z" Destination="{IDP}/saml/slo">'
        f"<saml:Issuer>{SP}</saml:Issuer>{signature}"
        '<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient">'
        "_3f1c9a</saml:NameID><samlp:SessionIndex>_s1</samlp:SessionIndex>"
        "</samlp:LogoutRequest>"
    )


def logout_response(resp_id):
    return (
        '<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{resp_id}" Version="2.0" '
        f'IssueInstant="2026-12-05T23:59:30Z" Destination="{IDP}/saml/slo" '
        'InResponseTo="_idp-logout-1">'
        f"<saml:Issuer>{SP}</saml:Issuer><samlp:Status>"
        '<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
        "</samlp:Status></samlp:LogoutResponse>"
    )


def pct(value):
    return urllib.parse.quote(value, safe="-._~")


def deflated(xml):
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return b64(compressor.compress(xml.encode()) + compressor.flush())


def redirect_query(param, xml, relay_state=None, signer=None, method=None):
    query = f"{param}={pct(deflated(xml))}"
    if relay_state is not None:
        query += f"&RelayState={pct(relay_state)}"
    if signer:
        query += f"&SigAlg={pct(method)}"
        private = key(signer)
        signature = sign_bytes(private, query.encode())
        if isinstance(private, ec.EllipticCurvePrivateKey):
            signature = ecdsa_fixed(signature)
        query += f"&Signature={pct(b64(signature))}"
    return query


def saml_seeds():
    protocol = "urn:oasis:names:tc:SAML:2.0:protocol"
    rsa_key, ec_key = "signing/sp-test-signing.key.pem", "signing/saml-signing-ec.key.pem"

    # saml_redirect: first byte even = raw query, odd = XML NUL rest-of-query.
    write("saml_redirect", "authn-unsigned",
          b"\x00" + redirect_query("SAMLRequest", authn_request("_r1"), "/app?x=1").encode())
    write("saml_redirect", "authn-rsa-sha256",
          b"\x00" + redirect_query("SAMLRequest", authn_request("_r2"), "rs1", rsa_key,
                                   RSA_SHA256).encode())
    write("saml_redirect", "authn-ecdsa-sha256",
          b"\x00" + redirect_query("SAMLRequest", authn_request("_r3"), None, ec_key,
                                   ECDSA_SHA256).encode())
    write("saml_redirect", "logout-request-rsa",
          b"\x00" + redirect_query("SAMLRequest", logout_request("_l1"), "lr", rsa_key,
                                   RSA_SHA256).encode())
    write("saml_redirect", "logout-response",
          b"\x00" + redirect_query("SAMLResponse", logout_response("_lr1")).encode())
    write("saml_redirect", "xml-authn",
          b"\x01" + authn_request("_r4").encode() + b"\x00RelayState=abc&Foo=bar")
    write("saml_redirect", "xml-logout-signed-query",
          b"\x01" + logout_request("_l2").encode() + b"\x00SigAlg="
          + pct(RSA_SHA256).encode() + b"&Signature=AAAA")

    # saml_post: bit 0 = raw XML (else base64 form value), bit 1 = RelayState after NUL.
    signed_rsa = xmlsec_sign(authn_request("_p1", RSA_SHA256), rsa_key,
                             f"{protocol}:AuthnRequest")
    signed_ec = xmlsec_sign(authn_request("_p2", ECDSA_SHA256), ec_key,
                            f"{protocol}:AuthnRequest")
    signed_logout = xmlsec_sign(logout_request("_p3", RSA_SHA256), rsa_key,
                                f"{protocol}:LogoutRequest")
    wrapped = "\r\n".join(b64(signed_rsa.encode())[i:i + 76]
                          for i in range(0, len(b64(signed_rsa.encode())), 76))
    write("saml_post", "form-authn-rsa", b"\x00" + wrapped.encode())
    write("saml_post", "form-authn-unsigned",
          b"\x02" + b64(authn_request("_p4").encode()).encode() + b"\x00relay-42")
    write("saml_post", "xml-authn-ecdsa", b"\x01" + signed_ec.encode())
    write("saml_post", "xml-logout-request-rsa", b"\x01" + signed_logout.encode())
    write("saml_post", "xml-logout-response", b"\x03" + logout_response("_p5").encode()
          + b"\x00state")
    return signed_rsa


def metadata_seeds():
    region = (ROOT / "config/sp-test/region-journal.xml").read_text().strip()
    storstad = (ROOT / "config/sp-test/storstad-omsorg.xml").read_text().strip()
    # First byte: bit 0 = signature required, bit 1 = storstad-omsorg expected.
    write("sp_metadata", "region-journal", b"\x00" + region.encode())
    write("sp_metadata", "storstad-omsorg", b"\x02" + storstad.encode())

    body = region[region.index("<md:EntityDescriptor"):]
    opening_end = body.index(">")
    template = (body[:opening_end] + ' ID="_md1" validUntil="2027-06-01T00:00:00Z">'
                + signature_template("_md1", RSA_SHA256) + body[opening_end + 1:])
    signed = xmlsec_sign(template, "signing/sp-test-signing.key.pem",
                         "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor")
    write("sp_metadata", "region-journal-signed", b"\x01" + signed.encode())

    def inner(document):
        return document[document.index("<md:EntityDescriptor"):]

    extras = (
        '<md:Extensions><alg:SigningMethod xmlns:alg="urn:oasis:names:tc:SAML:metadata:algsupport" '
        f'Algorithm="{ECDSA_SHA256}"/></md:Extensions>'
    )
    aggregate_body = (
        '<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        'ID="_agg1" Name="dev" validUntil="2027-01-01T00:00:00Z">{signature}'
        + inner(region) + inner(storstad).replace(
            'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">',
            'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            + extras
            + "<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
            "</md:NameIDFormat>", 1)
        + "</md:EntitiesDescriptor>"
    )
    write("sp_metadata", "aggregate", b"\x02" + aggregate_body.format(signature="").encode())
    signed_aggregate = xmlsec_sign(
        aggregate_body.format(signature=signature_template("_agg1", ECDSA_SHA256)),
        "signing/saml-signing-ec.key.pem",
        "urn:oasis:names:tc:SAML:2.0:metadata:EntitiesDescriptor")
    write("sp_metadata", "aggregate-signed-ecdsa", b"\x03" + signed_aggregate.encode())


# --- Revocation ------------------------------------------------------------------------

def ocsp_seeds():
    anna, fredrik = cert("users/anna.pem"), cert("users/fredrik.pem")
    ca, ca_key = cert("ca/hsaid3.pem"), key("ca/hsaid3.key.pem")

    def response(status, algorithm=hashes.SHA1(), signer=None, nonce=True, next_update=True,
                 subject=anna, include=()):
        signer_cert, signer_key = signer or (ca, ca_key)
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=subject, issuer=ca, algorithm=algorithm, cert_status=status,
            this_update=NOW - datetime.timedelta(minutes=1),
            next_update=NOW + datetime.timedelta(days=7) if next_update else None,
            revocation_time=NOW - datetime.timedelta(days=30)
            if status == ocsp.OCSPCertStatus.REVOKED else None,
            revocation_reason=x509.ReasonFlags.key_compromise
            if status == ocsp.OCSPCertStatus.REVOKED else None,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, signer_cert)
        if nonce:
            builder = builder.add_extension(x509.OCSPNonce(OCSP_NONCE), critical=False)
        if include:
            builder = builder.certificates(list(include))
        return builder.sign(signer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def responder(private):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TEST Dev OCSP responder")])
        return (x509.CertificateBuilder()
                .subject_name(name).issuer_name(ca.subject).public_key(private.public_key())
                .serial_number(0x0C5B)
                .not_valid_before(NOW - datetime.timedelta(days=1))
                .not_valid_after(NOW + datetime.timedelta(days=3650))
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), True)
                .add_extension(x509.OCSPNoCheck(), False)
                .sign(ca_key, hashes.SHA256()))

    good, revoked, unknown = (ocsp.OCSPCertStatus.GOOD, ocsp.OCSPCertStatus.REVOKED,
                              ocsp.OCSPCertStatus.UNKNOWN)
    write("ocsp_response", "good-sha1-nonce", response(good))
    write("ocsp_response", "revoked-sha256", response(revoked, hashes.SHA256()))
    write("ocsp_response", "unknown-no-nonce", response(unknown, nonce=False))
    write("ocsp_response", "good-no-next-update", response(good, next_update=False))
    write("ocsp_response", "other-certificate", response(good, subject=fredrik))
    rsa_responder_key = key("signing/sp-test-signing.key.pem")
    rsa_responder = responder(rsa_responder_key)
    write("ocsp_response", "delegated-rsa",
          response(good, signer=(rsa_responder, rsa_responder_key), include=[rsa_responder]))
    ec_responder_key = key("signing/saml-signing-ec.key.pem")
    ec_responder = responder(ec_responder_key)
    write("ocsp_response", "delegated-ecdsa",
          response(revoked, signer=(ec_responder, ec_responder_key), include=[ec_responder]))
    write("ocsp_response", "try-later",
          ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
          .public_bytes(serialization.Encoding.DER))


def crl_seeds():
    ca, ca_key = cert("ca/hsaid3.pem"), key("ca/hsaid3.key.pem")
    anna, fredrik = cert("users/anna.pem"), cert("users/fredrik.pem")
    # First byte: 0 = asks about Anna, 1 = about Fredrik (revoked in the CA's CRL).
    write("crl", "hsaid3-der-anna", b"\x00" + read("ca/hsaid3.crl.der"))
    write("crl", "hsaid3-pem-fredrik", b"\x01" + read("ca/hsaid3.crl.pem"))
    write("crl", "mobile-ca-der", b"\x00" + read("ca/mobile.crl.der"))

    def crl(entries, extensions=(), algorithm=hashes.SHA256(), rsa_padding=None):
        builder = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
                   .last_update(NOW - datetime.timedelta(days=1))
                   .next_update(NOW + datetime.timedelta(days=30)))
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical)
        for serial, reason in entries:
            entry = (x509.RevokedCertificateBuilder().serial_number(serial)
                     .revocation_date(NOW - datetime.timedelta(days=2)))
            if reason:
                entry = entry.add_extension(x509.CRLReason(reason), False).add_extension(
                    x509.InvalidityDate(NOW - datetime.timedelta(days=3)), False)
            builder = builder.add_revoked_certificate(entry.build())
        kwargs = {"rsa_padding": rsa_padding} if rsa_padding else {}
        return builder.sign(ca_key, algorithm, **kwargs).public_bytes(serialization.Encoding.DER)

    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key())
    write("crl", "extensions-sha384-fredrik",
          b"\x01" + crl([(fredrik.serial_number, x509.ReasonFlags.key_compromise),
                         (0x0123456789, x509.ReasonFlags.superseded)],
                        [(x509.CRLNumber(42), False), (aki, False)], hashes.SHA384()))
    write("crl", "delta-anna",
          b"\x00" + crl([(anna.serial_number, None)],
                        [(x509.CRLNumber(43), False), (x509.DeltaCRLIndicator(42), True)]))
    write("crl", "pss-empty-anna",
          b"\x00" + crl([], [(x509.CRLNumber(44), False)], rsa_padding=padding.PSS(
              mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)))


# --- OIDC ------------------------------------------------------------------------------

def jws(header, claims, private):
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = sign_bytes(private, signing_input.encode())
    if isinstance(private, ec.EllipticCurvePrivateKey):
        signature = ecdsa_fixed(signature)
    return f"{signing_input}.{b64url(signature)}"


def thumbprint(public):
    numbers = public.public_numbers()
    if isinstance(public, ec.EllipticCurvePublicKey):
        members = {"crv": "P-256", "kty": "EC", "x": b64url(numbers.x.to_bytes(32, "big")),
                   "y": b64url(numbers.y.to_bytes(32, "big"))}
    else:
        n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
        members = {"e": b64url(e), "kty": "RSA", "n": b64url(n)}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return b64url(hashlib.sha256(canonical).digest())


def oidc_seeds():
    now = int(NOW.timestamp())
    jwks = (FUZZ / "fixtures/client-jwks.json").read_text().strip()
    client = "region-appen"
    claims = {"iss": client, "sub": client, "aud": f"{IDP}/oidc/token", "iat": now - 10,
              "exp": now + 290, "jti": "a7c3e1f0-2b4d-4e8a-9c1d-5f6e7a8b9c0d"}
    es256 = jws({"alg": "ES256", "kid": "region-appen-1", "typ": "JWT"}, claims,
                key("clients/region-appen.key.pem"))
    write("client_assertion", "es256-assertion", es256)
    hour = dict(claims, aud=[IDP, "other"], iat=now, exp=now + 3600, nbf=now - 5)
    rs256 = jws({"alg": "RS256", "kid": "fuzz-rsa-1"}, hour, key("signing/sp-test-signing.key.pem"))
    write("client_assertion", "rs256-assertion-with-jwks", f"{rs256}\n{jwks}")
    crit = jws({"alg": "ES256", "crit": ["exp"], "exp": 1}, claims, key("clients/region-appen.key.pem"))
    write("client_assertion", "crit-header-odd-jwks",
          crit + '\n{"keys":[{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"},'
          '{"kty":"EC","crv":"P-384","x":"AA","y":"AA"},{"kty":"oct","k":"c2VjcmV0"}]}')
    own_key = key("signing/oidc-es256.key.pem")
    id_token = jws({"alg": "ES256", "kid": thumbprint(own_key.public_key()), "typ": "JWT"},
                   {"iss": IDP, "sub": "u-1", "aud": client, "sid": "s-1", "iat": now - 60,
                    "exp": now + 240}, own_key)
    write("client_assertion", "id-token-hint-es256", id_token)
    own_rsa = key("signing/oidc-rs256.key.pem")
    write("client_assertion", "id-token-hint-rs256",
          jws({"alg": "RS256", "kid": thumbprint(own_rsa.public_key())},
              {"iss": IDP, "aud": client, "exp": now}, own_rsa) + "\n{\"keys\": 1}")


# --- Mobile app API ----------------------------------------------------------------------

def pem_b64(path):
    return b64(cert(path).public_bytes(serialization.Encoding.DER))


def mobile_seeds():
    anna_mobile, mobile_ca = pem_b64("users/anna-mobile.pem"), pem_b64("ca/mobile.pem")
    anna, hsaid3 = pem_b64("users/anna.pem"), pem_b64("ca/hsaid3.pem")
    write("mobile_api", "claim-qr", json.dumps(
        {"qr": "rid.3xk2q9.7.4f1c0a9e", "certificate": anna_mobile}))
    write("mobile_api", "claim-autostart", json.dumps(
        {"autostart_token": "Jd8f7c2e1k", "certificate": anna_mobile}))

    def complete(algorithm, leaf, chain, signer, pss=False):
        signature = sign_bytes(key(signer), CHALLENGE, pss)
        return json.dumps({"claim_token": "ct-3b9f2a", "signature": b64(signature),
                           "signature_algorithm": algorithm,
                           "certificate_chain": [leaf] + chain}, indent=1)

    write("mobile_api", "complete-ecdsa", complete(
        "ecdsa-p256-sha256", anna_mobile, [mobile_ca], "users/anna-mobile.key.pem"))
    write("mobile_api", "complete-rsa-pss", complete(
        "rsa-pss-sha256", anna, [hsaid3], "users/anna.key.pem", pss=True))
    write("mobile_api", "complete-rsa-pkcs1", complete(
        "rsa-pkcs1-sha256", anna, [], "users/anna.key.pem"))
    write("mobile_api", "decline", '{"claim_token": "ct-3b9f2a"}')


def tenant_seeds():
    for path in sorted((ROOT / "config/tenants").glob("*.toml")):
        write("tenant_file", path.name, path.read_bytes())


if __name__ == "__main__":
    saml_seeds()
    metadata_seeds()
    ocsp_seeds()
    crl_seeds()
    oidc_seeds()
    mobile_seeds()
    tenant_seeds()
    for directory in sorted(SEEDS.iterdir()):
        print(f"{directory.name}: {len(list(directory.iterdir()))} seeds")
