/**
 * The security headers Hosting sends (firebase.json `hosting.headers`), seen
 * by headless Chromium on the Hosting emulator: on the console's page and
 * everything it loads and on the AirNotifier endpoints; a page of another
 * origin cannot frame the console (the cancel, resend and resume buttons
 * cannot be clickjacked); and on a phone, where Firebase Auth would load
 * Google's scripts up front, the console works with no violation. The desktop
 * flows run under the same policy in console.test.ts and console-ops.test.ts.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { after, afterEach, before, describe, it } from "node:test";
import type { Browser, Response } from "playwright-core";
import { hostingOrigin, launchBrowser, watchPolicy, type PolicyWatch } from "./support/browser.ts";
import { ensureStaff } from "../tools/seed.ts";

const SHOTS = ".cache/console";

/**
 * What the console needs and nothing more: its own script and stylesheet, the
 * data: favicon, and connections to Firebase Auth, Firestore, the callables
 * (`https://us-central1-<project>.cloudfunctions.net`) and, on the local
 * stack, the emulators on loopback. No frames, no plugins, no form posts, and
 * no page of any origin may frame it.
 */
const POLICY: Record<string, string[]> = {
  "default-src": ["'none'"],
  "script-src": ["'self'"],
  "style-src": ["'self'"],
  "img-src": ["'self'", "data:"],
  "connect-src": [
    "'self'",
    "https://identitytoolkit.googleapis.com",
    "https://securetoken.googleapis.com",
    "https://firestore.googleapis.com",
    "https://*.cloudfunctions.net",
    "http://127.0.0.1:*",
    "http://localhost:*",
  ],
  "base-uri": ["'none'"],
  "form-action": ["'none'"],
  "frame-ancestors": ["'none'"],
};

const HEADERS: Record<string, string> = {
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "strict-origin-when-cross-origin",
  "strict-transport-security": "max-age=31536000",
  "permissions-policy": "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()",
  "cross-origin-opener-policy": "same-origin",
};

const ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36";

function directives(csp: string | undefined): Record<string, string[]> {
  const parsed: Record<string, string[]> = {};
  for (const part of (csp ?? "").split(";")) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) parsed[name] = sources;
  }
  return parsed;
}

/** Asserts every security header on one response (header names as Chromium reports them, lower case). */
function assertSecurityHeaders(what: string, headers: Record<string, string>): void {
  assert.deepEqual(directives(headers["content-security-policy"]), POLICY, `${what}: Content-Security-Policy`);
  for (const [name, value] of Object.entries(HEADERS)) assert.equal(headers[name], value, `${what}: ${name}`);
}

