// First: zod must know it may not compile parsers before the contract builds its schemas.
import "../../functions/src/contract/jitless";
import "./style.css";
import { connect, onSignedIn, signOut, type Staff } from "./firebase";
import { fill, h } from "./dom";
import { renderSignIn, renderRefusal } from "./screens/signin";
import { renderCompose } from "./screens/compose";
import { renderMessage } from "./screens/message";
import { renderHistory } from "./screens/history";
import { renderOperations } from "./screens/operations";

/** What a screen returns: a way to stop its listeners when the user leaves it. */
export type Cleanup = () => void;

const app = document.getElementById("app") as HTMLElement;
let staff: Staff | null = null;
let cleanup: Cleanup | undefined;

/** Routes: #/ compose, #/history, #/messages/<id>; #/operations for pushAdmin users. */
function route(): void {
  cleanup?.();
  cleanup = undefined;
  if (!staff) return fill(app, renderSignIn());
  if (!staff.mayPush && !staff.isAdmin) return fill(app, renderRefusal(staff));
  const main = h("main", { id: "main", tabindex: -1 });
  fill(app, layout(staff), main);
  // An administrator without pushSender only has the operations panel.
  const path = staff.mayPush ? location.hash.replace(/^#/, "") || "/" : "/operations";
  const message = /^\/messages\/([A-Za-z0-9_-]+)$/.exec(path);
  if (path === "/operations" && staff.isAdmin) cleanup = renderOperations(main, staff);
  else if (message?.[1]) cleanup = renderMessage(main, staff, message[1]);
  else if (path === "/history") cleanup = renderHistory(main, staff);
  else cleanup = renderCompose(main, staff);
  document.querySelectorAll<HTMLAnchorElement>("nav a").forEach((a) => {
    if (a.getAttribute("href") === `#${path}`) a.setAttribute("aria-current", "page");
  });
}

function layout(user: Staff): HTMLElement {
  const links: Array<[string, string]> = [];
  if (user.mayPush) links.push(["#/", "New message"], ["#/history", "History"]);
  if (user.isAdmin) links.push(["#/operations", "Operations"]);
  return h(
    "header",
    {},
    h("a", { class: "skip", href: "#main", onclick: (e: Event) => (e.preventDefault(), document.getElementById("main")?.focus()) }, "Skip to content"),
    h("span", { class: "brand" }, "Push console"),
    h("nav", { "aria-label": "Main" }, h("ul", {}, ...links.map(([href, text]) => h("li", {}, h("a", { href }, text))))),
    h("span", { class: "who" }, user.email ?? user.uid),
    h("button", { type: "button", class: "quiet", onclick: () => void signOut() }, "Sign out"),
  );
}

async function start(): Promise<void> {
  try {
    await connect();
  } catch (err) {
    fill(app, h("p", { role: "alert" }, `The console could not reach Firebase: ${String(err)}`));
    return;
  }
  onSignedIn((user) => {
    staff = user;
    route();
  });
  window.addEventListener("hashchange", route);
}

void start();
