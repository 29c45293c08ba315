import { randomInt } from "node:crypto";
import { PROJECT_ID, REGION, stackEnv } from "../../tools/lib/env.ts";

/** One answer of the partner API (`api` function, `/v1/...`) on the local stack. */
export interface ApiResponse {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

/** A fresh simulated client address per request, so bans and failures never spill over. */
export const newIp = () => `198.51.${randomInt(0, 256)}.${randomInt(1, 255)}`;

export async function api(path: string, options: { method?: string; key?: string; body?: unknown; raw?: string; contentType?: string; ip?: string; authorization?: string } = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { "x-forwarded-for": options.ip ?? newIp() };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  if (options.authorization) headers.authorization = options.authorization;
  let body: string | undefined = options.raw;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers["content-type"] = options.contentType ?? "application/json";
  const res = await fetch(`${stackEnv("FUNCTIONS_EMULATOR_ORIGIN")}/${PROJECT_ID}/${REGION}/api${path}`, { method: options.method ?? (body === undefined ? "GET" : "POST"), headers, body });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

export const errorCode = (res: ApiResponse) => (res.body as { error?: { code?: string } } | undefined)?.error?.code;
