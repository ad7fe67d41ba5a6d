// A relying party built on openid-client (v6), driven by tests/tests/oidc_node.rs.
//
// Input: one JSON argument {issuer, client_id, auth, secret?, key_file?, kid?,
// redirect_uri, post_logout_redirect_uri, scope, alg?}. Prints one JSON line
// {"authorization_url": ...}; reads the callback URL (where the browser landed) from
// stdin; completes the code exchange (PKCE, state, nonce, ID token validation),
// calls UserInfo, refreshes, builds the RP-initiated logout URL and prints one JSON
// line with the results. Errors are printed as {"error": ...} and exit 1.
// The IdP's TLS certificate is trusted through NODE_EXTRA_CA_CERTS (the dev TLS CA).

import * as client from 'openid-client';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { webcrypto } from 'node:crypto';

function out(value) {
  process.stdout.write(JSON.stringify(value) + '\n');
}

async function readLine() {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    lines.close();
    return line.trim();
  }
  throw new Error('no callback URL on stdin');
}

async function clientAuth(input) {
  switch (input.auth) {
    case 'client_secret_basic':
      return client.ClientSecretBasic(input.secret);
    case 'client_secret_post':
      return client.ClientSecretPost(input.secret);
    case 'none':
      return client.None();
    case 'private_key_jwt': {
      const pem = readFileSync(input.key_file, 'utf8');
      const body = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
      const der = Buffer.from(body, 'base64');
      const key = await webcrypto.subtle.importKey(
        'pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
      return client.PrivateKeyJwt({ key, kid: input.kid });
    }
    default:
      throw new Error(`unknown auth ${input.auth}`);
  }
}

async function main() {
  const input = JSON.parse(process.argv[2]);
  const metadata = { id_token_signed_response_alg: input.alg ?? 'RS256' };
  const config = await client.discovery(
    new URL(input.issuer), input.client_id, metadata, await clientAuth(input));
  // Verify ID token signatures against the JWKS too (by default TLS alone vouches for
  // tokens from the token endpoint).
  client.enableNonRepudiationChecks(config);

  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: input.redirect_uri,
    scope: input.scope,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  out({ authorization_url: authorizationUrl.href });

  const callback = new URL(await readLine());
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  const refreshedClaims = refreshed.claims();
  const logoutState = client.randomState();
  const endSessionUrl = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: input.post_logout_redirect_uri,
    state: logoutState,
  });
  out({
    claims,
    id_token_alg: JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url')).alg,
    access_token_typ: JSON.parse(Buffer.from(tokens.access_token.split('.')[0], 'base64url')).typ,
    userinfo,
    refreshed: {
      access_token_changed: refreshed.access_token !== tokens.access_token,
      refresh_token_changed: refreshed.refresh_token !== tokens.refresh_token,
      sub: refreshedClaims?.sub ?? null,
    },
    end_session_url: endSessionUrl.href,
    logout_state: logoutState,
  });
}

main().catch((error) => {
  out({ error: String(error?.message ?? error), code: error?.code ?? null, cause: String(error?.cause?.message ?? '') });
  process.exit(1);
});
