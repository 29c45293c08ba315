import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { createKey, revokeKey } from "../functions/src/keys/service.ts";
import type { KeyScope } from "../functions/src/shared/contract.ts";
import { stackParam } from "../tools/lib/env.ts";
import { seedDevices, waitForRecipientCount, waitUntilFinal } from "../tools/lib/fixtures.ts";
import { acceptedFor } from "../tools/lib/stand-in.ts";
import { waitFor } from "../tools/lib/wait.ts";
import { api, errorCode, newIp, type ApiResponse } from "./support/api.ts";

/** The local stack's guard params (functions/.env.<project>). */
const BAN_FAILURES = stackParam("API_BAN_FAILURES");
const RATE_PER_MINUTE = stackParam("API_KEY_RATE_PER_MINUTE");
const MAX_BODY_BYTES = stackParam("API_MAX_BODY_BYTES");

async function key(scopes: KeyScope[], ipRanges: string[] = []): Promise<string> {
  return (await tenantKey(scopes, ipRanges)).secret;
}

/** A partner key and its tenant (one of its own). */
async function tenantKey(scopes: KeyScope[], ipRanges: string[] = []): Promise<{ secret: string; tenant: string }> {
  return createKey({ name: `test ${randomUUID()}`, scopes, ipRanges, surface: "api" });
}

const device = (userId = `u-${randomUUID()}`) => ({ userId, deviceId: `dev-${randomUUID()}`, token: `ok-${randomUUID()}`, platform: "android" });

