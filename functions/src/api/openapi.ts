import { z } from "zod";
import { batchImportInput, deleteDeviceResult, deviceIdSchema, importDeviceRow, importReport, registerDeviceResult, setUserAttributesResult, userAttributesBody } from "../devices/schema";
import { KEY_SCOPES, LIMITS, type KeyScope } from "../shared/contract";
import { REGION } from "../shared/region";
import { audienceRequestSchema, audienceSchema, cancelResult, messageRefInput, messageReport, recipientOutcome, sendMessageInput, sendResult, userIdSchema } from "../sending/schema";
import { API_ERRORS, apiErrorBody, type ApiErrorCode } from "./errors";
import { apiRegisterDeviceInput } from "./inputs";
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER } from "../webhooks/signature";
import {
  createdWebhook,
  createWebhookInput,
  deletedWebhook,
  deviceRetiredData,
  envelopeSchema,
  failedRecipientsData,
  receiptsData,
  WEBHOOKS_PER_KEY,
  webhookIdSchema,
  webhookList,
  type WebhookEvent,
} from "../webhooks/schema";

/**
 * The OpenAPI 3.1 description of `/v1`, served at `GET /v1/openapi.json` and
 * committed as docs/openapi.json (`npm run openapi`). Bodies, path parameters
 * and answers are JSON Schema 2020-12 generated from the zod schemas the
 * router validates with (zod's own `z.toJSONSchema`), so the document cannot
 * describe a field the API does not take; the paths, scopes and errors are
 * listed here, beside the router that answers them.
 */

const ERROR_HELP: Record<ApiErrorCode, string> = {
  "invalid-argument": "invalid JSON, or a field that fails validation (`field` names it)",
  unauthenticated: "missing, malformed, unknown, wrong, disabled or revoked key (one identical answer)",
  "permission-denied": "the key lacks the scope, is a Moodle key, was not migrated, or is used from outside its IP ranges",
  "not-found": "no such message or device of the key's tenant, or webhook of the key (another tenant's or key's is not found either)",
  "already-exists": "the idempotencyKey was used for a different message",
  "failed-precondition": "the device is another user's or another tenant's, or its token was reported dead by FCM and re-registered unchanged; or the key already has as many webhooks as it may",
  "payload-too-large": "the body is larger than the API allows",
  "rate-limited": "the address is banned after failed authentications, or the key is over its rate; see Retry-After",
  "resource-exhausted": "a limit of the service is reached; see the message",
  internal: "an unexpected failure; nothing to fix on the caller's side, try again later",
};

/** What every keyed request may be answered with, whatever its route (guards/access.ts, api/errors.ts). */
const GUARD_ERRORS: ApiErrorCode[] = ["invalid-argument", "unauthenticated", "permission-denied", "payload-too-large", "rate-limited", "internal"];

interface Operation {
  method: "get" | "post" | "put" | "delete";
  path: string;
  operationId: string;
  summary: string;
  /** The scopes a key needs, all of them; undefined: no key at all (public). */
  scopes?: KeyScope[];
  /** A note on scopes needed for some bodies only. */
  scopeNote?: string;
  params?: Record<string, z.ZodType>;
  body?: { name: string; schema: z.ZodType };
  ok: { status: number; name: string; schema: z.ZodType; description: string; also?: number };
  /** Errors beyond GUARD_ERRORS this route answers with. */
  errors: ApiErrorCode[];
}

const messageId = messageRefInput.shape.messageId;

