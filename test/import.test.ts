/**
 * Bulk import of existing devices: `npm run import` (tools/import.ts) from a
 * CSV file, and `POST /v1/devices:batchImport` with a key's `devices:import`.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { importedDeviceId } from "../functions/src/devices/import.ts";
import { createKey } from "../functions/src/keys/service.ts";
import { adminDb } from "../tools/lib/admin.ts";
import { seedDevices } from "../tools/lib/fixtures.ts";
import { importCsv, progressPath } from "../tools/lib/importCsv.ts";
import { api, errorCode } from "./support/api.ts";
import { openApiChecker } from "./support/openapi.ts";

const dir = mkdtempSync(join(tmpdir(), "import-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const newTenant = () => `imp-${randomUUID().slice(0, 8)}`;
const token = () => `ok-${randomUUID()}`;

function csvFile(lines: string[]): string {
  const file = join(dir, `${randomUUID()}.csv`);
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

async function device(deviceId: string) {
  return (await adminDb().collection("devices").doc(deviceId).get()).data();
}

/** A small file with one row of each kind the report must tell apart. */
function mixedFile() {
  const tokens = [token(), token(), token()];
  const ids = [`dev-${randomUUID()}`, `dev-${randomUUID()}`, `dev-${randomUUID()}`, `dev-${randomUUID()}`, `dev-${randomUUID()}`];
  const lines = [
    "deviceId,userId,token,platform,locale,userInfo.theme",
    `${ids[0]},u1,${tokens[0]},android,en-US,dark`,
    `${ids[1]},u2,${tokens[1]},ios,,`,
    `${ids[2]},u3,${tokens[0]},android,,`, // the same token as row 1
    `${ids[3]},u4,${tokens[2]},symbian,,`, // no such platform
    `${ids[4]},u5,,web,,`, // no token
  ];
  return { file: csvFile(lines), ids, tokens };
}

