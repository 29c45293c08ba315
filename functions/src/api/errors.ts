import type { Response } from "express";
import { HttpsError } from "firebase-functions/v2/https";
import { logger } from "firebase-functions";

/** An answer of the HTTPS API other than success: `{ error: { code, message, field? } }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** Missing, malformed, unknown, wrong, disabled and revoked keys all get exactly this. */
export const unauthenticated = () => new ApiError(401, "unauthenticated", "A valid access key is required: Authorization: Bearer <key>.");

const HTTP_OF: Partial<Record<HttpsError["code"], number>> = {
  "invalid-argument": 400,
  "failed-precondition": 409,
  "already-exists": 409,
  "not-found": 404,
  "permission-denied": 403,
  unauthenticated: 401,
  "resource-exhausted": 429,
};

/** The services speak HttpsError (shared with the callables); the API answers with the same code and message. */
function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof HttpsError) {
    const status = HTTP_OF[err.code];
    if (status) {
      const details = err.details as { field?: unknown } | undefined;
      return new ApiError(status, err.code, err.message, typeof details?.field === "string" ? details.field : undefined);
    }
  }
  // Never hand a stack trace or an internal message to a client.
  logger.error("api: request failed", { error: err instanceof Error ? err.message : String(err) });
  return new ApiError(500, "internal", "Something went wrong; try again later.");
}

export function sendError(res: Response, err: unknown): void {
  const error = toApiError(err);
  if (error.retryAfterSeconds !== undefined) res.set("Retry-After", String(Math.max(1, Math.ceil(error.retryAfterSeconds))));
  res.status(error.status).json({ error: { code: error.code, message: error.message, ...(error.field !== undefined && { field: error.field }) } });
}
