import { Agent } from "node:https";
import type * as Http2 from "node:http2";
import { createRequire } from "node:module";
import { connect } from "node:net";
import { getApps, initializeApp, type Credential } from "firebase-admin/app";
import { getMessaging, type Messaging } from "firebase-admin/messaging";
import { adminApp } from "../shared/firestore";

const STAND_IN_APP = "fcm-stand-in";

/** Where firebase-admin opens its HTTP/2 session for `sendEach` (messaging.js, FCM_SEND_HOST). */
const FCM_ORIGIN = "https://fcm.googleapis.com";

/**
 * The Messaging client the delivery code sends through.
 *
 * In production this is the default app's client, talking to FCM. FCM has no
 * emulator, so when the functions run in the Emulator Suite and the local stack
 * names an FCM stand-in, a second app sends there instead, over the same
 * transports production uses: `sendEach` over HTTP/2 (its session is routed to
 * the stand-in, see `routeFcmSessionsTo`) and `send` over HTTP/1.1 (the app's
 * HTTPS agent opens a plain TCP connection to the stand-in). Everything above
 * the socket — `sendEach`, request building, HTTP/2 streams and their limit,
 * retries, error mapping — is firebase-admin's own code.
 */
export function messagingClient(): Messaging {
  const standIn = standInAddress();
  if (!standIn) return getMessaging(adminApp());
  return standInMessaging(standIn, adminApp().options.projectId ?? requiredProject());
}

/** The project the emulator runs (it always sets GCLOUD_PROJECT). */
function requiredProject(): string {
  const project = process.env.GCLOUD_PROJECT;
  if (!project) throw new Error("GCLOUD_PROJECT is not set: the FCM stand-in is only used inside the Functions emulator");
  return project;
}

/** A Messaging client whose requests go to the FCM stand-in at `url` (the local stack's seam; see above). */
export function standInMessaging(url: URL, projectId: string): Messaging {
  routeFcmSessionsTo(url);
  const name = `${STAND_IN_APP}-${url.host}`;
  const existing = getApps().find((app) => app.name === name);
  if (existing) return getMessaging(existing);
  const credential: Credential = {
    getAccessToken: () => Promise.resolve({ access_token: "stand-in", expires_in: 3600 }),
  };
  // `send` (and only it) still goes over HTTP/1.1 through the app's agent, in production too:
  // the agent's createConnection is how that request leaves for the stand-in instead of fcm.googleapis.com.
  const httpAgent = new Agent({ keepAlive: true });
  (httpAgent as unknown as { createConnection: () => ReturnType<typeof connect> }).createConnection = () =>
    connect({ host: url.hostname, port: Number(url.port) });
  const app = initializeApp({ projectId, credential, httpAgent }, name);
  return getMessaging(app);
}

type Connect = (authority: string | URL, ...rest: unknown[]) => Http2.ClientHttp2Session;

/** Marks node's http2 module once its `connect` routes FCM, and holds the stand-in it routes to (one per process: the last asked for). */
const FCM_ROUTE = Symbol.for("push-service.fcm-stand-in-route");

/**
 * Sends firebase-admin's HTTP/2 sessions for FCM to the stand-in.
 *
 * firebase-admin opens them with `http2.connect("https://fcm.googleapis.com", …)`
 * and takes no agent or host for them, so the seam is `http2.connect` itself:
 * it is replaced, once per process, on node's CommonJS module object (the one
 * firebase-admin's `require("http2")` returns; an ES import would give a
 * read-only copy), by a wrapper that connects that one origin to the stand-in's
 * `http://host:port` — which `http2.connect` speaks as cleartext HTTP/2 — and
 * passes every other call through untouched. Installed only when a stand-in
 * client is made, which happens only in the emulator (standInAddress) or in the
 * tools and tests that ask for one.
 */
function routeFcmSessionsTo(url: URL): void {
  const http2 = createRequire(__filename)("node:http2") as typeof Http2 & { [FCM_ROUTE]?: URL };
  const installed = http2[FCM_ROUTE] !== undefined;
  http2[FCM_ROUTE] = new URL(url.origin);
  if (installed) return;
  const original = http2.connect as Connect;
  const routed: Connect = (authority, ...rest) => {
    const route = http2[FCM_ROUTE];
    const isFcm = URL.canParse(String(authority)) && new URL(authority).origin === FCM_ORIGIN;
    if (!isFcm || !route) return original(authority, ...rest);
    return withSchemeRepaired(original(route, ...rest));
  };
  http2.connect = routed;
}

/**
 * firebase-admin (14.5) sends `:scheme: https:` — the URL's protocol, colon and
 * all. FCM's front end lets it through; node's HTTP/2 server (nghttp2) finds it
 * malformed and resets every stream with PROTOCOL_ERROR, and offers no switch to
 * let it pass. So on the way to the stand-in only, the colon is dropped.
 */
function withSchemeRepaired(session: Http2.ClientHttp2Session): Http2.ClientHttp2Session {
  const request = session.request.bind(session);
  session.request = (headers, options) => {
    // firebase-admin passes a header object (never node's raw-headers array).
    const scheme = headers && !Array.isArray(headers) ? (headers as Http2.OutgoingHttpHeaders)[":scheme"] : undefined;
    if (typeof scheme !== "string") return request(headers, options);
    return request({ ...(headers as Http2.OutgoingHttpHeaders), ":scheme": scheme.replace(/:$/, "") }, options);
  };
  return session;
}

/** The stand-in's address, honoured only inside the Functions emulator so production can never be redirected. */
function standInAddress(): URL | undefined {
  const url = process.env.FCM_STAND_IN_URL;
  if (!url || process.env.FUNCTIONS_EMULATOR !== "true") return undefined;
  return new URL(url);
}
