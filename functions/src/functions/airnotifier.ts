import { onRequest } from "firebase-functions/v2/https";
import { handleAirNotifierRequest } from "../moodle/handler";
import { KEYED_HTTP } from "../shared/sizing";

/** The AirNotifier-compatible endpoints a Moodle site calls, served at the root of the Hosting origin (`/accesskeys/`, `/tokens/…`, `/api/v2/push/`). */
export const airnotifier = onRequest({ invoker: "public", ...KEYED_HTTP, timeoutSeconds: 60 }, handleAirNotifierRequest);
