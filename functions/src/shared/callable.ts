import type { Response } from "express";
import { HttpsError, onCall, type CallableOptions, type CallableRequest, type Request } from "firebase-functions/v2/https";
import type { z } from "zod";
import { logger } from "firebase-functions";
import { APP_CHECK_ENFORCED } from "./params";

export interface Caller {
  uid: string;
  claims: Record<string, unknown>;
}

/** The first problem zod found, as a field path and a sentence a developer can act on. */
export function describeZodError(error: z.ZodError): { field: string; message: string } {
  const issue = error.issues[0];
  if (!issue) return { field: "", message: "Invalid input." };
  if (issue.code === "unrecognized_keys") {
    const field = [...issue.path.map(String), issue.keys[0] ?? ""].filter(Boolean).join(".");
    return { field, message: `Unknown field "${field}".` };
  }
  const field = issue.path.map(String).join(".");
  return { field, message: field ? `Invalid "${field}": ${issue.message}` : issue.message };
}

/** Deeper than any input of ours nests; the scan stops there (zod refuses what lies beyond). */
const MAX_SCAN_DEPTH = 32;

/**
 * The path of the first own `__proto__` key in the request as parsed from
 * JSON. The callable protocol's decoder copies keys by assignment, so such a
 * key silently becomes the object's prototype: the field vanishes from the
 * data (or its contents show up as inherited fields). Read from the raw body,
 * it is refused as the unknown field it is.
 */
export function ownProtoKeyPath(value: unknown, path: string[] = []): string | undefined {
  if (value === null || typeof value !== "object" || path.length > MAX_SCAN_DEPTH) return undefined;
  if (!Array.isArray(value) && Object.prototype.hasOwnProperty.call(value, "__proto__")) return [...path, "__proto__"].join(".");
  for (const [key, child] of Object.entries(value)) {
    const found = ownProtoKeyPath(child, [...path, key]);
    if (found) return found;
  }
  return undefined;
}

/** The typed values the callable protocol knows: 64-bit integers, as the Android and Apple SDKs send a Long. */
const DECODABLE_TYPES = new Set(["type.googleapis.com/google.protobuf.Int64Value", "type.googleapis.com/google.protobuf.UInt64Value"]);

/**
 * The path of the first object in the request that the callable protocol's
 * decoder cannot read: one with an `@type` other than a 64-bit integer, or a
 * 64-bit integer whose `value` is not a number. firebase-functions throws on
 * it before any code of ours runs, so the caller would get `internal` (and
 * the decoder would log the whole object, tokens included).
 */
export function undecodablePath(value: unknown, path: string[] = []): string | undefined {
  if (value === null || typeof value !== "object" || path.length > MAX_SCAN_DEPTH) return undefined;
  if (!Array.isArray(value)) {
    const typed = value as Record<string, unknown>;
    if (typed["@type"]) {
      const ok = typeof typed["@type"] === "string" && DECODABLE_TYPES.has(typed["@type"]) && !Number.isNaN(parseFloat(String(typed.value)));
      return ok ? undefined : [...path, "@type"].join(".");
    }
  }
  for (const [key, child] of Object.entries(value)) {
    const found = undecodablePath(child, [...path, key]);
    if (found) return found;
  }
  return undefined;
}

/**
 * Refuses a request the callable protocol cannot decode as `invalid-argument`
 * naming the field, in the protocol's own error shape, before handing every
 * other request to the callable. The wrapper carries the callable's
 * deployment description (`__endpoint`, `__trigger`, `run`) unchanged.
 */
function refusingUndecodable<F extends (req: Request, res: Response) => unknown>(callable: F): F {
  const guarded = (req: Request, res: Response) => {
    const field = req.method === "POST" ? undecodablePath((req.body as { data?: unknown } | undefined)?.data) : undefined;
    if (field === undefined) return callable(req, res);
    const origin = req.header("origin");
    if (origin) res.set({ "Access-Control-Allow-Origin": origin, Vary: "Origin" });
    res.status(400).json({ error: { status: "INVALID_ARGUMENT", message: `Invalid "${field}": not a value this function accepts.`, details: { field } } });
    return undefined;
  };
  for (const key of Object.getOwnPropertyNames(callable)) {
    if (key in guarded && !["__endpoint", "__trigger", "run", "stream"].includes(key)) continue;
    Object.defineProperty(guarded, key, Object.getOwnPropertyDescriptor(callable, key)!);
  }
  return guarded as unknown as F;
}

/** A callable's options; `appCheck` marks one the apps call, refused without an App Check token while APP_CHECK_ENFORCED is on. */
export interface CallableSettings extends CallableOptions {
  appCheck?: boolean;
}

/**
 * An `onCall` function that requires a signed-in caller and parses its input
 * with a zod schema: a parse failure becomes `invalid-argument` naming the
 * field, before the handler runs, so bad input changes nothing.
 *
 * App Check is checked here rather than with the SDK's `enforceAppCheck`,
 * which refuses with a bare "Unauthenticated": firebase-functions verifies
 * the token either way (`request.app` is set only for a valid one) and the
 * caller is told what is missing.
 */
export function validatedOnCall<S extends z.ZodType, R>(
  schema: S,
  handler: (data: z.infer<S>, caller: Caller, request: CallableRequest<unknown>) => Promise<R>,
  { appCheck = false, ...options }: CallableSettings = {},
) {
  return refusingUndecodable(onCall<unknown, Promise<R>>(options, async (request) => {
    if (appCheck && APP_CHECK_ENFORCED.value() && !request.app?.appId) {
      throw new HttpsError("unauthenticated", "This app did not prove it is genuine: call with a valid Firebase App Check token (the X-Firebase-AppCheck header, which Firebase's client SDKs send once App Check is initialized).", { reason: "app-check" });
    }
    if (!request.auth) {
      throw new HttpsError("unauthenticated", "Sign in to call this function.");
    }
    const raw: unknown = (request.rawRequest?.body as { data?: unknown } | undefined)?.data;
    const protoKey = ownProtoKeyPath(raw);
    if (protoKey !== undefined) throw new HttpsError("invalid-argument", `Unknown field "${protoKey}".`, { field: protoKey });
    const parsed = schema.safeParse(request.data ?? {});
    if (!parsed.success) {
      const { field, message } = describeZodError(parsed.error);
      throw new HttpsError("invalid-argument", message, { field });
    }
    try {
      return await handler(parsed.data, { uid: request.auth.uid, claims: request.auth.token }, request);
    } catch (err) {
      if (err instanceof HttpsError) throw err;
      // Never hand a stack trace or an internal message to a client.
      logger.error("callable failed", { error: err instanceof Error ? err.message : String(err) });
      throw new HttpsError("internal", "Something went wrong; try again later.");
    }
  }));
}
