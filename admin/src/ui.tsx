/** Shared pieces of the console: links, page heading, loading/empty/error states, times, toasts, dialogs, form fields. */
import type { ComponentChildren, JSX } from "preact";
import { createContext } from "preact";
import { useCallback, useContext, useEffect, useRef, useState } from "preact/hooks";
import { ApiProblem } from "./api.ts";
import { localTime, utcTime } from "./format.ts";
import { BASE, onLinkClick } from "./router.ts";

export function Link(props: { to: string; children: ComponentChildren; class?: string; "aria-current"?: "page" | undefined }) {
  const { to, children, ...rest } = props;
  return (
    <a href={`${BASE}${to}`} onClick={(e) => onLinkClick(e, to)} {...rest}>
      {children}
    </a>
  );
}

let firstPage = true;

/**
 * The page's h1. Focused when a page replaces another (navigation, sign-in) so screen readers announce it;
 * not on the first page of a load, where focus stays at the start of the document (skip link first).
 */
export function PageTitle({ children, actions }: { children: ComponentChildren; actions?: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (!firstPage) ref.current?.focus({ preventScroll: true });
    firstPage = false;
  }, []);
  return (
    <div class="page-head">
      <h1 ref={ref} tabIndex={-1}>
        {children}
      </h1>
      {actions ? <div class="actions">{actions}</div> : null}
    </div>
  );
}

export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <p class="state" role="status">
      <span class="spinner" aria-hidden="true" /> {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="state empty">{children}</p>;
}

/** An error as staff can report it: what failed, and the request id to quote. */
export function ErrorNote({ error, retry }: { error: unknown; retry?: () => void }) {
  if (!error) return null;
  const p = error instanceof ApiProblem ? error : null;
  return (
    <div class="error-note" role="alert">
      <p>
        <strong>{p ? p.title : "Something went wrong"}</strong>
        {p?.detail && p.detail !== p.title ? ` — ${p.detail}` : ""}
        {!p && error instanceof Error ? ` — ${error.message}` : ""}
      </p>
      {p?.requestId ? (
        <p class="muted">
          Request id: <code class="request-id">{p.requestId}</code>
        </p>
      ) : null}
      {retry ? (
        <button type="button" class="secondary" onClick={retry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

/** A time in the browser's zone, the UTC time on hover (and for assistive technology, in the title). */
export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span class="muted">—</span>;
  return (
    <time dateTime={iso} title={utcTime(iso)}>
      {localTime(iso)}
    </time>
  );
}

export function Badge({ value }: { value: string }) {
  return <span class={`badge badge-${value.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`}>{value}</span>;
}

/** A horizontally scrollable table region, reachable by keyboard (tabindex) and named for screen readers. */
export function TableWrap({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be focusable to scroll it by keyboard (WCAG 2.1.1)
    <section class="table-wrap" tabIndex={0} aria-label={label}>
      {children}
    </section>
  );
}

// ---- data loading ------------------------------------------------------------------------

export interface Resource<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  set: (v: T) => void;
}

/**
 * Loads `load()` when `key` changes; the newest request wins (earlier ones are aborted). `loading` is true
 * from the very render in which the key changes, so the previous rows show as busy, never as the answer.
 */
export function useResource<T>(load: (signal: AbortSignal) => Promise<T>, key: string): Resource<T> {
  const [nonce, setNonce] = useState(0);
  const current = `${key}#${nonce}`;
  const [state, setState] = useState<{ data?: T; error?: unknown; for?: string }>({});
  const latest = useRef(current);
  latest.current = current;
  // `current` stands for everything `load` reads.
  useEffect(() => {
    const ctrl = new AbortController();
    load(ctrl.signal).then(
      (data) => !ctrl.signal.aborted && setState({ data, for: current }),
      (error) => !ctrl.signal.aborted && setState((s) => ({ data: s.data, error, for: current })),
    );
    return () => ctrl.abort();
  }, [current]);
  const reload = useCallback(() => setNonce((n) => n + 1), []);
  const set = useCallback((data: T) => setState({ data, for: latest.current }), []);
  const settled = state.for === current;
  return { data: state.data, error: settled ? state.error : undefined, loading: !settled, reload, set };
}

// ---- toasts --------------------------------------------------------------------------------

export interface Toast {
  id: number;
  kind: "success" | "error" | "info";
  text: string;
  requestId?: string | null;
}

type Notify = (kind: Toast["kind"], text: string, requestId?: string | null) => void;
const ToastContext = createContext<Notify>(() => {});
export const useToast = () => useContext(ToastContext);

/** Toast for a failed call: the problem's title and detail and its request id. */
export function problemText(err: unknown): { text: string; requestId: string | null } {
  if (err instanceof ApiProblem) return { text: err.detail ? `${err.title}: ${err.detail}` : err.title, requestId: err.requestId };
  return { text: err instanceof Error ? err.message : String(err), requestId: null };
}

export function ToastHost({ children }: { children: ComponentChildren }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(1);
  const dismiss = useCallback((id: number) => setToasts((t) => t.filter((x) => x.id !== id)), []);
  const notify = useCallback<Notify>(
    (kind, text, requestId) => {
      const id = next.current++;
      setToasts((t) => [...t.slice(-4), { id, kind, text, requestId: requestId ?? null }]);
      setTimeout(() => dismiss(id), kind === "error" ? 12_000 : 6_000);
    },
    [dismiss],
  );
  return (
    <ToastContext.Provider value={notify}>
      {children}
      <section class="toasts" aria-label="Notifications" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} class={`toast toast-${t.kind}`} role={t.kind === "error" ? "alert" : "status"}>
            <p>{t.text}</p>
            {t.requestId ? (
              <p class="muted">
                Request id: <code>{t.requestId}</code>
              </p>
            ) : null}
            <button type="button" class="link" onClick={() => dismiss(t.id)} aria-label="Dismiss notification">
              ×
            </button>
          </div>
        ))}
      </section>
    </ToastContext.Provider>
  );
}

