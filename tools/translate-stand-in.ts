/**
 * The Cloud Translation stand-in: the smallest server that speaks the
 * Translation API v2 REST surface the functions' client (`@google-cloud/translate`'s
 * v2 `Translate`) calls: `POST /language/translate/v2` with
 * `{ q: [...], target, format, source? }`, answered
 * `{ data: { translations: [{ translatedText, detectedSourceLanguage }] } }`.
 *
 * A text translated to `xx` comes back as `[xx] ` + the text: placeholders
 * (`{{name}}`), and in HTML any `<span translate="no">`, untouched. The source
 * is always reported as English (`en`), so a text "translated" to English is
 * answered unchanged, as the real API does.
 *
 * Inspection and faults:
 *   GET    /_stand-in/requests  what was asked, in arrival order: { requests: [{ target, format, q, at }] }
 *   DELETE /_stand-in/requests  forget them
 *   PUT    /_stand-in/fail      { fail: true | false }: answer every translation 503 UNAVAILABLE until told otherwise
 *
 * Run alone with `npx tsx tools/translate-stand-in.ts [--port 9395]`.
 */
import { pathToFileURL } from "node:url";
import { readBody, serve, type Served } from "./stand-in-server.ts";

export interface TranslationRequest {
  target: string;
  format: string;
  q: string[];
  at: string;
}

export interface TranslateStandIn extends Served {
  requests: TranslationRequest[];
}

const SOURCE_LANGUAGE = "en";

function googleError(status: number, code: string, message: string) {
  return { error: { code: status, message, status: code } };
}

export async function startTranslateStandIn(options: { port?: number; host?: string } = {}): Promise<TranslateStandIn> {
  const requests: TranslationRequest[] = [];
  let failing = false;
  const served = await serve(
    async (req, res) => {
      const url = new URL(req.url ?? "/", "http://stand-in");
      const raw = await readBody(req);
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { "Content-Type": "application/json; charset=UTF-8" });
        res.end(JSON.stringify(body));
      };
      if (url.pathname.replace(/\/+$/, "") === "/language/translate/v2" && req.method === "POST") {
        let body: { q?: unknown; target?: unknown; format?: unknown };
        try {
          body = JSON.parse(raw || "{}") as typeof body;
        } catch {
          reply(400, googleError(400, "INVALID_ARGUMENT", "Invalid JSON payload received."));
          return;
        }
        const q = (Array.isArray(body.q) ? body.q : [body.q]).filter((text): text is string => typeof text === "string");
        const target = typeof body.target === "string" ? body.target : "";
        const format = typeof body.format === "string" ? body.format : "html";
        requests.push({ target, format, q, at: new Date().toISOString() });
        if (failing) {
          reply(503, googleError(503, "UNAVAILABLE", "The service is currently unavailable."));
          return;
        }
        if (!/^[a-zA-Z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(target) || q.length === 0) {
          reply(400, googleError(400, "INVALID_ARGUMENT", "Invalid Value"));
          return;
        }
        const same = target.toLowerCase().split("-")[0] === SOURCE_LANGUAGE;
        reply(200, { data: { translations: q.map((text) => ({ translatedText: same ? text : `[${target}] ${text}`, detectedSourceLanguage: SOURCE_LANGUAGE })) } });
        return;
      }
      if (url.pathname === "/_stand-in/requests" && req.method === "GET") {
        reply(200, { requests });
        return;
      }
      if (url.pathname === "/_stand-in/requests" && req.method === "DELETE") {
        requests.length = 0;
        reply(200, { cleared: true });
        return;
      }
      if (url.pathname === "/_stand-in/fail" && req.method === "PUT") {
        const next = JSON.parse(raw || "{}") as { fail?: unknown };
        if (typeof next.fail !== "boolean") {
          reply(400, googleError(400, "INVALID_ARGUMENT", "fail must be true or false"));
          return;
        }
        failing = next.fail;
        reply(200, { fail: failing });
        return;
      }
      reply(404, googleError(404, "NOT_FOUND", `No route for ${req.method} ${url.pathname}`));
    },
    { port: options.port, host: options.host, keepAliveTimeoutMs: 30_000 },
  );
  return { ...served, requests };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const at = process.argv.indexOf("--port");
  const standIn = await startTranslateStandIn({ port: Number(at >= 0 ? process.argv[at + 1] : (process.env.TRANSLATE_STAND_IN_PORT ?? 9395)) });
  console.log(`Translation stand-in listening on ${standIn.url}`);
}
