#!/usr/bin/env python3
"""A pysaml2 service provider driven step by step by the end-to-end tests.

    sp.py COMMAND WORKDIR  < request.json  > answer.json

Every step is one invocation: it reads a JSON object on stdin, prints one JSON object on
stdout and keeps what later steps need (keys, options, the last login) in WORKDIR. The
IdP's metadata is expected in WORKDIR/idp-metadata.xml for every command but `init`.

    sp.py serve WORKDIR

runs the same commands one per line ({"command": ..., "input": {...}} in, {"ok": ...,
"answer": {...}} out), importing pysaml2 (about a second) only once; the tests use this.

Commands:
  init                     keys and options; prints the SP metadata to register at the IdP
  authn-request            an AuthnRequest over HTTP-Redirect or HTTP-POST
  consume-response         a SAML Response as pysaml2 checks it (signatures, InResponseTo,
                           Audience, Recipient, times) and what it says
  logout-request           an SP-initiated LogoutRequest
  consume-logout-response  the IdP's LogoutResponse
  consume-logout-request   an IdP-initiated LogoutRequest, answered with a LogoutResponse
  redirect-encode          deflate+base64 an XML message and build (and sign) a Redirect query
  inflate                  the XML inside a Redirect-binding SAMLRequest/SAMLResponse
  xml-info                 root, IDs, signatures and encryption of an XML document
  verify-redirect          the query signature of a Redirect-binding message

Nothing here is secret: the keys are generated per test run in WORKDIR.
"""

import base64
import datetime
import json
import os
import shutil
import sys
import traceback
import urllib.parse
import zlib

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

BINDING_HTTP_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
BINDING_HTTP_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
SIG_RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
DIGEST_SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


def use_pysaml2():
    """Imports pysaml2 (about a second: it builds its XML schemas), only for the
    commands that need it."""
    global saml2, samlp, Saml2Client, SPConfig, create_metadata_string, StatusError
    global NameID, RequestedAuthnContext, AuthnContextClassRef
    import saml2
    from saml2 import samlp
    from saml2.client import Saml2Client
    from saml2.config import SPConfig
    from saml2.metadata import create_metadata_string
    from saml2.response import StatusError
    from saml2.saml import AuthnContextClassRef, NameID
    from saml2.samlp import RequestedAuthnContext

NAMEID_FORMATS = {
    "persistent": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    "transient": "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
    "emailAddress": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    "unspecified": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
}
BINDINGS = {"redirect": BINDING_HTTP_REDIRECT, "post": BINDING_HTTP_POST}
ENC_NS = "http://www.w3.org/2001/04/xmlenc#"
ENCRYPTION_ALGORITHMS = {
    "aes256-gcm": "http://www.w3.org/2009/xmlenc11#aes256-gcm",
    "aes128-gcm": "http://www.w3.org/2009/xmlenc11#aes128-gcm",
    "aes256-cbc": "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
    "aes128-cbc": "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
}


class UsageError(Exception):
    pass


# --- keys ------------------------------------------------------------------------------


