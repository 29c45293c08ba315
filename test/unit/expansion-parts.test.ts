/**
 * The pure parts of the background expansion, no stack needed: how an
 * audience is split into parts, and the validation of a message document.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEVICE_ID_ALPHABET, idRanges, planParts } from "../../functions/src/sending/parts.ts";
import { validateMessageDocument } from "../../functions/src/sending/expansion.ts";
import { deviceIdSchema } from "../../functions/src/devices/input.ts";

/** The range a device id falls in, compared as Firestore compares document ids (bytes). */
function rangeOf(id: string, ranges: Array<{ from?: string; to?: string }>): number[] {
  return ranges.flatMap((r, i) => ((r.from === undefined || Buffer.compare(Buffer.from(id), Buffer.from(r.from)) >= 0) && (r.to === undefined || Buffer.compare(Buffer.from(id), Buffer.from(r.to)) < 0) ? [i] : []));
}

describe("audience parts", () => {
  it("uses exactly the device-id alphabet, in byte order", () => {
    const chars = [...DEVICE_ID_ALPHABET];
    assert.deepEqual([...chars].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))), chars);
    // Each as the first character of an id (ids of the form __x__ are Firestore's, refused whatever the alphabet).
    for (const c of chars) for (const id of [`${c}aaaaaaa`, `aaa${c}aaaa`]) assert.ok(deviceIdSchema.safeParse(id).success, id);
    assert.equal(new Set(chars).size, 64);
  });

  it("splits device ids into ranges that cover every id once", () => {
    for (const parts of [1, 2, 3, 8, 13, 64, 100]) {
      const ranges = idRanges(parts);
      assert.equal(ranges.length, Math.min(parts, 64));
      for (const first of DEVICE_ID_ALPHABET) {
        for (const id of [`${first}${"-".repeat(7)}`, `${first}zzzzzzzz`, `${first}Abc_-09`]) assert.equal(rangeOf(id, ranges).length, 1, `${id} in ${parts} parts`);
      }
    }
    assert.deepEqual(idRanges(1), [{}]);
  });

  it("plans users in chunks of 30, devices deduplicated over the parts, broadcasts over id ranges", () => {
    const users = Array.from({ length: 65 }, (_, i) => `u${i}`);
    const byUsers = planParts({ users: [...users, "u1"] }, 8);
    assert.deepEqual(byUsers.map((p) => (p.kind === "users" ? p.users.length : -1)), [30, 30, 5]);
    const devices = Array.from({ length: 1000 }, (_, i) => `device-${i}`);
    const byDevices = planParts({ devices: [...devices, "device-3"] }, 8);
    assert.equal(byDevices.length, 8);
    assert.deepEqual(byDevices.flatMap((p) => (p.kind === "devices" ? p.devices : [])), devices);
    assert.deepEqual(planParts({ all: true }, 4), idRanges(4).map((r) => ({ kind: "range", ...r })));
    assert.equal(planParts({ where: { grade: 9 }, match: "all" }, 8).length, 8);
  });
});

// Timestamps are left to the stack's tests (test/expansion.test.ts writes sendAt as one): the
// functions' copy of firebase-admin is not this one, so its Timestamp class would not match here.
describe("message document validation", () => {
  const base = { title: "Hello", body: "World", senderId: "staff-1", audience: { users: ["a"] } };

  it("accepts a document as sendMessage or a console writes it", () => {
    const checked = validateMessageDocument({ ...base, category: "news", vars: { a: { name: "Ann" } }, titleLocKey: "k" });
    assert.ok(checked.ok);
    assert.deepEqual(checked.input.vars, { a: { name: "Ann" } });
    assert.ok(validateMessageDocument({ ...base, sendAt: null, recipientCount: null, recipientsWrittenAt: null, idempotencyKey: "k", requestHash: "h", via: "callable" }).ok);
  });

  it("names the first failing field as sendMessage would", () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ title: "" }, "title"],
      [{ audience: { users: [] } }, "audience.users"],
      [{ audience: { where: { grade: 9 }, match: "some" } }, "audience.match"],
      [{ sendAt: new Date(Date.now() + 40 * 86_400_000) }, "sendAt"],
      [{ body: "é".repeat(1800), data: { x: "y".repeat(1000) } }, "body"],
      [{ titleLocArgs: "not a list" }, "titleLocArgs"],
      // 300 users × 1 KiB of values: over the 256 KiB a message document may spend on vars.
      [{ vars: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`u${i}`, { note: "x".repeat(1000) }])) }, "vars"],
    ];
    for (const [fields, field] of cases) {
      const checked = validateMessageDocument({ ...base, ...fields });
      assert.equal(checked.ok, false, field);
      if (!checked.ok) assert.equal(checked.field, field, checked.message);
    }
  });
});
