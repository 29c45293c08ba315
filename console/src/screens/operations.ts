import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from "chart.js";
import { setDeliveryPausedInput, summarizeHour, type DeliveryStatus, type HourRow, type HourSummary } from "../../../functions/src/contract";
import { callableProblem, getDeliveryStats, getDeliveryStatus, setDeliveryPaused, type Staff } from "../firebase";
import { h, uid } from "../dom";
import type { Cleanup } from "../main";

// Only the parts of Chart.js a stacked bar chart needs, so the bundle stays small.
Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

/** The longest reason setDeliveryPaused takes, from its schema. */
const REASON_MAX = setDeliveryPausedInput.shape.reason.unwrap().maxLength;

/** How often the stop's state and the queues are read again while the panel is open. */
const STATUS_REFRESH_MS = 10_000;

/** The columns the chart and its table show, in order, with the bar colours. */
const SERIES = [
  { key: "accepted", label: "Accepted", color: "#1e7b3c" },
  { key: "failed", label: "Failed", color: "#b3261e" },
  { key: "unregistered", label: "Unregistered", color: "#c56a00" },
  { key: "skipped", label: "Skipped", color: "#6b7280" },
  { key: "cancelled", label: "Cancelled", color: "#6a3fb5" },
] as const;
type SeriesKey = (typeof SERIES)[number]["key"];
type Bucket = { label: string } & Record<SeriesKey, number>;

const PERIODS = {
  day: { label: "Last 24 hours", hours: 24 },
  week: { label: "Last 7 days", hours: 24 * 7 },
} as const;
type Period = keyof typeof PERIODS;

const when = (iso: string) => new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
const utcHour = (iso: string) => `${iso.slice(11, 13)}:00`;
const utcDay = (iso: string) => new Date(iso).toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });

/** The stop's state as one sentence (the contract of the panel's status line). */
export function stopSentence(status: DeliveryStatus): string {
  if (!status.paused) return "Delivery is running";
  const since = status.at ? ` since ${when(status.at)}` : "";
  const by = status.by ? ` by ${status.by}` : "";
  return `Delivery is PAUSED${since}${by}${status.reason ? `: ${status.reason}` : ""}`;
}

/** Hours as bars: one per hour for a day, one per UTC day for a week (168 hourly bars would be unreadable on a phone). */
function buckets(rows: HourRow[], period: Period): Bucket[] {
  const out = new Map<string, Bucket>();
  for (const summary of rows.map(summarizeHour)) {
    const label = period === "day" ? utcHour(summary.hour) : utcDay(summary.hour);
    const bucket = out.get(label) ?? { label, accepted: 0, failed: 0, unregistered: 0, skipped: 0, cancelled: 0 };
    for (const { key } of SERIES) bucket[key] += summary[key];
    out.set(label, bucket);
  }
  return [...out.values()];
}

function totals(rows: HourSummary[]): Record<SeriesKey, number> {
  const sum = { accepted: 0, failed: 0, unregistered: 0, skipped: 0, cancelled: 0 };
  for (const row of rows) for (const { key } of SERIES) sum[key] += row[key];
  return sum;
}

/**
 * The operations panel for pushAdmin users: the emergency stop (pause with a
 * reason after a confirmation, resume), the delivery queues, and a chart of
 * the hourly outcomes with the same figures as a table.
 */
