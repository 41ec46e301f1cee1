// Sign-in through Cognito's hosted UI (AWS): the authorization code flow with PKCE, for a public app client.
// Locally the config has no `cognito` and the token field is the sign-in.
const VERIFIER = "twinledger.pkce";

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Send the browser to the hosted UI. */
export async function startSignIn(cognito) {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem(VERIFIER, JSON.stringify({ verifier, state }));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const url = new URL("/oauth2/authorize", cognito.domain);
  for (const [k, v] of Object.entries({ response_type: "code", client_id: cognito.client_id, redirect_uri: cognito.redirect, scope: "openid email", state, code_challenge: challenge, code_challenge_method: "S256" })) {
    url.searchParams.set(k, v);
  }
  location.assign(url.toString());
}

/** Back from the hosted UI with ?code=&state=: the ID token, or null when this is no such return. */
export async function finishSignIn(cognito) {
  const params = new URLSearchParams(location.search);
  const code = params.get("code");
  if (!cognito || !code) return null;
  const saved = JSON.parse(sessionStorage.getItem(VERIFIER) || "{}");
  sessionStorage.removeItem(VERIFIER);
  history.replaceState(null, "", `${location.pathname}#/fleet`);
  if (!saved.verifier || saved.state !== params.get("state")) throw new Error("the sign-in did not come back as it left: sign in again");
  const answer = await fetch(new URL("/oauth2/token", cognito.domain), {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", client_id: cognito.client_id, code, redirect_uri: cognito.redirect, code_verifier: saved.verifier }),
  });
  if (!answer.ok) throw new Error(`the sign-in was refused (${answer.status})`);
  return (await answer.json()).id_token;
}
