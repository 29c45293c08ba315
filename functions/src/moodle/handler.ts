import type { Response } from "express";
import { logger } from "firebase-functions";
import type { Request } from "firebase-functions/v2/https";
import { liveDeviceForToken } from "../devices/siteTokens";
import { tokenSchema } from "../devices/schema";
import { admitRequest, authenticate, bodyBytes, checkKeyUse, isRefusal, type Refusal } from "../guards/access";
import { newDeviceAllowance, takeAddressQuota } from "../guards/counters";
import { clientIp } from "../guards/clientIp";
import { createKey, tenantOf, type VerifiedKey } from "../keys/service";
import type { KeyScope } from "../shared/contract";
import { MOODLE_APP_NAME, MOODLE_KEY_RATE_PER_MINUTE, MOODLE_KEYS_PER_ADDRESS_PER_DAY, MOODLE_NEW_DEVICES_PER_KEY_PER_DAY, MOODLE_SELF_SERVICE_KEYS } from "../shared/params";
import { sendToDevice } from "../sending/direct";
import { keySender } from "../sending/sender";
import { parseForm } from "./form";
import { pushMessage } from "./push";
import { accessKeyRequest, AIRNOTIFIER_ERRORS, AIRNOTIFIER_HEADERS, platformOf, pushRequest, TEST_TOKEN, TOKEN_STATUS, tokenRequest } from "./wire";

/** The scopes a Moodle site's key needs: E2 registers devices, E3 sends. */
export const MOODLE_KEY_SCOPES: KeyScope[] = ["devices:write", "messages:send"];

/** Answers in AirNotifier's shape: `{ "error": "…" }` with its status codes. */
class AirNotifierError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

const fail = (status: number, message: string, retryAfterSeconds?: number) => new AirNotifierError(status, message, retryAfterSeconds);

function refusalError(refusal: Refusal): AirNotifierError {
  switch (refusal.kind) {
    case "banned":
      return fail(429, "Too many failed authentications from this address; try again later.", refusal.retryAfterSeconds);
    case "too-large":
      return fail(413, `The body is larger than ${refusal.maxBytes} bytes.`);
    case "bad-key":
      return fail(400, AIRNOTIFIER_ERRORS.invalidAccessKey);
    case "wrong-surface":
      // Moodle shows this text to the site's administrator.
      return fail(
        403,
        refusal.keySurface === null
          ? "This access key was made before keys had surfaces and tenants; ask the push server's operator to migrate it (npm run keys -- migrate)."
          : "This access key is for the partner API, not for Moodle. Ask the push server's operator for a Moodle key (--surface moodle).",
      );
    case "address-not-allowed":
      return fail(403, AIRNOTIFIER_ERRORS.noPermission);
    case "rate":
      return fail(429, "This access key made too many requests; slow down.", refusal.retryAfterSeconds);
  }
}

type Route = { kind: "accesskeys" } | { kind: "token"; token: string } | { kind: "push" };

/** Moodle's three paths (its URLs are concatenated as is, so a missing trailing slash is accepted too). */
function routeOf(method: string, path: string): Route | undefined {
  if (method !== "POST") return undefined;
  if (/^\/accesskeys\/?$/.test(path)) return { kind: "accesskeys" };
  if (/^\/api\/v2\/push\/?$/.test(path)) return { kind: "push" };
  const token = /^\/tokens\/([^/]+)$/.exec(path)?.[1];
  if (token === undefined) return undefined;
  try {
    return { kind: "token", token: decodeURIComponent(token) };
  } catch {
    return { kind: "token", token: "" };
  }
}

function requireScope(key: VerifiedKey, scope: KeyScope): void {
  if (!key.key.scopes.includes(scope)) throw fail(403, AIRNOTIFIER_ERRORS.noPermission);
}

/**
 * One request of a Moodle site, checked as the partner API checks its own
 * (address ban, body size, key — a failure counts toward the ban —, the key's
 * IP ranges and rate), then the application name, the scope and the body.
 * `GET /` is not here: Hosting serves it.
 */
export async function handleAirNotifierRequest(req: Request, res: Response): Promise<void> {
  try {
    const ip = clientIp(req, "airnotifier");
    const refused = await admitRequest(ip, bodyBytes(req));
    if (refused) throw refusalError(refused);
    const route = routeOf(req.method, req.path);
    if (!route) throw fail(404, AIRNOTIFIER_ERRORS.notFound);
    const appName = req.get(AIRNOTIFIER_HEADERS.appName);
    if (!appName) throw fail(400, AIRNOTIFIER_ERRORS.appNameRequired);
    if (route.kind === "accesskeys") {
      if (appName !== MOODLE_APP_NAME.value()) throw fail(400, AIRNOTIFIER_ERRORS.invalidAppName);
      const { status, body } = await requestAccessKey(req, ip);
      res.status(status).json(body);
      return;
    }
    const secret = req.get(AIRNOTIFIER_HEADERS.appKey);
    if (!secret) throw fail(400, AIRNOTIFIER_ERRORS.appKeyRequired);
    const key = await authenticate(ip, secret);
    if (isRefusal(key)) throw refusalError(key);
    if (appName !== MOODLE_APP_NAME.value()) throw fail(400, AIRNOTIFIER_ERRORS.invalidAppName);
    const keyRefused = await checkKeyUse(key, ip, "moodle", MOODLE_KEY_RATE_PER_MINUTE.value());
    if (keyRefused) throw refusalError(keyRefused);
    if (route.kind === "token") {
      requireScope(key, "devices:write");
      res.status(200).json(await registerToken(req, key, route.token));
    } else {
      requireScope(key, "messages:send");
      await push(req, key);
      // AirNotifier's answer to a push: 202, no body (Moodle reads nothing else but a 404).
      res.status(202).send("");
    }
  } catch (err) {
    if (!(err instanceof AirNotifierError)) {
      // Never hand a stack trace or an internal message to a client.
      logger.error("airnotifier: request failed", { error: err instanceof Error ? err.message : String(err) });
      res.status(500).json({ error: "Something went wrong; try again later." });
      return;
    }
    if (err.retryAfterSeconds !== undefined) res.set("Retry-After", String(Math.max(1, Math.ceil(err.retryAfterSeconds))));
    res.status(err.status).json({ error: err.message });
  }
}