def write_key_pair(workdir, name, common_name):
    """An RSA-2048 key and a self-signed certificate: WORKDIR/<name>.key, <name>.crt."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_path = os.path.join(workdir, f"{name}.key")
    cert_path = os.path.join(workdir, f"{name}.crt")
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    os.chmod(key_path, 0o600)
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def load_private_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


# --- configuration ---------------------------------------------------------------------


def options_path(workdir):
    return os.path.join(workdir, "options.json")


def load_options(workdir):
    with open(options_path(workdir)) as f:
        return json.load(f)


def idp_metadata_path(workdir):
    return os.path.join(workdir, "idp-metadata.xml")


def sp_config(workdir, options, with_idp=True, signing_key="sp"):
    """The pysaml2 SP configuration for `options` (as stored by init)."""
    sp = {
        "endpoints": {
            "assertion_consumer_service": [(options["acs_url"], BINDING_HTTP_POST)]
            + [(url, BINDING_HTTP_POST) for url in options.get("extra_acs_urls", [])],
            "single_logout_service": [
                (options["slo_url"], BINDINGS[binding]) for binding in options.get("slo_bindings", ["redirect", "post"])
            ],
        },
        "want_response_signed": options["want_response_signed"],
        "want_assertions_signed": options["want_assertions_signed"],
        "want_assertions_or_response_signed": True,
        "authn_requests_signed": options["authn_requests_signed"],
        "logout_requests_signed": True,
        "logout_responses_signed": True,
        "allow_unsolicited": False,
        "allow_unknown_attributes": True,
        "name_id_format": [NAMEID_FORMATS[options["name_id_format"]]],
        "name_id_format_allow_create": options["name_id_format"] == "persistent",
    }
    config = {
        "entityid": options["entity_id"],
        "service": {"sp": sp},
        "key_file": os.path.join(workdir, f"{signing_key}.key"),
        "cert_file": os.path.join(workdir, "sp.crt"),
        "xmlsec_binary": shutil.which("xmlsec1"),
        "signing_algorithm": SIG_RSA_SHA256,
        "digest_algorithm": DIGEST_SHA256,
        "accepted_time_diff": 60,
        "organization": {
            "name": [("Test-SP", "sv"), ("Test SP", "en")],
            "display_name": [("Test-SP", "sv"), ("Test SP", "en")],
            "url": [(options["entity_id"], "en")],
        },
    }
    if signing_key != "sp":
        # Sign with another key, but keep announcing (and decrypting with) our own.
        config["cert_file"] = os.path.join(workdir, f"{signing_key}.crt")
    if options["encrypt"]:
        config["encryption_keypairs"] = [
            {
                "key_file": os.path.join(workdir, "enc.key"),
                "cert_file": os.path.join(workdir, "enc.crt"),
            }
        ]
    if with_idp:
        path = idp_metadata_path(workdir)
        if not os.path.exists(path):
            raise UsageError(f"{path} is missing: save the IdP's /saml/metadata there first")
        config["metadata"] = {"local": [path]}
    conf = SPConfig()
    conf.load(config)
    return conf


def client(workdir, options=None, signing_key="sp"):
    options = options or load_options(workdir)
    return Saml2Client(config=sp_config(workdir, options, signing_key=signing_key))


def idp_entity_id(cl):
    idps = list(cl.metadata.identity_providers())
    if len(idps) != 1:
        raise UsageError(f"expected one IdP in the IdP metadata, found {idps}")
    return idps[0]


def idp_signing_certificates(cl):
    """The IdP's signing certificates (PEM) from its metadata."""
    entity = idp_entity_id(cl)
    pems = []
    for _, cert in cl.metadata.certs(entity, "idpsso", "signing"):
        body = "".join(cert.split())
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        pems.append("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n")
    return pems


def idp_service(cl, service, binding):
    entity = idp_entity_id(cl)
    locations = list(getattr(cl.metadata, service)(entity, binding=binding, typ="idpsso"))
    if not locations:
        raise UsageError(f"the IdP metadata has no {service} for {binding}")
    return locations[0]["location"]


# --- helpers -------------------------------------------------------------------------


def deflate_b64(xml):
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(compressor.compress(data) + compressor.flush()).decode("ascii")


def inflate_b64(text):
    return zlib.decompress(base64.b64decode(text), -15).decode("utf-8")


SIG_ALGS = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": ("rsa", hashes.SHA256()),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": ("rsa", hashes.SHA384()),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": ("rsa", hashes.SHA512()),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": ("ec", hashes.SHA256()),
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1": ("rsa", hashes.SHA1()),
}


def redirect_query(kind, xml, relay_state=None, key_path=None, sig_alg=SIG_RSA_SHA256):
    """The query of an HTTP-Redirect message, signed with `key_path` when given."""
    parts = [f"{kind}={urllib.parse.quote_plus(deflate_b64(xml))}"]
    if relay_state:
        parts.append(f"RelayState={urllib.parse.quote_plus(relay_state)}")
    if key_path:
        parts.append(f"SigAlg={urllib.parse.quote_plus(sig_alg)}")
        signed = "&".join(parts).encode("ascii")
        key = load_private_key(key_path)
        _, digest = SIG_ALGS[sig_alg]
        if isinstance(key, rsa.RSAPrivateKey):
            signature = key.sign(signed, padding.PKCS1v15(), digest)
        else:
            signature = key.sign(signed, ec.ECDSA(digest))
        parts.append(f"Signature={urllib.parse.quote_plus(base64.b64encode(signature).decode('ascii'))}")
    return "&".join(parts)


