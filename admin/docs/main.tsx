/**
 * The API reference at /docs: rendered in the browser from /openapi.json (the document the worker
 * generates from its zod schemas), with a "Try it" form per operation. Our own page, served from our
 * own assets with the console's strict CSP: no CDN script, no inline script or style.
 */
import type { ComponentChildren } from "preact";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import "../src/styles.css";
import "./docs.css";

type Schema = {
  $ref?: string;
  type?: string | string[];
  format?: string;
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  additionalProperties?: Schema | boolean;
  example?: unknown;
  default?: unknown;
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
};
type Parameter = { name: string; in: string; required?: boolean; description?: string; schema?: Schema };
type Operation = {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  security?: unknown[];
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>;
};
type Doc = {
  info: { title: string; version: string; description?: string };
  tags?: { name: string; description?: string }[];
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
};

const METHODS = ["get", "post", "put", "patch", "delete"] as const;
const TOKEN_KEY = "toko.docs.token";
let doc: Doc;

/** `code` spans and **bold** in descriptions; everything else is text (never HTML). */
function Text({ text }: { text?: string | undefined }) {
  if (!text) return null;
  const parts = text.split(/(`[^`]+`|\*\*[^*]+\*\*)/g);
  return (
    <>
      {parts.map((p, i) =>
        p.startsWith("`") ? <code key={i}>{p.slice(1, -1)}</code> : p.startsWith("**") ? <strong key={i}>{p.slice(2, -2)}</strong> : p,
      )}
    </>
  );
}

const refName = (ref: string) => ref.split("/").pop() ?? ref;
const resolve = (s: Schema): Schema => (s.$ref ? (doc.components?.schemas?.[refName(s.$ref)] ?? {}) : s);

function typeLabel(s: Schema): ComponentChildren {
  if (s.$ref) return <a href={`#schema-${refName(s.$ref)}`}>{refName(s.$ref)}</a>;
  const alt = s.anyOf ?? s.oneOf;
  if (alt)
    return alt.map((a, i) => (
      <span key={i}>
        {i ? " | " : ""}
        {typeLabel(a)}
      </span>
    ));
  if (s.type === "array" && s.items) return <>array of {typeLabel(s.items)}</>;
  const t = Array.isArray(s.type) ? s.type.join(" | ") : (s.type ?? "any");
  return `${t}${s.format ? ` (${s.format})` : ""}`;
}

function constraints(s: Schema): string {
  const c: string[] = [];
  if (s.enum) c.push(`one of ${s.enum.map((v) => JSON.stringify(v)).join(", ")}`);
  if (s.minimum !== undefined) c.push(`≥ ${s.minimum}`);
  if (s.maximum !== undefined) c.push(`≤ ${s.maximum}`);
  if (s.minLength !== undefined) c.push(`min length ${s.minLength}`);
  if (s.maxLength !== undefined) c.push(`max length ${s.maxLength}`);
  if (s.pattern) c.push(`pattern ${s.pattern}`);
  if (s.default !== undefined) c.push(`default ${JSON.stringify(s.default)}`);
  return c.join("; ");
}

function Properties({ schema, depth = 0 }: { schema: Schema; depth?: number }) {
  const s = depth === 0 ? resolve(schema) : schema;
  const props = s.properties ?? (s.allOf ? Object.assign({}, ...s.allOf.map((a) => resolve(a).properties ?? {})) : null);
  if (!props) return <p class="muted">{typeLabel(schema)}</p>;
  return (
    <ul class="props">
      {Object.entries(props as Record<string, Schema>).map(([name, p]) => (
        <li key={name}>
          <code>{name}</code> <span class="muted">{typeLabel(p)}</span>
          {s.required?.includes(name) ? <span class="req"> required</span> : null}
          {p.description ? (
            <>
              {" — "}
              <Text text={p.description} />
            </>
          ) : null}
          {constraints(p) ? <div class="muted small">{constraints(p)}</div> : null}
          {depth < 2 && !p.$ref && p.type === "object" && p.properties ? <Properties schema={p} depth={depth + 1} /> : null}
          {depth < 2 && p.type === "array" && p.items && !p.items.$ref && p.items.properties ? (
            <Properties schema={p.items} depth={depth + 1} />
          ) : null}
        </li>
      ))}
    </ul>
  );
}

/** An example body from a schema: examples, defaults, or a placeholder per type. */
function example(s: Schema, depth = 0): unknown {
  const r = resolve(s);
  if (r.example !== undefined) return r.example;
  if (r.default !== undefined) return r.default;
  if (r.enum) return r.enum[0];
  if (depth > 4) return null;
  const t = Array.isArray(r.type) ? r.type[0] : r.type;
  if (t === "object" || r.properties) {
    return Object.fromEntries(Object.entries(r.properties ?? {}).map(([k, v]) => [k, example(v, depth + 1)]));
  }
  if (t === "array") return r.items ? [example(r.items, depth + 1)] : [];
  if (t === "integer" || t === "number") return r.minimum ?? 0;
  if (t === "boolean") return false;
  if (r.format === "uuid") return "00000000-0000-0000-0000-000000000000";
  if (r.format === "date-time") return new Date().toISOString();
  return "";
}

