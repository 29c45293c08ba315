/**
 * Which X-Forwarded-For entry a keyed endpoint believes, over the header
 * shapes the two paths produce (Google's front end appends the peer it
 * accepted; Hosting's CDN appends the client before that), and the key bans
 * count under (IPv6 by its /64), with Node's BlockList as the judge of /64s.
 * No stack.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { BlockList, isIPv4 } from "node:net";
import { describe, it } from "node:test";
import fc from "fast-check";
import { addressKey, FASTLY_RANGES, parseAddress, pickClientAddress, proxyList } from "../../functions/src/guards/address.ts";
import { SERVED_THROUGH_HOSTING } from "../../functions/src/guards/clientIp.ts";

/** An address in Fastly's published ranges: what the front end appends when Hosting's CDN is the caller. */
const EDGE = "151.101.2.3";
const SHIELD = "151.101.130.7";
const HOSTING = proxyList("fastly").list;

interface Shape {
  name: string;
  header: string | string[] | undefined;
  socket?: string;
  /** What a route served through Hosting (airnotifier) counts the request under. */
  hosting: string;
  /** What a route called only at its function URL (api) counts it under. */
  direct: string;
}

const shapes: Shape[] = [
  { name: "direct call, no header of its own", header: "203.0.113.9", hosting: "203.0.113.9", direct: "203.0.113.9" },
  { name: "direct call with a forged entry first", header: "198.51.100.1, 203.0.113.9", hosting: "203.0.113.9", direct: "203.0.113.9" },
  { name: "direct call posing as Hosting (a Hosting-shaped chain written by the client)", header: `198.51.100.1, ${EDGE}, 203.0.113.9`, hosting: "203.0.113.9", direct: "203.0.113.9" },
  { name: "through Hosting", header: `203.0.113.9, ${EDGE}`, hosting: "203.0.113.9", direct: EDGE },
  { name: "through Hosting, with a forged entry first", header: `198.51.100.1, 203.0.113.9, ${EDGE}`, hosting: "203.0.113.9", direct: EDGE },
  { name: "through Hosting, with forged Fastly addresses first", header: `198.51.100.1, ${SHIELD}, 203.0.113.9, ${EDGE}`, hosting: "203.0.113.9", direct: EDGE },
  { name: "through Hosting with a shield POP (edge appended too)", header: `203.0.113.9, ${SHIELD}, ${EDGE}`, hosting: "203.0.113.9", direct: EDGE },
  { name: "through Hosting over IPv6", header: "2001:DB8:0:0::0001, 2a04:4e42::15", hosting: "2001:db8::1", direct: "2a04:4e42::15" },
  { name: "an IPv6 client behind an IPv4 edge", header: `2001:db8:aa:1::7, ${EDGE}`, hosting: "2001:db8:aa:1::7", direct: EDGE },
  { name: "IPv4-mapped IPv6 counts as IPv4", header: "::ffff:203.0.113.9", hosting: "203.0.113.9", direct: "203.0.113.9" },
  { name: "ports and brackets are dropped", header: `[2001:db8::5]:443, ${EDGE}:80`, hosting: "2001:db8::5", direct: EDGE },
  { name: "two headers, joined in order", header: ["198.51.100.1", `203.0.113.9, ${EDGE}`], hosting: "203.0.113.9", direct: EDGE },
  { name: "empty entries are skipped", header: ` , 203.0.113.9,, ${EDGE} ,`, hosting: "203.0.113.9", direct: EDGE },
  { name: "a proxy with nothing before it counts under the proxy", header: EDGE, hosting: EDGE, direct: EDGE },
  { name: "junk before the proxy is never taken for the client", header: `unknown, ${EDGE}`, hosting: EDGE, direct: EDGE },
  { name: "no header: the socket's peer (the emulator)", header: undefined, socket: "::ffff:127.0.0.1", hosting: "127.0.0.1", direct: "127.0.0.1" },
  { name: "a last entry that is no address: the socket's peer", header: "203.0.113.9, junk", socket: "10.0.0.8", hosting: "10.0.0.8", direct: "10.0.0.8" },
];

