import { onRequest } from "firebase-functions/v2/https";
import { handleApiRequest } from "../api/router";
import { KEYED_HTTP } from "../shared/sizing";

/** The HTTPS API for partner servers: `/v1/devices`, `/v1/messages`, with access keys. */
export const api = onRequest({ invoker: "public", ...KEYED_HTTP, timeoutSeconds: 540 }, handleApiRequest);
