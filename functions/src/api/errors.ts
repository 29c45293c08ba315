import type { Response } from "express";
import { HttpsError } from "firebase-functions/v2/https";
import { logger } from "firebase-functions";
import { z } from "zod";

/**
 * Every error code the HTTPS API answers with, and its HTTP status: the one
 * list the router, the error body and the OpenAPI document (api/openapi.ts) read.
 * The services' HttpsError codes keep their own name on the wire.
 */
export const API_ERRORS = {
  "invalid-argument": 400,
  unauthenticated: 401,
  "permission-denied": 403,
  "not-found": 404,
  "already-exists": 409,
  "failed-precondition": 409,
  "payload-too-large": 413,
  "rate-limited": 429,
  "resource-exhausted": 429,
  internal: 500,
} as const;
export type ApiErrorCode = keyof typeof API_ERRORS;
export const API_ERROR_CODES = Object.keys(API_ERRORS) as [ApiErrorCode, ...ApiErrorCode[]];

/** The body of every answer other than success. */
export const apiErrorBody = z.strictObject({
  error: z.strictObject({
    code: z.enum(API_ERROR_CODES),
    message: z.string(),
    /** The failing field of a 400 (or of a service's refusal), as a dotted path: `audience.users.3`. */
    field: z.string().optional(),
  }),
});
export type ApiErrorBody = z.infer<typeof apiErrorBody>;

/** An answer of the HTTPS API other than success: `{ error: { code, message, field? } }`, with the code's status. */
export class ApiError extends Error {
  readonly status: number;

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly field?: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.status = API_ERRORS[code];
  }
}

/** Missing, malformed, unknown, wrong, disabled and revoked keys all get exactly this. */
export const unauthenticated = () => new ApiError("unauthenticated", "A valid access key is required: Authorization: Bearer <key>.");

const isApiErrorCode = (code: string): code is ApiErrorCode => Object.hasOwn(API_ERRORS, code);

/** The services speak HttpsError (shared with the callables); the API answers with the same code and message. */
function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof HttpsError && isApiErrorCode(err.code) && err.code !== "internal") {
    const details = err.details as { field?: unknown } | undefined;
    return new ApiError(err.code, err.message, typeof details?.field === "string" ? details.field : undefined);
  }
  // Never hand a stack trace or an internal message to a client.
  logger.error("api: request failed", { error: err instanceof Error ? err.message : String(err) });
  return new ApiError("internal", "Something went wrong; try again later.");
}

export function sendError(res: Response, err: unknown): void {
  const error = toApiError(err);
  if (error.retryAfterSeconds !== undefined) res.set("Retry-After", String(Math.max(1, Math.ceil(error.retryAfterSeconds))));
  const body: ApiErrorBody = { error: { code: error.code, message: error.message, ...(error.field !== undefined && { field: error.field }) } };
  res.status(error.status).json(body);
}
