/**
 * The console's operations panel in headless Chromium on the Hosting
 * emulator: the emergency stop as an administrator uses it, and the hourly
 * chart with its text alternative, checked against the callables.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { after, afterEach, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { summarizeHour, type HourRow } from "../functions/src/contract/index.ts";
import { hostingOrigin, launchBrowser, watchPolicy, type PolicyWatch } from "./support/browser.ts";
import { callError, signedInUser, type ClientUser } from "../tools/lib/client.ts";
import { adminDb } from "../tools/lib/admin.ts";
import { addRecipients, createMessage, recipientStates, seedDevices, waitUntilFinal } from "../tools/lib/fixtures.ts";
import { acceptedFor } from "../tools/lib/stand-in.ts";
import { ensureStaff } from "../tools/seed.ts";

const SHOTS = ".cache/console";
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

interface Report {
  recipients: number;
  counts: Record<string, number>;
  paused: { reason: string | null } | null;
}

async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto(`${hostingOrigin()}/`);
  await page.getByLabel("Email").fill(email);
  await page.keyboard.press("Tab");
  await page.keyboard.type(password);
  await page.keyboard.press("Enter");
}

async function staffAccount(admin: boolean): Promise<{ email: string; password: string }> {
  const email = `ops-${randomUUID().slice(0, 8)}@example.com`;
  const password = "password-123";
  await ensureStaff(email, password, { admin });
  return { email, password };
}

/** Fails as soon as `probe` is false, else passes after `ms`: "nothing happens for a while", checked all along. */
async function staysTrue(what: string, probe: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    assert.ok(await probe(), what);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe("staff console: the operations panel (pushAdmin)", () => {
  let browser: Browser;
  // Every page runs under the headers Hosting serves (firebase.json): a CSP violation fails the test it happened in.
  let policy: PolicyWatch;
  let adminClient: ClientUser;
  let senderClient: ClientUser;
  let switchExisted = true;

  before(async () => {
    switchExisted = (await adminDb().collection("ops").doc("delivery").get()).exists;
    mkdirSync(SHOTS, { recursive: true });
    browser = await launchBrowser();
    policy = watchPolicy(browser);
    adminClient = await signedInUser({ pushSender: true, pushAdmin: true });
    senderClient = await signedInUser({ pushSender: true });
  });
  afterEach(() => {
    assert.deepEqual(policy.take(), [], "the panel works under its Content-Security-Policy: no violation reported");
  });
  after(async () => {
    // Whatever happened, leave delivery running for the suites after this one.
    await adminClient?.call("setDeliveryPaused", { paused: false });
    // And as this suite found it: a project that was never paused has no switch document.
    if (!switchExisted) await adminDb().collection("ops").doc("delivery").delete();
    await browser?.close();
    await adminClient?.close();
    await senderClient?.close();
  });

  it("shows a sender without pushAdmin no Operations link, and the callables refuse them", async () => {
    const sender = await staffAccount(false);
    const context = await policy.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    await signIn(page, sender.email, sender.password);
    await page.getByRole("link", { name: "History" }).waitFor();
    assert.equal(await page.getByRole("link", { name: "Operations" }).count(), 0);
    // The address typed by hand shows the compose screen, not the panel.
    await page.goto(`${hostingOrigin()}/#/operations`);
    await page.getByLabel("Title").waitFor();
    assert.equal(await page.getByRole("button", { name: "Pause all delivery" }).count(), 0);
    await context.close();
    for (const [name, data] of [
      ["getDeliveryStatus", {}],
      ["getDeliveryStats", { hours: 24 }],
      ["setDeliveryPaused", { paused: true, reason: "not mine to stop" }],
    ] as const) {
      assert.equal((await callError(senderClient.call(name, data))).code, "functions/permission-denied", name);
    }
  });

  it("pauses with a reason after a confirmation, holds a new message, resumes and delivers it; the chart's figures match getDeliveryStats", { timeout: 150_000 }, async () => {
    const admin = await staffAccount(true);
    const context = await policy.newContext({ viewport: DESKTOP, locale: "en-US" });
    const page = await context.newPage();
    await signIn(page, admin.email, admin.password);
    await page.getByRole("link", { name: "Operations" }).click();
    const status = page.getByRole("status");
    await status.filter({ hasText: "Delivery is running" }).waitFor();
    await page.getByRole("cell", { name: "dispatchBatch" }).waitFor();

    // Keyboard only: the reason, then the pause button, then Confirm in the dialog.
    const reason = `wrong broadcast ${randomUUID().slice(0, 6)}`;
    await page.getByLabel("Reason").focus();
    await page.keyboard.type(reason);
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog");
    await dialog.getByText(`Reason: ${reason}`).waitFor();
    await page.keyboard.press("Enter"); // Confirm has the focus
    await status.filter({ hasText: new RegExp(`^Delivery is PAUSED since .+ by .+: ${reason}$`) }).waitFor();
    await page.getByRole("button", { name: "Resume delivery" }).waitFor();
    assert.equal(await page.getByRole("button", { name: "Pause all delivery" }).isVisible(), false);
    await page.getByRole("cell", { name: "PAUSED" }).waitFor();
    await page.screenshot({ path: `${SHOTS}/operations-paused-desktop.png`, fullPage: true });

    const devices = await seedDevices(Array.from({ length: 5 }, () => ({})));
    const tokens = devices.map((d) => d.token);
    const messageId = await createMessage({ title: "Sent while paused" });
    await addRecipients(messageId, devices.map((d) => ({ deviceId: d.deviceId })));
    const report = await senderClient.call<Report>("getMessageReport", { messageId });
    assert.equal(report.paused?.reason, reason, "the report says delivery is paused, with the reason");
    await staysTrue(
      "while paused, the message stays pending and FCM receives nothing for it",
      async () => (await acceptedFor(tokens)).length === 0 && [...(await recipientStates(messageId)).values()].every((r) => r.status === -1),
      4_000,
    );

    await page.getByRole("button", { name: "Resume delivery" }).click();
    await status.filter({ hasText: /^Delivery is running$/ }).waitFor();
    const states = await waitUntilFinal(messageId, devices.length);
    assert.ok([...states.values()].every((r) => r.status === 200), "every recipient accepted after resume");
    assert.equal((await acceptedFor(tokens)).length, devices.length, "each device reached exactly once");
    assert.equal((await senderClient.call<Report>("getMessageReport", { messageId })).paused, null);

    // The chart, read fresh now that the message has been counted.
    await page.getByRole("button", { name: "Refresh" }).click();
    const { hours } = await adminClient.call<{ hours: HourRow[] }>("getDeliveryStats", { hours: 24 });
    const sum = { accepted: 0, failed: 0, unregistered: 0, skipped: 0, cancelled: 0 };
    for (const row of hours.map(summarizeHour)) for (const key of Object.keys(sum) as Array<keyof typeof sum>) sum[key] += row[key];
    assert.ok(sum.accepted >= devices.length, "the hour holds at least this message's deliveries");
    const expected = `Last 24 hours: ${sum.accepted.toLocaleString("en-US")} accepted, ${sum.failed.toLocaleString("en-US")} failed, ${sum.unregistered.toLocaleString("en-US")} unregistered, ${sum.skipped.toLocaleString("en-US")} skipped, ${sum.cancelled.toLocaleString("en-US")} cancelled.`;
    await page.getByText(expected, { exact: true }).waitFor();
    await page.getByText("The figures as a table").click();
    const totalRow = page.locator("table.stats tfoot tr");
    assert.equal(await totalRow.locator("td").first().textContent(), sum.accepted.toLocaleString("en-US"));
    assert.equal(await page.locator("table.stats tbody tr").count(), 24, "one row per hour");
    // Drawn: the accepted colour (#1e7b3c) fills pixels of the canvas.
    const acceptedPixels = await page.locator(".chart canvas").evaluate((canvas: HTMLCanvasElement) => {
      const pixels = (canvas.getContext("2d") as CanvasRenderingContext2D).getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 0; i < pixels.length; i += 4) if (pixels[i] === 0x1e && pixels[i + 1] === 0x7b && pixels[i + 2] === 0x3c && pixels[i + 3] === 255) n += 1;
      return n;
    });
    assert.ok(acceptedPixels > 20, `the chart draws the accepted bars (${acceptedPixels} pixels)`);
    await page.getByText("The figures as a table").click();
    await page.screenshot({ path: `${SHOTS}/operations-desktop.png`, fullPage: true });

    await page.getByLabel("Last 7 days").check();
    await page.getByText(/^Last 7 days: /).waitFor();
    const days = await page.locator("table.stats tbody tr").count();
    assert.ok(days === 7 || days === 8, `one row per UTC day of the last 168 hours (${days})`);
    await page.setViewportSize(PHONE);
    // Chart.js redraws at the new width on its next frame; the page must then fit the phone.
    await page.waitForFunction(() => document.documentElement.scrollWidth <= window.innerWidth, undefined, { timeout: 5_000 });
    await page.screenshot({ path: `${SHOTS}/operations-phone.png`, fullPage: true });
    await context.close();
  });
});
