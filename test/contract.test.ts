/**
 * Route contract (issue 10, point 2): generated from `/openapi.json` and the GUARDS table,
 * so a new route is covered without anyone remembering to add a test.
 * 1. secured operations → 401 problem without a token;
 * 2. ADMIN-only operations → 403 for a USER token;
 * 3. every GUARDS entry names a documented operation (a typo fails here);
 * 4. a documented required Idempotency-Key is enforced, and GUARDS' "required" is documented;
 * 5. public GETs under /api/v1 answer with Cache-Control and X-Cache (edge cache), errors are not cacheable.
 */
import { describe, expect, it } from "vitest";
import { GUARDS, type GuardSpec } from "../src/guards/index.ts";
import { api, createUser, expectProblem, type Problem, uniqueSuffix } from "./helpers.ts";

// ---- The document, minimally typed -------------------------------------------------------

interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  example?: unknown;
  examples?: unknown[];
  default?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
}

interface Parameter {
  $ref?: string;
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  schema?: JsonSchema;
  example?: unknown;
}

interface Operation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { $ref?: string; required?: boolean; content?: Record<string, { schema?: JsonSchema }> };
}

type PathItem = Partial<Record<(typeof METHODS)[number], Operation>> & { parameters?: Parameter[] };

interface OpenApiDoc {
  openapi: string;
  paths: Record<string, PathItem>;
  components?: Record<string, Record<string, unknown>>;
  security?: Record<string, string[]>[];
}

interface Op {
  /** "POST /api/v1/orders": every case name starts with it. */
  label: string;
  method: string;
  path: string;
  op: Operation;
  params: Parameter[];
}

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

const res = await api("/openapi.json");
if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}`);
const doc = (await res.json()) as OpenApiDoc;

/** Follows a local JSON pointer (`#/components/schemas/Order`). */
function deref<T extends { $ref?: string }>(node: T | undefined): T | undefined {
  let cur: unknown = node;
  for (let hops = 0; hops < 20 && cur && typeof cur === "object" && typeof (cur as { $ref?: unknown }).$ref === "string"; hops++) {
    const ref = (cur as { $ref: string }).$ref;
    if (!ref.startsWith("#/")) throw new Error(`external $ref not supported: ${ref}`);
    cur = ref
      .slice(2)
      .split("/")
      .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"))
      .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], doc);
    if (cur === undefined) throw new Error(`dangling $ref in /openapi.json: ${ref}`);
  }
  return cur as T | undefined;
}

const OPERATIONS: Op[] = Object.entries(doc.paths).flatMap(([path, item]) =>
  METHODS.flatMap((m) => {
    const op = item[m];
    if (!op) return [];
    // Operation-level parameters override path-level ones with the same name and location.
    const byKey = new Map<string, Parameter>();
    for (const p of [...(item.parameters ?? []), ...(op.parameters ?? [])].map((x) => deref(x) as Parameter))
      byKey.set(`${p.in}:${p.name}`, p);
    return [{ label: `${m.toUpperCase()} ${path}`, method: m.toUpperCase(), path, op, params: [...byKey.values()] }];
  }),
);

// ---- Plausible values from the schemas ---------------------------------------------------

const ISO_NOW = new Date().toISOString();

function stringSample(s: JsonSchema): string {
  const candidates = [
    s.format === "uuid" ? crypto.randomUUID() : undefined,
    s.format === "date-time" ? ISO_NOW : undefined,
    s.format === "date" ? ISO_NOW.slice(0, 10) : undefined,
    s.format === "email" ? `contract-${uniqueSuffix()}@example.com` : undefined,
    s.format === "uri" || s.format === "url" ? "https://example.com/contract" : undefined,
    "CONTRACT-1",
    "USD",
    crypto.randomUUID(),
    ISO_NOW,
    "x".repeat(Math.max(1, s.minLength ?? 1)),
  ].filter((v): v is string => v !== undefined);
  const fits = (v: string) =>
    v.length >= (s.minLength ?? 0) &&
    v.length <= (s.maxLength ?? Number.POSITIVE_INFINITY) &&
    (!s.pattern || new RegExp(s.pattern).test(v));
  return candidates.find(fits) ?? (candidates[0] as string);
}

