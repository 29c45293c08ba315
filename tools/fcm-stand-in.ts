/**
 * The FCM stand-in: a small HTTP server that speaks the FCM HTTP v1 send API
 * (`POST /v1/projects/{project}/messages:send`) with FCM's JSON error bodies, so
 * that firebase-admin's own `sendEach` is what the local stack and the tests run.
 *
 * It answers over HTTP/2 cleartext as well as HTTP/1.1, on one port: firebase-admin
 * sends `sendEach` as streams of one HTTP/2 session, as it does to FCM (the seam in
 * functions/src/fcm/client.ts points that session here), while `send` and the
 * inspection routes below arrive over HTTP/1.1. Like FCM, it allows 100 concurrent
 * streams per session.
 *
 * The token decides the answer (see docs/contributing.md, "The FCM stand-in"). Inspection:
 *   GET    /_stand-in/messages  accepted messages in arrival order
 *   DELETE /_stand-in/messages  forget accepted messages, attempts and counters
 *   GET    /_stand-in/stats     counts of requests (and of those over HTTP/2) and of each answer
 *   GET    /_stand-in/attempts?token=…  send requests one token got: { attempts, times }
 *   GET    /_stand-in/config    the current settings
 *   PUT    /_stand-in/config    { latencyMs?, failureRate?, outage?, projectFault?, quotaRetryAfterSeconds? } while running
 *
 * Run alone with `npm run stand-in -- [--port 9399] [--latency-ms 0] [--failure-rate 0]`.
 */
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { readBody, serveWithHttp2, type AnyRequest, type AnyResponse } from "./stand-in-server.ts";

/** FCM rejects a message whose payload is larger than this. */
export const FCM_MAX_PAYLOAD_BYTES = 4096;

/** The concurrent streams FCM allows on one HTTP/2 session (firebase-admin assumes the same before the server's SETTINGS arrive). */
export const FCM_MAX_CONCURRENT_STREAMS = 100;

export interface StandInConfig {
  /** Delay before every answer, in milliseconds. */
  latencyMs: number;
  /** Share (0–1) of otherwise successful sends answered with a random transient error. */
  failureRate: number;
  /** FCM is down: every send request is answered 503 UNAVAILABLE, whatever its token. */
  outage: boolean;
  /** FCM refuses the project: every send request gets this project-level answer, whatever its token (null: off). */
  projectFault: ProjectFault | null;
  /** The Retry-After of a quota answer (FCM's is 60 s; a test may ask for less). */
  quotaRetryAfterSeconds: number;
}

export const PROJECT_FAULTS = ["permission-denied", "unauthenticated", "not-found", "quota"] as const;
export type ProjectFault = (typeof PROJECT_FAULTS)[number];

export interface AcceptedMessage {
  name: string;
  receivedAt: string;
  message: Record<string, unknown>;
}

export interface StandInStats {
  requests: number;
  /** Of `requests`, those that arrived over HTTP/2 (the transport firebase-admin's `sendEach` uses). */
  http2Requests: number;
  accepted: number;
  /** Answers by FCM error code (UNREGISTERED, QUOTA_EXCEEDED, …). */
  errors: Record<string, number>;
  /** Transient errors injected by `failureRate`. */
  injectedFailures: number;
  /** validate_only requests (checked and answered, never delivered). */
  validateOnly: number;
}

export interface StandIn {
  url: string;
  port: number;
  config: StandInConfig;
  accepted: AcceptedMessage[];
  /** Connections open now, by protocol: after a `sendEach` has settled, firebase-admin has closed its HTTP/2 session. */
  openConnections(): { http1: number; http2: number };
  close(): Promise<void>;
}

interface FcmAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

function fcmError(status: number, grpcStatus: string, errorCode: string, message: string, headers?: Record<string, string>): FcmAnswer {
  return {
    status,
    headers,
    body: {
      error: {
        code: status,
        message,
        status: grpcStatus,
        details: [{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode }],
      },
    },
  };
}

/**
 * A project-level answer as FCM gives it: the Google API error with no
 * FcmError detail (nothing is wrong with the token), except quota, which
 * carries QUOTA_EXCEEDED and a minute's Retry-After.
 */
