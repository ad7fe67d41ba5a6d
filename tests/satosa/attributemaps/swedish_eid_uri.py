"""pysaml2 attribute map of "Lillby kommuns IdP": the urn:oid: names (NameFormat uri)
that the shared IdP releases under the Swedish eID profile (docs/saml.md, "Attributes")
and the friendly names SATOSA's internal_attributes.yaml uses for them.

pysaml2 reads every map in this directory (attribute_map_dir) instead of its own: its
built-in maps lack the Swedish names (HSA-id, personal identity number), and its SAML
frontend releases only attributes some map names.
"""

NAME_FORMAT_URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"

NAMES = {
    "urn:oid:2.5.4.42": "givenName",
    "urn:oid:2.5.4.4": "sn",
    "urn:oid:2.16.840.1.113730.3.1.241": "displayName",
    "urn:oid:0.9.2342.19200300.100.1.3": "mail",
    "urn:oid:2.5.4.10": "o",
    "urn:oid:2.5.4.97": "organizationIdentifier",
    "urn:oid:1.2.752.29.6.2.1": "employeeHsaId",
    "urn:oid:1.2.752.29.4.13": "personalIdentityNumber",
    "urn:oid:1.2.752.201.3.1": "orgAffiliation",
}

MAP = {
    "identifier": NAME_FORMAT_URI,
    "fro": dict(NAMES),
    "to": {friendly: uri for uri, friendly in NAMES.items()},
}