/** E1, "Request access key": off unless MOODLE_SELF_SERVICE_KEYS; then a key with Moodle's two scopes, a few per address per day. */
async function requestAccessKey(req: Request, ip: string): Promise<{ status: number; body: unknown }> {
  if (!MOODLE_SELF_SERVICE_KEYS.value()) {
    throw fail(
      403,
      `This server does not issue access keys on request. Ask its operator for one (npm run keys -- create --surface moodle --name "<site>" --scopes ${MOODLE_KEY_SCOPES.join(",")}) and enter it in the airnotifieraccesskey setting.`,
    );
  }
  const parsed = accessKeyRequest.safeParse(parseForm(req.get("content-type"), req.rawBody));
  if (!parsed.success) throw fail(400, "Invalid request: the form field url (the site's address) is required.");
  const limited = await takeAddressQuota(ip, "moodle-keys", MOODLE_KEYS_PER_ADDRESS_PER_DAY.value(), 86_400);
  if (limited !== undefined) throw fail(429, "This address was issued as many access keys as it may today; try again tomorrow.", limited);
  const { url, siteid } = parsed.data;
  // A tenant of its own: a key anyone may ask for reaches only the devices it registers itself.
  const key = await createKey({ name: `Moodle ${url}`.slice(0, 100), scopes: MOODLE_KEY_SCOPES, surface: "moodle" });
  logger.info("airnotifier: access key issued on request", { keyId: key.keyId, tenant: key.tenant, site: url, siteid: siteid ?? null, scopes: key.scopes });
  return { status: 200, body: { accesskey: key.secret, permission: key.scopes } };
}

/** The live device of a token for this key's site (devices/siteTokens.ts), a new one within the key's daily allowance. */
async function siteDevice(key: VerifiedKey, token: string, device: string | undefined) {
  const perDay = key.key.newDevicesPerDay ?? MOODLE_NEW_DEVICES_PER_KEY_PER_DAY.value();
  const result = await liveDeviceForToken(tenantOf(key), token, platformOf(device), () => newDeviceAllowance(key.keyId, perDay));
  if (result.kind === "limited") throw fail(429, "This access key registered as many new devices as it may today; try again tomorrow.", result.retryAfterSeconds);
  return result;
}

/** E2, the first push to a device: its token becomes a device of this site (or is found already held). */
async function registerToken(req: Request, key: VerifiedKey, token: string): Promise<{ status: string }> {
  const form = tokenRequest.safeParse(parseForm(req.get("content-type"), req.rawBody));
  // The check page's `testtoken` with an empty body lands here: 400 "Invalid token" tells it the key works.
  if (token === TEST_TOKEN || !tokenSchema.safeParse(token).success || !form.success) throw fail(400, AIRNOTIFIER_ERRORS.invalidToken);
  const result = await siteDevice(key, token, form.data.device);
  return { status: result.kind === "live" && result.created ? TOKEN_STATUS.created : TOKEN_STATUS.exists };
}

/** E3: Moodle gives up after 2 s, so this only writes the message and its recipient; the pipeline delivers. */
async function push(req: Request, key: VerifiedKey): Promise<void> {
  let json: unknown;
  try {
    json = JSON.parse(req.rawBody?.toString("utf8") ?? "");
  } catch {
    throw fail(400, AIRNOTIFIER_ERRORS.invalidPush);
  }
  const parsed = pushRequest.safeParse(json);
  if (!parsed.success) throw fail(400, parsed.error.issues[0]?.path[0] === "token" ? AIRNOTIFIER_ERRORS.invalidToken : AIRNOTIFIER_ERRORS.invalidPush);
  const device = await siteDevice(key, parsed.data.token, parsed.data.device);
  // Newer Moodle deletes the device on this answer; FCM already said the token is dead.
  if (device.kind === "dead") throw fail(404, AIRNOTIFIER_ERRORS.unregisteredToken);
  const { message, vars } = pushMessage(parsed.data);
  // A private message between two people: its text and fields go once it is delivered (sweep/private.ts).
  const messageId = await sendToDevice(keySender(key.keyId, tenantOf(key)), "moodle", message, device.deviceId, vars, { privateContent: true });
  logger.info("airnotifier: push accepted", { keyId: key.keyId, messageId, deviceId: device.deviceId, newDevice: device.created, dataOnly: message.dataOnly === true });
}
