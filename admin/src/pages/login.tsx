/** Sign-in with the API's login, and the page a non-ADMIN account gets instead of the console. */
import { useState } from "preact/hooks";
import { ApiProblem, api } from "../api.ts";
import { end, start, takeEndReason } from "../session.ts";
import type { LoginResponse } from "../types.ts";
import { ErrorNote, Field, PageTitle } from "../ui.tsx";

export function LoginPage() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [notice] = useState(takeEndReason);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await api<LoginResponse>("/api/v1/auth/login", {
        method: "POST",
        body: { email: email.trim(), password },
        anonymous: true,
      });
      start({ token: res.access_token, role: res.role, email: email.trim(), expiresAt: Date.now() + res.expires_in * 1000 });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  const wrong = error instanceof ApiProblem && error.code === "invalid_credentials";
  return (
    <div class="narrow">
      <PageTitle>Sign in</PageTitle>
      <p>Staff console of Toko Edge. Sign in with an ADMIN account.</p>
      {notice ? (
        <p class="notice" role="status">
          {notice}
        </p>
      ) : null}
      <form onSubmit={submit} class="card">
        <Field label="Email">
          {(id, d) => (
            <input
              id={id}
              aria-describedby={d}
              type="email"
              name="email"
              autocomplete="username"
              required
              value={email}
              onInput={(e) => setEmail(e.currentTarget.value)}
            />
          )}
        </Field>
        <Field label="Password">
          {(id, d) => (
            <input
              id={id}
              aria-describedby={d}
              type="password"
              name="password"
              autocomplete="current-password"
              required
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          )}
        </Field>
        {wrong ? (
          <p class="field-error" role="alert">
            Wrong email or password.
          </p>
        ) : (
          <ErrorNote error={error} />
        )}
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </div>
  );
}

export function NotAllowedPage({ email, role }: { email: string; role: string }) {
  return (
    <div class="narrow">
      <PageTitle>Not allowed</PageTitle>
      <div class="card" role="alert">
        <p>
          <strong>{email}</strong> is signed in with the role <strong>{role}</strong>. The admin console is for staff accounts with the role{" "}
          <strong>ADMIN</strong>.
        </p>
        <p>Ask an administrator to change your role, or sign in with another account.</p>
        <button type="button" onClick={() => end(null)}>
          Sign in as someone else
        </button>
      </div>
    </div>
  );
}
