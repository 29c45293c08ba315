import type { Response } from "express";
import type { Request } from "firebase-functions/v2/https";
import { logger } from "firebase-functions";
import { z } from "zod";
import { setUserAttributes } from "../devices/attributes";
import { importDevices } from "../devices/import";
import { batchImportInput, registerDeviceInput, userAttributesBody, type SetUserAttributesResult } from "../devices/schema";
import { isTenantShaped, tenantOwner } from "../devices/owner";
import { registerDevice, removeTenantDevice } from "../devices/service";
import { tenantOf, type VerifiedKey } from "../keys/service";
import { describeZodError } from "../shared/callable";
import { APP_TENANT, type KeyScope } from "../shared/contract";
import { API_IMPORT_MAX_BODY_BYTES } from "../shared/params";
import { cancelMessage } from "../sending/cancel";
import { messageReport } from "../sending/report";
import { keySender } from "../sending/sender";
import { lookupRecipient } from "../sending/lookup";
import { messageRefInput, recipientLookupInput, sendMessageInput } from "../sending/schema";
import { sendMessage } from "../sending/send";
import { admitRequest, authenticate, bodyBytes, checkKeyUse, isRefusal, type Refusal } from "../guards/access";
import { clientIp } from "../guards/clientIp";
import { ApiError, sendError, unauthenticated } from "./errors";
import { apiRegisterDeviceInput, userAttributesPath } from "./inputs";
import { OPENAPI_PATH, openApiDocument } from "./openapi";
import { createWebhookInput, webhookIdSchema } from "../webhooks/schema";
import { createWebhook, deleteWebhook, listWebhooks } from "../webhooks/service";


interface Context {
  req: Request;
  key: VerifiedKey;
  /** Path segments after `/v1`. */
  segments: string[];
}

/**
 * The request body, parsed from the raw bytes rather than taken from
 * `req.body`: the platform's parser only runs for `Content-Type:
 * application/json`, and a body sent as anything else should still mean the
 * same thing (or fail with our JSON error, not an empty object).
 */
function jsonBody(req: Request): unknown {
  const raw = req.rawBody?.toString("utf8") ?? "";
  if (raw.trim() === "") return {};
  try {
    return JSON.parse(raw);
  } catch {
    throw new ApiError("invalid-argument", "The body is not valid JSON.");
  }
}

function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const { field, message } = describeZodError(parsed.error);
    throw new ApiError("invalid-argument", message, field);
  }
  return parsed.data;
}

function requireScope(context: Context, scope: KeyScope): void {
  if (!context.key.key.scopes.includes(scope)) throw new ApiError("permission-denied", `This key lacks the "${scope}" scope.`);
}

/** Devices of the apps' users come only from the signed-in app: a key of tenant "app" sends to them and nothing else. */
function requireDeviceTenant(context: Context, scope: "devices:write" | "devices:import" = "devices:write"): string {
  requireScope(context, scope);
  const tenant = tenantOf(context.key);
  if (tenant === APP_TENANT) throw new ApiError("permission-denied", `A key of tenant "${APP_TENANT}" cannot register or delete devices: the apps' users register their own.`);
  return tenant;
}

/**
 * The stored id of a user of the key's tenant whose attributes it may set
 * (`users:write`). A key of tenant "app" (a district's SIS, its roster job)
 * sets the apps' users' attributes by uid; a uid never has the form
 * `<tenant>:<id>`, so such an id would name another tenant's user and is refused.
 */
function requireUserOfTenant(context: Context, rawUserId: string): { tenant: string; userId: string } {
  requireScope(context, "users:write");
  const { userId } = parse(userAttributesPath, { userId: rawUserId });
  const tenant = tenantOf(context.key);
  if (tenant === APP_TENANT && isTenantShaped(userId)) {
    throw new ApiError("invalid-argument", `Invalid "userId": an app user's id never has the form "<tenant>:<id>".`, "userId");
  }
  return tenantOwner(tenant, userId);
}