describe("bulk import of devices", () => {
  it("imports a CSV (npm run import): good rows in, duplicate token, bad platform and missing token rejected, no token printed", { timeout: 60_000 }, async () => {
    const tenant = newTenant();
    const { file, ids, tokens } = mixedFile();
    const run = spawnSync(process.execPath, ["--import", "tsx", "tools/import.ts", file, "--tenant", tenant], { encoding: "utf8", env: process.env });
    assert.equal(run.status, 1, `rejected rows make the exit code 1\n${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /Imported 2, updated 0, unchanged 0, rejected 3\./);
    assert.match(run.stdout, /^row 3: token: The same token as row 1/m);
    assert.match(run.stdout, /^row 4: platform: /m);
    assert.match(run.stdout, /^row 5: token: Missing "token"\./m);
    for (const t of tokens) assert.ok(!run.stdout.includes(t) && !run.stderr.includes(t), "a token was printed");

    const first = await device(ids[0]!);
    assert.deepEqual(
      [first?.userId, first?.tenant, first?.token, first?.platform, first?.locale, first?.userInfo, first?.retired, first?.enabled],
      [`${tenant}:u1`, tenant, tokens[0], "android", "en-US", { theme: "dark" }, false, true],
    );
    assert.equal((await device(ids[1]!))?.platform, "ios");
    for (const id of ids.slice(2)) assert.equal(await device(id), undefined, `rejected row wrote ${id}`);
    const holders = await adminDb().collection("devices").where("token", "==", tokens[0]).get();
    assert.equal(holders.size, 1, "one device per token");
    assert.ok(!existsSync(progressPath(file)), "the progress file is removed at the end");
  });

  it("writes nothing on a dry run, then imports, then finds everything unchanged", { timeout: 60_000 }, async () => {
    const tenant = newTenant();
    const { file, ids } = mixedFile();
    const dry = await importCsv(file, { tenant, dryRun: true });
    assert.deepEqual(dry.counts, { imported: 2, updated: 0, unchanged: 0, rejected: 3 });
    for (const id of ids) assert.equal(await device(id), undefined, `a dry run wrote ${id}`);
    assert.ok(!existsSync(progressPath(file)));

    assert.deepEqual((await importCsv(file, { tenant, dryRun: false })).counts, { imported: 2, updated: 0, unchanged: 0, rejected: 3 });
    const before = (await device(ids[0]!))?.updatedAt as { toMillis(): number };
    const again = await importCsv(file, { tenant, dryRun: false });
    assert.deepEqual(again.counts, { imported: 0, updated: 0, unchanged: 2, rejected: 3 });
    assert.equal(((await device(ids[0]!))?.updatedAt as { toMillis(): number }).toMillis(), before.toMillis(), "an unchanged row is not written");
  });

  it("maps another system's columns, derives device ids from tokens, and resumes after the last committed row", { timeout: 60_000 }, async () => {
    const tenant = newTenant();
    const tokens = [token(), token(), token(), token()];
    // An export shaped like OneSignal's subscriptions: id, identifier (the token), device_type (1 = Android), external_user_id.
    const file = csvFile(["identifier,device_type,external_user_id,session_count", ...tokens.map((t, i) => `${t},${i === 3 ? 0 : 1},user-${i},7`)]);
    // An interrupted run had committed rows 1 and 2.
    writeFileSync(progressPath(file), JSON.stringify({ tenant, size: statSync(file).size, lastRow: 2 }));
    const result = await importCsv(file, { tenant, dryRun: false, map: { token: "identifier", platform: "device_type", userId: "external_user_id" }, platforms: { "1": "android" } });
    assert.equal(result.resumedAfter, 2);
    assert.deepEqual(result.ignored, ["session_count"]);
    assert.deepEqual(result.counts, { imported: 1, updated: 0, unchanged: 0, rejected: 1 });
    assert.deepEqual([result.rejected[0]?.row, result.rejected[0]?.field], [4, "platform"]);
    assert.equal(await device(importedDeviceId(tenant, tokens[0]!)), undefined, "rows before the progress mark are not redone");
    const third = await device(importedDeviceId(tenant, tokens[2]!));
    assert.deepEqual([third?.userId, third?.platform], [`${tenant}:user-2`, "android"]);
    assert.ok(!existsSync(progressPath(file)));
  });

  it("imports through the API into the key's tenant only; refuses a key without devices:import and more than 1,000 devices", { timeout: 60_000 }, async () => {
    const importer = await createKey({ name: `import ${randomUUID()}`, scopes: ["devices:import"], surface: "api" });
    const writer = await createKey({ name: `write ${randomUUID()}`, scopes: ["devices:write", "messages:send"], surface: "api" });
    const [foreign] = await seedDevices([{ tenant: "other-tenant", userId: "other-tenant:u1" }]);
    const shared = token();
    const [elsewhere] = await seedDevices([{ tenant: "another", userId: "another:u9", token: shared }]);
    const own = `dev-${randomUUID()}`;
    const body = {
      devices: [
        { deviceId: own, userId: "u1", token: token(), platform: "android" },
        { deviceId: foreign!.deviceId, userId: "u1", token: token(), platform: "android" },
        { userId: "u2", token: shared, platform: "ios" },
        { userId: "u3", token: token(), platform: "android", extra: true },
      ],
    };
    const res = await api("/v1/devices:batchImport", { key: importer.secret, body });
    assert.equal(res.status, 200, res.text);
    const report = res.body as { counts: Record<string, number>; rows: Array<{ row: number; outcome: string; field?: string }> };
    assert.deepEqual(report.counts, { imported: 2, updated: 0, unchanged: 0, rejected: 2 });
    assert.deepEqual(report.rows.map((r) => [r.row, r.outcome, r.field]), [[1, "imported", undefined], [2, "rejected", "deviceId"], [3, "imported", undefined], [4, "rejected", "extra"]]);
    const document = (await api("/v1/openapi.json")).body as Record<string, unknown>;
    assert.deepEqual(openApiChecker(document).check("post", "/v1/devices:batchImport", 200, res.body), []);

    assert.deepEqual([(await device(own))?.tenant, (await device(own))?.userId], [importer.tenant, `${importer.tenant}:u1`]);
    assert.equal((await device(foreign!.deviceId))?.tenant, "other-tenant", "another tenant's device is untouched");
    // The same phone in another tenant is another tenant's device: this tenant gets its own, and the other keeps its.
    assert.equal((await device(importedDeviceId(importer.tenant, shared)))?.tenant, importer.tenant);
    assert.equal((await device(elsewhere!.deviceId))?.retired, false);

    const refused = await api("/v1/devices:batchImport", { key: writer.secret, body });
    assert.deepEqual([refused.status, errorCode(refused)], [403, "permission-denied"]);
    assert.deepEqual(openApiChecker(document).check("post", "/v1/devices:batchImport", 403, refused.body), []);

    const many = Array.from({ length: 1001 }, (_, i) => ({ deviceId: `dev-${randomUUID()}`, userId: `u${i}`, token: token(), platform: "android" }));
    const tooMany = await api("/v1/devices:batchImport", { key: importer.secret, body: { devices: many } });
    assert.deepEqual([tooMany.status, errorCode(tooMany)], [400, "invalid-argument"], tooMany.text);
    assert.equal((tooMany.body as { error: { field: string } }).error.field, "devices");
    assert.match((tooMany.body as { error: { message: string } }).error.message, /at most 1000 devices per request/);
    for (const d of [many[0]!, many[1000]!]) assert.equal(await device(d.deviceId), undefined, "a refused request writes nothing");
  });

  it("gives devices:import only to partner API keys of a tenant of their own", async () => {
    await assert.rejects(createKey({ name: "x", scopes: ["devices:import"], surface: "api", tenant: "app" }), /cannot hold devices:import/);
    await assert.rejects(createKey({ name: "x", scopes: ["devices:import"], surface: "moodle" }), /devices:import is for partner API keys/);
  });
});
