#!/usr/bin/env python3
"""Self-test of sp.py against a pysaml2 IdP (no Rust IdP needed).

    .venv/bin/python selftest.py

Runs sp.py as the tests do (one process per step, JSON in and out) and plays the IdP with
pysaml2's own Server: metadata, a signed and encrypted login response, SLO both ways.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sp  # noqa: E402

IDP = "https://idp.example.test/saml/metadata"


def run(command, workdir, request):
    done = subprocess.run(
        [sys.executable, os.path.join(HERE, "sp.py"), command, workdir],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"sp.py {command} failed: {done.stdout}\n{done.stderr}")
    return json.loads(done.stdout)


def idp_server(dir, sp_metadata_files):
    key, cert = sp.write_key_pair(dir, "idp", "selftest IdP")
    config = {
        "entityid": IDP,
        "service": {
            "idp": {
                "endpoints": {
                    "single_sign_on_service": [
                        ("https://idp.example.test/saml/sso", BINDING_HTTP_REDIRECT),
                        ("https://idp.example.test/saml/sso", BINDING_HTTP_POST),
                    ],
                    "single_logout_service": [
                        ("https://idp.example.test/saml/slo", BINDING_HTTP_REDIRECT),
                        ("https://idp.example.test/saml/slo", BINDING_HTTP_POST),
                    ],
                },
                "name_id_format": ["urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"],
                "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None}},
            }
        },
        "key_file": key,
        "cert_file": cert,
        "xmlsec_binary": shutil.which("xmlsec1"),
        "metadata": {"local": sp_metadata_files},
        "signing_algorithm": SIG_RSA_SHA256,
        "digest_algorithm": DIGEST_SHA256,
    }
    conf = IdPConfig()
    conf.load(config)
    metadata = create_metadata_string(None, config=conf, sign=True)
    metadata = metadata.decode() if isinstance(metadata, bytes) else metadata
    return Server(config=conf), metadata, cert


def main():
    with tempfile.TemporaryDirectory() as tmp:
        a = os.path.join(tmp, "a")
        b = os.path.join(tmp, "b")
        sp_a = run(
            "init",
            a,
            {
                "entity_id": "https://sp.example.test/a",
                "want_response_signed": True,
                "want_assertions_signed": True,
                "encrypt": True,
                "encryption_methods": ["aes256-cbc"],
                "authn_requests_signed": True,
            },
        )
        sp_b = run("init", b, {"entity_id": "https://sp.example.test/b", "name_id_format": "transient"})
        server, idp_metadata, _ = idp_server(tmp, [sp_a["metadata_file"], sp_b["metadata_file"]])
        for workdir in (a, b):
            with open(os.path.join(workdir, "idp-metadata.xml"), "w") as f:
                f.write(idp_metadata)

        # Login at A over Redirect, signed request; encrypted, signed assertion.
        request = run(
            "authn-request",
            a,
            {"binding": "redirect", "relay_state": "rs-a", "loa": "http://id.sambi.se/loa/loa3"},
        )
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(request["url"]).query))
        assert "Signature" in query, query
        parsed = server.parse_authn_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT)
        assert parsed.message.id == request["request_id"]
        assert sp.verify_redirect_query(
            urllib.parse.urlsplit(request["url"]).query,
            "SAMLRequest",
            [open(os.path.join(a, "sp.crt")).read()],
        )
        resp_args = server.response_args(parsed.message)
        response = server.create_authn_response(
            identity={"http://sambi.se/attributes/1/givenName": ["Anna"]},
            userid="anna",
            name_id=NameID(format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", text="pseudonym-a"),
            authn={"class_ref": "http://id.sambi.se/loa/loa3"},
            sign_response=True,
            sign_assertion=True,
            encrypt_assertion=True,
            encrypted_advice_attributes=False,
            encrypt_cert_assertion=None,
            **resp_args,
        )
        b64 = base64.b64encode(str(response).encode()).decode()
        got = run(
            "consume-response", a, {"saml_response": b64, "relay_state": "rs-a", "request_id": request["request_id"]}
        )
        assert got["status"] == "ok", got
        assert got["encrypted"] and got["assertion_signed"] and got["response_signed"], got
        assert got["authn_context_class_ref"] == "http://id.sambi.se/loa/loa3", got
        assert got["attributes"]["http://sambi.se/attributes/1/givenName"] == ["Anna"], got
        print("login at A:", got["name_id"])

        # A wrong InResponseTo is refused.
        wrong = run("consume-response", a, {"saml_response": b64, "request_id": "_other"})
        assert wrong["status"] == "invalid", wrong

        # SP-initiated logout at A (Redirect, signed).
        logout = run("logout-request", a, {"binding": "redirect", "relay_state": "bye"})
        lq = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(logout["url"]).query))
        req = server.parse_logout_request(lq["SAMLRequest"], BINDING_HTTP_REDIRECT)
        assert req.message.name_id.text == got["name_id"]["text"]
        lresp = server.create_logout_response(req.message, [BINDING_HTTP_REDIRECT], sign=False)
        info = server.apply_binding(
            BINDING_HTTP_REDIRECT, lresp, "https://sp.example.test/a/slo", "bye", response=True, sign=True,
            sigalg=SIG_RSA_SHA256,
        )
        location = dict(info["headers"])["Location"]
        done = run("consume-logout-response", a, {"url": location})
        assert done["status"] == "ok", done
        assert done["query_signature_valid"] is True, done
        assert done["in_response_to"] == logout["request_id"], done
        assert done["status_codes"] == ["urn:oasis:names:tc:SAML:2.0:status:Success"], done
        print("logout at A:", done["status_codes"])

        # IdP-initiated logout at B after a login there.
        request_b = run("authn-request", b, {"binding": "post"})
        parsed_b = server.parse_authn_request(request_b["fields"]["SAMLRequest"], BINDING_HTTP_POST)
        response_b = server.create_authn_response(
            identity={},
            userid="anna",
            name_id=NameID(format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient", text="transient-b"),
            authn={"class_ref": "http://id.sambi.se/loa/loa3"},
            sign_assertion=True,
            **server.response_args(parsed_b.message),
        )
        got_b = run(
            "consume-response",
            b,
            {
                "saml_response": base64.b64encode(str(response_b).encode()).decode(),
                "request_id": request_b["request_id"],
            },
        )
        assert got_b["status"] == "ok" and not got_b["encrypted"], got_b
        _, idp_logout = server.create_logout_request(
            "https://sp.example.test/b/slo",
            IDP,
            name_id=NameID(**{k: v for k, v in got_b["name_id"].items() if k != "text"}, text=got_b["name_id"]["text"]),
            sign=False,
        )
        info = server.apply_binding(
            BINDING_HTTP_REDIRECT, str(idp_logout), "https://sp.example.test/b/slo", "", sign=True,
            sigalg=SIG_RSA_SHA256,
        )
        answered = run("consume-logout-request", b, {"url": dict(info["headers"])["Location"]})
        assert answered["status"] == "ok" and answered["query_signature_valid"] is True, answered
        assert answered["response_status"] == "urn:oasis:names:tc:SAML:2.0:status:Success", answered
        print("IdP-initiated logout at B:", answered["response"]["url"][:60], "...")
    print("selftest: ok")


if __name__ == "__main__":
    main()
