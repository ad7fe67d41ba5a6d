#!/usr/bin/env python3
"""Independent SCIM 2.0 compliance check of the IdP, driven by tests/tests/scim.rs.

Usage: check.py BASE_URL TOKEN CA_FILE

  BASE_URL  the SCIM base URL, e.g. https://127.0.0.1:PORT/scim/v2
  TOKEN     bearer token, sent as "Authorization: Bearer TOKEN"
  CA_FILE   PEM CA bundle the server's TLS certificate is verified against,
            or "-" for a plain http:// BASE_URL (no TLS, nothing to verify)

Optional environment: SCIM_CHECK_INCLUDE / SCIM_CHECK_EXCLUDE, comma-separated
scim2-tester tags (e.g. "discovery,crud:read", "patch") to narrow the run.

scim2-tester's check_server() discovers the server itself (GET
/ServiceProviderConfig, /ResourceTypes, /Schemas), builds the resource models
from the published schemas, then runs CRUD, attribute-selection and PATCH
checks on every resource type.  One line is printed per check result, then
"scim2-tester: N passed, M failed, K skipped".  Exit status is 1 if any check
is ERROR or CRITICAL (or no resource check ran at all), else 0.  SUCCESS,
COMPLIANT, ACCEPTABLE and DEVIATION count as passed; SKIPPED (tag filtering,
or a feature the ServiceProviderConfig says is unsupported) as skipped.
Requirements: tests/scim/requirements.txt.

One adaptation, on the test side only: scim2-tester fills every writable attribute
of the published schemas with random strings, and the HSA extension's attributes
(HSA-ids, organisation and personal identity numbers) are validated identifiers
that a random string never is (the server rightly answers 400 invalidValue). So
the tester is shown the server without the HSA extension (it is taken out of the
/ResourceTypes and /Schemas answers): it tests everything else, and
tests/tests/scim.rs tests the HSA extension with valid and invalid values.
"""

import json
import os
import ssl
import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

FAILED = {Status.ERROR, Status.CRITICAL}
HSA_SCHEMA = "urn:se:regional-idp:scim:schemas:extension:hsa:1.0:User"


def without_hsa(document):
    """A /Schemas or /ResourceTypes answer (a list or one resource) without the HSA
    extension; None when the answer is the extension itself."""
    if document.get("id") == HSA_SCHEMA:
        return None
    resources = document.get("Resources", [document])
    kept = [r for r in resources if r.get("id") != HSA_SCHEMA]
    for resource in kept:
        if "schemaExtensions" in resource:
            resource["schemaExtensions"] = [
                e for e in resource["schemaExtensions"] if e.get("schema") != HSA_SCHEMA
            ]
    if "Resources" in document:
        document["Resources"] = kept
        document["totalResults"] = document["itemsPerPage"] = len(kept)
    return document


class SchemaView(httpx2.BaseTransport):
    """The real transport, with the HSA extension taken out of discovery."""

    def __init__(self, inner):
        self.inner = inner

    def handle_request(self, request):
        response = self.inner.handle_request(request)
        path = request.url.path
        if request.method != "GET" or ("/Schemas" not in path and "/ResourceTypes" not in path):
            return response
        response.read()
        if response.status_code != 200:
            return response
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        document = without_hsa(json.loads(response.content))
        if document is None:
            return httpx2.Response(404, headers=headers, request=request, content=json.dumps({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "404"}).encode())
        body = json.dumps(document).encode()
        return httpx2.Response(response.status_code, headers=headers, content=body, request=request)

    def close(self):
        self.inner.close()


def one_line(text, limit=400):
    text = " | ".join(str(text).split("\n"))
    return text if len(text) <= limit else text[:limit] + "..."


def tags(name):
    value = os.environ.get(name, "").strip()
    return {t.strip() for t in value.split(",") if t.strip()} or None


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__)
    base_url, token, ca_file = argv[1:]
    if ca_file == "-":
        if not base_url.startswith("http://"):
            sys.exit("CA_FILE '-' is only allowed with an http:// BASE_URL")
        verify = True  # unused: no TLS
    else:
        verify = ssl.create_default_context(cafile=ca_file)

    http = httpx2.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        transport=SchemaView(httpx2.HTTPTransport(verify=verify, trust_env=False)),
        trust_env=False,  # no proxy / SSL_CERT_FILE from the environment
        timeout=30,
    )
    client = SyncSCIMClient(http)
    results = check_server(
        client,
        include_tags=tags("SCIM_CHECK_INCLUDE"),
        exclude_tags=tags("SCIM_CHECK_EXCLUDE"),
    )

    passed = failed = skipped = 0
    for r in results:
        where = f"[{r.resource_type}] " if r.resource_type else ""
        about = r.reason or (r.description or "").strip().split("\n")[0]
        line = f"{r.status.name:<10} {where}{r.title}: {about}"
        if r.status in FAILED:
            failed += 1
            if r.data is not None:
                line += f" data={r.data!r}"
        elif r.status == Status.SKIPPED:
            skipped += 1
        else:
            passed += 1
        print(one_line(line, 1000 if r.status in FAILED else 400))

    # check_server() stops after discovery if it cannot describe the server;
    # a run that never reached a resource type must not look green.
    if not any(r.resource_type for r in results) and not tags("SCIM_CHECK_INCLUDE"):
        print("ERROR      no resource type was checked (discovery incomplete?)")
        failed += 1

    print(f"scim2-tester: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