def verify_redirect_query(raw_query, kind, certificates_pem):
    """Checks the signature of a Redirect-binding query over its raw (as received) parts.

    Returns None when the query carries no signature, else True/False."""
    pairs = {}
    raw = {}
    for part in raw_query.split("&"):
        if "=" not in part:
            continue
        name, value = part.split("=", 1)
        raw[name] = part
        pairs[name] = urllib.parse.unquote_plus(value)
    if "Signature" not in pairs:
        return None
    sig_alg = pairs.get("SigAlg")
    if sig_alg not in SIG_ALGS:
        return False
    signed = "&".join(raw[k] for k in (kind, "RelayState", "SigAlg") if k in raw).encode("ascii")
    signature = base64.b64decode(pairs["Signature"])
    kind_of_key, digest = SIG_ALGS[sig_alg]
    for pem in certificates_pem:
        public_key = x509.load_pem_x509_certificate(pem.encode("ascii")).public_key()
        try:
            if kind_of_key == "rsa" and isinstance(public_key, rsa.RSAPublicKey):
                public_key.verify(signature, signed, padding.PKCS1v15(), digest)
                return True
            if kind_of_key == "ec" and isinstance(public_key, ec.EllipticCurvePublicKey):
                public_key.verify(ecdsa_der(signature, public_key), signed, ec.ECDSA(digest))
                return True
        except (InvalidSignature, ValueError, TypeError):
            continue
    return False


def ecdsa_der(signature, public_key):
    """XML Signature writes ECDSA signatures as r || s (RFC 4050); cryptography wants
    DER. A signature already in DER is returned as it is."""
    size = (public_key.curve.key_size + 7) // 8
    if len(signature) != 2 * size:
        return signature
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    r = int.from_bytes(signature[:size], "big")
    s = int.from_bytes(signature[size:], "big")
    return encode_dss_signature(r, s)


def message_from(request, kind):
    """The XML, RelayState, binding and raw query of an incoming message.

    `request` has either "url" (HTTP-Redirect: the whole URL the IdP sent the browser to)
    or "fields" (HTTP-POST: the form fields)."""
    if request.get("url"):
        query = urllib.parse.urlsplit(request["url"]).query
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        if kind not in params:
            raise UsageError(f"no {kind} in {request['url']}")
        return inflate_b64(params[kind]), params.get("RelayState"), "redirect", query
    fields = request.get("fields") or {}
    if kind not in fields:
        raise UsageError(f"no {kind} among the form fields {sorted(fields)}")
    return base64.b64decode(fields[kind]).decode("utf-8"), fields.get("RelayState"), "post", None


def has_child_signature(xml, local_name):
    """Whether the first element `local_name` has a ds:Signature as a direct child."""
    from xml.etree import ElementTree as ET

    root = ET.fromstring(xml)
    ds = "{http://www.w3.org/2000/09/xmldsig#}Signature"
    nodes = [root] if root.tag.endswith("}" + local_name) else list(root.iter())
    for node in nodes:
        if node.tag.endswith("}" + local_name):
            return any(child.tag == ds for child in node)
    return False


def status_codes(status):
    codes = []
    code = status.status_code if status is not None else None
    while code is not None:
        codes.append(code.value)
        code = code.status_code
    message = None
    if status is not None and status.status_message is not None:
        message = status.status_message.text
    return codes, message


def name_id_json(name_id):
    if name_id is None:
        return None
    return {
        "text": name_id.text,
        "format": name_id.format,
        "name_qualifier": name_id.name_qualifier,
        "sp_name_qualifier": name_id.sp_name_qualifier,
    }


def name_id_from_json(data):
    return NameID(
        text=data["text"],
        format=data.get("format"),
        name_qualifier=data.get("name_qualifier"),
        sp_name_qualifier=data.get("sp_name_qualifier"),
    )


def sessions_path(workdir):
    return os.path.join(workdir, "sessions.json")


def load_sessions(workdir):
    try:
        with open(sessions_path(workdir)) as f:
            return json.load(f)
    except FileNotFoundError:
        return []


def save_sessions(workdir, sessions):
    with open(sessions_path(workdir), "w") as f:
        json.dump(sessions, f)


# --- commands --------------------------------------------------------------------------


