/**
 * The pure parts the console shares with the functions: status groups, counts
 * from counter documents, the state rule, the payload size, and the CSV of
 * users. No stack needed.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { groupCounts, largestPayloadBytes, LIMITS, messageState, sendMessageInput, statusGroup } from "../../functions/src/contract/index.ts";
import { parseUsersCsv } from "../../console/src/csv.ts";

describe("console logic (pure)", () => {
  it("maps status codes to the groups people read", () => {
    const groups = [200, -99, -4, -3, 400, 403, 429, 500, 503, 504, -1, -2].map(statusGroup);
    assert.deepEqual(groups, ["accepted", "notRegistered", "skipped", "cancelled", "failed", "failed", "failed", "failed", "failed", "failed", "pending", "pending"]);
  });

  it("counts groups across counter shards; pending is what recipientCount leaves", () => {
    const counts = groupCounts([{ counts: { "200": 5, "400": 1 } }, { counts: { "200": 2, "-99": 1, "-3": 1, "503": 2 } }], 20);
    assert.deepEqual(counts, { accepted: 7, failed: 3, skipped: 0, notRegistered: 1, cancelled: 1, pending: 8 });
    assert.equal(groupCounts([], null).pending, 0, "unknown while recipients are written");
  });

  it("derives the state as the report does", () => {
    const now = Date.now();
    const base = { cancelled: false, sendAtMillis: null, recipientsWritten: true, open: 0 };
    assert.equal(messageState(base, now), "done");
    assert.equal(messageState({ ...base, open: 3 }, now), "sending");
    assert.equal(messageState({ ...base, recipientsWritten: false }, now), "preparing");
    assert.equal(messageState({ ...base, sendAtMillis: now + 60_000, open: 3 }, now), "scheduled");
    assert.equal(messageState({ ...base, cancelled: true, sendAtMillis: now + 60_000 }, now), "cancelled");
  });

  it("sizes the payload in bytes, as sendMessage's validation does", () => {
    const ascii = largestPayloadBytes({ title: "t", body: "a".repeat(1000) });
    const multiByte = largestPayloadBytes({ title: "t", body: "é".repeat(1000) });
    assert.ok(multiByte >= ascii + 1000, "é counts two bytes");
    const body = "é".repeat(1800);
    assert.ok(largestPayloadBytes({ title: "t", body, data: { x: "y".repeat(1000) } }) > LIMITS.fcmPayloadBytes);
    assert.equal(sendMessageInput.safeParse({ title: "t", body, data: { x: "y".repeat(1000) }, audience: { all: true } }).success, false);
  });

  it("reads a CSV of users, with a header row giving placeholder values", () => {
    assert.deepEqual(parseUsersCsv("userId,name,grade\r\nana,Ana,9\n\"ben\",\"Ben\",10\n"), {
      users: ["ana", "ben"],
      vars: { ana: { name: "Ana", grade: "9" }, ben: { name: "Ben", grade: "10" } },
      columns: ["name", "grade"],
    });
    assert.deepEqual(parseUsersCsv("ana\nben\n").users, ["ana", "ben"]);
  });
});
