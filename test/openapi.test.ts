/**
 * The OpenAPI document as the running API serves it (GET /v1/openapi.json),
 * and real answers checked against it: what an integrator's generated client
 * would be told is what the API says.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { openApiDocument } from "../functions/src/api/openapi.ts";
import { createKey } from "../functions/src/keys/service.ts";
import { seedDevices, waitUntilFinal } from "../tools/lib/fixtures.ts";
import { api } from "./support/api.ts";
import { openApiChecker } from "./support/openapi.ts";

describe("OpenAPI document of the partner API", () => {
  it("is served at GET /v1/openapi.json without a key, equal to the generated one", async () => {
    const served = await api("/v1/openapi.json");
    assert.equal(served.status, 200, served.text);
    assert.match(served.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(served.body, openApiDocument());
    // A key changes nothing, and only GET is the document.
    assert.equal((await api("/v1/openapi.json", { key: "pk_0123456789abcdef_nope" })).status, 200);
    assert.equal((await api("/v1/openapi.json", { method: "POST", body: {} })).status, 401);
  });

  it("describes real answers: a send, a report, a lookup and errors", { timeout: 120_000 }, async () => {
    const checker = openApiChecker((await api("/v1/openapi.json")).body as Record<string, unknown>);
    const fits = (method: string, path: string, res: { status: number; body: unknown; text: string }) =>
      assert.deepEqual(checker.check(method, path, res.status, res.body), [], `${method} ${path} ${res.status}: ${res.text}`);
    const { secret, tenant } = await createKey({ name: `openapi ${randomUUID()}`, scopes: ["messages:send"], surface: "api" });
    const [target] = await seedDevices([{ tenant }]);

    const sent = await api("/v1/messages", { key: secret, body: { title: "Docs", body: "Checked", audience: { devices: [target!.deviceId] } } });
    assert.equal(sent.status, 201, sent.text);
    fits("post", "/v1/messages", sent);
    const { messageId } = sent.body as { messageId: string };
    await waitUntilFinal(messageId, 1);
    const report = await api(`/v1/messages/${messageId}`, { key: secret });
    assert.equal(report.status, 200);
    fits("get", "/v1/messages/{messageId}", report);
    const outcome = await api(`/v1/messages/${messageId}/devices/${target!.deviceId}`, { key: secret });
    assert.equal(outcome.status, 200);
    fits("get", "/v1/messages/{messageId}/devices/{deviceId}", outcome);

    const invalid = await api("/v1/messages", { key: secret, body: { title: "t", body: "b", audience: { users: [42] } } });
    assert.equal(invalid.status, 400);
    fits("post", "/v1/messages", invalid);
    const noKey = await api("/v1/messages", { body: { title: "t", body: "b", audience: { users: ["u"] } } });
    assert.equal(noKey.status, 401);
    fits("post", "/v1/messages", noKey);
    const noScope = await api("/v1/devices", { key: secret, body: { userId: "u", deviceId: `dev-${randomUUID()}`, token: `ok-${randomUUID()}`, platform: "ios" } });
    assert.equal(noScope.status, 403);
    fits("post", "/v1/devices", noScope);
    const missing = await api("/v1/messages/no-such-message", { key: secret });
    assert.equal(missing.status, 404);
    fits("get", "/v1/messages/{messageId}", missing);
    // The checker is not a rubber stamp: an answer that breaks the document is caught.
    assert.notDeepEqual(checker.check("get", "/v1/messages/{messageId}", 200, { ...(report.body as object), state: "lost" }), []);
    assert.notDeepEqual(checker.check("get", "/v1/messages/{messageId}", 404, { error: { code: "rate-limited", message: "x" } }), []);
  });
});