def cmd_init(workdir, request):
    """Keys and options. Input: entity_id; optional acs_url, extra_acs_urls, slo_url
    (default <entity_id>/acs and /slo), slo_bindings (["redirect", "post"]),
    want_response_signed (false), want_assertions_signed (true), authn_requests_signed
    (false), encrypt (false), encryption_methods (short names or URIs, put in the
    encryption KeyDescriptor), signing_methods (URIs: the only alg:SigningMethod kept),
    name_id_format (persistent). Prints the SP metadata."""
    os.makedirs(workdir, exist_ok=True)
    entity_id = request["entity_id"]
    base = request.get("base_url", entity_id.rstrip("/"))
    options = {
        "entity_id": entity_id,
        "acs_url": request.get("acs_url", base + "/acs"),
        "extra_acs_urls": request.get("extra_acs_urls", []),
        "slo_url": request.get("slo_url", base + "/slo"),
        "want_response_signed": bool(request.get("want_response_signed", False)),
        "want_assertions_signed": bool(request.get("want_assertions_signed", True)),
        "authn_requests_signed": bool(request.get("authn_requests_signed", False)),
        "encrypt": bool(request.get("encrypt", False)),
        "name_id_format": request.get("name_id_format", "persistent"),
        "slo_bindings": request.get("slo_bindings", ["redirect", "post"]),
    }
    write_key_pair(workdir, "sp", "pysaml2 test SP signing")
    write_key_pair(workdir, "other", "a key the IdP does not know")
    if options["encrypt"]:
        write_key_pair(workdir, "enc", "pysaml2 test SP encryption")
    with open(options_path(workdir), "w") as f:
        json.dump(options, f, indent=2)

    conf = sp_config(workdir, options, with_idp=False)
    metadata = create_metadata_string(None, config=conf, sign=False)
    metadata = metadata.decode("utf-8") if isinstance(metadata, bytes) else metadata
    signing_methods = request.get("signing_methods")
    if signing_methods is not None:
        metadata = keep_signing_methods(metadata, signing_methods)
    methods = request.get("encryption_methods") or []
    if methods and options["encrypt"]:
        metadata = add_encryption_methods(metadata, [ENCRYPTION_ALGORITHMS.get(m, m) for m in methods])
    metadata_file = os.path.join(workdir, "sp-metadata.xml")
    with open(metadata_file, "w") as f:
        f.write(metadata)
    return {
        "entity_id": entity_id,
        "acs_url": options["acs_url"],
        "slo_url": options["slo_url"],
        "metadata": metadata,
        "metadata_file": metadata_file,
        "signing_certificate": os.path.join(workdir, "sp.crt"),
        "signing_key": os.path.join(workdir, "sp.key"),
        "other_certificate": os.path.join(workdir, "other.crt"),
        "other_key": os.path.join(workdir, "other.key"),
        "encryption_certificate": os.path.join(workdir, "enc.crt") if options["encrypt"] else None,
        "encryption_key": os.path.join(workdir, "enc.key") if options["encrypt"] else None,
    }


def keep_signing_methods(metadata, algorithms):
    """Keeps only these alg:SigningMethod elements (pysaml2 lists all that xmlsec1 can
    do), so that a test decides which signature algorithm the SP announces."""
    import re

    def keep(match):
        return match.group(0) if match.group(1) in algorithms else ""

    return re.sub(r'<(?:\w+:)?SigningMethod Algorithm="([^"]+)"\s*/>', keep, metadata)


def add_encryption_methods(metadata, algorithms):
    """Adds md:EncryptionMethod elements to the encryption KeyDescriptor."""
    from xml.etree import ElementTree as ET

    md_ns = "urn:oasis:names:tc:SAML:2.0:metadata"
    for prefix, uri in [
        ("md", md_ns),
        ("ds", "http://www.w3.org/2000/09/xmldsig#"),
        ("mdui", "urn:oasis:names:tc:SAML:metadata:ui"),
        ("xs", "http://www.w3.org/2001/XMLSchema"),
        ("xsi", "http://www.w3.org/2001/XMLSchema-instance"),
        ("alg", "urn:oasis:names:tc:SAML:metadata:algsupport"),
        ("saml", "urn:oasis:names:tc:SAML:2.0:assertion"),
    ]:
        ET.register_namespace(prefix, uri)
    root = ET.fromstring(metadata)
    found = False
    for kd in root.iter(f"{{{md_ns}}}KeyDescriptor"):
        if kd.get("use") == "encryption":
            for algorithm in algorithms:
                ET.SubElement(kd, f"{{{md_ns}}}EncryptionMethod", {"Algorithm": algorithm})
            found = True
    if not found:
        raise UsageError("no encryption KeyDescriptor in the SP metadata")
    return ET.tostring(root, encoding="unicode")