function numberSample(s: JsonSchema, integer: boolean): number {
  let v = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + (integer ? 1 : 0.5) : 1);
  if (s.maximum !== undefined && v > s.maximum) v = s.maximum;
  if (s.exclusiveMaximum !== undefined && v >= s.exclusiveMaximum) v = s.exclusiveMaximum - 1;
  return integer ? Math.ceil(v) : v;
}

/** A minimal value the schema accepts: required properties only, one array element, documented examples first. */
function sample(node: JsonSchema | undefined, depth = 0): unknown {
  const s = deref(node);
  if (!s || depth > 12) return {};
  if (s.example !== undefined) return s.example;
  if (s.examples?.length) return s.examples[0];
  if (s.const !== undefined) return s.const;
  if (s.enum?.length) return s.enum[0];
  if (s.default !== undefined) return s.default;
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives?.length) return sample(alternatives.find((a) => deref(a)?.type !== "null") ?? alternatives[0], depth + 1);
  if (s.allOf?.length) return Object.assign({}, ...s.allOf.map((a) => sample(a, depth + 1)));
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type;
  switch (type ?? (s.properties ? "object" : undefined)) {
    case "object":
      return Object.fromEntries((s.required ?? []).map((k) => [k, sample(s.properties?.[k], depth + 1)]));
    case "array":
      return Array.from({ length: Math.max(1, s.minItems ?? 1) }, () => sample(s.items, depth + 1));
    case "integer":
      return numberSample(s, true);
    case "number":
      return numberSample(s, false);
    case "boolean":
      return true;
    case "null":
      return null;
    default:
      return stringSample(s);
  }
}

function paramSample(p: Parameter): string {
  return String(p.example ?? sample(p.schema));
}

/** Fills `{name}` from the parameter schemas (or `pathValues`), plus the required query parameters. */
function urlFor(o: Op, pathValues: Record<string, string> = {}): string {
  const path = o.path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    const p = o.params.find((x) => x.in === "path" && x.name === name);
    return encodeURIComponent(pathValues[name] ?? (p ? paramSample(p) : crypto.randomUUID()));
  });
  const query = new URLSearchParams(o.params.filter((p) => p.in === "query" && p.required).map((p) => [p.name, paramSample(p)]));
  return query.size ? `${path}?${query}` : path;
}

function jsonBodyOf(o: Op): string | undefined {
  const body = deref(o.op.requestBody);
  const media = body?.content?.["application/json"];
  return media ? JSON.stringify(sample(media.schema)) : undefined;
}

/** The documented request: path and required query filled, a plausible JSON body when there is one. */
function request(o: Op, headers: Record<string, string> = {}, opts: { body?: boolean } = {}): Promise<Response> {
  const body = opts.body === false ? undefined : jsonBodyOf(o);
  return api(urlFor(o), {
    method: o.method,
    headers: { ...(body === undefined ? {} : { "Content-Type": "application/json" }), ...headers },
    body,
  });
}

// ---- The rules' case lists ---------------------------------------------------------------

const isSecured = (o: Op) => (o.op.security ?? doc.security ?? []).some((req) => Object.keys(req).length > 0);
/** Under /api/v1/admin/, tagged Admin, or documented as ADMIN-only ("ADMIN: …" summary). */
const isAdminOnly = (o: Op) =>
  o.path.startsWith("/api/v1/admin/") || (o.op.tags ?? []).includes("Admin") || /^ADMIN\b/.test(o.op.summary ?? "");
const idempotencyParam = (o: Op) => o.params.find((p) => p.in === "header" && p.name.toLowerCase() === "idempotency-key");

const SECURED = OPERATIONS.filter(isSecured);
const ADMIN_ONLY = OPERATIONS.filter(isAdminOnly);
const IDEMPOTENCY_REQUIRED = OPERATIONS.filter((o) => idempotencyParam(o)?.required === true);
const PUBLIC_GETS = OPERATIONS.filter((o) => o.method === "GET" && o.path.startsWith("/api/v1/") && !isSecured(o));
const PUBLIC_GETS_WITH_PATH_PARAMS = PUBLIC_GETS.filter((o) => o.path.includes("{"));