/** Anything but a list of users or devices can reach a whole tenant: that is a broadcast. */
function requireAudienceScope(context: Context, audience: object): void {
  if (!("users" in audience) && !("devices" in audience)) requireScope(context, "messages:broadcast");
}

type Handler = (context: Context) => Promise<{ status: number; body: unknown }>;

/** `POST /v1/devices:batchImport`: a custom method on the devices collection, as Google's APIs name them. */
const IMPORT_RESOURCE = "devices:batchImport";

const notFound = () => new ApiError("not-found", "No such route.");

/** Routes by method and path (`/v1/...`); anything else is 404. */
function route(method: string, segments: string[]): Handler | undefined {
  const [resource, id, action, deviceId, ...rest] = segments;
  if (rest.length > 0 || (deviceId !== undefined && action !== "devices")) return undefined;
  if (resource === IMPORT_RESOURCE && id === undefined && method === "POST") {
    return async (c) => {
      const tenant = requireDeviceTenant(c, "devices:import");
      const { devices, dryRun = false } = parse(batchImportInput, jsonBody(c.req));
      const report = await importDevices(tenant, devices.map((value, index) => ({ row: index + 1, value })), { dryRun });
      logger.info("api: devices imported", { keyId: c.key.keyId, tenant, dryRun, ...report.counts });
      return { status: 200, body: report };
    };
  }
  if (resource === "devices") {
    if (method === "POST" && id === undefined) {
      return async (c) => {
        const tenant = requireDeviceTenant(c);
        const { userId, ...device } = parse(apiRegisterDeviceInput, jsonBody(c.req));
        const result = await registerDevice(tenantOwner(tenant, userId), device);
        return { status: result.created ? 201 : 200, body: result };
      };
    }
    if (method === "DELETE" && id !== undefined && action === undefined) {
      return async (c) => {
        const tenant = requireDeviceTenant(c);
        const { deviceId } = parse(registerDeviceInput.pick({ deviceId: true }), { deviceId: id });
        return { status: 200, body: await removeTenantDevice(tenant, deviceId) };
      };
    }
  }
  if (resource === "users" && id !== undefined && action === "attributes" && method === "PUT") {
    return async (c) => {
      const owner = requireUserOfTenant(c, id);
      const { attributes: changes } = parse(userAttributesBody, jsonBody(c.req));
      const { attributes, devices } = await setUserAttributes(owner, changes, keySender(c.key.keyId, owner.tenant).senderId);
      const body: SetUserAttributesResult = { userId: id, attributes, devices };
      return { status: 200, body };
    };
  }
  if (resource === "messages") {
    if (method === "POST" && id === undefined) {
      return async (c) => {
        requireScope(c, "messages:send");
        const input = parse(sendMessageInput, jsonBody(c.req));
        requireAudienceScope(c, input.audience);
        if (input.urgency === "emergency") requireScope(c, "messages:emergency");
        const result = await sendMessage(keySender(c.key.keyId, tenantOf(c.key), c.key.key.scopes.includes("messages:emergency")), input);
        return { status: 201, body: result };
      };
    }
    if (method === "GET" && id !== undefined && action === undefined) {
      return async (c) => {
        requireScope(c, "messages:send");
        const { messageId } = parse(messageRefInput, { messageId: id });
        return { status: 200, body: await messageReport(keySender(c.key.keyId, tenantOf(c.key)), messageId) };
      };
    }
    if (method === "GET" && id !== undefined && action === "devices" && deviceId !== undefined) {
      return async (c) => {
        requireScope(c, "messages:send");
        const input = parse(recipientLookupInput, { messageId: id, deviceId });
        return { status: 200, body: await lookupRecipient(keySender(c.key.keyId, tenantOf(c.key)), input.messageId, input.deviceId) };
      };
    }
    if (method === "POST" && id !== undefined && action === "cancel") {
      return async (c) => {
        requireScope(c, "messages:send");
        const { messageId } = parse(messageRefInput, { messageId: id });
        return { status: 200, body: await cancelMessage(keySender(c.key.keyId, tenantOf(c.key)), messageId) };
      };
    }
  }
  if (resource === "webhooks" && action === undefined) {
    // A key manages its own endpoints only (webhooks/service.ts); another key's id is not found.
    if (method === "POST" && id === undefined) {
      return async (c) => {
        requireScope(c, "webhooks:write");
        const input = parse(createWebhookInput, jsonBody(c.req));
        return { status: 201, body: await createWebhook({ keyId: c.key.keyId, tenant: tenantOf(c.key), scopes: c.key.key.scopes }, input) };
      };
    }
    if (method === "GET" && id === undefined) {
      return async (c) => {
        requireScope(c, "webhooks:write");
        return { status: 200, body: { webhooks: await listWebhooks(c.key.keyId) } };
      };
    }
    if (method === "DELETE" && id !== undefined) {
      return async (c) => {
        requireScope(c, "webhooks:write");
        const webhookId = parse(z.object({ webhookId: webhookIdSchema }), { webhookId: id }).webhookId;
        return { status: 200, body: await deleteWebhook(c.key.keyId, webhookId) };
      };
    }
  }
  return undefined;
}