def cmd_authn_request(workdir, request):
    """Input: binding (redirect|post), loa (URI or list), comparison (exact),
    force_authn, is_passive, name_id_format (persistent|transient|emailAddress|URI|null
    for no NameIDPolicy), relay_state, sign (default: authn_requests_signed),
    signing_key ("sp" or "other", a key the IdP does not know), acs_url, acs_index,
    destination (the Destination attribute; the message still goes to the IdP)."""
    options = load_options(workdir)
    binding = request.get("binding", "redirect")
    if binding not in BINDINGS:
        raise UsageError(f"binding must be redirect or post, not {binding}")
    signing_key = request.get("signing_key", "sp")
    cl = client(workdir, options, signing_key=signing_key)
    sign = bool(request.get("sign", options["authn_requests_signed"]))
    destination = idp_service(cl, "single_sign_on_service", BINDINGS[binding])
    kwargs = {}
    loa = request.get("loa")
    if loa:
        refs = loa if isinstance(loa, list) else [loa]
        kwargs["requested_authn_context"] = RequestedAuthnContext(
            authn_context_class_ref=[AuthnContextClassRef(text=r) for r in refs],
            comparison=request.get("comparison", "exact"),
        )
    if request.get("force_authn"):
        kwargs["force_authn"] = "true"
    if request.get("is_passive"):
        kwargs["is_passive"] = "true"
    if request.get("acs_url"):
        kwargs["assertion_consumer_service_url"] = request["acs_url"]
    if request.get("acs_index") is not None:
        kwargs["assertion_consumer_service_index"] = str(request["acs_index"])
    name_id_format = request.get("name_id_format", options["name_id_format"])
    nameid_format = NAMEID_FORMATS.get(name_id_format, name_id_format) if name_id_format else None
    message_destination = request.get("destination", destination)
    sign_post = sign and binding == "post"
    request_id, authn_request = cl.create_authn_request(
        destination=message_destination,
        binding=BINDING_HTTP_POST,
        nameid_format=nameid_format,
        sign=sign_post,
        sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
        **kwargs,
    )
    xml = str(authn_request)
    relay_state = request.get("relay_state", "")
    answer = {"request_id": request_id, "xml": xml, "destination": destination}
    if binding == "redirect":
        key_path = os.path.join(workdir, f"{signing_key}.key") if sign else None
        query = redirect_query("SAMLRequest", xml, relay_state, key_path)
        answer.update({"binding": "redirect", "url": f"{destination}?{query}"})
    else:
        fields = {"SAMLRequest": base64.b64encode(xml.encode("utf-8")).decode("ascii")}
        if relay_state:
            fields["RelayState"] = relay_state
        answer.update({"binding": "post", "action": destination, "fields": fields})
    return answer


def cmd_consume_response(workdir, request):
    """Input: saml_response (base64), relay_state, request_id (the outstanding
    request). status: ok (pysaml2 accepted it), error (a non-success status) or
    invalid (pysaml2 refused it), with what the response says."""
    options = load_options(workdir)
    cl = client(workdir, options)
    saml_response = request["saml_response"]
    xml = base64.b64decode(saml_response).decode("utf-8")
    request_id = request.get("request_id")
    outstanding = {request_id: options["acs_url"]} if request_id else {}
    encrypted = "EncryptedAssertion" in xml
    answer = {
        "response_signed": has_child_signature(xml, "Response"),
        "encrypted": encrypted,
        "relay_state": request.get("relay_state"),
    }
    try:
        parsed = samlp.response_from_string(xml)
        codes, message = status_codes(parsed.status)
        answer.update(
            {
                "status_codes": codes,
                "status_message": message,
                "destination": parsed.destination,
                "in_response_to": parsed.in_response_to,
                "issuer": parsed.issuer.text if parsed.issuer is not None else None,
            }
        )
    except Exception as exc:  # not even a Response
        answer.update({"status": "invalid", "error": f"{type(exc).__name__}: {exc}"})
        return answer
    try:
        response = cl.parse_authn_request_response(saml_response, BINDING_HTTP_POST, outstanding=outstanding)
    except StatusError as exc:
        answer.update({"status": "error", "error": f"{type(exc).__name__}: {exc}"})
        return answer
    except Exception as exc:
        answer.update({"status": "invalid", "error": f"{type(exc).__name__}: {exc}"})
        return answer
    if response is None:
        answer.update({"status": "invalid", "error": "pysaml2 returned no response"})
        return answer

    assertion = response.assertion
    attributes = {}
    attribute_name_formats = {}
    for statement in assertion.attribute_statement:
        for attribute in statement.attribute:
            values = [v.text for v in attribute.attribute_value]
            attributes.setdefault(attribute.name, []).extend(values)
            attribute_name_formats[attribute.name] = attribute.name_format
    authn = assertion.authn_statement[0] if assertion.authn_statement else None
    accr = None
    if authn is not None and authn.authn_context is not None and authn.authn_context.authn_context_class_ref:
        accr = authn.authn_context.authn_context_class_ref.text
    audiences = []
    if assertion.conditions is not None:
        for restriction in assertion.conditions.audience_restriction:
            audiences.extend(a.text for a in restriction.audience)
    confirmations = []
    for sc in assertion.subject.subject_confirmation:
        data = sc.subject_confirmation_data
        confirmations.append(
            {
                "method": sc.method,
                "recipient": data.recipient if data is not None else None,
                "in_response_to": data.in_response_to if data is not None else None,
                "not_on_or_after": data.not_on_or_after if data is not None else None,
            }
        )
    name_id = response.name_id
    answer.update(
        {
            "status": "ok",
            "name_id": name_id_json(name_id),
            "name_id_format": name_id.format if name_id is not None else None,
            "attributes": attributes,
            "attribute_name_formats": attribute_name_formats,
            "authn_context_class_ref": accr,
            "session_index": authn.session_index if authn is not None else None,
            "authn_statements": len(assertion.authn_statement),
            "attribute_statements": len(assertion.attribute_statement),
            "assertion_issuer": assertion.issuer.text if assertion.issuer is not None else None,
            "audiences": audiences,
            "subject_confirmations": confirmations,
            "assertion_signed": assertion.signature is not None,
            "assertion_xml": str(assertion),
        }
    )
    sessions = load_sessions(workdir)
    sessions.append({"name_id": answer["name_id"], "session_index": answer["session_index"]})
    save_sessions(workdir, sessions)
    return answer


