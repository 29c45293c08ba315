/**
 * The console's timing and urgency controls in headless Chromium: "at this
 * time in each recipient's time zone" (sendAtLocal) and what the message page
 * says about recipients waiting for it; the emergency switch, shown only to
 * staff with the pushEmergency claim, marked and confirmed.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { after, afterEach, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { adminAuth, adminDb } from "../tools/lib/admin.ts";
import { seedDevices, waitForRecipientCount, waitUntilFinal } from "../tools/lib/fixtures.ts";
import { acceptedFor } from "../tools/lib/stand-in.ts";
import { ensureStaff } from "../tools/seed.ts";
import { hostingOrigin, launchBrowser, watchPolicy, type PolicyWatch } from "./support/browser.ts";

const SHOTS = ".cache/console";
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
const pad = (n: number) => String(n).padStart(2, "0");

async function staffPage(policy: PolicyWatch, claims: Record<string, unknown> = {}): Promise<Page> {
  const email = `s-${randomUUID().slice(0, 8)}@example.com`;
  const password = "password-123";
  const { uid } = await ensureStaff(email, password);
  if (Object.keys(claims).length > 0) await adminAuth().setCustomUserClaims(uid, { ...(await adminAuth().getUser(uid)).customClaims, ...claims });
  // The browser's clock reads UTC, as the devices below do: the local time typed is the devices' local time.
  const page = await (await policy.newContext({ viewport: DESKTOP, locale: "en-US", timezoneId: "UTC" })).newPage();
  await page.goto(`${hostingOrigin()}/`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.keyboard.press("Enter");
  await page.getByLabel("Title").waitFor();
  return page;
}

describe("console: local-time sends and emergencies (headless Chromium)", () => {
  let browser: Browser;
  let policy: PolicyWatch;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    browser = await launchBrowser();
    policy = watchPolicy(browser);
  });
  afterEach(() => {
    assert.deepEqual(policy.take(), [], "no Content-Security-Policy violation");
  });
  after(async () => {
    await browser?.close();
  });

  it("schedules at a time in each recipient's zone, and the message page says who waits for it and until when", { timeout: 120_000 }, async () => {
    const page = await staffPage(policy);
    assert.equal(await page.getByLabel("Emergency").isVisible(), false, "the emergency switch is for pushEmergency staff only");
    const tag = randomUUID().slice(0, 8);
    const user = `lt-${tag}`;
    const [utc] = await seedDevices([{ userId: user }, { userId: user }]);
    await adminDb().collection("devices").doc(utc!.deviceId).update({ timezone: "UTC" });
    const title = `Assembly ${tag}`;
    await page.getByLabel("Title").fill(title);
    await page.getByLabel("Body").fill("In the gym at nine");
    await page.getByLabel("Users", { exact: true }).check();
    await page.getByLabel("User IDs").fill(user);
    const at = new Date(Date.now() + 2 * 3_600_000);
    const local = `${at.getUTCFullYear()}-${pad(at.getUTCMonth() + 1)}-${pad(at.getUTCDate())}T${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}`;
    await page.getByLabel("Send at").fill(local);
    await page.getByLabel("At this time in each recipient's time zone").check();
    await page.getByText("on its own clock").waitFor();
    await page.getByRole("status").filter({ hasText: "2 devices will receive it" }).waitFor();
    await page.getByRole("button", { name: "Schedule" }).click();
    await page.getByRole("dialog").getByText("in each recipient's time zone").waitFor();
    await page.getByRole("dialog").getByRole("button", { name: "Confirm" }).click();
    await page.waitForURL(/#\/messages\//);
    const messageId = page.url().split("/").pop() as string;
    const stored = (await adminDb().collection("messages").doc(messageId).get()).data();
    assert.equal(stored?.sendAtLocal, local);
    assert.equal(stored?.sendAt, null);
    // Both devices (one in UTC, one in the site's default zone, UTC locally) wait two hours.
    await waitForRecipientCount(messageId);
    await page.getByText(/2 waiting for their local time/).waitFor({ timeout: 30_000 });
    await page.getByText("in each recipient's time zone").waitFor();
    assert.equal(await page.locator(".badge.emergency").isVisible(), false, "a normal message is not marked as an emergency");
    await page.screenshot({ path: `${SHOTS}/local-time-desktop.png`, fullPage: true });
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: `${SHOTS}/local-time-phone.png`, fullPage: true });
    await page.getByRole("button", { name: "Cancel message" }).click();
    await page.getByText("cancelled", { exact: true }).waitFor();
  });

  it("shows the emergency switch to pushEmergency staff, marks and confirms it, and sends at once past mutes", { timeout: 120_000 }, async () => {
    const page = await staffPage(policy, { pushEmergency: true });
    const tag = randomUUID().slice(0, 8);
    const user = `em-${tag}`;
    const devices = await seedDevices([{ userId: user }]);
    await adminDb().collection("devices").doc(devices[0]!.deviceId).update({ mutedCategories: ["safety"] });
    await page.getByLabel("Title").fill(`Lockdown ${tag}`);
    await page.getByLabel("Body").fill("Stay in your classroom");
    await page.getByText("More options").click();
    await page.getByLabel("Category").fill("safety");
    await page.getByLabel("Users", { exact: true }).check();
    await page.getByLabel("User IDs").fill(user);
    await page.getByLabel("Emergency").check();
    const send = page.getByRole("button", { name: "Send emergency" });
    await send.waitFor();
    await page.getByText("An emergency goes out at once.").waitFor();
    // The estimate counts the muted device too: an emergency reaches it.
    await page.getByRole("status").filter({ hasText: "1 device will receive it" }).waitFor();
    await page.screenshot({ path: `${SHOTS}/emergency-desktop.png`, fullPage: true });
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: `${SHOTS}/emergency-phone.png`, fullPage: true });
    await page.setViewportSize(DESKTOP);
    await send.click();
    const dialog = page.getByRole("dialog", { name: "Send an EMERGENCY message?" });
    await dialog.getByText("past quiet hours and muted categories").waitFor();
    await page.screenshot({ path: `${SHOTS}/emergency-confirm-desktop.png` });
    await dialog.getByRole("button", { name: "Send emergency now" }).click();
    await page.waitForURL(/#\/messages\//);
    const messageId = page.url().split("/").pop() as string;
    assert.equal((await adminDb().collection("messages").doc(messageId).get()).get("urgency"), "emergency");
    await page.locator(".badge.emergency", { hasText: "Emergency" }).waitFor();
    // The user muted "safety": an emergency reaches them anyway.
    const states = await waitUntilFinal(messageId, 1, 30_000);
    assert.deepEqual([...states.values()].map((s) => s.status), [200]);
    assert.equal((await acceptedFor(devices.map((d) => d.token))).length, 1);
  });
});
