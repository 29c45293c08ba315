/**
 * The local stack's webhook receiver: a partner's endpoint as the tests (and
 * a person trying webhooks out) need one. It answers every POST with 200 and
 * records it — path, headers, the raw body exactly as it arrived — unless told
 * to fail. The functions reach it on 127.0.0.1 only through the emulator-only
 * allowance the stack passes them (WEBHOOK_LOCAL_TARGETS).
 *
 *   POST <any path>                      a delivery: recorded, 200 (or 500, see fail)
 *   GET / DELETE /_receiver/deliveries   what arrived, in order / forget it
 *   PUT /_receiver/fail?count=N[&path=P] answer the next N deliveries (to path P only, if given) with 500
 *
 *   tsx tools/webhook-receiver.ts [--port 9394]
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { pathToFileURL } from "node:url";
import { readBody, serve } from "./stand-in-server.ts";

export interface ReceivedDelivery {
  path: string;
  headers: Record<string, string>;
  /** The body as it arrived, byte for byte (as UTF-8 text): what the signature covers. */
  body: string;
  /** What the receiver answered. */
  answered: number;
  receivedAt: string;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  deliveries: ReceivedDelivery[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(options: { port?: number; host?: string } = {}): Promise<WebhookReceiver> {
  const deliveries: ReceivedDelivery[] = [];
  /** Failures still to answer, by path ("" for any path). */
  const failures = new Map<string, number>();

  const takeFailure = (path: string): boolean => {
    for (const key of [path, ""]) {
      const left = failures.get(key) ?? 0;
      if (left > 0) {
        failures.set(key, left - 1);
        return true;
      }
    }
    return false;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://receiver");
    const raw = await readBody(req);
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === "/_receiver/deliveries") {
      if (req.method === "GET") return reply(200, { deliveries });
      if (req.method === "DELETE") {
        deliveries.length = 0;
        return reply(200, {});
      }
    }
    if (url.pathname === "/_receiver/fail" && req.method === "PUT") {
      const count = Number(url.searchParams.get("count") ?? "1");
      if (!Number.isInteger(count) || count < 0) return reply(400, { error: "count must be a whole number" });
      failures.set(url.searchParams.get("path") ?? "", count);
      return reply(200, { count });
    }
    if (req.method !== "POST" || url.pathname.startsWith("/_receiver/")) return reply(404, { error: "no such route" });
    const answered = takeFailure(url.pathname) ? 500 : 200;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string") headers[name] = value;
    deliveries.push({ path: url.pathname, headers, body: raw, answered, receivedAt: new Date().toISOString() });
    reply(answered, answered === 200 ? { received: true } : { error: "failing on purpose (PUT /_receiver/fail)" });
  }

  const served = await serve(handle, { port: options.port, host: options.host });
  return { url: served.url, port: served.port, deliveries, close: () => served.close() };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const at = process.argv.indexOf("--port");
  const receiver = await startWebhookReceiver({ port: Number(at > 0 ? process.argv[at + 1] : (process.env.WEBHOOK_RECEIVER_PORT ?? 9394)) });
  console.log(`webhook receiver on ${receiver.url} (GET /_receiver/deliveries)`);
}