function TryIt({ method, path, op }: { method: string; path: string; op: Operation }) {
  const params = op.parameters ?? [];
  const bodySchema = op.requestBody?.content?.["application/json"]?.schema;
  const [values, setValues] = useState<Record<string, string>>({});
  const [body, setBody] = useState(() => (bodySchema ? JSON.stringify(example(bodySchema), null, 2) : ""));
  const [result, setResult] = useState<{ status: number; requestId: string | null; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const id = op.operationId ?? `${method}-${path}`;
  const send = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    let url = path.replace(/\{(\w+)\}/g, (_m, n: string) => encodeURIComponent(values[`path:${n}`] ?? ""));
    const qs = new URLSearchParams();
    const headers: Record<string, string> = { Accept: "application/json" };
    for (const p of params) {
      const v = values[`${p.in}:${p.name}`];
      if (!v) continue;
      if (p.in === "query") qs.set(p.name, v);
      if (p.in === "header") headers[p.name] = v;
    }
    if (qs.size) url += `?${qs}`;
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
    if (bodySchema) headers["Content-Type"] = "application/json";
    try {
      const res = await fetch(url, { method: method.toUpperCase(), headers, body: bodySchema ? body : null });
      const text = await res.text();
      let pretty = text;
      try {
        pretty = JSON.stringify(JSON.parse(text), null, 2);
      } catch {}
      setResult({ status: res.status, requestId: res.headers.get("x-request-id"), text: pretty });
    } catch (err) {
      setResult({ status: 0, requestId: null, text: String(err) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <details class="try">
      <summary>Try it</summary>
      <form onSubmit={send}>
        {params.map((p) => {
          const key = `${p.in}:${p.name}`;
          const fid = `${id}-${p.in}-${p.name}`;
          return (
            <div class="field" key={key}>
              <label for={fid}>
                {p.name}{" "}
                <span class="muted">
                  ({p.in}
                  {p.required ? ", required" : ""})
                </span>
              </label>
              <input
                id={fid}
                required={p.required}
                value={values[key] ?? ""}
                onInput={(ev) => setValues({ ...values, [key]: ev.currentTarget.value })}
              />
            </div>
          );
        })}
        {bodySchema ? (
          <div class="field">
            <label for={`${id}-body`}>JSON body</label>
            <textarea id={`${id}-body`} rows={8} class="mono" value={body} onInput={(ev) => setBody(ev.currentTarget.value)} />
          </div>
        ) : null}
        <button type="submit" disabled={busy}>
          Send {method.toUpperCase()} request
        </button>
      </form>
      {result ? (
        <div role="status">
          <p>
            <strong>HTTP {result.status || "error"}</strong>
            {result.requestId ? (
              <span class="muted">
                {" "}
                · request id <code>{result.requestId}</code>
              </span>
            ) : null}
          </p>
          <pre class="payload">{result.text}</pre>
        </div>
      ) : null}
    </details>
  );
}

function OperationView({ method, path, op }: { method: string; path: string; op: Operation }) {
  const id = op.operationId ?? `${method}-${path}`;
  const bodySchema = op.requestBody?.content?.["application/json"]?.schema;
  return (
    <section class="card op" id={id} aria-labelledby={`${id}-h`}>
      <h3 id={`${id}-h`}>
        <span class={`method method-${method}`}>{method.toUpperCase()}</span> <code>{path}</code>
      </h3>
      <p>
        <Text text={op.summary} />
        {op.security?.length ? <span class="badge">bearer token</span> : null}
      </p>
      {op.description ? (
        <p class="muted">
          <Text text={op.description} />
        </p>
      ) : null}
      {op.parameters?.length ? (
        <>
          <h4>Parameters</h4>
          <ul class="props">
            {op.parameters.map((p) => (
              <li key={`${p.in}${p.name}`}>
                <code>{p.name}</code>{" "}
                <span class="muted">
                  in {p.in}, {p.schema ? typeLabel(p.schema) : "string"}
                </span>
                {p.required ? <span class="req"> required</span> : null}
                {p.description || p.schema?.description ? (
                  <>
                    {" — "}
                    <Text text={p.description ?? p.schema?.description} />
                  </>
                ) : null}
                {p.schema && constraints(p.schema) ? <div class="muted small">{constraints(p.schema)}</div> : null}
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {bodySchema ? (
        <>
          <h4>Request body {bodySchema.$ref ? <span class="muted">({typeLabel(bodySchema)})</span> : null}</h4>
          <Properties schema={bodySchema} />
        </>
      ) : null}
      <h4>Responses</h4>
      <ul class="props">
        {Object.entries(op.responses ?? {}).map(([code, r]) => {
          const [type, media] = Object.entries(r.content ?? {})[0] ?? [];
          return (
            <li key={code}>
              <strong>{code}</strong> <Text text={r.description} />
              {media?.schema ? (
                <span class="muted">
                  {" "}
                  — {type}: {typeLabel(media.schema)}
                </span>
              ) : null}
            </li>
          );
        })}
      </ul>
      <TryIt method={method} path={path} op={op} />
    </section>
  );
}

function TokenBox() {
  const [token, setToken] = useState(() => sessionStorage.getItem(TOKEN_KEY) ?? "");
  return (
    <form
      class="card token"
      onSubmit={(e) => {
        e.preventDefault();
        if (token.trim()) sessionStorage.setItem(TOKEN_KEY, token.trim());
        else sessionStorage.removeItem(TOKEN_KEY);
      }}
    >
      <div class="field">
        <label for="docs-token">Bearer token for “Try it”</label>
        <input id="docs-token" type="password" autocomplete="off" value={token} onInput={(e) => setToken(e.currentTarget.value)} />
        <small class="hint">
          From <code>POST /api/v1/auth/login</code>. Kept in this tab only (sessionStorage).
        </small>
      </div>
      <button type="submit" class="secondary">
        Use this token
      </button>
    </form>
  );
}

function Reference({ d }: { d: Doc }) {
  const byTag = new Map<string, { method: string; path: string; op: Operation }[]>();
  for (const [path, item] of Object.entries(d.paths)) {
    for (const m of METHODS) {
      const op = item[m];
      if (!op) continue;
      const tag = op.tags?.[0] ?? "Other";
      byTag.set(tag, [...(byTag.get(tag) ?? []), { method: m, path, op }]);
    }
  }
  const tags = [
    ...(d.tags ?? []).map((t) => t.name).filter((t) => byTag.has(t)),
    ...[...byTag.keys()].filter((t) => !d.tags?.some((x) => x.name === t)),
  ];
  const schemas = Object.entries(d.components?.schemas ?? {});
  return (
    <div class="docs">
      <nav class="side" aria-label="Operations">
        <ul>
          {tags.map((t) => (
            <li key={t}>
              <a href={`#tag-${t}`}>{t}</a>
              <ul>
                {(byTag.get(t) ?? []).map(({ method, path, op }) => (
                  <li key={`${method}${path}`}>
                    <a href={`#${op.operationId ?? `${method}-${path}`}`}>
                      <span class={`method method-${method}`}>{method.toUpperCase()}</span> {path}
                    </a>
                  </li>
                ))}
              </ul>
            </li>
          ))}
          <li>
            <a href="#schemas">Schemas</a>
          </li>
        </ul>
      </nav>
      <div class="content">
        <TokenBox />
        {tags.map((t) => (
          <section key={t} id={`tag-${t}`} aria-labelledby={`tag-${t}-h`}>
            <h2 id={`tag-${t}-h`}>{t}</h2>
            <p class="muted">
              <Text text={d.tags?.find((x) => x.name === t)?.description} />
            </p>
            {(byTag.get(t) ?? []).map(({ method, path, op }) => (
              <OperationView key={`${method}${path}`} method={method} path={path} op={op} />
            ))}
          </section>
        ))}
        <section id="schemas" aria-labelledby="schemas-h">
          <h2 id="schemas-h">Schemas</h2>
          {schemas.map(([name, s]) => (
            <section class="card" key={name} id={`schema-${name}`} aria-labelledby={`schema-${name}-h`}>
              <h3 id={`schema-${name}-h`}>{name}</h3>
              {s.description ? (
                <p class="muted">
                  <Text text={s.description} />
                </p>
              ) : null}
              {s.properties || s.allOf ? (
                <Properties schema={s} />
              ) : (
                <p class="muted">
                  {typeLabel(s)} {constraints(s)}
                </p>
              )}
            </section>
          ))}
        </section>
      </div>
    </div>
  );
}

function Docs() {
  const [state, setState] = useState<{ d?: Doc; error?: string }>({});
  useEffect(() => {
    fetch("/openapi.json", { headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`GET /openapi.json answered ${r.status}`))))
      .then((d: Doc) => {
        doc = d;
        setState({ d });
        if (location.hash) requestAnimationFrame(() => document.getElementById(location.hash.slice(1))?.scrollIntoView());
      })
      .catch((err: Error) => setState({ error: err.message }));
  }, []);
  const d = state.d;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">{d ? `${d.info.title} ${d.info.version}` : "API reference"}</span>
        <nav aria-label="Links">
          <ul>
            <li>
              <a href="/openapi.json">openapi.json</a>
            </li>
            <li>
              <a href="/admin/">Admin console</a>
            </li>
          </ul>
        </nav>
      </header>
      <main id="main">
        <h1>{d?.info.title ?? "API reference"}</h1>
        {d?.info.description ? (
          <p>
            <Text text={d.info.description} />
          </p>
        ) : null}
        {state.error ? (
          <p class="error-note" role="alert">
            {state.error}
          </p>
        ) : null}
        {!d && !state.error ? (
          <p class="state" role="status">
            Loading the reference…
          </p>
        ) : null}
        {d ? <Reference d={d} /> : null}
      </main>
    </>
  );
}

const root = document.getElementById("app");
if (root) render(<Docs />, root);