def cmd_logout_request(workdir, request):
    """Input: binding, relay_state, sign (true), signing_key ("sp" or "other"), name_id
    and session_index (default: the last login)."""
    options = load_options(workdir)
    signing_key = request.get("signing_key", "sp")
    cl = client(workdir, options, signing_key=signing_key)
    binding = request.get("binding", "redirect")
    sessions = load_sessions(workdir)
    if request.get("name_id"):
        name_id = request["name_id"]
        session_index = request.get("session_index")
    elif sessions:
        name_id = sessions[-1]["name_id"]
        session_index = request.get("session_index", sessions[-1]["session_index"])
    else:
        raise UsageError("no login to log out of: give name_id")
    destination = idp_service(cl, "single_logout_service", BINDINGS[binding])
    sign = bool(request.get("sign", True))
    request_id, logout_request = cl.create_logout_request(
        destination,
        idp_entity_id(cl),
        name_id=name_id_from_json(name_id),
        session_indexes=[session_index] if session_index else None,
        sign=sign and binding == "post",
        sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
    )
    xml = logout_request if isinstance(logout_request, str) else str(logout_request)
    relay_state = request.get("relay_state", "")
    answer = {"request_id": request_id, "xml": xml}
    with open(os.path.join(workdir, "logout-request-id"), "w") as f:
        f.write(request_id)
    if binding == "redirect":
        key_path = os.path.join(workdir, f"{signing_key}.key") if sign else None
        answer.update(
            {"binding": "redirect", "url": f"{destination}?{redirect_query('SAMLRequest', xml, relay_state, key_path)}"}
        )
    else:
        fields = {"SAMLRequest": base64.b64encode(xml.encode("utf-8")).decode("ascii")}
        if relay_state:
            fields["RelayState"] = relay_state
        answer.update({"binding": "post", "action": destination, "fields": fields})
    return answer


def cmd_consume_logout_response(workdir, request):
    """Input: url (HTTP-Redirect) or fields (HTTP-POST) as the IdP sent them."""
    options = load_options(workdir)
    cl = client(workdir, options)
    xml, relay_state, binding, query = message_from(request, "SAMLResponse")
    parsed = samlp.logout_response_from_string(xml)
    codes, message = status_codes(parsed.status)
    try:
        with open(os.path.join(workdir, "logout-request-id")) as f:
            expected_in_response_to = f.read().strip()
    except FileNotFoundError:
        expected_in_response_to = None
    answer = {
        "binding": binding,
        "xml": xml,
        "relay_state": relay_state,
        "status_codes": codes,
        "status_message": message,
        "in_response_to": parsed.in_response_to,
        "expected_in_response_to": expected_in_response_to,
        "issuer": parsed.issuer.text if parsed.issuer is not None else None,
        "destination": parsed.destination,
        "xml_signed": parsed.signature is not None,
        "query_signature_valid": None,
    }
    if query is not None:
        answer["query_signature_valid"] = verify_redirect_query(query, "SAMLResponse", idp_signing_certificates(cl))
    try:
        if binding == "redirect":
            # pysaml2 checks Issuer, Destination and times here; the query signature is
            # checked above over the raw query (as the binding requires).
            result = cl.parse_logout_request_response(xml and deflate_b64(xml), BINDING_HTTP_REDIRECT)
        else:
            result = cl.parse_logout_request_response(request["fields"]["SAMLResponse"], BINDING_HTTP_POST)
        answer["status"] = "ok" if result is not None else "invalid"
    except Exception as exc:
        answer.update({"status": "invalid", "error": f"{type(exc).__name__}: {exc}"})
    return answer


