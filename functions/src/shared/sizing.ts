/**
 * Every function's size, chosen on purpose (docs/deploy.md, "Function
 * sizes"): CPU, memory, how many requests one instance serves at once, its
 * time limit and how many instances it may grow to. One vCPU is the least
 * that allows more than one request per instance; the instance limits keep
 * a runaway (a retry storm, a flood of registrations) from spending more
 * than the Firestore and FCM quotas behind it can use anyway. Module state
 * shared by concurrent requests is limited to caches and counters updated
 * synchronously (the trigger's burst meter, the retirement guard's window,
 * the messaging client), which one-threaded Node.js keeps consistent.
 */

/**
 * Apps' callables: a few document reads and writes each, waiting on Firestore;
 * a morning of registrations across a district is the peak. The time limit
 * is above the worst case of a contended transaction (shared/transaction.ts:
 * the client library's five tries with backoff, started again up to four
 * times, about 40 s), so that a registration raced by others ends with its
 * own answer rather than a timeout.
 */
export const APP_CALLABLE = { cpu: 1, memory: "256MiB", concurrency: 80, timeoutSeconds: 60, maxInstances: 100 } as const;

/** Staff callables: reports, estimates and a send are small reads and one write; few staff at once. */
export const STAFF_CALLABLE = { cpu: 1, memory: "512MiB", concurrency: 40, timeoutSeconds: 60, maxInstances: 10 } as const;

/** Partner API and Moodle endpoints: one request is one or a few documents; Moodle sends one request per device, so many at once. */
export const KEYED_HTTP = { cpu: 1, memory: "512MiB", concurrency: 80, maxInstances: 50 } as const;

/** The per-recipient trigger: one document, perhaps one task, perhaps one inline batch (up to 500 FCM sends and their writes). */
export const RECIPIENT_TRIGGER = { cpu: 1, memory: "512MiB", concurrency: 40, timeoutSeconds: 120, maxInstances: 100 } as const;

/** The message trigger: starts an expansion (a few task enqueues). */
export const MESSAGE_TRIGGER = { cpu: 1, memory: "256MiB", concurrency: 40, timeoutSeconds: 60, maxInstances: 20 } as const;

/**
 * A dispatch task holds one batch of up to 500 payloads (~2 MB) and one
 * sendEach of 500 HTTP/2 streams for a second or two: 8 at once keep one
 * vCPU busy without starving the others' event loop, and 10 instances cover
 * the queue's 50 concurrent dispatches with room for a redeploy.
 */
export const DISPATCH_TASK = { cpu: 1, memory: "512MiB", concurrency: 8, maxInstances: 10 } as const;

/** An expansion part streams its devices and sends pages of 500 for up to two minutes: 4 parts share a vCPU; the queue runs 32 at once. */
export const EXPANSION_TASK = { cpu: 1, memory: "512MiB", concurrency: 4, maxInstances: 10 } as const;

/** A record task writes one page's 500 recipient documents in two commits: mostly waiting on Firestore. */
export const RECORD_TASK = { cpu: 1, memory: "512MiB", concurrency: 8, maxInstances: 10 } as const;

/**
 * A receipts tally: two count() aggregations and one small transaction,
 * waiting on Firestore; one task per message being acked per tally window,
 * so a few at once even in a morning of broadcasts.
 */
export const TALLY_TASK = { cpu: 1, memory: "256MiB", concurrency: 20, timeoutSeconds: 60, maxInstances: 5 } as const;

/** Scheduled and operational work (sweep, probe, resume): one run at a time, never two side by side. */
export const SINGLETON = { cpu: 1, concurrency: 1, maxInstances: 1 } as const;

/**
 * A webhook delivery: one HTTPS POST to a partner's server, waiting up to
 * 10 s on it, nearly no CPU. Many at once per instance; the instance limit
 * (with the queue's dispatch rate) keeps a slow or failing partner from
 * holding more than a bounded share of anything.
 */
export const WEBHOOK_DELIVERY_TASK = { cpu: 1, memory: "256MiB", concurrency: 40, timeoutSeconds: 30, maxInstances: 5 } as const;

/** A look at a watched message's report: a few small reads, a task enqueued; one per watched message every WEBHOOK_WATCH_SECONDS. */
export const WEBHOOK_WATCH_TASK = { cpu: 1, memory: "256MiB", concurrency: 20, timeoutSeconds: 120, maxInstances: 3 } as const;
