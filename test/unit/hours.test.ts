/**
 * Wall-clock time in time zones and when a device may get a message
 * (quiet hours, sendAtLocal, urgency), as pure computation.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { instantOf, isTimeZone, parseHourMinute, parseWallTime, wallTimeAt, windowEndAfter } from "../../functions/src/shared/zones.ts";
import { holdOf, parseQuietHoursParam, type HoursSettings } from "../../functions/src/sending/hours.ts";
import type { DeviceDoc } from "../../functions/src/devices/schema.ts";

const at = (iso: string) => Date.parse(iso);
const device = (fields: Partial<DeviceDoc>) => fields as DeviceDoc;
const site = (quiet: string, defaultZone = "UTC"): HoursSettings => ({ siteQuietHours: parseQuietHoursParam(quiet) ?? null, defaultZone });

describe("zones", () => {
  it("reads and writes wall-clock time across offsets and daylight saving", () => {
    assert.deepEqual(wallTimeAt(at("2030-01-15T12:00:00Z"), "America/New_York"), { year: 2030, month: 1, day: 15, hour: 7, minute: 0, second: 0 });
    assert.equal(instantOf({ year: 2030, month: 1, day: 15, hour: 7, minute: 0 }, "America/New_York"), at("2030-01-15T12:00:00Z"));
    assert.equal(instantOf({ year: 2030, month: 7, day: 15, hour: 7, minute: 0 }, "America/New_York"), at("2030-07-15T11:00:00Z"));
    assert.equal(instantOf({ year: 2030, month: 1, day: 15, hour: 8, minute: 30 }, "Asia/Kolkata"), at("2030-01-15T03:00:00Z"));
    // 2:30 does not exist on 2030-03-10 in New York (clocks go 2:00 → 3:00): the moment they jump.
    assert.equal(instantOf({ year: 2030, month: 3, day: 10, hour: 2, minute: 30 }, "America/New_York"), at("2030-03-10T07:00:00Z"));
    // 1:30 exists twice on 2030-11-03: the first.
    assert.equal(instantOf({ year: 2030, month: 11, day: 3, hour: 1, minute: 30 }, "America/New_York"), at("2030-11-03T05:30:00Z"));
  });

  it("parses local times, hours and zones strictly", () => {
    assert.deepEqual(parseWallTime("2030-02-28T08:05"), { year: 2030, month: 2, day: 28, hour: 8, minute: 5 });
    for (const bad of ["2030-02-30T08:00", "2030-13-01T08:00", "2030-01-01T24:00", "2030-01-01T08:00Z", "2030-01-01T08:00:00", "2030-01-01 08:00", ""]) assert.equal(parseWallTime(bad), undefined, bad);
    assert.equal(parseHourMinute("21:30"), 21 * 60 + 30);
    for (const bad of ["9:00", "24:00", "21:60", "2100", " 21:00"]) assert.equal(parseHourMinute(bad), undefined, bad);
    assert.ok(isTimeZone("Europe/Paris"));
    assert.ok(!isTimeZone("Mars/Olympus_Mons"));
    assert.ok(!isTimeZone(undefined));
  });

  it("finds the end of a daily window, over midnight too", () => {
    const night = { start: 21 * 60, end: 7 * 60 };
    assert.equal(windowEndAfter(at("2030-01-15T23:00:00Z"), "UTC", night), at("2030-01-16T07:00:00Z"));
    assert.equal(windowEndAfter(at("2030-01-16T03:00:00Z"), "UTC", night), at("2030-01-16T07:00:00Z"));
    assert.equal(windowEndAfter(at("2030-01-16T07:00:00Z"), "UTC", night), undefined);
    assert.equal(windowEndAfter(at("2030-01-16T12:00:00Z"), "UTC", night), undefined);
    assert.equal(windowEndAfter(at("2030-01-16T12:00:00Z"), "UTC", { start: 600, end: 600 }), undefined);
    // 02:00 UTC is 21:00 in New York (winter): quiet until 07:00 there, 12:00 UTC.
    assert.equal(windowEndAfter(at("2030-01-16T02:00:00Z"), "America/New_York", night), at("2030-01-16T12:00:00Z"));
  });
});

describe("holds", () => {
  const now = at("2030-01-15T23:30:00Z");

  it("holds a normal message in quiet hours until they end, in the device's zone", () => {
    assert.deepEqual(holdOf({}, device({ timezone: "UTC" }), site("21:00-07:00"), now), { untilMs: at("2030-01-16T07:00:00Z"), reason: "quietHours" });
    // 18:30 in New York: not quiet.
    assert.equal(holdOf({}, device({ timezone: "America/New_York" }), site("21:00-07:00"), now), undefined);
    // No zone, or an unknown one: the site's default zone.
    assert.deepEqual(holdOf({}, device({ timezone: "Nowhere/Land" }), site("21:00-07:00", "Asia/Tokyo"), now)?.reason, undefined, "08:30 in Tokyo is not quiet");
    assert.equal(holdOf({}, device({}), site("21:00-07:00"), now)?.reason, "quietHours");
  });

  it("lets a user's own quiet hours win over the site's, and start = end mean none", () => {
    assert.equal(holdOf({}, device({ timezone: "UTC", quietHours: { start: "00:00", end: "00:00" } }), site("21:00-07:00"), now), undefined);
    assert.deepEqual(holdOf({}, device({ timezone: "UTC", quietHours: { start: "23:00", end: "23:45" } }), site(""), now), { untilMs: at("2030-01-15T23:45:00Z"), reason: "quietHours" });
    assert.equal(holdOf({}, device({ timezone: "UTC", quietHours: null }), site(""), now), undefined);
  });

  it("holds sendAtLocal until the device's wall clock reaches it, then quiet hours if it falls in them", () => {
    const message = { sendAtLocal: "2030-01-16T08:00" };
    assert.deepEqual(holdOf(message, device({ timezone: "America/New_York" }), site(""), now), { untilMs: at("2030-01-16T13:00:00Z"), reason: "localTime" });
    // Already past in Tokyo (08:30 on the 16th): at once.
    assert.equal(holdOf(message, device({ timezone: "Asia/Tokyo" }), site(""), now), undefined);
    const late = { sendAtLocal: "2030-01-16T22:00" };
    assert.deepEqual(holdOf(late, device({ timezone: "UTC" }), site("21:00-07:00"), now), { untilMs: at("2030-01-17T07:00:00Z"), reason: "quietHours" });
  });

  it("never holds an emergency", () => {
    assert.equal(holdOf({ urgency: "emergency", sendAtLocal: "2030-01-16T08:00" }, device({ timezone: "UTC" }), site("21:00-07:00"), now), undefined);
  });

  it("reads the QUIET_HOURS param", () => {
    assert.deepEqual(parseQuietHoursParam("21:00-07:00"), { start: 1260, end: 420 });
    assert.equal(parseQuietHoursParam(""), null);
    assert.equal(parseQuietHoursParam("21-07"), undefined);
  });
});

describe("a page's recipients", () => {
  it("reads quiet hours at a scheduled message's sendAt, not when its recipients are written", async () => {
    process.env.QUIET_HOURS = "21:00-07:00";
    process.env.DEFAULT_TIME_ZONE = "UTC";
    const { pageRecipients } = await import("../../functions/src/sending/recipients.ts");
    const page = [{ deviceId: "d1", userId: "u1", device: device({ timezone: "UTC" }) }];
    const noon = at("2030-01-15T12:00:00Z");
    assert.equal((await pageRecipients({}, page, noon))[0]?.hold, undefined, "at noon nobody waits");
    const [scheduled] = await pageRecipients({ sendAtMs: at("2030-01-15T23:00:00Z") }, page, noon);
    assert.deepEqual(scheduled?.hold, { untilMs: at("2030-01-16T07:00:00Z"), reason: "quietHours" });
    const [urgent] = await pageRecipients({ sendAtMs: at("2030-01-15T23:00:00Z"), urgency: "emergency" }, page, noon);
    assert.equal(urgent?.hold, undefined);
  });
});
