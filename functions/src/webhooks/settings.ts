/**
 * `host:port`s a webhook may point at although they are local (http allowed,
 * no address rules): the local stack's receiver on 127.0.0.1. It is not a
 * param and cannot be deployed: it is read from the environment the local
 * stack gives the Functions emulator (`WEBHOOK_LOCAL_TARGETS`, set by
 * tools/stack.ts) and only when the functions run inside the emulator, so a
 * deployed function always applies the address rules in full; `npm run
 * preflight` refuses a functions/.env file that sets it.
 */
export function localTargets(): string[] {
  if (process.env.FUNCTIONS_EMULATOR !== "true") return [];
  return (process.env.WEBHOOK_LOCAL_TARGETS ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
}