def cmd_consume_logout_request(workdir, request):
    """Input: url or fields as the IdP sent them; respond_status (a status URI) to
    answer other than Success; response_binding (default: the request's)."""
    options = load_options(workdir)
    cl = client(workdir, options)
    xml, relay_state, binding, query = message_from(request, "SAMLRequest")
    answer = {"binding": binding, "xml": xml, "relay_state": relay_state, "query_signature_valid": None}
    if query is not None:
        answer["query_signature_valid"] = verify_redirect_query(query, "SAMLRequest", idp_signing_certificates(cl))
    try:
        encoded = deflate_b64(xml) if binding == "redirect" else request["fields"]["SAMLRequest"]
        parsed = cl.parse_logout_request(encoded, BINDINGS[binding])
        message = parsed.message
    except Exception as exc:
        answer.update({"status": "invalid", "error": f"{type(exc).__name__}: {exc}"})
        return answer
    answer.update(
        {
            "status": "ok",
            "id": message.id,
            "issuer": message.issuer.text if message.issuer is not None else None,
            "destination": message.destination,
            "name_id": name_id_json(message.name_id),
            "session_indexes": [s.text for s in message.session_index],
            "xml_signed": message.signature is not None,
        }
    )
    known = [s["name_id"]["text"] for s in load_sessions(workdir) if s.get("name_id")]
    if request.get("respond_status"):
        status = samlp.Status(status_code=samlp.StatusCode(value=request["respond_status"]))
    elif message.name_id is not None and message.name_id.text in known:
        status = samlp.Status(status_code=samlp.StatusCode(value=saml2.samlp.STATUS_SUCCESS))
    else:
        status = samlp.Status(
            status_code=samlp.StatusCode(
                value=saml2.samlp.STATUS_RESPONDER,
                status_code=samlp.StatusCode(value=saml2.samlp.STATUS_UNKNOWN_PRINCIPAL),
            )
        )
    response_binding = request.get("response_binding", binding)
    destination = idp_service(cl, "single_logout_service", BINDINGS[response_binding])
    response = cl.create_logout_response(
        message,
        bindings=[BINDINGS[response_binding]],
        status=status,
        sign=response_binding == "post",
        sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
    )
    response_xml = response if isinstance(response, str) else str(response)
    answer["response_xml"] = response_xml
    answer["response_status"] = status.status_code.value
    if response_binding == "redirect":
        query = redirect_query("SAMLResponse", response_xml, relay_state, os.path.join(workdir, "sp.key"))
        answer["response"] = {"binding": "redirect", "url": f"{destination}?{query}"}
    else:
        fields = {"SAMLResponse": base64.b64encode(response_xml.encode("utf-8")).decode("ascii")}
        if relay_state:
            fields["RelayState"] = relay_state
        answer["response"] = {"binding": "post", "action": destination, "fields": fields}
    return answer


def cmd_redirect_encode(workdir, request):
    """{"xml", "kind" (SAMLRequest), "relay_state", "sign": bool, "key": "sp"|"other"|path}."""
    key_path = None
    if request.get("sign"):
        key = request.get("key", "sp")
        key_path = key if os.path.isabs(key) else os.path.join(workdir, f"{key}.key")
    query = redirect_query(
        request.get("kind", "SAMLRequest"),
        request["xml"],
        request.get("relay_state"),
        key_path,
        request.get("sig_alg", SIG_RSA_SHA256),
    )
    return {"query": query, "deflated": deflate_b64(request["xml"])}


def cmd_verify_redirect(workdir, request):
    """Input: url (a Redirect-binding message), certificates (PEM file paths). The
    query signature checked over the raw query: valid true/false, null when unsigned."""
    query = urllib.parse.urlsplit(request["url"]).query
    kind = "SAMLRequest" if "SAMLRequest=" in query else "SAMLResponse"
    pems = []
    for path in request["certificates"]:
        with open(path) as f:
            pems.append(f.read())
    return {"valid": verify_redirect_query(query, kind, pems)}


def cmd_inflate(workdir, request):
    return {"xml": inflate_b64(request["data"])}


