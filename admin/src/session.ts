/**
 * The signed-in staff member: the access token lives in memory and in sessionStorage (this tab only,
 * gone when it closes; never localStorage). Any 401 clears it (src/api.ts).
 */
export interface Session {
  token: string;
  email: string;
  role: "ADMIN" | "USER";
  expiresAt: number;
}

const KEY = "toko.admin.session";
let current: Session | null = read();
/** Why the last session ended, shown on the sign-in page once. */
let endedBecause: string | null = null;
const listeners = new Set<() => void>();

function read(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    return typeof s.token === "string" && s.expiresAt > Date.now() ? s : null;
  } catch {
    return null;
  }
}

/** The current session; an expired one is dropped here (no listener runs: callers are rendering). */
export function session(): Session | null {
  if (current && current.expiresAt <= Date.now()) {
    current = null;
    endedBecause = "Your session expired: sign in again.";
    sessionStorage.removeItem(KEY);
  }
  return current;
}

export function start(s: Session): void {
  // A USER token is dropped at once: the console refuses it, and it is never stored.
  current = s.role === "ADMIN" ? s : { ...s, token: "" };
  endedBecause = null;
  if (s.role === "ADMIN") sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
  for (const l of listeners) l();
}

export function end(reason: string | null = null): void {
  current = null;
  endedBecause = reason;
  sessionStorage.removeItem(KEY);
  for (const l of listeners) l();
}

export function takeEndReason(): string | null {
  const r = endedBecause;
  endedBecause = null;
  return r;
}

export function onSessionChange(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