// ---- dialogs -------------------------------------------------------------------------------

/** A modal <dialog>: the browser traps focus, Escape closes it, focus returns to the opener. */
export function Dialog(props: { title: string; open: boolean; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) d.showModal();
    if (!props.open && d.open) d.close();
  }, [props.open]);
  const titleId = `dlg-${props.title.replace(/\W+/g, "-").toLowerCase()}`;
  return (
    <dialog ref={ref} class={props.wide ? "wide" : ""} aria-labelledby={titleId} onClose={props.onClose}>
      {props.open ? (
        <>
          <h2 id={titleId}>{props.title}</h2>
          {props.children}
        </>
      ) : null}
    </dialog>
  );
}

/** Asks before a consequential action. */
export function useConfirm(): [(text: string, action: string) => Promise<boolean>, JSX.Element] {
  const [ask, setAsk] = useState<{ text: string; action: string; resolve: (ok: boolean) => void } | null>(null);
  const confirm = useCallback((text: string, action: string) => new Promise<boolean>((resolve) => setAsk({ text, action, resolve })), []);
  const close = (ok: boolean) => {
    ask?.resolve(ok);
    setAsk(null);
  };
  const el = (
    <Dialog title="Please confirm" open={!!ask} onClose={() => close(false)}>
      <p>{ask?.text}</p>
      <div class="actions">
        <button type="button" class="secondary" onClick={() => close(false)}>
          Cancel
        </button>
        <button type="button" onClick={() => close(true)}>
          {ask?.action}
        </button>
      </div>
    </Dialog>
  );
  return [confirm, el];
}

// ---- form fields ---------------------------------------------------------------------------

let fieldSeq = 0;
/** A labelled control with its hint and its error (from the API's problem+json), tied by aria-describedby. */
export function Field(props: {
  label: string;
  error?: string | undefined;
  hint?: string;
  children: (id: string, describedBy?: string) => JSX.Element;
}) {
  const [id] = useState(() => `f${++fieldSeq}`);
  const describedBy = [props.hint ? `${id}-hint` : "", props.error ? `${id}-err` : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div class={`field${props.error ? " invalid" : ""}`}>
      <label for={id}>{props.label}</label>
      {props.children(id, describedBy)}
      {props.hint ? (
        <small id={`${id}-hint`} class="hint">
          {props.hint}
        </small>
      ) : null}
      {props.error ? (
        <small id={`${id}-err`} class="field-error">
          {props.error}
        </small>
      ) : null}
    </div>
  );
}

/** Cursor paging: "Newer" goes back through the cursors seen, "Older" follows next_cursor. */
export function Pager(props: { page: number; hasMore: boolean; onPrev: () => void; onNext: () => void; busy?: boolean }) {
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" class="secondary" disabled={props.page === 0 || props.busy} onClick={props.onPrev}>
        ← Previous
      </button>
      <span>Page {props.page + 1}</span>
      <button type="button" class="secondary" disabled={!props.hasMore || props.busy} onClick={props.onNext}>
        Next →
      </button>
    </nav>
  );
}

/** The Pager of a keyset list loaded with useResource and paged with useCursor (nothing until the first page is in). */
export function ListPager(props: {
  list: { data?: { has_more: boolean; next_cursor: string | null } | undefined; loading: boolean };
  pages: { page: number; prev: () => void; next: (c: string | null) => unknown };
}) {
  const { list, pages } = props;
  if (!list.data) return null;
  return (
    <Pager
      page={pages.page}
      hasMore={list.data.has_more}
      onPrev={pages.prev}
      onNext={() => pages.next(list.data?.next_cursor ?? null)}
      busy={list.loading}
    />
  );
}

/** Cursor stack for a filtered list: reset when the filter changes. */
export function useCursor(filterKey: string) {
  const [stack, setStack] = useState<string[]>([]);
  const [key, setKey] = useState(filterKey);
  if (key !== filterKey) {
    setKey(filterKey);
    setStack([]);
  }
  return {
    cursor: stack[stack.length - 1],
    page: stack.length,
    next: (c: string | null) => c && setStack((s) => [...s, c]),
    prev: () => setStack((s) => s.slice(0, -1)),
    reset: () => setStack([]),
  };
}

/** Downloads `text` as a file (a Blob URL: nothing leaves the browser). */
export function download(name: string, text: string, type = "text/csv;charset=utf-8"): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
