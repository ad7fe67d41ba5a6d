"""Prints a private_key_jwt client assertion made by Authlib with its defaults (valid for
an hour from now, a random jti), as an Authlib-based relying party sends it.

    client_assertion.py <private key PEM> <client_id> <token endpoint> <alg> <kid>
"""
import sys

from authlib.oauth2.rfc7523 import private_key_jwt_sign


def main():
    key_file, client_id, token_endpoint, alg, kid = sys.argv[1:6]
    with open(key_file, encoding="ascii") as f:
        key = f.read()
    assertion = private_key_jwt_sign(
        key, client_id, token_endpoint, alg=alg, header={"kid": kid}
    )
    if isinstance(assertion, bytes):
        assertion = assertion.decode("ascii")
    print(assertion)


if __name__ == "__main__":
    main()
