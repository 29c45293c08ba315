/**
 * The AirNotifier-compatible endpoints, replayed exactly as a Moodle site
 * sends them (docs/moodle.md, "Use with Moodle"): through Hosting at the
 * root of HOSTING_ORIGIN, with Moodle's headers and User-Agent, E1/E2 form
 * bodies both multipart (PHP curl posting an array) and urlencoded, E3's raw
 * JSON under curl's default form content type. What FCM got is read from the
 * stand-in.
 */
import assert from "node:assert/strict";
import { randomBytes, randomInt, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { siteDeviceId } from "../functions/src/devices/siteTokens.ts";
import { windowShards } from "../functions/src/guards/counters.ts";
import { createKey } from "../functions/src/keys/service.ts";
import { LIMITS, type KeyScope } from "../functions/src/shared/contract.ts";
import { adminDb } from "../tools/lib/admin.ts";
import { stackEnv, stackParam, throughHosting } from "../tools/lib/env.ts";
import { seedDevices } from "../tools/lib/fixtures.ts";
import { acceptedFor, type AcceptedMessage } from "../tools/lib/stand-in.ts";
import { waitFor } from "../tools/lib/wait.ts";

const APP_NAME = "commoodlemoodlemobile";
const WWWROOT = "https://moodle.example.org";
const USER_AGENT = `MoodleBot/5.1+ (Build: 20251017) (+${WWWROOT})`;
const KEYS_PER_ADDRESS = stackParam("MOODLE_KEYS_PER_ADDRESS_PER_DAY");
const BAN_FAILURES = stackParam("API_BAN_FAILURES");

/** Pushes in flight at once in the burst: a site with several cron runners sending. */
const BURST_SENDERS = 8;

/** Runs `work` over `items`, at most `limit` at a time, keeping the order of the results. */
async function inParallel<T, R>(items: T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const runner = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, runner));
  return results;
}

const newIp = () => `192.0.2.${randomInt(1, 255)}`;
const newToken = (prefix = "ok") => `${prefix}-${randomBytes(12).toString("base64url")}:APA91b${randomBytes(40).toString("base64url")}`;

interface Reply {
  status: number;
  text: string;
  body: unknown;
  ms: number;
}

type Body = { multipart: Record<string, string> } | { urlencoded: Record<string, string> } | { json: unknown } | undefined;

/** A body as PHP's curl builds one from an array: a random boundary, one part per field. */
function multipart(fields: Record<string, string>): { contentType: string; body: string } {
  const boundary = `------------------------${randomBytes(8).toString("hex")}`;
  const parts = Object.entries(fields).map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: `${parts.join("")}--${boundary}--\r\n` };
}

async function moodle(path: string, options: { key?: string; appName?: string; body?: Body; ip?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = {
    accept: "application/json",
    "user-agent": USER_AGENT,
    "x-an-app-name": options.appName ?? APP_NAME,
    "x-an-app-key": options.key ?? "none",
    // What the function receives behind Hosting: the site's address as Hosting's CDN appended it, then the CDN's.
    "x-forwarded-for": throughHosting(options.ip ?? newIp()),
  };
  let body: string | undefined;
  const given = options.body;
  if (given && "multipart" in given) {
    const built = multipart(given.multipart);
    headers["content-type"] = built.contentType;
    body = built.body;
  } else if (given && "urlencoded" in given) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(given.urlencoded).toString();
  } else if (given && "json" in given) {
    // Moodle posts the JSON string without setting a content type: curl sends its form default.
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = JSON.stringify(given.json);
  }
  const started = performance.now();
  const res = await fetch(`${stackEnv("HOSTING_ORIGIN")}${path}`, { method: "POST", headers, body });
  const text = await res.text();
  const ms = performance.now() - started;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, text, body: parsed, ms };
}

async function siteKey(scopes: KeyScope[] = ["devices:write", "messages:send"], tenant?: string): Promise<{ keyId: string; secret: string; tenant: string }> {
  return createKey({ name: `Moodle test ${randomUUID()}`, scopes, surface: "moodle", ...(tenant !== undefined && { tenant }) });
}

/** A forum post notification with the types Moodle really sends (string ids, JSON-string customdata, nulls). */
function forumExtra(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    processor: "moodle",
    component: "mod_forum",
    name: "posts",
    subject: "Re: Week 3 reading",
    smallmessage: "Ana posted in Week 3 reading: see page 12",
    notification: 1,
    contexturl: `${WWWROOT}/mod/forum/discuss.php?d=7#p12`,
    customdata: JSON.stringify({ appurl: `${WWWROOT}/mod/forum/discuss.php?d=7`, cmid: 4 }),
    site: "6f1ed002ab5595859014ebf0951522d9",
    sitefullname: "Example University",
    siteshortname: "EU",
    wwwroot: WWWROOT,
    userfromid: "5",
    userfromfullname: "Ana Silva",
    usertoid: "2",
    savedmessageid: 7,
    date: 1700000000,
    encrypted: false,
    courseid: 3,
    convid: null,
    modulename: null,
    replyto: null,
    ...overrides,
  };
}

