import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GrpcStatus } from "firebase-admin/firestore";
import { isContention } from "../../functions/src/shared/transaction.ts";

const grpcError = (code: number, message: string) => Object.assign(new Error(`${code} ${message}`), { code });

describe("isContention", () => {
  it("takes an aborted transaction and the emulator's closed-transaction refusal as contention", () => {
    assert.equal(isContention(grpcError(GrpcStatus.ABORTED, "ABORTED: too much contention")), true);
    assert.equal(isContention(grpcError(GrpcStatus.INVALID_ARGUMENT, "INVALID_ARGUMENT: Transaction is invalid or closed.")), true);
  });

  it("leaves every other failure to the caller", () => {
    assert.equal(isContention(grpcError(GrpcStatus.INVALID_ARGUMENT, "INVALID_ARGUMENT: Value for argument is not a valid Firestore document")), false);
    assert.equal(isContention(grpcError(GrpcStatus.UNAVAILABLE, "UNAVAILABLE")), false);
    assert.equal(isContention(new Error("Transaction is invalid or closed")), false);
    assert.equal(isContention(null), false);
    assert.equal(isContention("Transaction is invalid or closed"), false);
    assert.equal(isContention({ code: "failed-precondition", message: "This device is registered to another user." }), false);
  });
});