def cmd_xml_info(workdir, request):
    """The shape of an XML document: its root, every element with an ID, every signature
    (what it sits in and what it references) and every EncryptedData's algorithms."""
    from xml.etree import ElementTree as ET

    ds = "http://www.w3.org/2000/09/xmldsig#"
    root = ET.fromstring(request["xml"])

    def split(tag):
        ns, _, name = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
        return ns, name

    parents = {child: parent for parent in root.iter() for child in parent}
    elements = []
    for node in root.iter():
        node_id = node.get("ID") or node.get("Id")
        if node_id is not None:
            ns, name = split(node.tag)
            elements.append({"namespace": ns, "name": name, "id": node_id})
    signatures = []
    for sig in root.iter(f"{{{ds}}}Signature"):
        parent = parents.get(sig)
        pns, pname = split(parent.tag) if parent is not None else ("", "")
        signed_info = sig.find(f"{{{ds}}}SignedInfo")
        references = []
        c14n = sig_method = None
        if signed_info is not None:
            c14n_node = signed_info.find(f"{{{ds}}}CanonicalizationMethod")
            c14n = c14n_node.get("Algorithm") if c14n_node is not None else None
            method_node = signed_info.find(f"{{{ds}}}SignatureMethod")
            sig_method = method_node.get("Algorithm") if method_node is not None else None
            for ref in signed_info.findall(f"{{{ds}}}Reference"):
                digest = ref.find(f"{{{ds}}}DigestMethod")
                references.append(
                    {
                        "uri": ref.get("URI"),
                        "digest_method": digest.get("Algorithm") if digest is not None else None,
                        "transforms": [t.get("Algorithm") for t in ref.iter(f"{{{ds}}}Transform")],
                    }
                )
        signatures.append(
            {
                "parent_namespace": pns,
                "parent": pname,
                "parent_id": (parent.get("ID") or parent.get("Id")) if parent is not None else None,
                "parent_is_root": parent is root,
                "canonicalization": c14n,
                "signature_method": sig_method,
                "references": references,
                "certificates": [c.text.strip() for c in sig.iter(f"{{{ds}}}X509Certificate") if c.text],
            }
        )
    encrypted = []
    for data in root.iter(f"{{{ENC_NS}}}EncryptedData"):
        method = data.find(f"{{{ENC_NS}}}EncryptionMethod")
        key_methods = [m.get("Algorithm") for key in root.iter(f"{{{ENC_NS}}}EncryptedKey")
                       for m in key.findall(f"{{{ENC_NS}}}EncryptionMethod")]
        encrypted.append(
            {
                "algorithm": method.get("Algorithm") if method is not None else None,
                "key_transport": key_methods,
                "parent": split(parents[data].tag)[1] if data in parents else None,
            }
        )
    rns, rname = split(root.tag)
    return {
        "root": {"namespace": rns, "name": rname, "id": root.get("ID") or root.get("Id")},
        "elements_with_id": elements,
        "signatures": signatures,
        "encrypted_data": encrypted,
    }


COMMANDS = {
    "init": cmd_init,
    "authn-request": cmd_authn_request,
    "consume-response": cmd_consume_response,
    "logout-request": cmd_logout_request,
    "consume-logout-response": cmd_consume_logout_response,
    "consume-logout-request": cmd_consume_logout_request,
    "redirect-encode": cmd_redirect_encode,
    "inflate": cmd_inflate,
    "verify-redirect": cmd_verify_redirect,
    "xml-info": cmd_xml_info,
}


def serve(workdir):
    """Answers one command per line on stdin ({"command", "input"}) with one JSON line
    on stdout ({"ok": true, "answer"} or {"ok": false, "error", "traceback"}), so that
    pysaml2 is imported once per SP rather than once per step."""
    use_pysaml2()
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but answers on the real stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            answer = {"ok": True, "answer": COMMANDS[request["command"]](workdir, request.get("input") or {})}
        except Exception as exc:
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        out.write(json.dumps(answer) + "\n")
        out.flush()
    return 0


def main(argv):
    if len(argv) == 3 and argv[1] == "serve":
        return serve(argv[2])
    if len(argv) != 3 or argv[1] not in COMMANDS:
        sys.stderr.write(__doc__)
        return 2
    command, workdir = argv[1], argv[2]
    if command not in ("redirect-encode", "inflate", "xml-info", "verify-redirect"):
        use_pysaml2()
    raw = sys.stdin.read()
    request = json.loads(raw) if raw.strip() else {}
    try:
        answer = COMMANDS[command](workdir, request)
    except UsageError as exc:
        json.dump({"error": str(exc)}, sys.stdout)
        return 1
    except Exception as exc:
        traceback.print_exc()
        json.dump({"error": f"{type(exc).__name__}: {exc}"}, sys.stdout)
        return 1
    json.dump(answer, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
