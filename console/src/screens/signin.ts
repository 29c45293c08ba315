import { signIn, signOut, type Staff } from "../firebase";
import { h } from "../dom";

/** Email and password (the Auth emulator locally; any provider the project enables in production). */
export function renderSignIn(): HTMLElement {
  const email = h("input", { id: "email", name: "email", type: "email", autocomplete: "username", required: true });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const problem = h("p", { class: "error", role: "alert" });
  const button = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    { class: "card narrow" },
    h("h1", {}, "Sign in"),
    h("p", {}, "Staff accounts with the permission to send notifications sign in here."),
    h("label", { for: "email" }, "Email"),
    email,
    h("label", { for: "password" }, "Password"),
    password,
    problem,
    button,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    problem.textContent = "";
    button.disabled = true;
    signIn(email.value.trim(), password.value)
      .catch((err: { code?: string }) => {
        problem.textContent =
          err.code === "auth/invalid-credential" || err.code === "auth/wrong-password" || err.code === "auth/user-not-found"
            ? "That email and password do not match an account."
            : `Sign-in failed (${err.code ?? "unknown error"}).`;
      })
      .finally(() => (button.disabled = false));
  });
  return h("main", { id: "main" }, form);
}

/** Signed in, but without the pushSender claim: say so, and show nothing that sends. */
export function renderRefusal(user: Staff): HTMLElement {
  return h(
    "main",
    { id: "main" },
    h(
      "section",
      { class: "card narrow", role: "alert" },
      h("h1", {}, "Not allowed"),
      h("p", {}, `You are not allowed to send notifications with this account (${user.email ?? user.uid}). Ask an administrator to give it the pushSender permission.`),
      h("button", { type: "button", onclick: () => void signOut() }, "Sign out"),
    ),
  );
}