/** Hono's `:param` (and `:param{regex}`) as OpenAPI's `{param}`; `*` matches the rest of the path. */
function guardPathMatcher(honoPath: string): RegExp {
  const openapiPath = honoPath.replace(/:([A-Za-z0-9_]+)(\{(?:[^{}]|\{[^{}]*\})*\})?/g, "{$1}");
  const escaped = openapiPath.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${escaped.join(".*")}$`);
}
const guardLabel = (g: GuardSpec) => `${g.method} ${g.path}`;
const operationsFor = (g: GuardSpec) => OPERATIONS.filter((o) => o.method === g.method && guardPathMatcher(g.path).test(o.path));

const admin = await createUser("ADMIN");
const user = await createUser("USER");

describe("contract: the generated case lists are not empty", () => {
  it("enumerates the documented operations and each rule's cases", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(OPERATIONS.length).toBeGreaterThanOrEqual(20);
    expect(SECURED.length).toBeGreaterThanOrEqual(15);
    expect(ADMIN_ONLY.length).toBeGreaterThanOrEqual(10);
    expect(GUARDS.length).toBeGreaterThanOrEqual(10);
    expect(IDEMPOTENCY_REQUIRED.length).toBeGreaterThanOrEqual(2);
    expect(PUBLIC_GETS.length).toBeGreaterThanOrEqual(4);
    expect(PUBLIC_GETS_WITH_PATH_PARAMS.length).toBeGreaterThanOrEqual(1);
    // Sentinels: the filters still select what they are meant to.
    const labels = (ops: Op[]) => ops.map((o) => o.label);
    expect(labels(SECURED)).toEqual(expect.arrayContaining(["GET /api/v1/users/me", "POST /api/v1/orders", "POST /api/v1/admin/products"]));
    expect(labels(ADMIN_ONLY)).toEqual(expect.arrayContaining(["POST /api/v1/admin/products", "POST /api/v1/orders/bulk"]));
    expect(labels(ADMIN_ONLY)).not.toContain("PATCH /api/v1/orders/{id}/status"); // owners may cancel: not ADMIN-only
    expect(labels(IDEMPOTENCY_REQUIRED)).toEqual(expect.arrayContaining(["POST /api/v1/orders", "POST /api/v1/payments"]));
    expect(labels(PUBLIC_GETS)).toEqual(expect.arrayContaining(["GET /api/v1/products", "GET /api/v1/products/{idOrSku}"]));
  });

  it("the guard path matcher converts Hono paths and catches typos", () => {
    expect(guardPathMatcher("/api/v1/orders/:id/status").test("/api/v1/orders/{id}/status")).toBe(true);
    expect(guardPathMatcher("/api/v1/ordres/:id/status").test("/api/v1/orders/{id}/status")).toBe(false);
    expect(guardPathMatcher("/sandbox/checkout/:ref{sbx_pi_[0-9a-f]{32}}").test("/sandbox/checkout/{ref}")).toBe(true);
    expect(guardPathMatcher("/api/v1/admin/*").test("/api/v1/admin/products/{id}")).toBe(true);
    expect(guardPathMatcher("/api/v1/admn/*").test("/api/v1/admin/products/{id}")).toBe(false);
    expect(operationsFor({ method: "POST", path: "/api/v1/order" })).toEqual([]);
    expect(operationsFor({ method: "PUT", path: "/api/v1/admin/*" })).toEqual([]);
  });
});

describe("contract 1: secured operations refuse a request without a token (401 problem)", () => {
  it.each(SECURED)("$label → 401 without Authorization", async (o) => {
    // No body either: authentication must come before any body is read or validated.
    const res = await request(o, {}, { body: false });
    await expectProblem(res, 401, "unauthorized");
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
  });
});

describe("contract 2: ADMIN-only operations refuse a USER token (403 problem)", () => {
  it.each(ADMIN_ONLY)("$label → 403 for a USER", async (o) => {
    // A plausible body, so a role check made after body validation still has to answer 403.
    const res = await request(o, user.auth);
    await expectProblem(res, 403, "forbidden");
  });
});

describe("contract 3: every GUARDS entry names a documented operation", () => {
  it.each(GUARDS.map((g) => ({ label: guardLabel(g), g })))("$label matches an operation in /openapi.json", ({ g }) => {
    const matched = operationsFor(g);
    expect(
      matched.map((o) => o.label),
      `${guardLabel(g)} matches no documented operation (typo?)`,
    ).not.toEqual([]);
    if (!g.path.includes("*")) expect(matched).toHaveLength(1);
  });
});

describe("contract 4: a required Idempotency-Key is enforced and documented", () => {
  const headerErrors = (p: Partial<Problem>) =>
    (p.errors ?? []).filter((e) => e.in === "header" && e.field.toLowerCase() === "idempotency-key");

  it.each(IDEMPOTENCY_REQUIRED)("$label → 400 without Idempotency-Key (and not with one)", async (o) => {
    const who = isAdminOnly(o) ? admin : user;
    const p = await expectProblem(await request(o, who.auth), 400, "validation_error");
    expect(p.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field: "Idempotency-Key", in: "header" })]));
    // Control: the same request with a key is not refused for the key (whatever the business outcome).
    const withKey = await request(o, { ...who.auth, "Idempotency-Key": `contract-${crypto.randomUUID()}` });
    expect(withKey.status).toBeLessThan(500);
    const body = withKey.headers.get("content-type")?.includes("json") ? ((await withKey.json()) as Partial<Problem>) : {};
    expect(headerErrors(body)).toEqual([]);
  });

  const requiredGuards = GUARDS.filter((g) => g.idempotency === "required");
  it("GUARDS has required-idempotency entries to check", () => expect(requiredGuards.length).toBeGreaterThanOrEqual(2));
  it.each(requiredGuards.map((g) => ({ label: guardLabel(g), g })))(
    "$label (GUARDS: required) is documented as a required header",
    ({ g }) => {
      const matched = operationsFor(g);
      expect(matched).not.toEqual([]);
      for (const o of matched)
        expect(idempotencyParam(o)?.required, `${o.label} does not document a required idempotency-key header`).toBe(true);
    },
  );

  const optionalGuards = GUARDS.filter((g) => g.idempotency === "optional");
  it.each(optionalGuards.map((g) => ({ label: guardLabel(g), g })))(
    "$label (GUARDS: optional) is documented as an optional header on every operation it covers",
    ({ g }) => {
      const matched = operationsFor(g);
      expect(matched).not.toEqual([]);
      for (const o of matched) {
        const p = idempotencyParam(o);
        expect(p, `${o.label} does not document its optional idempotency-key header`).toBeDefined();
        expect(p?.required ?? false).toBe(false);
      }
    },
  );
});

const products = (await (await api("/api/v1/products?limit=1")).json()) as { data: { id: string; sku: string }[] };
const product = products.data[0];

describe("contract 5: public GETs under /api/v1 are edge-cached", () => {
  /** Real values for public path parameters (a documented example might not exist in the data). */
  const real: Record<string, string | undefined> = { idOrSku: product?.sku, id: product?.id };
  const CACHE_CONTROL = /^public, max-age=\d+, s-maxage=\d+, stale-while-revalidate=\d+$/;

  it("has a real product to address", () => expect(product?.sku).toBeTruthy());

  it.each(PUBLIC_GETS)("$label → 200 with Cache-Control and X-Cache", async (o) => {
    const values = Object.fromEntries(Object.entries(real).filter((e): e is [string, string] => e[1] !== undefined));
    const url = urlFor(o, values);
    const res = await api(url);
    expect(res.status, `GET ${url}`).toBe(200);
    expect(res.headers.get("cache-control"), `GET ${url}`).toMatch(CACHE_CONTROL);
    expect(res.headers.get("x-cache"), `GET ${url}`).toMatch(/^(HIT|MISS|STALE)$/);
    expect(res.headers.get("etag"), `GET ${url}`).toMatch(/^"[A-Za-z0-9_-]+"$/);
  });

  it.each(PUBLIC_GETS_WITH_PATH_PARAMS)("$label → an unknown resource is a 404 that is never cached", async (o) => {
    // A fresh uuid where the parameter accepts one, else an unlikely SKU-like value.
    const missing = (p: Parameter) => {
      const uuid = crypto.randomUUID();
      const pattern = deref(p.schema)?.pattern;
      return !pattern || new RegExp(pattern).test(uuid) ? uuid : `NO-SUCH-${uniqueSuffix()}`;
    };
    const url = urlFor(o, Object.fromEntries(o.params.filter((p) => p.in === "path").map((p) => [p.name, missing(p)])));
    const res = await api(url);
    await expectProblem(res, 404, "not_found");
    expect(res.headers.get("cache-control"), `GET ${url}`).toBe("no-store");
    expect(res.headers.get("x-cache"), `GET ${url}`).toBeNull();
  });
});
