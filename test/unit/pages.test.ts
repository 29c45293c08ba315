/**
 * The page ids of the broadcast path (delivery/pages.ts), with no stack: a
 * part run again from the same cursor must find the page it made before, and
 * no two chunks of a message may share one.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pageIdFor } from "../../functions/src/delivery/pages.ts";

describe("page ids", () => {
  it("are the same for the same part and cursor, and differ for any other", () => {
    assert.equal(pageIdFor(3, "abc"), pageIdFor(3, "abc"));
    assert.equal(pageIdFor(0, null), pageIdFor(0, null));
    const ids = new Set<string>();
    for (let part = 0; part < 64; part++) for (const cursor of [null, "", "a", "b", "a0", "zz"]) ids.add(pageIdFor(part, cursor));
    // null and "" both mean "from the part's start": one page.
    assert.equal(ids.size, 64 * 5);
  });

  it("name their part first, so a message's pages list by part, and are valid document ids", () => {
    assert.match(pageIdFor(7, "x"), /^07-[A-Za-z0-9_-]{16}$/);
    assert.match(pageIdFor(12, null), /^12-[A-Za-z0-9_-]{16}$/);
  });
});
