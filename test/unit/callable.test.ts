/**
 * What the callables refuse before the protocol's decoder or our schemas see
 * it, with no stack: own `__proto__` keys and typed values the decoder cannot
 * read.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ownProtoKeyPath, undecodablePath } from "../../functions/src/shared/callable.ts";

const INT64 = "type.googleapis.com/google.protobuf.Int64Value";

describe("callable input scans", () => {
  it("lets 64-bit integers through, as the Android and Apple SDKs send a Long, and names any other typed value", () => {
    assert.equal(undecodablePath({ badge: { "@type": INT64, value: "12" }, title: "t" }), undefined);
    assert.equal(undecodablePath({ badge: { "@type": "type.googleapis.com/google.protobuf.UInt64Value", value: "3" } }), undefined);
    assert.equal(undecodablePath({ badge: { "@type": INT64, value: "twelve" } }), "badge.@type");
    assert.equal(undecodablePath({ audience: { users: ["a", { "@type": "type.googleapis.com/google.protobuf.Any" }] } }), "audience.users.1.@type");
    assert.equal(undecodablePath({ "@type": "x" }), "@type");
    assert.equal(undecodablePath({ a: { "@type": "" } }), undefined, "an empty @type is no typed value to the decoder");
    assert.equal(undecodablePath(["x", 1, null]), undefined);
  });

  it("finds an own __proto__ key however deep", () => {
    assert.equal(ownProtoKeyPath(JSON.parse('{"a": {"b": [{"__proto__": {}}]}}')), "a.b.0.__proto__");
    assert.equal(ownProtoKeyPath({ a: { b: 1 } }), undefined);
  });
});