const OPERATIONS: Operation[] = [
  {
    method: "post",
    path: "/v1/devices",
    operationId: "registerDevice",
    summary: "Registers (or refreshes) a device of one of the key's tenant's users.",
    scopes: ["devices:write"],
    body: { name: "RegisterDeviceRequest", schema: apiRegisterDeviceInput },
    ok: { status: 201, also: 200, name: "RegisterDeviceResult", schema: registerDeviceResult, description: "201: created; 200: the device was already registered and is refreshed." },
    errors: ["failed-precondition"],
  },
  {
    method: "post",
    path: "/v1/devices:batchImport",
    operationId: "importDevices",
    summary: `Imports up to ${LIMITS.importBatchMax} existing devices (tokens) of the key's tenant; reports every row.`,
    scopes: ["devices:import"],
    scopeNote: "Each device is checked on its own: a bad one is reported as `rejected` with the field and why, the others go in. A row whose token another live device of the tenant holds, or whose user already has DEVICES_PER_USER live devices, is rejected: an import displaces nothing. Without `deviceId`, the id is derived from the tenant and the token. Running the same import again reports `unchanged`.",
    // The rows' schema, as each is checked (the envelope itself takes any list, so one bad row rejects only itself).
    body: { name: "BatchImportRequest", schema: batchImportInput.extend({ devices: z.array(importDeviceRow).min(1).max(LIMITS.importBatchMax) }) },
    ok: { status: 200, name: "ImportReport", schema: importReport, description: "What became of each row, in row order (`row` is the 1-based position in `devices`), and the counts." },
    errors: [],
  },
  {
    method: "delete",
    path: "/v1/devices/{deviceId}",
    operationId: "deleteDevice",
    summary: "Deletes a device of the key's tenant.",
    scopes: ["devices:write"],
    params: { deviceId: deviceIdSchema },
    ok: { status: 200, name: "DeleteDeviceResult", schema: deleteDeviceResult, description: "The device is deleted." },
    errors: ["not-found"],
  },
  {
    method: "post",
    path: "/v1/messages",
    operationId: "sendMessage",
    summary: "Creates a message; the audience is expanded in the background.",
    scopes: ["messages:send"],
    scopeNote: "An audience other than `{ users }` or `{ devices }` (`{ all: true }`, `{ where }`) also needs `messages:broadcast`.",
    body: { name: "SendMessageRequest", schema: sendMessageInput },
    ok: { status: 201, name: "SendResult", schema: sendResult, description: "The message is created; `recipients` is null until its audience is expanded." },
    errors: ["already-exists"],
  },
  {
    method: "get",
    path: "/v1/messages/{messageId}",
    operationId: "getMessageReport",
    summary: "The report of a message the key sent.",
    scopes: ["messages:send"],
    params: { messageId },
    ok: { status: 200, name: "MessageReport", schema: messageReport, description: "State and per-status counts." },
    errors: ["not-found"],
  },
  {
    method: "get",
    path: "/v1/messages/{messageId}/devices/{deviceId}",
    operationId: "getRecipientStatus",
    summary: "What happened to one device for a message the key sent.",
    scopes: ["messages:send"],
    params: { messageId, deviceId: deviceIdSchema },
    ok: { status: 200, name: "RecipientOutcome", schema: recipientOutcome, description: "The device's outcome." },
    errors: ["not-found"],
  },
  {
    method: "post",
    path: "/v1/messages/{messageId}/cancel",
    operationId: "cancelMessage",
    summary: "Cancels what is not yet sent of a message the key sent.",
    scopes: ["messages:send"],
    params: { messageId },
    ok: { status: 200, name: "CancelResult", schema: cancelResult, description: "How many recipients are now cancelled." },
    errors: ["not-found"],
  },
  {
    method: "put",
    path: "/v1/users/{userId}/attributes",
    operationId: "setUserAttributes",
    summary: "Sets (merges) the school's attributes of a user of the key's tenant; `where` audiences match them.",
    scopes: ["users:write"],
    params: { userId: userIdSchema },
    body: { name: "UserAttributesRequest", schema: userAttributesBody },
    ok: { status: 200, name: "SetUserAttributesResult", schema: setUserAttributesResult, description: "The user's attributes after the change." },
    errors: [],
  },
  {
    method: "post",
    path: "/v1/webhooks",
    operationId: "createWebhook",
    summary: `Registers an endpoint the service POSTs signed events to (at most ${WEBHOOKS_PER_KEY} per key); the answer holds its signing secret, shown this once.`,
    scopes: ["webhooks:write"],
    scopeNote:
      "`message.*` events also need `messages:send` (they are about the key's own messages), `device.retired` needs `devices:write` or `devices:import` (it carries the tenant's device tokens). The URL must be `https://` and its host must resolve to public addresses only (checked now and at every delivery). See docs/webhooks.md for the events' bodies and the `Push-Signature` header.",
    body: { name: "CreateWebhookRequest", schema: createWebhookInput },
    ok: { status: 201, name: "CreatedWebhook", schema: createdWebhook, description: "The endpoint, with its signing secret (`whsec_…`): store it now, it is never shown again." },
    errors: ["failed-precondition"],
  },
  {
    method: "get",
    path: "/v1/webhooks",
    operationId: "listWebhooks",
    summary: "The key's own webhook endpoints (not those of other keys of its tenant), without their secrets.",
    scopes: ["webhooks:write"],
    ok: { status: 200, name: "WebhookList", schema: webhookList, description: "The key's endpoints, oldest first." },
    errors: [],
  },
  {
    method: "delete",
    path: "/v1/webhooks/{webhookId}",
    operationId: "deleteWebhook",
    summary: "Deletes one of the key's webhook endpoints; events not yet delivered to it are dropped.",
    scopes: ["webhooks:write"],
    params: { webhookId: webhookIdSchema },
    ok: { status: 200, name: "DeletedWebhook", schema: deletedWebhook, description: "The endpoint is deleted." },
    errors: ["not-found"],
  },
];

