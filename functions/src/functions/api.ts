import { onRequest } from "firebase-functions/v2/https";
import { handleApiRequest } from "../api/router";

/** The HTTPS API for partner servers: `/v1/devices`, `/v1/messages`, with access keys. */
export const api = onRequest({ invoker: "public", timeoutSeconds: 540, memory: "512MiB" }, handleApiRequest);