/** The bearer secret, or undefined when the header is missing or not a bearer. */
function bearer(req: Request): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get("authorization") ?? "");
  return match?.[1];
}

/** A guard's refusal as the partner API says it. */
function refusalError(refusal: Refusal): ApiError {
  switch (refusal.kind) {
    case "banned":
      return new ApiError("rate-limited", "Too many failed authentications from this address; try again later.", undefined, refusal.retryAfterSeconds);
    case "too-large":
      return new ApiError("payload-too-large", `The body is larger than ${refusal.maxBytes} bytes.`);
    case "bad-key":
      return unauthenticated();
    case "wrong-surface":
      return new ApiError("permission-denied",
        refusal.keySurface === null
          ? "This key was made before keys had surfaces and tenants; the operator must migrate it (npm run keys -- migrate) before it works again."
          : "This key is for the Moodle (AirNotifier) endpoints, not the partner API.",
      );
    case "address-not-allowed":
      return new ApiError("permission-denied", "This key may not be used from this address.");
    case "rate":
      return new ApiError("rate-limited", "This key made too many requests; slow down.", undefined, refusal.retryAfterSeconds);
  }
}

let openApi: Record<string, unknown> | undefined;
/** Built on the first request for it, then kept: it depends on the code alone. */
function servedDocument(): Record<string, unknown> {
  openApi ??= openApiDocument();
  return openApi;
}

/**
 * One request of the partner API, checked in this order: a banned IP is
 * refused before anything else is looked at; then the body size; then the
 * key (a failure counts toward the IP's ban); the key's surface (a Moodle
 * key is refused here), IP ranges and rate; the route; the scope; the body.
 * Everything a key does stays within its tenant.
 */
export async function handleApiRequest(req: Request, res: Response): Promise<void> {
  // Public documentation, the same for everyone: no key, and nothing read or counted for it.
  if (req.method === "GET" && req.path === OPENAPI_PATH) {
    res.status(200).json(servedDocument());
    return;
  }
  try {
    const ip = clientIp(req, "api");
    const refused = await admitRequest(ip, bodyBytes(req), req.path === `/v1/${IMPORT_RESOURCE}` ? API_IMPORT_MAX_BODY_BYTES.value() : undefined);
    if (refused) throw refusalError(refused);
    const key = await authenticate(ip, bearer(req));
    if (isRefusal(key)) throw refusalError(key);
    const keyRefused = await checkKeyUse(key, ip, "api");
    if (keyRefused) throw refusalError(keyRefused);

    const segments = req.path.split("/").filter(Boolean);
    if (segments[0] !== "v1") throw notFound();
    let decoded: string[];
    try {
      decoded = segments.slice(1).map(decodeURIComponent);
    } catch {
      throw notFound();
    }
    const handler = route(req.method, decoded);
    if (!handler) throw notFound();
    const { status, body } = await handler({ req, key, segments: segments.slice(1) });
    res.status(status).json(body);
  } catch (err) {
    sendError(res, err);
  }
}