/**
 * The events the service POSTs to a registered endpoint (docs/webhooks.md):
 * each body's schema, as OpenAPI 3.1's `webhooks` describes them.
 */
export const WEBHOOK_EVENT_BODIES = {
  "message.done": { name: "MessageDoneEvent", schema: envelopeSchema("message.done", messageReport), summary: "A message of the key finished: `data` is its report, as `GET /v1/messages/{messageId}` answers it." },
  "message.failed-recipients": {
    name: "MessageFailedRecipientsEvent",
    schema: envelopeSchema("message.failed-recipients", failedRecipientsData),
    summary: "A finished message of the key had failed recipients: their count, and at most 100 of them.",
  },
  "message.receipts": { name: "MessageReceiptsEvent", schema: envelopeSchema("message.receipts", receiptsData), summary: "A message's receipts were tallied and grew: the totals so far, at most once per tally window." },
  "device.retired": { name: "DeviceRetiredEvent", schema: envelopeSchema("device.retired", deviceRetiredData), summary: "A device of the key's tenant was retired because FCM called its token dead." },
} satisfies Record<WebhookEvent, { name: string; schema: z.ZodType; summary: string }>;

type JsonSchema = Record<string, unknown>;

/**
 * JSON Schema 2020-12 of a zod schema: a request as the client writes it
 * (`input`: defaults optional, dates as strings), an answer as the API
 * writes it (`output`). The audience is checked by a transform that picks
 * its shape by key (for errors that name the field inside it); described,
 * it is the union of those shapes.
 */
function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const generated = z.toJSONSchema(schema, {
    io,
    override: (ctx) => {
      if (ctx.zodSchema === audienceSchema) Object.assign(ctx.jsonSchema, jsonSchema(audienceRequestSchema, "input"));
    },
  }) as JsonSchema;
  // The dialect is the document's (OpenAPI 3.1: JSON Schema 2020-12), not each schema's.
  delete generated.$schema;
  return generated;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const pascal = (code: string) => code.replace(/(^|-)([a-z])/g, (_match, _dash: string, letter: string) => letter.toUpperCase());

/**
 * The error answers of one route, one per status, each listing the codes it
 * may carry; the answers themselves are kept once in `components.responses`.
 */
function errorResponses(codes: ApiErrorCode[], shared: Record<string, unknown>): Record<string, unknown> {
  const byStatus = new Map<number, ApiErrorCode[]>();
  for (const code of codes) byStatus.set(API_ERRORS[code], [...(byStatus.get(API_ERRORS[code]) ?? []), code]);
  const responses: Record<string, unknown> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    const name = list.map(pascal).join("Or");
    const body = apiErrorBody.extend({ error: apiErrorBody.shape.error.extend({ code: z.enum(list as [ApiErrorCode, ...ApiErrorCode[]]) }) });
    shared[name] ??= {
      description: list.map((code) => `\`${code}\`: ${ERROR_HELP[code]}`).join("; "),
      ...(status === 429 && { headers: { "Retry-After": { description: "Seconds to wait before trying again.", schema: { type: "integer", minimum: 1 } } } }),
      content: { "application/json": { schema: jsonSchema(body, "output") } },
    };
    responses[String(status)] = { $ref: `#/components/responses/${name}` };
  }
  return responses;
}

