/**
 * The webhooks' two pure parts: which targets a webhook may point at (the
 * address rules, with a resolver passed in for names) and the signature a
 * receiver checks. No stack.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, it } from "node:test";
import { isPublicAddress, parseTarget, resolveTarget, TargetRefused, type Resolver } from "../../functions/src/webhooks/address.ts";
import { signatureHeader, verifySignature } from "../../functions/src/webhooks/signature.ts";

const resolvesTo = (...addresses: string[]): Resolver => () => Promise.resolve(addresses.map((address) => ({ address, family: address.includes(":") ? (6 as const) : (4 as const) })));
const refusal = async (promise: Promise<unknown>): Promise<string> => {
  try {
    await promise;
  } catch (err) {
    if (err instanceof TargetRefused) return err.message;
    throw err;
  }
  return "";
};

describe("webhook target addresses", () => {
  it("refuses every special-purpose address and allows public ones", () => {
    for (const address of [
      "10.0.0.5", "10.255.255.255", "172.16.0.1", "172.31.255.254", "192.168.1.1", "127.0.0.1", "127.8.8.8", "0.0.0.0", "169.254.169.254",
      "100.64.0.1", "192.0.2.10", "198.51.100.7", "203.0.113.10", "198.18.0.1", "224.0.0.251", "239.1.2.3", "255.255.255.255", "240.0.0.1",
      "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "2001:db8::1", "::ffff:10.0.0.5", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
      "64:ff9b::a00:5", "2002:a00:5::1", "2001::1", "fec0::1", "not an address", "",
    ]) {
      assert.equal(isPublicAddress(address), false, address);
    }
    for (const address of ["8.8.8.8", "93.184.215.14", "172.15.255.255", "172.32.0.1", "100.63.255.255", "1.1.1.1", "2606:4700::1111", "2a00:1450:4001::200e", "::ffff:8.8.8.8"]) {
      assert.equal(isPublicAddress(address), true, address);
    }
  });

  it("takes https only, no credentials, and local targets only when allowed", () => {
    assert.match(refusalOf(() => parseTarget("http://example.com/hook", [])), /https/);
    assert.match(refusalOf(() => parseTarget("ftp://example.com/", [])), /https/);
    assert.match(refusalOf(() => parseTarget("https://user:pw@example.com/", [])), /user name or password/);
    assert.match(refusalOf(() => parseTarget("not a url", [])), /absolute URL/);
    assert.equal(parseTarget("https://example.com/hook", []).port, 443);
    // The allowance names a host and port exactly: the same host on another port, or by another name, is not allowed.
    assert.equal(parseTarget("http://127.0.0.1:9394/x", ["127.0.0.1:9394"]).local, true);
    assert.match(refusalOf(() => parseTarget("http://127.0.0.1:9395/x", ["127.0.0.1:9394"])), /https/);
    assert.equal(parseTarget("https://localhost:9394/x", ["127.0.0.1:9394"]).local, false);
  });

  it("checks every address a name resolves to, and connects to the checked one", async () => {
    const target = parseTarget("https://hooks.example.com/push", []);
    assert.deepEqual(await resolveTarget(target, resolvesTo("93.184.215.14")), { address: "93.184.215.14", family: 4 });
    // One private address among several refuses the name: a round-robin must not let it through now and then.
    assert.match(await refusal(resolveTarget(target, resolvesTo("93.184.215.14", "10.0.0.5"))), /public address/);
    assert.match(await refusal(resolveTarget(target, resolvesTo("127.0.0.1"))), /public address/);
    assert.match(await refusal(resolveTarget(target, resolvesTo())), /does not resolve/);
    assert.match(await refusal(resolveTarget(target, () => Promise.reject(new Error("ENOTFOUND")))), /does not resolve/);
    // Literal addresses are judged as they are, without asking DNS.
    assert.match(await refusal(resolveTarget(parseTarget("https://169.254.169.254/latest/meta-data", []), resolvesTo("93.184.215.14"))), /public address/);
    assert.match(await refusal(resolveTarget(parseTarget("https://[::1]/", []), resolvesTo("93.184.215.14"))), /public address/);
    // The real resolver: "localhost" is loopback.
    assert.match(await refusal(resolveTarget(parseTarget("https://localhost/", []))), /public address/);
  });
});

function refusalOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof TargetRefused) return err.message;
    throw err;
  }
  return "";
}

describe("webhook signatures", () => {
  const secret = "whsec_test";
  const body = '{"id":"evt_1","type":"message.done","data":{"messageId":"m"}}';

  it("is HMAC-SHA-256 over <t>.<body> in t=…,v1=…", () => {
    const header = signatureHeader(secret, 1_700_000_000, body);
    const expected = createHmac("sha256", secret).update(`1700000000.${body}`).digest("hex");
    assert.equal(header, `t=1700000000,v1=${expected}`);
  });

  it("verifies the genuine one and refuses a changed body, another secret, an old timestamp, or junk", () => {
    const now = 1_700_000_000;
    const header = signatureHeader(secret, now, body);
    assert.equal(verifySignature(header, body, secret, 300, now + 10), true);
    assert.equal(verifySignature(header, body.replace("m", "n"), secret, 300, now), false);
    assert.equal(verifySignature(header, body, "whsec_other", 300, now), false);
    assert.equal(verifySignature(header, body, secret, 300, now + 301), false);
    assert.equal(verifySignature(header.replace(/v1=[0-9a-f]+/, "v1=zz"), body, secret, 300, now), false);
    assert.equal(verifySignature("", body, secret, 300, now), false);
    // A header may carry several v1 values (a secret being rolled): one match is enough.
    assert.equal(verifySignature(`t=${now},v1=${"0".repeat(64)},${header.split(",")[1]}`, body, secret, 300, now), true);
  });
});
