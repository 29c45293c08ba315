/**
 * A stand-in for the Cloud Tasks queue administration API (v2beta3, HTTP/JSON),
 * which the Cloud Tasks emulator does not have. It speaks the REST surface
 * `@google-cloud/tasks` uses with its HTTP/JSON transport — get, pause and
 * resume a queue — keeps each queue's state, and records every request so
 * that tests can assert exactly what was asked.
 *
 *   GET  /v2beta3/projects/{p}/locations/{l}/queues/{q}[?readMask=…]
 *   POST /v2beta3/projects/{p}/locations/{l}/queues/{q}:pause
 *   POST /v2beta3/projects/{p}/locations/{l}/queues/{q}:resume
 *   GET / DELETE /_stand-in/requests    what was asked, in order / forget it
 *
 * Every queue exists and starts RUNNING with an empty backlog; `PUT
 * /_stand-in/queues/{q}` sets a queue's reported `stats.tasksCount`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { pathToFileURL } from "node:url";
import { readBody, serve } from "./stand-in-server.ts";

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  authorization: string | null;
}

export interface CloudTasksStandIn {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

interface QueueState {
  state: "RUNNING" | "PAUSED";
  tasksCount: number;
}

const QUEUE_PATH = /^\/v2beta3\/(projects\/[^/]+\/locations\/[^/]+\/queues\/[^/:]+)(?::(pause|resume))?$/;

export async function startCloudTasksStandIn(options: { port?: number; host?: string } = {}): Promise<CloudTasksStandIn> {
  const requests: RecordedRequest[] = [];
  const queues = new Map<string, QueueState>();
  const queue = (name: string) => {
    const found = queues.get(name) ?? { state: "RUNNING", tasksCount: 0 };
    queues.set(name, found);
    return found;
  };
  const asJson = (name: string, state: QueueState) => ({
    name,
    state: state.state,
    stats: { tasksCount: String(state.tasksCount), executedLastMinuteCount: "0", concurrentDispatchesCount: "0", effectiveExecutionRate: 500 },
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://stand-in");
    const raw = await readBody(req);
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "Content-Type": "application/json; charset=UTF-8" });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === "/_stand-in/requests") {
      if (req.method === "DELETE") requests.length = 0;
      reply(200, { requests });
      return;
    }
    const setQueue = /^\/_stand-in\/queues\/(.+)$/.exec(url.pathname);
    if (setQueue && req.method === "PUT") {
      const body = JSON.parse(raw || "{}") as { tasksCount?: number };
      const state = queue(decodeURIComponent(setQueue[1] ?? ""));
      if (typeof body.tasksCount === "number") state.tasksCount = body.tasksCount;
      reply(200, state);
      return;
    }
    const match = QUEUE_PATH.exec(url.pathname);
    requests.push({
      method: req.method ?? "",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body: raw ? (JSON.parse(raw) as unknown) : null,
      authorization: req.headers.authorization ?? null,
    });
    if (!match) {
      reply(404, { error: { code: 404, message: `No route for ${req.method} ${url.pathname}`, status: "NOT_FOUND" } });
      return;
    }
    const name = match[1] ?? "";
    const action = match[2];
    const state = queue(name);
    if (!action && req.method === "GET") {
      reply(200, asJson(name, state));
      return;
    }
    if (action && req.method === "POST") {
      state.state = action === "pause" ? "PAUSED" : "RUNNING";
      reply(200, asJson(name, state));
      return;
    }
    reply(405, { error: { code: 405, message: `${req.method} not allowed on ${url.pathname}`, status: "INVALID_ARGUMENT" } });
  }

  const served = await serve(handle, { port: options.port, host: options.host });
  return { ...served, requests };
}


if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const at = process.argv.indexOf("--port");
  const standIn = await startCloudTasksStandIn({ port: Number(at >= 0 ? process.argv[at + 1] : 9398) });
  console.log(`Cloud Tasks administration stand-in listening on ${standIn.url}`);
}
