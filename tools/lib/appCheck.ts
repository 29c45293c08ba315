import { PROJECT_ID } from "./env.ts";

/** The app id the local stack's apps register with App Check under (a Firebase web app id's shape). */
export const TEST_APP_ID = "1:000000000000:web:0000000000000000000000";

/**
 * An App Check token as the Functions emulator reads it: a JWT whose subject
 * is the app id. The emulator decodes it without checking the signature (as
 * it does Auth ID tokens); in production only a token App Check issued
 * (Play Integrity, App Attest, reCAPTCHA, or a debug token registered in the
 * Firebase console) passes. `curl -H "X-Firebase-AppCheck: $(…)"` works too.
 */
export function emulatorAppCheckToken(appId = TEST_APP_ID): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  return `${part({ alg: "none", typ: "JWT" })}.${part({ sub: appId, aud: [`projects/${PROJECT_ID}`], iat: now, exp: now + 3600 })}.`;
}
