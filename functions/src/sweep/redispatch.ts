import { enqueueRedispatch, windowOf } from "../delivery/tasks";

/**
 * Enqueues the sweep's dispatch tasks, one per message, shard and dispatch
 * window — the trigger's scheme under another id prefix. A task is scheduled
 * for the end of its window, so a task that already exists under this id has
 * not run yet and will see every recipient made pending before the enqueue;
 * a later window gets a new task. Two overlapping sweeps therefore share
 * tasks, and a spare task costs nothing more than a query: claims are
 * transactional, so nothing is sent twice.
 */
export class Redispatcher {
  private readonly asked = new Set<string>();
  /** Tasks actually created (an id that already existed does not count). */
  tasksEnqueued = 0;

  constructor(
    private readonly windowSeconds: number,
    /** The dispatch's shard count (DISPATCH_SHARDS), which decides a recipient's shard. */
    readonly shards: number,
    /** Task-id prefix: the sweep's ("s") and a resume's ("u") never share ids. */
    private readonly prefix: "s" | "u" = "s",
  ) {}

  async dispatch(messageId: string, shard: number): Promise<void> {
    const { window, delaySeconds } = windowOf(Date.now(), this.windowSeconds);
    const key = `${messageId}/${shard}/${window}`;
    if (this.asked.has(key)) return;
    if (await enqueueRedispatch(this.prefix, messageId, shard, window, delaySeconds)) this.tasksEnqueued += 1;
    this.asked.add(key);
  }
}
