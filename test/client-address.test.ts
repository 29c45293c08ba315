/**
 * The client address the keyed endpoints act on (docs/senders.md, "Client address"),
 * against the stack: a forged X-Forwarded-For entry neither passes a key's IP
 * allow-list nor escapes a ban, on the partner API (called at its function
 * URL) and on the AirNotifier endpoints both through Hosting and at their
 * function URL; a direct call dressed as a Hosting call counts under its own
 * address; a ban hits the client behind Hosting, not Hosting's shared edge;
 * IPv6 bans cover the /64.
 *
 * The emulator has no front end: each request's X-Forwarded-For is written
 * here as production's would arrive, its last entry standing for the one
 * Google's front end appends (the caller's real address, or Hosting's edge).
 */
import assert from "node:assert/strict";
import { randomInt, randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { createKey } from "../functions/src/keys/service.ts";
import type { KeyScope, KeySurface } from "../functions/src/shared/contract.ts";
import { HOSTING_EDGE, PROJECT_ID, REGION, stackEnv, stackParam, throughHosting } from "../tools/lib/env.ts";

const BAN_FAILURES = stackParam("API_BAN_FAILURES");
const APP_NAME = "commoodlemoodlemobile";
const WRONG_KEY = `pk_${"0".repeat(16)}_${"A".repeat(43)}`;
const ALLOWED = "203.0.113.77";
const OUTSIDE = "192.0.2.1";

/** A fresh address per ban, so no ban spills into another check. */
const freshIp = () => `198.18.${randomInt(0, 256)}.${randomInt(1, 255)}`;
const freshV6Prefix = () => `2001:db8:${randomInt(1, 0xffff).toString(16)}:${randomInt(1, 0xffff).toString(16)}`;

interface Reply {
  status: number;
  body: unknown;
}

async function reply(res: Response): Promise<Reply> {
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as unknown };
  } catch {
    return { status: res.status, body: text };
  }
}

/** The partner API at its function URL (it is not behind Hosting): GET /v1/messages/x, 404 once every guard let it through. */
async function api(forwardedFor: string, key: string, extra: Record<string, string> = {}): Promise<Reply> {
  const url = `${stackEnv("FUNCTIONS_EMULATOR_ORIGIN")}/${PROJECT_ID}/${REGION}/api/v1/messages/x`;
  return reply(await fetch(url, { headers: { "x-forwarded-for": forwardedFor, authorization: `Bearer ${key}`, ...extra } }));
}

/**
 * Moodle's key check (POST /tokens/testtoken: 400 "Invalid token" once every
 * guard let it through), through Hosting or at the airnotifier function's URL.
 */
async function moodle(path: "hosting" | "direct", forwardedFor: string, key: string, extra: Record<string, string> = {}): Promise<Reply> {
  const origin = path === "hosting" ? stackEnv("HOSTING_ORIGIN") : `${stackEnv("FUNCTIONS_EMULATOR_ORIGIN")}/${PROJECT_ID}/${REGION}/airnotifier`;
  const headers = { "x-forwarded-for": forwardedFor, "x-an-app-name": APP_NAME, "x-an-app-key": key, ...extra };
  return reply(await fetch(`${origin}/tokens/testtoken`, { method: "POST", headers }));
}

async function key(surface: KeySurface, scopes: KeyScope[], ipRanges: string[] = []): Promise<string> {
  return (await createKey({ name: `client address ${randomUUID()}`, scopes, ipRanges, surface })).secret;
}

const MOODLE_OK = { status: 400, body: { error: "Invalid token" } };
const MOODLE_NOT_ALLOWED = { status: 403, body: { error: "No permission" } };

/** Fails authentication from each of `senders` in turn until BAN_FAILURES failures are counted. */
async function failUntilBanned(send: (forwardedFor: string) => Promise<Reply>, senders: string[]): Promise<void> {
  for (let i = 0; i < BAN_FAILURES; i++) {
    const failed = await send(senders[i % senders.length] ?? "");
    const badKey = failed.status === 401 || (failed.status === 400 && JSON.stringify(failed.body) === JSON.stringify({ error: "Invalid access key" }));
    assert.ok(badKey, `failure ${i + 1} is refused as a bad key, not banned yet: ${JSON.stringify(failed)}`);
  }
}