describe("HTTPS API for partner servers", () => {
  it("registers a device, sends to its user, reports, cancels and deletes", { timeout: 180_000 }, async () => {
    const secret = await key(["devices:write", "messages:send"]);
    const d = device();
    const registered = await api("/v1/devices", { key: secret, body: d });
    assert.equal(registered.status, 201, registered.text);
    assert.deepEqual(registered.body, { deviceId: d.deviceId, created: true });
    assert.equal((await api("/v1/devices", { key: secret, body: d })).status, 200);

    const sent = await api("/v1/messages", { key: secret, body: { title: "Grades", body: "New grades for {{name}}", audience: { users: [d.userId] }, vars: { [d.userId]: { name: "Kim" } } } });
    assert.equal(sent.status, 201, sent.text);
    const { messageId, recipients } = sent.body as { messageId: string; recipients: number | null };
    assert.equal(recipients, null, "the answer comes before the audience is expanded");
    assert.equal(await waitForRecipientCount(messageId), 1);
    await waitUntilFinal(messageId, 1);
    const [received] = await acceptedFor([d.token]);
    assert.equal((received?.message.notification as { body: string }).body, "New grades for Kim");

    const report = await api(`/v1/messages/${messageId}`, { key: secret });
    assert.equal(report.status, 200);
    assert.equal((report.body as { state: string }).state, "done");
    assert.deepEqual((report.body as { counts: unknown }).counts, { "200": 1 });
    const cancel = await api(`/v1/messages/${messageId}/cancel`, { key: secret, method: "POST" });
    assert.deepEqual(cancel.body, { messageId, cancelled: 0 });

    // Another key, even with every scope, does not see this key's messages.
    const other = await key(["messages:send", "messages:broadcast", "devices:write"]);
    assert.equal((await api(`/v1/messages/${messageId}`, { key: other })).status, 404);
    assert.equal((await api(`/v1/messages/${messageId}/cancel`, { key: other, method: "POST" })).status, 404);

    const deleted = await api(`/v1/devices/${d.deviceId}`, { key: secret, method: "DELETE" });
    assert.deepEqual([deleted.status, deleted.body], [200, { deviceId: d.deviceId, deleted: true }]);
    assert.equal(errorCode(await api(`/v1/devices/${d.deviceId}`, { key: secret, method: "DELETE" })), "not-found");
  });

  it("allows exactly what each combination of scopes allows", { timeout: 120_000 }, async () => {
    const target = await seedDevices([{}]);
    const combos: KeyScope[][] = [
      ["devices:write"],
      ["messages:send"],
      ["messages:broadcast"],
      ["messages:send", "messages:broadcast"],
      ["devices:write", "messages:send"],
      ["devices:write", "messages:send", "messages:broadcast"],
      ["users:write"],
      ["devices:write", "messages:send", "messages:broadcast", "users:write"],
    ];
    // Broadcasts are scheduled a day ahead and cancelled at once, so the scope check sends nothing.
    const later = new Date(Date.now() + 86_400_000).toISOString();
    for (const scopes of combos) {
      const secret = await key(scopes);
      const has = (s: KeyScope) => scopes.includes(s);
      const register = await api("/v1/devices", { key: secret, body: device() });
      assert.equal(register.status, has("devices:write") ? 201 : 403, `${scopes.join(",")} register: ${register.text}`);
      const direct = await api("/v1/messages", { key: secret, body: { title: "t", body: "b", audience: { devices: [target[0]!.deviceId] }, sendAt: later } });
      assert.equal(direct.status, has("messages:send") ? 201 : 403, `${scopes.join(",")} send: ${direct.text}`);
      const broadcast = await api("/v1/messages", { key: secret, body: { title: "t", body: "b", audience: { all: true }, sendAt: later } });
      assert.equal(broadcast.status, has("messages:send") && has("messages:broadcast") ? 201 : 403, `${scopes.join(",")} broadcast: ${broadcast.text}`);
      for (const res of [direct, broadcast]) {
        if (res.status === 201) {
          const id = (res.body as { messageId: string }).messageId;
          assert.equal((await api(`/v1/messages/${id}/cancel`, { key: secret, method: "POST" })).status, 200);
        } else assert.equal(errorCode(res), "permission-denied");
      }
      if (!has("messages:send")) assert.equal((await api("/v1/messages/abc", { key: secret })).status, 403);
      const attributes = await api(`/v1/users/u-${randomUUID()}/attributes`, { key: secret, method: "PUT", body: { attributes: { role: "student" } } });
      assert.equal(attributes.status, has("users:write") ? 200 : 403, `${scopes.join(",")} attributes: ${attributes.text}`);
      if (attributes.status === 403) assert.equal(errorCode(attributes), "permission-denied");
    }
  });

  it("answers a missing, malformed, wrong or revoked key with the same 401", async () => {
    const created = await createKey({ name: "to revoke", scopes: ["messages:send"], surface: "api" });
    assert.equal((await api("/v1/messages/none", { key: created.secret })).status, 404);
    assert.equal(await revokeKey(created.keyId), true);
    const wrongSecret = created.secret.slice(0, -4) + "AAAA";
    const answers = await Promise.all([
      api("/v1/messages/none"),
      api("/v1/messages/none", { authorization: "Basic abc" }),
      api("/v1/messages/none", { key: "not-a-key" }),
      api("/v1/messages/none", { key: `pk_0123456789abcdef_${"A".repeat(43)}` }),
      api("/v1/messages/none", { key: wrongSecret }),
      api("/v1/messages/none", { key: created.secret }),
    ]);
    for (const answer of answers) {
      assert.equal(answer.status, 401);
      assert.equal(answer.text, answers[0].text);
    }
    assert.deepEqual(answers[0].body, { error: { code: "unauthenticated", message: "A valid access key is required: Authorization: Bearer <key>." } });
  });

  it("refuses a key from an address outside its allowed ranges (IPv4 and IPv6)", async () => {
    const secret = await key(["devices:write"], ["203.0.113.0/24", "2001:db8::/32"]);
    assert.equal((await api("/v1/devices", { key: secret, body: device(), ip: "203.0.113.77" })).status, 201);
    assert.equal((await api("/v1/devices", { key: secret, body: device(), ip: "2001:db8:1::5" })).status, 201);
    const outside = await api("/v1/devices", { key: secret, body: device(), ip: "192.0.2.1" });
    assert.deepEqual([outside.status, errorCode(outside)], [403, "permission-denied"]);
    assert.equal((await api("/v1/devices", { key: secret, body: device(), ip: "2001:db9::1" })).status, 403);
    // Only the last X-Forwarded-For entry (added by Google's front end) counts: a forged first entry does not help.
    assert.equal((await api("/v1/devices", { key: secret, body: device(), ip: "203.0.113.77, 192.0.2.1" })).status, 403);
  });

  it("bans an address after repeated failed authentications, then lets it back when the ban expires", { timeout: 30_000 }, async () => {
    const secret = await key(["messages:send"]);
    const ip = newIp();
    for (let i = 0; i < BAN_FAILURES; i++) assert.equal((await api("/v1/messages/x", { key: "wrong", ip })).status, 401);
    const banned = await api("/v1/messages/x", { key: secret, ip });
    assert.deepEqual([banned.status, errorCode(banned)], [429, "rate-limited"]);
    assert.ok(Number(banned.headers.get("retry-after")) >= 1);
    // Other addresses are unaffected.
    assert.equal((await api("/v1/messages/x", { key: secret })).status, 404);
    const after = await waitFor("the ban to expire", async () => {
      const res = await api("/v1/messages/x", { key: secret, ip });
      return res.status === 429 ? undefined : res;
    }, 15_000, 500);
    assert.equal(after.status, 404);
  });

  it("limits each key's request rate with 429 and Retry-After", { timeout: 60_000 }, async () => {
    const secret = await key(["messages:send"]);
    const other = await key(["messages:send"]);
    // Fixed one-minute windows: within 2 × limit + 1 requests one window must fill, even across a minute boundary.
    let limited: ApiResponse | undefined;
    for (let i = 0; i <= 2 * RATE_PER_MINUTE && !limited; i++) {
      const res = await api("/v1/messages/x", { key: secret });
      if (res.status === 429) limited = res;
      else assert.equal(res.status, 404);
    }
    assert.ok(limited, "never rate limited");
    assert.equal(errorCode(limited), "rate-limited");
    assert.ok(Number(limited.headers.get("retry-after")) >= 1);
    assert.equal((await api("/v1/messages/x", { key: other })).status, 404);
  });

  it("refuses oversize, malformed and invalid bodies, and unknown routes, with JSON errors", async () => {
    const secret = await key(["devices:write", "messages:send"]);
    const big = await api("/v1/messages", { key: secret, body: { title: "t", body: "b", audience: { all: true }, data: { x: "y".repeat(MAX_BODY_BYTES) } } });
    assert.deepEqual([big.status, errorCode(big)], [413, "payload-too-large"]);
    const malformed = await api("/v1/messages", { key: secret, raw: "{ not json", contentType: "text/plain" });
    assert.deepEqual([malformed.status, errorCode(malformed)], [400, "invalid-argument"]);
    // Sent as application/json, the platform's body parser refuses it before the function runs: still a 400.
    assert.equal((await api("/v1/messages", { key: secret, raw: "{ not json" })).status, 400);
    const invalid = await api("/v1/messages", { key: secret, body: { title: "t", body: "b", audience: { users: [42] } } });
    assert.equal(invalid.status, 400);
    assert.deepEqual(invalid.body, { error: { code: "invalid-argument", message: (invalid.body as { error: { message: string } }).error.message, field: "audience.users.0" } });
    const badDevice = await api("/v1/devices", { key: secret, body: { ...device(), platform: "symbian" } });
    assert.equal((badDevice.body as { error: { field: string } }).error.field, "platform");
    for (const [method, path] of [["GET", "/v1/nothing"], ["GET", "/v2/messages"], ["PUT", "/v1/messages"], ["GET", "/v1/devices/x"]] as const) {
      const res = await api(path, { key: secret, method });
      assert.deepEqual([res.status, errorCode(res)], [404, "not-found"], `${method} ${path}`);
    }
  });

  it("answers what happened to one device of its own message (GET /v1/messages/{id}/devices/{deviceId}), and 404 for another key's", { timeout: 120_000 }, async () => {
    const { secret, tenant } = await tenantKey(["messages:send", "messages:broadcast"]);
    const other = await key(["messages:send"]);
    const [target, bystander] = await seedDevices([{ tenant, attributes: { club: "chess" } }, { tenant }]);
    assert.ok(target && bystander);
    const sent = await api("/v1/messages", { key: secret, body: { title: "Club", body: "Tonight", audience: { where: { club: "chess" } } } });
    assert.equal(sent.status, 201);
    const { messageId } = sent.body as { messageId: string };
    await waitUntilFinal(messageId, 1);
    const found = await api(`/v1/messages/${messageId}/devices/${target.deviceId}`, { key: secret });
    assert.equal(found.status, 200);
    assert.deepEqual([(found.body as { status: number }).status, (found.body as { recordedIn: string }).recordedIn], [200, "page"]);
    const notRecipient = await api(`/v1/messages/${messageId}/devices/${bystander.deviceId}`, { key: secret });
    assert.deepEqual([notRecipient.status, errorCode(notRecipient)], [404, "not-found"]);
    const foreign = await api(`/v1/messages/${messageId}/devices/${target.deviceId}`, { key: other });
    assert.deepEqual([foreign.status, errorCode(foreign)], [404, "not-found"]);
  });

  it("makes POST /v1/messages idempotent per key, and a reused key with another body a 409", { timeout: 180_000 }, async () => {
    const { secret, tenant } = await tenantKey(["messages:send"]);
    const [target] = await seedDevices([{ tenant }]);
    const body = { title: "t", body: "b", audience: { devices: [target!.deviceId] }, idempotencyKey: "job-2024-06-01" };
    const first = await api("/v1/messages", { key: secret, body });
    const second = await api("/v1/messages", { key: secret, body });
    assert.equal(first.status, 201);
    assert.equal((second.body as { messageId: string }).messageId, (first.body as { messageId: string }).messageId);
    const conflict = await api("/v1/messages", { key: secret, body: { ...body, title: "other" } });
    assert.deepEqual([conflict.status, errorCode(conflict)], [409, "already-exists"]);
    await waitUntilFinal((first.body as { messageId: string }).messageId, 1);
    assert.equal((await acceptedFor([target!.token])).length, 1);
  });
});