/** The check page's "Send test notification": only these keys in extra. */
function testNotificationExtra(): Record<string, unknown> {
  return {
    subject: "Test message",
    notification: 1,
    usertoid: "2",
    processor: "moodle",
    site: "6f1ed002ab5595859014ebf0951522d9",
    date: 1700000000,
    sitefullname: "Example University",
    siteshortname: "EU",
    smallmessage: "This is a test message",
    wwwroot: WWWROOT,
    encrypted: false,
  };
}

async function received(token: string, count = 1): Promise<AcceptedMessage[]> {
  return waitFor(`${count} message(s) at the stand-in for a Moodle token`, async () => {
    const got = await acceptedFor([token]);
    return got.length >= count ? got : undefined;
  });
}

const pushBody = (token: string, extra: Record<string, unknown>, device = "Android-fcm", encrypted = false) => ({
  json: { device, token, extra, ...(encrypted && { alert: null }) },
});

describe("Moodle drop-in (AirNotifier-compatible endpoints)", () => {
  it("answers the check page: GET / is online, testtoken says the key works, a wrong key or app name says so", async () => {
    const root = await fetch(`${stackEnv("HOSTING_ORIGIN")}/`, { headers: { accept: "*/*", "user-agent": USER_AGENT } });
    assert.equal(root.status, 200);
    const { secret } = await siteKey();
    const ok = await moodle("/tokens/testtoken", { key: secret });
    assert.deepEqual([ok.status, ok.body], [400, { error: "Invalid token" }]);
    const wrongKey = await moodle("/tokens/testtoken", { key: `pk_${"0".repeat(16)}_${"A".repeat(43)}` });
    assert.deepEqual([wrongKey.status, wrongKey.body], [400, { error: "Invalid access key" }]);
    const wrongName = await moodle("/tokens/testtoken", { key: secret, appName: "orgexamplebranded" });
    assert.deepEqual([wrongName.status, wrongName.body], [400, { error: "Invalid application name" }]);
  });

  it("issues a key on request (multipart and urlencoded), limited per address, logged without the secret", { timeout: 30_000 }, async () => {
    const ip = newIp();
    const fields = { url: WWWROOT, siteid: "6f1ed002ab5595859014ebf0951522d9", contact: "admin@example.org", description: "Example University" };
    const first = await moodle("/accesskeys/", { body: { multipart: fields }, ip });
    const second = await moodle("/accesskeys/", { body: { urlencoded: fields }, ip });
    const keys = [first, second].map((reply) => {
      assert.equal(reply.status, 200, reply.text);
      const key = (reply.body as { accesskey?: string }).accesskey;
      assert.match(key ?? "", /^[A-Za-z0-9_-]+$/, "passes Moodle's PARAM_ALPHANUMEXT");
      return key as string;
    });
    assert.equal(keys.length, KEYS_PER_ADDRESS);
    const third = await moodle("/accesskeys/", { body: { multipart: fields }, ip });
    assert.equal(third.status, 429);
    assert.equal((third.body as { accesskey?: string }).accesskey, undefined);
    assert.ok((third.body as { error: string }).error.length > 0);
    // The quota is the site's, not Hosting's edge's, which every site comes through.
    assert.equal((await moodle("/accesskeys/", { body: { multipart: fields }, ip: `198.18.${randomInt(0, 256)}.${randomInt(1, 255)}` })).status, 200);

    // The issued key works for E2 and E3 at once.
    const token = newToken();
    assert.deepEqual((await moodle(`/tokens/${token}`, { key: keys[0], body: { multipart: { device: "Android-fcm" } } })).body, { status: "ok" });
    assert.equal((await moodle("/api/v2/push/", { key: keys[1], body: pushBody(token, testNotificationExtra()) })).status, 202);
    await received(token);

    const keyId = /^pk_([0-9a-f]{16})_/.exec(keys[0] as string)?.[1] as string;
    const log = await waitFor("the issuing log line", () => {
      const text = readFileSync(join(process.cwd(), ".cache", "functions.log"), "utf8");
      return text.includes(keyId) ? text : undefined;
    });
    for (const key of keys) assert.ok(!log.includes(key), "a secret reached the function log");
  });

  it("registers a token as a device of the site's tenant (multipart and urlencoded), and leaves an app user's device alone", async () => {
    const { secret, tenant } = await siteKey();
    const android = newToken();
    const created = await moodle(`/tokens/${android}`, { key: secret, body: { multipart: { device: "Android-fcm" } } });
    assert.deepEqual([created.status, created.body], [200, { status: "ok" }]);
    const again = await moodle(`/tokens/${android}`, { key: secret, body: { urlencoded: { device: "Android-fcm" } } });
    assert.deepEqual([again.status, again.body], [200, { status: "token exists" }]);
    const device: Record<string, unknown> = (await adminDb().collection("devices").doc(siteDeviceId(tenant, android)).get()).data() ?? {};
    const { userId, token, platform, enabled, retired } = device;
    assert.deepEqual({ userId, token, platform, enabled, retired, tenant: device.tenant }, {
      userId: `${tenant}:moodle`,
      tenant,
      token: android,
      platform: "android",
      enabled: true,
      retired: false,
    });
    const ios = newToken();
    assert.deepEqual((await moodle(`/tokens/${ios}`, { key: secret, body: { urlencoded: { device: "iOS-fcm" } } })).body, { status: "ok" });
    assert.equal((await adminDb().collection("devices").doc(siteDeviceId(tenant, ios)).get()).get("platform"), "ios");

    // A phone whose app registered the same token for its user keeps its device; the site gets a device of its own tenant.
    const [owned] = await seedDevices([{ token: newToken(), userId: `student-${randomUUID()}` }]);
    const shared = await moodle(`/tokens/${owned!.token}`, { key: secret, body: { multipart: { device: "Android-fcm" } } });
    assert.deepEqual(shared.body, { status: "ok" });
    const ownedDoc = (await adminDb().collection("devices").doc(owned!.deviceId).get()).data();
    assert.equal(ownedDoc?.retired, false);
    assert.match(String(ownedDoc?.userId), /^student-/);
    assert.equal((await adminDb().collection("devices").doc(siteDeviceId(tenant, owned!.token)).get()).get("tenant"), tenant);
    assert.equal((await moodle("/api/v2/push/", { key: secret, body: pushBody(owned!.token, forumExtra()) })).status, 202);
    const [push] = await received(owned!.token);
    const pushed = (await adminDb().collection("messages").doc(String((push!.message as { data: Record<string, string> }).data.messageId)).get()).data();
    assert.deepEqual(pushed?.audience, { devices: [siteDeviceId(tenant, owned!.token)] });
  });

  it("maps a forum post to FCM: title, body, every extra field as a string, the app's routing keys", { timeout: 30_000 }, async () => {
    const { secret } = await siteKey();
    const token = newToken();
    await moodle(`/tokens/${token}`, { key: secret, body: { multipart: { device: "Android-fcm" } } });
    const extra = forumExtra();
    const reply = await moodle("/api/v2/push/", { key: secret, body: pushBody(token, extra) });
    assert.deepEqual([reply.status, reply.text], [202, ""]);
    assert.ok(reply.ms < 2000, `answered in ${reply.ms} ms`);
    const [got] = await received(token);
    const message = got!.message as { notification?: { title: string; body: string }; data: Record<string, string>; android?: Record<string, unknown> };
    assert.deepEqual(message.notification, { title: "Example University", body: "Ana posted in Week 3 reading: see page 12" });
    const { messageId, ...data } = message.data;
    assert.ok(messageId);
    assert.deepEqual(data, {
      processor: "moodle",
      component: "mod_forum",
      name: "posts",
      subject: "Re: Week 3 reading",
      smallmessage: "Ana posted in Week 3 reading: see page 12",
      notification: "1",
      contexturl: extra.contexturl,
      customdata: extra.customdata,
      site: "6f1ed002ab5595859014ebf0951522d9",
      sitefullname: "Example University",
      siteshortname: "EU",
      wwwroot: WWWROOT,
      userfromid: "5",
      userfromfullname: "Ana Silva",
      usertoid: "2",
      savedmessageid: "7",
      date: "1700000000",
      encrypted: "0",
      courseid: "3",
      notif: "1",
      moodlecomponent: "mod_forum",
      siteurl: WWWROOT,
    });
    assert.equal(message.android?.priority, "high");
  });

  it("delivers the test notification's minimal extra, to an iOS token never registered through E2", { timeout: 30_000 }, async () => {
    const { secret, tenant } = await siteKey();
    const token = newToken();
    const reply = await moodle("/api/v2/push/", { key: secret, body: pushBody(token, testNotificationExtra(), "iOS-fcm") });
    assert.equal(reply.status, 202, reply.text);
    const [got] = await received(token);
    const message = got!.message as { notification: { title: string; body: string }; data: Record<string, string>; apns?: { payload: { aps: { alert: unknown } } } };
    assert.deepEqual(message.notification, { title: "Example University", body: "This is a test message" });
    assert.deepEqual(message.apns?.payload.aps.alert, { title: "Example University", body: "This is a test message" });
    assert.equal(message.data.notif, "1");
    assert.equal(message.data.siteurl, WWWROOT);
    assert.equal("moodlecomponent" in message.data, false);
    assert.equal((await adminDb().collection("devices").doc(siteDeviceId(tenant, token)).get()).get("platform"), "ios");
  });

  it("sends an encrypted push data-only, with encrypted = \"1\" and the sealed fields untouched", { timeout: 30_000 }, async () => {
    const { secret } = await siteKey();
    const token = newToken();
    const sealed = (n: number) => randomBytes(n).toString("base64");
    const extra = forumExtra({ encrypted: true, smallmessage: sealed(600), sitefullname: sealed(60), subject: sealed(80), userfromfullname: sealed(40), userfromid: sealed(24), contexturl: sealed(120) });
    assert.equal((await moodle("/api/v2/push/", { key: secret, body: pushBody(token, extra, "Android-fcm", true) })).status, 202);
    const [got] = await received(token);
    const message = got!.message as { notification?: unknown; data: Record<string, string>; android?: { notification?: unknown; priority?: string } };
    assert.equal(message.notification, undefined);
    assert.equal(message.android?.notification, undefined);
    assert.equal(message.android?.priority, "high");
    assert.equal(message.data.encrypted, "1");
    for (const field of ["smallmessage", "sitefullname", "subject", "userfromfullname", "userfromid", "contexturl"]) assert.equal(message.data[field], extra[field]);
  });

  it("shortens long text to the limits and FCM's 4096 bytes instead of refusing, and keeps literal {{braces}}", { timeout: 30_000 }, async () => {
    const { secret } = await siteKey();
    const token = newToken();
    const long = `Résumé {{not_a_placeholder}} ${"ünïcødé text ".repeat(320)}`;
    const extra = forumExtra({ sitefullname: `The Very Long Official Name Of An Example University Campus ${"x".repeat(80)}`, smallmessage: long });
    assert.equal((await moodle("/api/v2/push/", { key: secret, body: pushBody(token, extra, "iOS-fcm") })).status, 202);
    const [got] = await received(token);
    const message = got!.message as { notification: { title: string; body: string }; data: Record<string, string> };
    assert.ok(message.notification.title.length <= LIMITS.titleMax && message.notification.title.endsWith("…"), message.notification.title);
    assert.ok(message.notification.body.endsWith("…"));
    assert.ok(message.notification.body.startsWith("Résumé {{not_a_placeholder}} ünïcødé"));
    const { token: _t, ...payload } = got!.message;
    assert.ok(Buffer.byteLength(JSON.stringify(payload)) <= LIMITS.fcmPayloadBytes);
  });

  it("answers 404 Unregistered token once FCM has reported the token dead", { timeout: 30_000 }, async () => {
    const { secret, tenant } = await siteKey();
    const token = newToken("unregistered");
    await moodle(`/tokens/${token}`, { key: secret, body: { multipart: { device: "Android-fcm" } } });
    assert.equal((await moodle("/api/v2/push/", { key: secret, body: pushBody(token, forumExtra()) })).status, 202);
    await waitFor("the device to be retired", async () => ((await adminDb().collection("devices").doc(siteDeviceId(tenant, token)).get()).get("retired") === true ? true : undefined));
    const next = await moodle("/api/v2/push/", { key: secret, body: pushBody(token, forumExtra()) });
    assert.deepEqual([next.status, next.body], [404, { error: "Unregistered token" }]);
  });

  it("refuses a wrong key, app name or scope and writes nothing; bans an address; applies the key's rate", { timeout: 30_000 }, async () => {
    const { keyId, secret, tenant } = await siteKey();
    const token = newToken();
    const before = (await adminDb().collection("messages").where("senderId", "==", `key:${keyId}`).count().get()).data().count;
    const wrongName = await moodle("/api/v2/push/", { key: secret, appName: "comexamplebranded", body: pushBody(token, forumExtra()) });
    assert.deepEqual([wrongName.status, wrongName.body], [400, { error: "Invalid application name" }]);
    const noKey = await moodle("/api/v2/push/", { key: "", body: pushBody(token, forumExtra()) });
    assert.deepEqual([noKey.status, noKey.body], [400, { error: "app key is required" }]);
    const sendOnly = await siteKey(["devices:write"]);
    const noScope = await moodle("/api/v2/push/", { key: sendOnly.secret, body: pushBody(token, forumExtra()) });
    assert.deepEqual([noScope.status, noScope.body], [403, { error: "No permission" }]);
    assert.equal((await adminDb().collection("messages").where("senderId", "==", `key:${keyId}`).count().get()).data().count, before);
    assert.equal((await adminDb().collection("devices").doc(siteDeviceId(tenant, token)).get()).exists, false);

    // Failed keys from one address ban it, as on the partner API; another site behind the same Hosting edge is unaffected.
    // An address outside newIp()'s range: the ban must not catch the next test's sites.
    const ip = `198.51.100.${randomInt(1, 255)}`;
    for (let i = 0; i < BAN_FAILURES; i++) {
      const bad = await moodle("/api/v2/push/", { key: `wrong-${i}`, ip, body: pushBody(token, forumExtra()) });
      assert.deepEqual(bad.body, { error: "Invalid access key" });
    }
    const banned = await moodle("/tokens/testtoken", { key: secret, ip });
    assert.equal(banned.status, 429);
    assert.deepEqual((await moodle("/tokens/testtoken", { key: secret, ip: "198.18.0.1" })).body, { error: "Invalid token" });

    // The key's rate: a minute already full refuses, until the next one.
    // (Tried again should the minute turn between filling it and the request.)
    // The minute's count is spread over shard documents (guards/counters.ts): every one of them is filled.
    const shards = windowShards(stackParam("MOODLE_KEY_RATE_PER_MINUTE"));
    const guardsOf = (minute: number) => Array.from({ length: shards }, (_, s) => adminDb().collection("apiGuards").doc(shards === 1 ? `key-${keyId}-w${minute}` : `key-${keyId}-w${minute}-s${s}`));
    let guards = guardsOf(0);
    const limited = await waitFor("a request in the filled minute", async () => {
      const minute = Math.floor(Date.now() / 60_000);
      guards = guardsOf(minute);
      await Promise.all(guards.map((guard) => guard.set({ count: 1_000_000 })));
      const reply = await moodle("/tokens/testtoken", { key: secret });
      return Math.floor(Date.now() / 60_000) === minute ? reply : undefined;
    });
    assert.deepEqual([limited.status, typeof (limited.body as { error?: unknown }).error], [429, "string"]);
    await Promise.all(guards.map((guard) => guard.delete()));
    assert.deepEqual((await moodle("/tokens/testtoken", { key: secret })).body, { error: "Invalid token" });
  });

  it("answers a burst of pushes within Moodle's 2 s and delivers every one", { timeout: 120_000 }, async () => {
    const { secret } = await siteKey();
    // The Functions emulator runs one request per worker process and starts a process (seconds on
    // two cores) for each request that finds none idle; Cloud Functions serves many per instance.
    // Two first bursts start the processes (the first leaves the deliveries of its pushes running while
    // the second arrives, as a site's next burst would), the third is the one timed.
    for (const timed of [false, false, true]) {
      const tokens = Array.from({ length: 40 }, () => newToken());
      const replies = await inParallel(tokens, BURST_SENDERS, (token, i) => moodle("/api/v2/push/", { key: secret, body: pushBody(token, forumExtra({ savedmessageid: i })) }));
      for (const reply of replies) assert.equal(reply.status, 202, reply.text);
      if (timed) {
        // Moodle gives up after 2 s. On a loaded two-core machine the emulator now and then starts one
        // more worker process mid-burst (seconds), so the bound is on the 95th percentile, and no answer
        // may take more than a few seconds (nothing queues behind a lock).
        const ms = replies.map((r) => r.ms).sort((a, b) => a - b);
        const p95 = ms[Math.floor(0.95 * ms.length)] as number;
        console.log(`moodle burst figures: ${ms.length} pushes, p50 ${(ms[Math.floor(ms.length / 2)] as number).toFixed(0)} ms, p95 ${p95.toFixed(0)} ms, slowest ${(ms[ms.length - 1] as number).toFixed(0)} ms`);
        assert.ok(p95 < 2000, `95th percentile answer ${p95.toFixed(0)} ms`);
        assert.ok((ms[ms.length - 1] as number) < 5000, `slowest answer ${(ms[ms.length - 1] as number).toFixed(0)} ms`);
      }
      await waitFor("every push of the burst at the stand-in", async () => ((await acceptedFor(tokens)).length === tokens.length ? true : undefined), 60_000, 500);
    }
  });
});