function projectFaultAnswer(fault: ProjectFault, project: string, quotaRetryAfterSeconds: number): FcmAnswer {
  const plain = (status: number, grpcStatus: string, message: string): FcmAnswer => ({ status, body: { error: { code: status, message, status: grpcStatus } } });
  switch (fault) {
    case "permission-denied":
      return plain(403, "PERMISSION_DENIED", `Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/${project}' (or it may not exist).`);
    case "unauthenticated":
      return plain(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.");
    case "not-found":
      return plain(404, "NOT_FOUND", "Requested entity was not found.");
    case "quota":
      return fcmError(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded for quota metric 'Send messages' of service 'fcm.googleapis.com'.", { "Retry-After": String(quotaRetryAfterSeconds) });
  }
}

const TRANSIENT: ReadonlyArray<() => FcmAnswer> = [
  () => fcmError(503, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable."),
  () => fcmError(500, "INTERNAL", "INTERNAL", "Internal error encountered."),
  () => fcmError(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded for the project.", { "Retry-After": "1" }),
];

/** The size FCM's limit applies to: everything in the message but its target. */
export function payloadBytes(message: Record<string, unknown>): number {
  const rest = Object.fromEntries(Object.entries(message).filter(([key]) => !["token", "topic", "condition"].includes(key)));
  return Buffer.byteLength(JSON.stringify(rest), "utf8");
}

export async function startStandIn(options: { port?: number; host?: string } & Partial<StandInConfig> = {}): Promise<StandIn> {
  const config: StandInConfig = { latencyMs: options.latencyMs ?? 0, failureRate: options.failureRate ?? 0, outage: options.outage ?? false, projectFault: options.projectFault ?? null, quotaRetryAfterSeconds: options.quotaRetryAfterSeconds ?? 60 };
  const accepted: AcceptedMessage[] = [];
  /** Arrival times (ms since epoch) of every send request, per token. */
  const attempts = new Map<string, number[]>();
  let stats: StandInStats = { requests: 0, http2Requests: 0, accepted: 0, errors: {}, injectedFailures: 0, validateOnly: 0 };

  function answerSend(project: string, body: unknown): FcmAnswer {
    // FCM refuses the project before it looks at the message.
    if (config.projectFault) return projectFaultAnswer(config.projectFault, project, config.quotaRetryAfterSeconds);
    const message = (body as { message?: unknown } | null)?.message;
    if (typeof message !== "object" || message === null || Array.isArray(message)) {
      return fcmError(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Request contains an invalid argument: message is required.");
    }
    const msg = message as Record<string, unknown>;
    const targets = ["token", "topic", "condition"].filter((key) => typeof msg[key] === "string" && msg[key] !== "");
    if (targets.length !== 1) {
      return fcmError(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Request contains an invalid argument: exactly one of token, topic or condition is required.");
    }
    if (payloadBytes(msg) > FCM_MAX_PAYLOAD_BYTES) {
      return fcmError(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", `Request contains an invalid argument: message is too big (over ${FCM_MAX_PAYLOAD_BYTES} bytes).`);
    }
    const token = typeof msg.token === "string" ? msg.token : "";
    const validateOnly = (body as { validate_only?: unknown }).validate_only === true;
    if (validateOnly) {
      // Checked as a send would be, answered as FCM answers a dry run, and never delivered or counted as an attempt.
      stats.validateOnly += 1;
      return validateAnswer(project, token);
    }
    const times = attempts.get(token) ?? [];
    const seen = times.length;
    times.push(Date.now());
    attempts.set(token, times);
    // A well-formed request reaches FCM, but FCM is down: nothing is accepted.
    if (config.outage) return fcmError(503, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable.");
    if (token.startsWith("unregistered-")) {
      return fcmError(404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.");
    }
    if (token.startsWith("invalid-")) {
      return fcmError(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token");
    }
    if (token.startsWith("mismatch-")) {
      return fcmError(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch");
    }
    if (token.startsWith("quota-")) {
      return fcmError(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded for the project.", { "Retry-After": "1" });
    }
    if (token.startsWith("unavailable-")) {
      return fcmError(503, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable.");
    }
    if (token.startsWith("third-party-auth-")) {
      return fcmError(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "Auth error from APNS or Web Push Service");
    }
    if (token.startsWith("flaky-") && seen === 0) {
      return fcmError(503, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable.");
    }
    if (config.failureRate > 0 && Math.random() < config.failureRate) {
      stats.injectedFailures += 1;
      const pick = TRANSIENT[Math.floor(Math.random() * TRANSIENT.length)] ?? TRANSIENT[0]!;
      return pick();
    }
    const name = `projects/${project}/messages/${randomUUID()}`;
    accepted.push({ name, receivedAt: new Date().toISOString(), message: msg });
    return { status: 200, body: { name } };
  }

  /** A dry run: a token's own answer where it has one, else the name FCM gives a validated message (`projects/{project}/messages/fake_message_id`). */
  function validateAnswer(project: string, token: string): FcmAnswer {
    if (token.startsWith("unregistered-")) return fcmError(404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.");
    if (token.startsWith("invalid-")) return fcmError(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token");
    if (token.startsWith("mismatch-")) return fcmError(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch");
    if (token.startsWith("third-party-auth-")) return fcmError(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "Auth error from APNS or Web Push Service");
    return { status: 200, body: { name: `projects/${project}/messages/fake_message_id` } };
  }

  async function handle(req: AnyRequest, res: AnyResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://stand-in");
    const raw = await readBody(req);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "Content-Type": "application/json; charset=UTF-8", ...headers });
      res.end(JSON.stringify(body));
    };

    const send = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(url.pathname);
    if (send && req.method === "POST") {
      stats.requests += 1;
      if (req.httpVersion === "2.0") stats.http2Requests += 1;
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        parsed = null;
      }
      const answer = !(req.headers.authorization ?? "").startsWith("Bearer ")
        ? { status: 401, body: { error: { code: 401, message: "Request is missing required authentication credential.", status: "UNAUTHENTICATED" } } }
        : answerSend(send[1] ?? "", parsed);
      if (answer.status === 200) {
        stats.accepted += 1;
      } else {
        const error = (answer.body as { error: { status: string; details?: Array<{ errorCode: string }> } }).error;
        const code = error.details?.[0]?.errorCode ?? error.status;
        stats.errors[code] = (stats.errors[code] ?? 0) + 1;
      }
      if (config.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, config.latencyMs));
      reply(answer.status, answer.body, answer.headers);
      return;
    }
    if (url.pathname === "/_stand-in/messages" && req.method === "GET") {
      reply(200, { messages: accepted });
      return;
    }
    if (url.pathname === "/_stand-in/messages" && req.method === "DELETE") {
      accepted.length = 0;
      attempts.clear();
      stats = { requests: 0, http2Requests: 0, accepted: 0, errors: {}, injectedFailures: 0, validateOnly: 0 };
      reply(200, { cleared: true });
      return;
    }
    if (url.pathname === "/_stand-in/stats" && req.method === "GET") {
      reply(200, stats);
      return;
    }
    if (url.pathname === "/_stand-in/attempts" && req.method === "GET") {
      const times = attempts.get(url.searchParams.get("token") ?? "") ?? [];
      reply(200, { token: url.searchParams.get("token"), attempts: times.length, times });
      return;
    }
    if (url.pathname === "/_stand-in/config" && (req.method === "PUT" || req.method === "GET")) {
      if (req.method === "PUT") {
        const next = JSON.parse(raw || "{}") as Partial<StandInConfig>;
        if (typeof next.latencyMs === "number" && next.latencyMs >= 0) config.latencyMs = next.latencyMs;
        if (typeof next.failureRate === "number" && next.failureRate >= 0 && next.failureRate <= 1) config.failureRate = next.failureRate;
        if (typeof next.outage === "boolean") config.outage = next.outage;
        if (typeof next.quotaRetryAfterSeconds === "number" && next.quotaRetryAfterSeconds >= 1) config.quotaRetryAfterSeconds = Math.round(next.quotaRetryAfterSeconds);
        if (next.projectFault === null || PROJECT_FAULTS.includes(next.projectFault as ProjectFault)) config.projectFault = next.projectFault ?? null;
        else if (next.projectFault !== undefined) {
          reply(400, { error: { code: 400, message: `projectFault must be one of ${PROJECT_FAULTS.join(", ")} or null`, status: "INVALID_ARGUMENT" } });
          return;
        }
      }
      reply(200, config);
      return;
    }
    reply(404, { error: { code: 404, message: `No route for ${req.method} ${url.pathname}`, status: "NOT_FOUND" } });
  }

  const served = await serveWithHttp2(handle, { port: options.port, host: options.host, keepAliveTimeoutMs: 30_000, maxConcurrentStreams: FCM_MAX_CONCURRENT_STREAMS });
  return { ...served, config, accepted };
}


function flag(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const standIn = await startStandIn({
    port: Number(flag("port") ?? process.env.FCM_STAND_IN_PORT ?? 9399),
    latencyMs: Number(flag("latency-ms") ?? process.env.FCM_STAND_IN_LATENCY_MS ?? 0),
    failureRate: Number(flag("failure-rate") ?? process.env.FCM_STAND_IN_FAILURE_RATE ?? 0),
  });
  console.log(`FCM stand-in listening on ${standIn.url} (latency ${standIn.config.latencyMs} ms, failure rate ${standIn.config.failureRate})`);
}
