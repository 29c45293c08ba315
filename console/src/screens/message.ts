import { statusGroup, type CounterDoc } from "../../../functions/src/contract";
import { callableProblem, cancelMessage, failedRecipients, messageReport, recipientStatus, resendFailed, watchMessage, type FailedRecipient, type MessageView, type Page, type ReceiptCounts, type Staff } from "../firebase";
import { bothZones, h } from "../dom";
import type { Cleanup } from "../main";
import { GROUP_LABELS, progressOf, type Progress } from "../progress";
import { funnelSection } from "./funnel";
import { languagesSection } from "./messageLanguages";

const FAILED_PAGE = 10;

/**
 * A message's page: state, counts by status and a progress bar, live from the
 * message document and its counter documents (never from the recipients);
 * the receipts' funnel (screens/funnel.ts); failed recipients a page at a
 * time; cancel and resend.
 */
export function renderMessage(main: HTMLElement, staff: Staff, messageId: string): Cleanup {
  const heading = h("h1", {}, "Message");
  const stateWord = h("strong", { class: "state" }, "…");
  const details = h("dl", { class: "details" });
  const countsList = h("dl", { class: "counts" });
  const bar = h("progress", { max: 1, value: 0, "aria-label": "Delivery progress" });
  const barText = h("span", { class: "count" });
  const urgencyBadge = h("span", { class: "badge emergency", hidden: true }, "Emergency");
  // Pending recipients waiting for their device's local time or quiet hours to end (the report's `held`).
  const heldLine = h("p", { class: "held hint", role: "status", hidden: true });
  const actionProblem = h("p", { class: "error", role: "alert" });
  const cancel = h("button", { type: "button", class: "danger", hidden: true }, "Cancel message");
  const resend = h("button", { type: "button", hidden: true }, "Resend to the failed");
  const failedSection = h("section", { class: "card", hidden: true }, h("h2", {}, "Failed recipients"));
  const failedBody = h("div", {});
  failedSection.append(failedBody);
  const body = h("p", { class: "message-body" });
  const funnel = funnelSection(messageId);
  const languages = languagesSection(messageId);
  const lookupInput = h("input", { type: "text", name: "deviceId", required: true, autocomplete: "off", spellcheck: false });
  const lookupAnswer = h("p", { class: "lookup-answer", role: "status" });
  const lookup = h(
    "form",
    { class: "card lookup" },
    h("h2", {}, "Find a device"),
    h("label", {}, "Device ID ", lookupInput),
    h("button", { type: "submit" }, "Look up"),
    lookupAnswer,
  );

  main.replaceChildren(
    h(
      "article",
      { class: "message" },
      heading,
      body,
      h("p", { class: "state-line" }, "State: ", stateWord, urgencyBadge),
      h("div", { class: "bar" }, bar, " ", barText),
      heldLine,
      countsList,
      h("div", { class: "actions" }, cancel, resend),
      actionProblem,
      details,
      funnel.element,
      languages.element,
      failedSection,
      lookup,
    ),
  );

  let latest: { message: MessageView; counters: CounterDoc[]; receipts: ReceiptCounts } | undefined;
  let shownFailed = -1;
  let stateTimer: number | undefined;
  // Cursors of the failed pages seen, for "Previous page".
  const cursors: Array<Page<FailedRecipient>["next"]> = [undefined];
  let pageIndex = 0;

  function render(): void {
    if (!latest) return;
    const { message, counters, receipts } = latest;
    const progress = progressOf(message, counters);
    funnel.update(progress, receipts);
    languages.update(message, counters, progress.state === "done" || progress.state === "cancelled");
    heading.textContent = message.title;
    body.textContent = message.body;
    stateWord.textContent = progress.state;
    stateWord.dataset.state = progress.state;
    renderCounts(progress);
    renderDetails(message, progress);
    urgencyBadge.hidden = !message.emergency;
    refreshHeld(message, progress);
    const open = progress.state === "scheduled" || progress.state === "sending" || progress.state === "preparing";
    cancel.hidden = !open;
    resend.hidden = !(progress.groups.failed > 0 && (progress.state === "done" || (progress.state === "cancelled" && progress.groups.pending === 0)));
    // The failed list is read when the number of failures changes, not on every counter change.
    if (progress.groups.failed !== shownFailed && (progress.groups.failed === 0 || !open)) {
      shownFailed = progress.groups.failed;
      cursors.length = 1;
      pageIndex = 0;
      void loadFailed();
    }
    // A scheduled message turns to sending when its time comes, with no document change.
    window.clearTimeout(stateTimer);
    if (progress.state === "scheduled" && message.sendAt) stateTimer = window.setTimeout(render, Math.min(message.sendAt.getTime() - Date.now() + 50, 2 ** 31 - 1));
  }

  let heldAsked = 0;
  let heldTimer: number | undefined;
  /**
   * While recipients are pending, how many wait for their local time or for
   * quiet hours to end, and until when: one report call at most every 15 s
   * (the counters the page watches do not hold it).
   */
  function refreshHeld(message: MessageView, progress: Progress): void {
    if (message.emergency || progress.groups.pending === 0) {
      heldLine.hidden = true;
      return;
    }
    const wait = heldAsked + 15_000 - Date.now();
    window.clearTimeout(heldTimer);
    if (wait > 0) {
      heldTimer = window.setTimeout(() => latest && refreshHeld(latest.message, progressOf(latest.message, latest.counters)), wait);
      return;
    }
    heldAsked = Date.now();
    void messageReport(messageId).then(
      ({ held }) => {
        const parts: string[] = [];
        if (held.quietHours.devices > 0) parts.push(`${held.quietHours.devices.toLocaleString()} waiting for quiet hours to end (the last at ${bothZones(new Date(held.quietHours.until ?? 0))})`);
        if (held.localTime.devices > 0) parts.push(`${held.localTime.devices.toLocaleString()} waiting for their local time (the last at ${bothZones(new Date(held.localTime.until ?? 0))})`);
        heldLine.textContent = parts.length > 0 ? `${parts.join("; ")}.` : "";
        heldLine.hidden = parts.length === 0;
      },
      () => undefined,
    );
  }

  function renderCounts(progress: Progress): void {
    const total = progress.total;
    bar.max = Math.max(1, total ?? 1);
    bar.value = progress.final;
    barText.textContent = total === null ? "Writing recipients…" : `${progress.final.toLocaleString()} of ${total.toLocaleString()} final`;
    countsList.replaceChildren(...GROUP_LABELS.map(([group, label]) => h("div", {}, h("dt", {}, label), h("dd", { "data-group": group }, progress.groups[group].toLocaleString()))));
  }

  function renderDetails(message: MessageView, progress: Progress): void {
    const rows: Array<[string, Node | string]> = [
      ["Sender", message.senderId === staff.uid ? "you" : (message.senderId ?? "an automated job")],
      ["Created", message.createdAt ? bothZones(message.createdAt) : "—"],
      ["Recipients", progress.total === null ? "being written" : progress.total.toLocaleString()],
    ];
    if (message.invalid) rows.push(["Not sent", `${message.invalid.field ? `${message.invalid.field}: ` : ""}${message.invalid.message}`]);
    if (message.sendAt) rows.push(["Send at", bothZones(message.sendAt)]);
    if (message.sendAtLocal) rows.push(["Send at", `${message.sendAtLocal.replace("T", " ")} in each recipient's time zone`]);
    if (message.emergency) rows.push(["Urgency", "Emergency: at once, high priority, past quiet hours and mutes"]);
    if (message.cancelledAt) rows.push(["Cancelled", bothZones(message.cancelledAt)]);
    if (message.category) rows.push(["Category", message.category]);
    if (message.resendOf) rows.push(["Resend of", h("a", { href: `#/messages/${message.resendOf}` }, "the original message")]);
    details.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  }

  async function loadFailed(): Promise<void> {
    if (shownFailed <= 0) {
      failedSection.hidden = true;
      return;
    }
    failedSection.hidden = false;
    try {
      const page = await failedRecipients(messageId, FAILED_PAGE, cursors[pageIndex]);
      cursors[pageIndex + 1] = page.next;
      const table = h(
        "table",
        {},
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "User"), h("th", { scope: "col" }, "Device"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Status message"))),
        h(
          "tbody",
          {},
          ...page.items.map((r) => h("tr", {}, h("td", {}, r.userId ?? "—"), h("td", {}, r.deviceId), h("td", {}, String(r.status)), h("td", {}, r.statusMessage ?? ""))),
        ),
      );
      const prev = h("button", { type: "button", class: "quiet", disabled: pageIndex === 0, onclick: () => ((pageIndex -= 1), void loadFailed()) }, "Previous page");
      const next = h("button", { type: "button", class: "quiet", disabled: !page.next, onclick: () => ((pageIndex += 1), void loadFailed()) }, "Next page");
      failedBody.replaceChildren(h("div", { class: "scroll" }, table), h("div", { class: "pager" }, prev, h("span", {}, `Page ${pageIndex + 1}`), next));
    } catch (err) {
      failedBody.replaceChildren(h("p", { class: "error" }, `Could not read the failed recipients: ${String(err)}`));
    }
  }

  // What happened to one device: a broadcast's accepted recipients have no document of their own, so the callable looks on its pages too.
  lookup.addEventListener("submit", (event) => {
    event.preventDefault();
    lookupAnswer.textContent = "…";
    recipientStatus(messageId, lookupInput.value.trim())
      .then((r) => {
        const label = new Map(GROUP_LABELS).get(statusGroup(r.status)) ?? "";
        const receipts = `${r.receivedAt ? `; received ${bothZones(new Date(r.receivedAt))}` : ""}${r.openedAt ? `; opened ${bothZones(new Date(r.openedAt))}` : ""}`;
        lookupAnswer.textContent = `${r.deviceId}: ${label} (${r.status})${r.statusMessage ? ` — ${r.statusMessage}` : ""}; ${r.attempts} attempt${r.attempts === 1 ? "" : "s"}${r.sentAt ? `; accepted by FCM ${bothZones(new Date(r.sentAt))}` : ""}${r.language ? `; text: ${r.language === "default" ? "the default" : r.language}` : ""}${receipts}.`;
      })
      .catch((err: unknown) => (lookupAnswer.textContent = callableProblem(err).message));
  });

  cancel.addEventListener("click", () => {
    cancel.disabled = true;
    actionProblem.textContent = "";
    cancelMessage(messageId)
      .catch((err: unknown) => (actionProblem.textContent = `Not cancelled: ${callableProblem(err).message}`))
      .finally(() => (cancel.disabled = false));
  });
  // One key per page visit: a double click or a retry resends once.
  const resendKey = `resend-${crypto.randomUUID()}`;
  resend.addEventListener("click", () => {
    resend.disabled = true;
    actionProblem.textContent = "";
    resendFailed({ messageId, idempotencyKey: resendKey })
      .then(({ messageId: id }) => (location.hash = `#/messages/${id}`))
      .catch((err: unknown) => {
        actionProblem.textContent = `Not resent: ${callableProblem(err).message}`;
        resend.disabled = false;
      });
  });

  const stop = watchMessage(
    messageId,
    (message, counters, receipts) => {
      if (!message) {
        main.replaceChildren(h("h1", {}, "No such message"), h("p", {}, h("a", { href: "#/history" }, "Back to the history")));
        return;
      }
      latest = { message, counters, receipts };
      render();
    },
    (err) => (actionProblem.textContent = `The live view stopped: ${err.message}`),
  );
  return () => {
    stop();
    window.clearTimeout(stateTimer);
    window.clearTimeout(heldTimer);
  };
}
