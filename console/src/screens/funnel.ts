import { RECEIPT_STAGES, type ReceiptListItem, type ReceiptStage } from "../../../functions/src/contract";
import { bothZones, h } from "../dom";
import { callableProblem, recipientsByReceipt, type ReceiptCounts } from "../firebase";
import type { Progress } from "../progress";

const STAGE_LABELS: Record<ReceiptStage, string> = {
  "not-opened": "Not opened yet",
  "not-received": "Not received yet",
  opened: "Opened",
};

/** "50%" of `of`, or a dash while there is nothing to take a share of. */
function rate(n: number, of: number | null): string {
  return of ? `${Math.round((n / of) * 100)}%` : "—";
}

const when = (iso: string | null) => (iso ? bothZones(new Date(iso)) : "—");

/**
 * A message's funnel: recipients → accepted by FCM → received → opened, each
 * with its share of the stage before (the counts come with the live view: the
 * outcome counters and the receipts' summary), and the accepted recipients
 * at one stage, listed a page at a time by listRecipientsByReceipt: "not
 * opened yet" is whom a teacher follows up.
 */
export function funnelSection(messageId: string): { element: HTMLElement; update(progress: Progress, receipts: ReceiptCounts): void } {
  const stages = h("ol", { class: "funnel" });
  const stageSelect = h("select", { name: "stage" }, ...RECEIPT_STAGES.map((stage) => h("option", { value: stage, selected: stage === "not-opened" }, STAGE_LABELS[stage])));
  const listStatus = h("p", { class: "count", role: "status" });
  const listBody = h("div", {});
  const more = h("button", { type: "button", class: "quiet", hidden: true }, "Show more");
  const form = h("form", { class: "receipt-list" }, h("label", {}, "Recipients ", stageSelect), h("button", { type: "submit" }, "List"));
  const element = h(
    "section",
    { class: "card", "aria-labelledby": "funnel-heading" },
    h("h2", { id: "funnel-heading" }, "Delivery funnel"),
    h("p", { class: "hint" }, "What the apps reported: received when the notification arrived, opened when it was tapped. Phones that are off, or apps that cannot report, count as neither."),
    stages,
    form,
    listStatus,
    listBody,
    more,
  );

  function update(progress: Progress, receipts: ReceiptCounts): void {
    const accepted = progress.groups.accepted;
    const rows: Array<[string, string, number | null, string]> = [
      ["recipients", "Recipients", progress.total, ""],
      ["accepted", "Accepted by FCM", accepted, `${rate(accepted, progress.total)} of recipients`],
      ["received", "Received", receipts.received, `${rate(receipts.received, accepted)} of accepted`],
      ["opened", "Opened", receipts.opened, `${rate(receipts.opened, receipts.received)} of received`],
    ];
    const top = Math.max(1, progress.total ?? accepted);
    stages.replaceChildren(
      ...rows.map(([key, label, n, share]) =>
        h(
          "li",
          { "data-stage": key },
          h("span", { class: "stage-label" }, label),
          h("strong", { class: "stage-count" }, n === null ? "…" : n.toLocaleString()),
          h("progress", { max: top, value: n ?? 0, "aria-label": `${label}, as a share of the recipients` }),
          h("span", { class: "stage-rate" }, share),
        ),
      ),
    );
  }

  let shown: ReceiptListItem[] = [];
  let next: string | null = null;
  let stage: ReceiptStage = "not-opened";

  function renderList(): void {
    listStatus.textContent = `${shown.length.toLocaleString()} ${STAGE_LABELS[stage].toLowerCase()}${next ? " so far" : ""}`;
    more.hidden = next === null;
    if (shown.length === 0) {
      listBody.replaceChildren();
      return;
    }
    const table = h(
      "table",
      { "aria-label": `Recipients: ${STAGE_LABELS[stage]}` },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "User"), h("th", { scope: "col" }, "Device"), h("th", { scope: "col" }, "Received"), h("th", { scope: "col" }, "Opened"))),
      h("tbody", {}, ...shown.map((r) => h("tr", {}, h("td", {}, r.userId ?? "—"), h("td", {}, r.deviceId), h("td", {}, when(r.receivedAt)), h("td", {}, when(r.openedAt))))),
    );
    listBody.replaceChildren(h("div", { class: "scroll" }, table));
  }

  async function load(pageToken?: string): Promise<void> {
    more.disabled = true;
    listStatus.textContent = "…";
    try {
      const page = await recipientsByReceipt({ messageId, stage, ...(pageToken && { pageToken }) });
      shown = [...shown, ...page.items];
      next = page.nextPageToken;
      renderList();
    } catch (err) {
      listStatus.textContent = `Could not list the recipients: ${callableProblem(err).message}`;
    } finally {
      more.disabled = false;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    stage = stageSelect.value as ReceiptStage;
    shown = [];
    next = null;
    void load();
  });
  more.addEventListener("click", () => void (next && load(next)));

  return { element, update };
}
