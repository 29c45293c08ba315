/** The claims `npm run staff` leaves on an account: staff claims set or taken away, every other claim kept. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { staffClaims } from "../../tools/seed.ts";

describe("staff claims", () => {
  it("gives pushSender, and pushAdmin only when asked, keeping other claims", () => {
    assert.deepEqual(staffClaims(undefined, {}), { pushSender: true });
    assert.deepEqual(staffClaims({ tenant: "north" }, { admin: true }), { tenant: "north", pushSender: true, pushAdmin: true });
  });

  it("takes an admin down to a sender, and takes both away with remove", () => {
    assert.deepEqual(staffClaims({ pushSender: true, pushAdmin: true, tenant: "north" }, {}), { tenant: "north", pushSender: true });
    assert.deepEqual(staffClaims({ pushSender: true, pushAdmin: true, tenant: "north" }, { remove: true }), { tenant: "north" });
    assert.deepEqual(staffClaims({ tenant: "north" }, { emergency: true }), { tenant: "north", pushSender: true, pushEmergency: true });
    assert.deepEqual(staffClaims({ pushSender: true, pushEmergency: true }, { remove: true }), {});
  });
});