/** A page on another origin that frames the console, beside a page of its own as a control. */
function startFramingSite(target: string): Promise<Server> {
  const server = createServer((req, res) => {
    res.setHeader("content-type", "text/html; charset=utf-8");
    if (req.url === "/own") return void res.end("<!doctype html><title>own</title><p id=own>A page that may be framed</p>");
    res.end(`<!doctype html><title>Win a prize</title>
<iframe name="own" src="/own" width="400" height="200"></iframe>
<iframe name="console" src="${target}" width="800" height="600"></iframe>`);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

describe("security headers on everything Hosting serves (headless Chromium on the Hosting emulator)", () => {
  let browser: Browser;
  let policy: PolicyWatch;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    browser = await launchBrowser();
    policy = watchPolicy(browser);
  });
  afterEach(() => {
    assert.deepEqual(policy.take(), [], "no Content-Security-Policy or Permissions-Policy violation reported");
  });
  after(async () => {
    await browser?.close();
  });

  it("sends every header with the console's page, its script and stylesheet, a deep link and the stack's config", async () => {
    const context = await policy.newContext();
    const page = await context.newPage();
    const responses: Response[] = [];
    page.on("response", (response) => {
      if (response.url().startsWith(hostingOrigin())) responses.push(response);
    });
    await page.goto(`${hostingOrigin()}/`);
    await page.getByLabel("Email").waitFor();
    const kinds = new Set(responses.map((r) => r.request().resourceType()));
    for (const kind of ["document", "script", "stylesheet", "fetch"]) assert.ok(kinds.has(kind), `the console loaded a ${kind} from Hosting (${[...kinds].join(", ")})`);
    for (const response of responses) assertSecurityHeaders(`${response.request().resourceType()} ${response.url()}`, await response.allHeaders());
    const script = responses.find((r) => r.request().resourceType() === "script");
    assert.match((await script?.allHeaders())?.["content-type"] ?? "", /javascript/, "nosniff needs the script's true type");

    // A path the console does not have is rewritten to index.html: the same headers.
    const deep = await page.goto(`${hostingOrigin()}/messages/not-a-route`);
    assert.equal(deep?.status(), 200);
    assertSecurityHeaders("a rewritten deep link", (await deep?.allHeaders()) ?? {});
    await context.close();
  });

  it("sends them with the AirNotifier endpoints' JSON too (each rewrite to the airnotifier function)", async () => {
    const context = await policy.newContext();
    for (const path of ["/accesskeys/", "/tokens/some-token", "/api/v2/push"]) {
      // A GET is not a Moodle route: the function answers 404 in JSON before any key check.
      const response = await context.request.get(`${hostingOrigin()}${path}`);
      assert.equal(response.status(), 404, path);
      assert.match(response.headers()["content-type"] ?? "", /application\/json/, `${path} is answered by the function, not index.html`);
      assertSecurityHeaders(path, response.headers());
    }
    await context.close();
  });

  it("cannot be framed by a page of another origin", async () => {
    const site = await startFramingSite(`${hostingOrigin()}/#/`);
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const refusal = page.waitForEvent("console", { predicate: (m) => m.text().startsWith("Framing "), timeout: 15_000 }).then(
        (m) => m.text(),
        () => "(Chromium reported no refusal)",
      );
      await page.goto(`http://127.0.0.1:${(site.address() as AddressInfo).port}/`);
      const own = page.frame({ name: "own" });
      assert.ok(own, "the control frame exists");
      await own.locator("#own").waitFor();
      // Chromium reports the refusal in the framing page, and shows its error page in the frame instead.
      assert.match(await refusal, new RegExp(`^Framing '${hostingOrigin()}/' violates the following Content Security Policy directive: "frame-ancestors 'none'"`));
      const framed = page.frame({ name: "console" });
      assert.ok(framed, "the console's frame exists");
      await framed.waitForURL("chrome-error://chromewebdata/");
      assert.equal(await framed.locator("#app").count(), 0, "no console document in the frame");
      assert.equal(await framed.getByLabel("Email").count(), 0, "no sign-in form in the frame");
    } finally {
      await context.close();
      site.close();
    }
  });

  it("works on a phone under its policy: signs in and shows compose, history and the operations chart with no violation", { timeout: 60_000 }, async () => {
    const email = `phone-${randomUUID().slice(0, 8)}@example.com`;
    await ensureStaff(email, "password-123", { admin: true });
    // A mobile user agent is what makes Firebase Auth's popup/redirect resolver load gapi and an iframe at start.
    const context = await policy.newContext({ userAgent: ANDROID, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: "en-US" });
    const page = await context.newPage();
    await page.goto(`${hostingOrigin()}/`);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("password-123");
    await page.getByRole("button", { name: "Sign in" }).tap();
    await page.getByLabel("Title").waitFor();
    // Styles applied: the stylesheet's header colour, not the browser default.
    assert.equal(await page.locator("header").evaluate((el) => getComputedStyle(el).backgroundColor), "rgb(29, 36, 48)");
    await page.getByLabel("Title").fill("Snow day");
    await page.getByLabel("Body").fill("School is closed.");
    await page.getByRole("status").filter({ hasText: "will receive it" }).waitFor();
    await page.screenshot({ path: `${SHOTS}/compose-android.png`, fullPage: true });
    await page.getByRole("link", { name: "History" }).tap();
    await page.locator("table.history").or(page.getByText("No messages yet.")).waitFor();
    await page.getByRole("link", { name: "Operations" }).tap();
    await page.getByRole("status").filter({ hasText: /^Delivery is / }).waitFor();
    // Drawn: Chart.js has painted its axes and labels into the canvas.
    await page.waitForFunction(() => {
      const canvas = document.querySelector<HTMLCanvasElement>(".chart canvas");
      const pixels = canvas && canvas.width > 0 ? canvas.getContext("2d")?.getImageData(0, 0, canvas.width, canvas.height).data : undefined;
      return pixels?.some((value, i) => i % 4 === 3 && value > 0) ?? false;
    });
    await page.screenshot({ path: `${SHOTS}/operations-android.png`, fullPage: true });
    await context.close();
  });
});