export function renderOperations(main: HTMLElement, _staff: Staff): Cleanup {
  // ---------------------------------------------------------- emergency stop
  const state = h("p", { role: "status", class: "stop-state", "data-paused": "unknown" }, "Reading the delivery state…");
  const reasonId = uid("reason");
  const reasonHint = uid("reason-hint");
  const reason = h("input", { type: "text", id: reasonId, maxlength: REASON_MAX, "aria-describedby": reasonHint, autocomplete: "off" });
  const pause = h("button", { type: "button", class: "danger" }, "Pause all delivery");
  const resume = h("button", { type: "button", class: "primary", hidden: true }, "Resume delivery");
  const stopProblem = h("p", { class: "error", role: "alert" });
  const queues = h("div", { class: "scroll" });

  const dialogTitle = uid("pause-title");
  const dialogProblem = h("p", { class: "error", role: "alert" });
  const confirm = h("button", { type: "button", class: "danger" }, "Confirm");
  const back = h("button", { type: "button", class: "quiet" }, "Back");
  const dialogReason = h("p", {});
  const dialog = h(
    "dialog",
    { "aria-labelledby": dialogTitle },
    h("h2", { id: dialogTitle }, "Pause all delivery?"),
    h("p", {}, "No notification is sent to FCM from a few seconds after you confirm, for every message and partner, until someone resumes. Nothing is cancelled: messages keep being accepted and wait."),
    dialogReason,
    dialogProblem,
    h("div", { class: "actions" }, back, confirm),
  );

  // ------------------------------------------------------------------- chart
  const periodName = uid("period");
  const periodInputs = (Object.keys(PERIODS) as Period[]).map((key, i) => {
    const id = uid("period");
    return { key, input: h("input", { type: "radio", name: periodName, id, value: key, checked: i === 0 }), id };
  });
  const canvas = h("canvas", { role: "img", "aria-label": "Delivery outcomes per hour" });
  const summaryLine = h("p", { class: "totals", "aria-live": "polite" });
  const table = h("div", { class: "scroll" });
  const chartProblem = h("p", { class: "error", role: "alert" });
  const refresh = h("button", { type: "button", class: "quiet" }, "Refresh");

  main.replaceChildren(
    h(
      "section",
      { class: "operations" },
      h("h1", {}, "Operations"),
      h(
        "section",
        { class: "card stop", "aria-labelledby": "stop-heading" },
        h("h2", { id: "stop-heading" }, "Emergency stop"),
        state,
        h("label", { for: reasonId }, "Reason"),
        reason,
        h("p", { class: "hint", id: reasonHint }, "Say why, for whoever resumes: it is shown here, in the ops command and in every message report."),
        h("div", { class: "actions" }, pause, resume),
        stopProblem,
        h("h2", {}, "Delivery queues"),
        queues,
        dialog,
      ),
      h(
        "section",
        { class: "card", "aria-labelledby": "chart-heading" },
        h("h2", { id: "chart-heading" }, "Delivery outcomes (UTC)"),
        h(
          "fieldset",
          { class: "inline choice" },
          h("legend", {}, "Period"),
          ...periodInputs.flatMap(({ key, input, id }) => [input, h("label", { for: id }, PERIODS[key].label)]),
          " ",
          refresh,
        ),
        summaryLine,
        h("div", { class: "chart" }, canvas),
        chartProblem,
        h("details", {}, h("summary", {}, "The figures as a table"), table),
      ),
    ),
  );

  let alive = true;
  let chart: Chart<"bar", number[], string> | undefined;

  function showStatus(status: DeliveryStatus): void {
    state.textContent = stopSentence(status);
    state.dataset.paused = String(status.paused);
    pause.hidden = status.paused;
    resume.hidden = !status.paused;
    queues.replaceChildren(
      status.queues.length === 0
        ? h("p", { class: "hint" }, "No queue reported.")
        : h(
            "table",
            { class: "queues" },
            h("thead", {}, h("tr", {}, ...["Queue", "State", "Tasks waiting"].map((t) => h("th", { scope: "col" }, t)))),
            h(
              "tbody",
              {},
              ...status.queues.map((q) =>
                h(
                  "tr",
                  {},
                  h("td", { title: q.name }, q.name.split("/").pop() ?? q.name),
                  h("td", {}, q.state ?? "unknown", q.error ? h("span", { class: "hint" }, ` (${q.error})`) : null),
                  h("td", {}, q.tasks === null ? "—" : q.tasks.toLocaleString()),
                ),
              ),
            ),
          ),
    );
  }

  async function loadStatus(): Promise<void> {
    try {
      const status = await getDeliveryStatus();
      if (alive) showStatus(status);
    } catch (err) {
      if (alive) stopProblem.textContent = `Could not read the delivery state: ${callableProblem(err).message}`;
    }
  }

  function period(): Period {
    return periodInputs.find((p) => p.input.checked)?.key ?? "day";
  }

  async function loadStats(): Promise<void> {
    const chosen = period();
    chartProblem.textContent = "";
    try {
      const { hours } = await getDeliveryStats({ hours: PERIODS[chosen].hours });
      if (!alive || chosen !== period()) return;
      drawStats(chosen, hours);
    } catch (err) {
      if (alive) chartProblem.textContent = `Could not read the hourly figures: ${callableProblem(err).message}`;
    }
  }

  function drawStats(chosen: Period, hours: HourRow[]): void {
    const bars = buckets(hours, chosen);
    const sum = totals(hours.map(summarizeHour));
    const sentence = `${PERIODS[chosen].label}: ${SERIES.map(({ key, label }) => `${sum[key].toLocaleString()} ${label.toLowerCase()}`).join(", ")}.`;
    summaryLine.textContent = sentence;
    canvas.setAttribute("aria-label", `Bar chart of delivery outcomes ${chosen === "day" ? "per hour" : "per day"}. ${sentence} The figures are in the table below.`);
    table.replaceChildren(
      h(
        "table",
        { class: "stats" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, chosen === "day" ? "Hour (UTC)" : "Day (UTC)"), ...SERIES.map(({ label }) => h("th", { scope: "col" }, label)))),
        h("tbody", {}, ...bars.map((b) => h("tr", {}, h("th", { scope: "row" }, b.label), ...SERIES.map(({ key }) => h("td", {}, b[key].toLocaleString()))))),
        h("tfoot", {}, h("tr", {}, h("th", { scope: "row" }, "Total"), ...SERIES.map(({ key }) => h("td", {}, sum[key].toLocaleString())))),
      ),
    );
    const data = { labels: bars.map((b) => b.label), datasets: SERIES.map(({ key, label, color }) => ({ label, data: bars.map((b) => b[key]), backgroundColor: color, borderWidth: 0 })) };
    if (chart) {
      chart.data = data;
      chart.update();
      return;
    }
    chart = new Chart(canvas, {
      type: "bar",
      data,
      options: {
        // Drawn at once: no motion, and a test or a screenshot sees the final bars.
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: "bottom" } },
      },
    });
  }

  async function changeStop(paused: boolean): Promise<void> {
    const text = reason.value.trim();
    stopProblem.textContent = "";
    dialogProblem.textContent = "";
    reason.removeAttribute("aria-invalid");
    const button = paused ? confirm : resume;
    button.disabled = true;
    try {
      showStatus(await setDeliveryPaused(paused ? { paused, ...(text ? { reason: text } : {}) } : { paused }));
      if (paused) dialog.close();
      reason.value = "";
      (paused ? resume : pause).focus();
    } catch (err) {
      const { message, field } = callableProblem(err);
      if (field === "reason") reason.setAttribute("aria-invalid", "true");
      const shown = `${paused ? "Not paused" : "Not resumed"}: ${message}`;
      if (paused) dialog.close();
      stopProblem.textContent = shown;
      if (field === "reason") reason.focus();
    } finally {
      button.disabled = false;
    }
  }

  pause.addEventListener("click", () => {
    dialogProblem.textContent = "";
    const text = reason.value.trim();
    dialogReason.textContent = text ? `Reason: ${text}` : "No reason given: consider writing one first.";
    dialog.showModal();
    confirm.focus();
  });
  back.addEventListener("click", () => dialog.close());
  confirm.addEventListener("click", () => void changeStop(true));
  resume.addEventListener("click", () => void changeStop(false));
  for (const { input } of periodInputs) input.addEventListener("change", () => void loadStats());
  refresh.addEventListener("click", () => void Promise.all([loadStatus(), loadStats()]));

  void loadStatus();
  void loadStats();
  const timer = window.setInterval(() => void loadStatus(), STATUS_REFRESH_MS);
  return () => {
    alive = false;
    window.clearInterval(timer);
    chart?.destroy();
  };
}