function operationObject(op: Operation, schemas: Record<string, JsonSchema>, errors: Record<string, unknown>): Record<string, unknown> {
  if (op.body) schemas[op.body.name] = jsonSchema(op.body.schema, "input");
  schemas[op.ok.name] = jsonSchema(op.ok.schema, "output");
  const okResponse = { description: op.ok.description, content: { "application/json": { schema: ref(op.ok.name) } } };
  const scopes = op.scopes ?? [];
  return {
    operationId: op.operationId,
    summary: op.summary,
    ...(op.scopes && { description: `Needs a partner API key with the scope${scopes.length > 1 ? "s" : ""} ${scopes.map((s) => `\`${s}\``).join(", ")}.${op.scopeNote ? ` ${op.scopeNote}` : ""}` }),
    security: op.scopes ? [{ accessKey: [] }] : [],
    ...(op.params && {
      parameters: Object.entries(op.params).map(([name, schema]) => ({ name, in: "path", required: true, schema: jsonSchema(schema, "input") })),
    }),
    ...(op.body && { requestBody: { required: true, content: { "application/json": { schema: ref(op.body.name) } } } }),
    responses: {
      [String(op.ok.status)]: okResponse,
      ...(op.ok.also !== undefined && { [String(op.ok.also)]: okResponse }),
      ...errorResponses([...new Set([...GUARD_ERRORS, ...op.errors])], errors),
    },
  };
}

/** The path of the document itself, which needs no key. */
export const OPENAPI_PATH = "/v1/openapi.json";

export function openApiDocument(): Record<string, unknown> {
  const schemas: Record<string, JsonSchema> = {};
  const responses: Record<string, unknown> = {};
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) (paths[op.path] ??= {})[op.method] = operationObject(op, schemas, responses);
  paths[OPENAPI_PATH] = {
    get: {
      operationId: "getOpenApi",
      summary: "This document.",
      security: [],
      responses: { "200": { description: "The OpenAPI 3.1 description of /v1.", content: { "application/json": { schema: { type: "object" } } } } },
    },
  };
  const webhooks: Record<string, unknown> = {};
  for (const [type, event] of Object.entries(WEBHOOK_EVENT_BODIES)) {
    schemas[event.name] = jsonSchema(event.schema, "output");
    webhooks[type] = {
      post: {
        operationId: `${type.replace(/[.-](\w)/g, (_match, letter: string) => letter.toUpperCase())}Event`,
        summary: event.summary,
        description: `Sent to endpoints registered with \`POST /v1/webhooks\` for \`${type}\`. Verify \`${SIGNATURE_HEADER}\` (HMAC-SHA-256 of \`<t>.<raw body>\` with the endpoint's secret) and de-duplicate by \`${EVENT_ID_HEADER}\`; see docs/webhooks.md.`,
        parameters: [
          { name: SIGNATURE_HEADER, in: "header", required: true, description: "`t=<unix seconds>,v1=<hex HMAC-SHA-256 of <t>.<raw body>>`", schema: { type: "string" } },
          { name: EVENT_ID_HEADER, in: "header", required: true, description: "The body's `id`: the same on every retry.", schema: { type: "string" } },
          { name: EVENT_TYPE_HEADER, in: "header", required: true, description: "The body's `type`.", schema: { type: "string", const: type } },
        ],
        requestBody: { required: true, content: { "application/json": { schema: ref(event.name) } } },
        responses: { "2XX": { description: "Taken; any other answer, or none within 10 s, is retried (for 26 hours)." } },
      },
    };
  }
  return {
    openapi: "3.1.1",
    info: {
      title: "Push service partner API",
      version: "1",
      description: [
        "The HTTPS API for partner servers: JSON in and out, one access key per partner in `Authorization: Bearer <key>`.",
        "A key works on `/v1` only if it was created with `--surface api`; it reaches its own tenant's users and devices only, and sees only the messages it sent.",
        "Any other path or method is 404 `not-found`. Every error is `{ error: { code, message, field? } }`.",
        `Scopes: ${KEY_SCOPES.map((s) => `\`${s}\``).join(", ")}.`,
      ].join("\n\n"),
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    servers: [
      {
        url: `https://${REGION}-{project}.cloudfunctions.net/api`,
        description: "The `api` function of a deployed project.",
        variables: { project: { default: "your-project", description: "The Firebase project id." } },
      },
    ],
    security: [{ accessKey: [] }],
    paths,
    webhooks,
    components: {
      securitySchemes: {
        accessKey: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "pk_<keyId>_<secret>",
          description: "An access key from `npm run keys -- create --surface api …`: `Authorization: Bearer pk_<16 hex>_<43 base64url characters>`.",
        },
      },
      schemas,
      responses,
    },
  };
}