describe("client address", () => {
  it("a forged X-Forwarded-For entry does not pass a key's IP allow-list on the partner API", async () => {
    const secret = await key("api", ["messages:send"], ["203.0.113.0/24", "2001:db8:5::1/128"]);
    assert.equal((await api(ALLOWED, secret)).status, 404, "the allowed address itself passes");
    assert.equal((await api(`${ALLOWED}, ${OUTSIDE}`, secret)).status, 403, "an allowed address written first");
    assert.equal((await api(OUTSIDE, secret, { "fastly-client-ip": ALLOWED })).status, 403, "an allowed address in Fastly-Client-IP");
    // The partner API is not behind Hosting: a chain ending at Fastly counts under Fastly's address, whatever it names.
    assert.equal((await api(throughHosting(ALLOWED), secret)).status, 403, "a Hosting-shaped chain sent to the function URL");
    // Allow-lists match the exact address, not its /64.
    assert.equal((await api("2001:db8:5::1", secret)).status, 404);
    assert.equal((await api("2001:db8:5::2", secret)).status, 403);
  });

  it("a forged X-Forwarded-For entry does not pass a key's IP allow-list on the AirNotifier endpoints, through Hosting or at the function URL", async () => {
    const secret = await key("moodle", ["devices:write", "messages:send"], ["203.0.113.0/24"]);
    const check = (path: "hosting" | "direct", forwardedFor: string, extra?: Record<string, string>) => moodle(path, forwardedFor, secret, extra);
    assert.deepEqual(await check("hosting", throughHosting(ALLOWED)), MOODLE_OK, "the allowed client through Hosting");
    assert.deepEqual(await check("hosting", throughHosting(OUTSIDE, ALLOWED)), MOODLE_NOT_ALLOWED, "through Hosting, an allowed address written first");
    assert.deepEqual(await check("hosting", throughHosting(OUTSIDE, ALLOWED), { "fastly-client-ip": ALLOWED }), MOODLE_NOT_ALLOWED, "and in Fastly-Client-IP too");
    assert.deepEqual(await check("direct", ALLOWED), MOODLE_OK, "the allowed client at the function URL");
    assert.deepEqual(await check("direct", `${ALLOWED}, ${OUTSIDE}`), MOODLE_NOT_ALLOWED, "at the function URL, an allowed address written first");
    // A direct caller writing the chain Hosting would have sent: the front end's entry, its own, comes last.
    assert.deepEqual(await check("direct", `${throughHosting(ALLOWED)}, ${OUTSIDE}`, { "fastly-client-ip": ALLOWED }), MOODLE_NOT_ALLOWED, "a direct call dressed as Hosting");
  });

  it("a banned address cannot escape its ban by prepending another on the partner API", { timeout: 60_000 }, async () => {
    const secret = await key("api", ["messages:send"]);
    const banned = async () => {
      const ip = freshIp();
      await failUntilBanned((forwardedFor) => api(forwardedFor, WRONG_KEY), [ip]);
      return ip;
    };
    let ip = await banned();
    assert.equal((await api(`${freshIp()}, ${ip}`, secret)).status, 429, "another address written first");
    ip = await banned();
    assert.equal((await api(`${freshIp()}, ${ip}`, secret, { "fastly-client-ip": freshIp() })).status, 429, "and one in Fastly-Client-IP");
    ip = await banned();
    assert.equal((await api(`${freshIp()}, ${HOSTING_EDGE}, ${ip}`, secret)).status, 429, "a Hosting-shaped chain written first");
    // The last entry is the client: the same chain with another address last is another client.
    assert.equal((await api(`${ip}, ${freshIp()}`, secret)).status, 404);
  });

  it("a banned Moodle client cannot escape its ban through Hosting or at the function URL, and its ban does not fall on Hosting's edge", { timeout: 90_000 }, async () => {
    const secret = await key("moodle", ["devices:write", "messages:send"]);
    const banned = async () => {
      const ip = freshIp();
      await failUntilBanned((forwardedFor) => moodle("hosting", forwardedFor, WRONG_KEY), [throughHosting(ip)]);
      return ip;
    };
    let ip = await banned();
    assert.equal((await moodle("hosting", throughHosting(ip, freshIp()), secret)).status, 429, "through Hosting, another address written first");
    ip = await banned();
    assert.equal((await moodle("hosting", throughHosting(ip, freshIp()), secret, { "fastly-client-ip": freshIp() })).status, 429, "and one in Fastly-Client-IP");
    ip = await banned();
    assert.equal((await moodle("direct", `${freshIp()}, ${ip}`, secret)).status, 429, "at the function URL, another address written first");
    ip = await banned();
    assert.equal((await moodle("direct", `${throughHosting(freshIp())}, ${ip}`, secret, { "fastly-client-ip": freshIp() })).status, 429, "at the function URL, dressed as Hosting");
    // Every Moodle site reaches the function from Hosting's edge: banning one must not ban the others.
    ip = await banned();
    assert.deepEqual(await moodle("hosting", throughHosting(freshIp()), secret), MOODLE_OK, "another site behind the same edge");
    assert.equal((await moodle("hosting", throughHosting(ip), secret)).status, 429, "while the banned one stays banned");
  });

  it("counts failures from one IPv6 /64 together, and bans the whole /64 only (partner API)", { timeout: 30_000 }, async () => {
    const secret = await key("api", ["messages:send"]);
    const prefix = freshV6Prefix();
    const senders = [`${prefix}::1`, `${prefix}:ffff:0:0:2`];
    const send = (forwardedFor: string) => api(forwardedFor, WRONG_KEY);
    for (let i = 0; i < BAN_FAILURES - 1; i++) assert.equal((await send(senders[i % 2] ?? "")).status, 401);
    assert.equal((await api(`${prefix}::3`, secret)).status, 404, "one failure short of the ban, the /64 is not banned yet");
    assert.equal((await send(senders[(BAN_FAILURES - 1) % 2] ?? "")).status, 401);
    assert.equal((await api(`${prefix}:abcd::9`, secret)).status, 429, "a third address of the /64 is banned");
    const [a, b, c, d] = prefix.split(":");
    const nextNet = `${a}:${b}:${c}:${(Number.parseInt(d ?? "0", 16) ^ 1).toString(16)}`;
    assert.equal((await api(`${nextNet}::1`, secret)).status, 404, "the neighbouring /64 is not");
  });

  it("counts failures from one IPv6 /64 together behind Hosting's edge (AirNotifier)", { timeout: 30_000 }, async () => {
    const secret = await key("moodle", ["devices:write", "messages:send"]);
    const prefix = freshV6Prefix();
    await failUntilBanned((forwardedFor) => moodle("hosting", forwardedFor, WRONG_KEY), [throughHosting(`${prefix}::a`), throughHosting(`${prefix}::b`)]);
    assert.equal((await moodle("hosting", throughHosting(`${prefix}::c`), secret)).status, 429, "a third address of the /64 is banned");
    assert.deepEqual(await moodle("hosting", throughHosting(`${freshV6Prefix()}::c`), secret), MOODLE_OK, "another /64 is not");
  });
});