describe("client address", () => {
  for (const shape of shapes) {
    it(shape.name, () => {
      assert.equal(pickClientAddress(shape.header, shape.socket, HOSTING).address, shape.hosting, "on a route served through Hosting");
      assert.equal(pickClientAddress(shape.header, shape.socket).address, shape.direct, "on a route called at its function URL");
    });
  }

  it("never lets the client's own entries decide, whatever it prepends", () => {
    // Whatever a client writes, the front end then appends its real address (or Hosting appends it and then the edge):
    // the picked address is always the real one.
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom(EDGE, SHIELD, "unknown", "")), { maxLength: 6 }), fc.ipV4(), (forged, real) => {
        fc.pre(!HOSTING.check(real, "ipv4"));
        assert.equal(pickClientAddress([...forged, real].join(", "), undefined, HOSTING).address, real);
        assert.equal(pickClientAddress([...forged, real, EDGE].join(", "), undefined, HOSTING).address, real);
        assert.equal(pickClientAddress([...forged, real].join(", "), undefined).address, real);
      }),
    );
  });

  it("says which way it read the header", () => {
    assert.equal(pickClientAddress("203.0.113.9", undefined, HOSTING).via, "direct");
    assert.equal(pickClientAddress(`203.0.113.9, ${EDGE}`, undefined, HOSTING).via, "proxied");
    assert.equal(pickClientAddress(EDGE, undefined, HOSTING).via, "proxy-only");
    assert.equal(pickClientAddress(undefined, "127.0.0.1", HOSTING).via, "socket");
  });

  it("reads one canonical form per address", () => {
    assert.equal(parseAddress("2001:0DB8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
    assert.equal(parseAddress("::FFFF:cb00:7109"), "203.0.113.9");
    assert.equal(parseAddress("0:0:0:0:0:ffff:203.0.113.9"), "203.0.113.9");
    assert.equal(parseAddress("203.0.113.9:8080"), "203.0.113.9");
    for (const junk of ["unknown", "", "example.org", "203.0.113", "01.2.3.4", "fe80::1%eth0", "[203.0.113.9"]) assert.equal(parseAddress(junk), undefined, junk);
  });
});

describe("HOSTING_PROXY_RANGES", () => {
  it("`fastly` is Fastly's whole published list, and every entry of it parses", () => {
    const { list, invalid } = proxyList("fastly");
    assert.deepEqual(invalid, []);
    assert.equal(FASTLY_RANGES.length, 21);
    assert.ok(list.check("151.101.64.1", "ipv4") && list.check("2a04:4e42:200::1", "ipv6"));
    assert.ok(!list.check("35.191.0.1", "ipv4"));
  });

  it("adds CIDR ranges to it, `none` trusts nothing, and a typo is reported and left out", () => {
    const more = proxyList("fastly, 35.191.0.0/16").list;
    assert.ok(more.check("35.191.0.1", "ipv4") && more.check("151.101.64.1", "ipv4"));
    const none = proxyList("none");
    assert.deepEqual(none.invalid, []);
    assert.ok(!none.list.check("151.101.64.1", "ipv4"));
    const typo = proxyList("fastly,35.191.0.0/33,fastlyy");
    assert.deepEqual(typo.invalid, ["35.191.0.0/33", "fastlyy"]);
    assert.ok(!typo.list.check("35.191.0.1", "ipv4"));
  });

  it("is trusted on exactly the keyed functions firebase.json rewrites to", () => {
    const config = JSON.parse(readFileSync(new URL("../../firebase.json", import.meta.url), "utf8")) as { hosting: { rewrites: Array<{ function?: { functionId?: string } | string }> } };
    const rewritten = new Set(config.hosting.rewrites.map((rule) => (typeof rule.function === "string" ? rule.function : rule.function?.functionId)).filter(Boolean));
    for (const [fn, throughHosting] of Object.entries(SERVED_THROUGH_HOSTING)) assert.equal(throughHosting, rewritten.has(fn), fn);
  });
});

/** Eight groups of an IPv6 address, written out in full. */
const groups = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 });
const written = (g: number[]) => g.map((n) => n.toString(16)).join(":");

describe("ban keys", () => {
  it("are the IPv4 address itself, and the /64 of an IPv6 address in canonical form", () => {
    assert.equal(addressKey("203.0.113.9"), "203.0.113.9");
    assert.equal(addressKey("::ffff:203.0.113.9"), "203.0.113.9");
    assert.equal(addressKey("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
    assert.equal(addressKey("2001:DB8:0:0:ffff::1"), "2001:db8::/64");
    assert.equal(addressKey("2001:db8:aa:1::1"), addressKey("2001:db8:aa:1:ffff:ffff:ffff:ffff"));
    assert.notEqual(addressKey("2001:db8:aa:1::1"), addressKey("2001:db8:aa:2::1"));
  });

  it("hold every address of the /64 and no other (BlockList decides)", () => {
    fc.assert(
      fc.property(groups, groups, fc.integer({ min: 0, max: 3 }), (a, low, changed) => {
        const address = written(a);
        fc.pre(!isIPv4(parseAddress(address) ?? ""));
        const key = addressKey(address);
        const [prefix = "", bits] = key.split("/");
        assert.equal(bits, "64");
        const subnet = new BlockList();
        subnet.addSubnet(prefix, 64, "ipv6");
        assert.ok(subnet.check(address, "ipv6"), `${address} in ${key}`);
        assert.equal(addressKey(prefix), key, "the prefix is its own key");
        const sibling = written([...a.slice(0, 4), ...low.slice(4)]);
        assert.equal(addressKey(sibling), key, `${sibling} shares ${key}`);
        const other = [...a];
        other[changed] = ((other[changed] ?? 0) + 1) % 0x10000;
        fc.pre(!isIPv4(parseAddress(written(other)) ?? ""));
        assert.notEqual(addressKey(written(other)), key);
        assert.ok(!subnet.check(written(other), "ipv6"));
      }),
    );
  });
});
