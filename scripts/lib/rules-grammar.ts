/**
 * A small grammar of the Cloudflare Rules language: exactly the fields, operators and functions the
 * rules of deploy/cloudflare/waf.json use, with their types. `npm run waf:apply` refuses an expression
 * it cannot parse, and test/waf.rules.test.ts parses every one (and checks the paths they name exist
 * in /openapi.json). Anything outside this subset is an error here even if Cloudflare would accept
 * it: widen the grammar on purpose, with a test, when a rule needs more.
 *
 *   expr       := and ("or" and)*
 *   and        := unary ("and" unary)*
 *   unary      := "not" unary | "(" expr ")" | call | comparison | boolean-field
 *   comparison := field op literal | field "in" set | field "in" $list
 *   call       := ("starts_with" | "ends_with") "(" string-field "," string ")"
 *   set        := "{" literal+ "}"
 */

type FieldType = "string" | "int" | "bool" | "ip";

/** The fields the rules may read, with their types (Cloudflare's Rules language reference). */
export const FIELDS: Record<string, FieldType> = {
  "http.host": "string",
  "http.request.method": "string",
  "http.request.uri.path": "string",
  "http.user_agent": "string",
  "ip.src": "ip",
  "cf.client.bot": "bool",
  "cf.bot_management.score": "int",
  "cf.bot_management.verified_bot": "bool",
  "cf.threat_score": "int",
};

const OPERATORS: Record<string, FieldType[]> = {
  eq: ["string", "int"],
  ne: ["string", "int"],
  lt: ["int"],
  le: ["int"],
  gt: ["int"],
  ge: ["int"],
  contains: ["string"],
  wildcard: ["string"],
};
const FUNCTIONS = new Set(["starts_with", "ends_with"]);

export type Node =
  | { kind: "and" | "or"; left: Node; right: Node }
  | { kind: "not"; expr: Node }
  | { kind: "compare"; field: string; op: string; value: string | number }
  | { kind: "in"; field: string; values: (string | number)[] }
  | { kind: "in_list"; field: string; list: string }
  | { kind: "call"; fn: string; field: string; value: string }
  | { kind: "bool"; field: string };

type Token = { t: "word" | "string" | "int" | "list" | "punct"; v: string; at: number };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  const re = /\s*(?:("(?:[^"\\]|\\.)*")|(\$[a-z][a-z0-9_]*)|(-?\d+)(?![\w.])|([A-Za-z_][A-Za-z0-9_.]*)|([(){},]))/y;
  let i = 0;
  while (i < src.length) {
    if (/^\s*$/.test(src.slice(i))) break;
    re.lastIndex = i;
    const m = re.exec(src);
    if (!m) throw new Error(`unexpected character at ${i}: ${src.slice(i, i + 12)}`);
    const at = i + (m[0].length - m[0].trimStart().length);
    if (m[1] !== undefined) out.push({ t: "string", v: JSON.parse(m[1]) as string, at });
    else if (m[2] !== undefined) out.push({ t: "list", v: m[2].slice(1), at });
    else if (m[3] !== undefined) out.push({ t: "int", v: m[3], at });
    else if (m[4] !== undefined) out.push({ t: "word", v: m[4], at });
    else out.push({ t: "punct", v: m[5] as string, at });
    i = re.lastIndex;
  }
  return out;
}

/** Parses `src` (throws with the position on anything outside the grammar or the fields' types). */
export function parseExpression(src: string): Node {
  const tokens = tokenize(src);
  let pos = 0;
  const peek = () => tokens[pos];
  const fail = (msg: string): never => {
    throw new Error(`${msg} at ${peek()?.at ?? src.length} in: ${src}`);
  };
  const next = () => tokens[pos++] ?? fail("unexpected end");
  const expect = (v: string) => {
    const t = next();
    if (t.v !== v || (t.t !== "punct" && t.t !== "word")) fail(`expected ${v}`);
  };
  const field = (): [string, FieldType] => {
    const t = next();
    const type = t.t === "word" ? FIELDS[t.v] : undefined;
    if (!type) return fail(`unknown field ${t.v}`);
    return [t.v, type];
  };
  const literal = (type: FieldType): string | number => {
    const t = next();
    if (type === "int" && t.t === "int") return Number(t.v);
    if (type === "string" && t.t === "string") return t.v;
    return fail(`a ${type} value expected, got ${t.v}`);
  };

  const unary = (): Node => {
    const t = peek() ?? fail("unexpected end");
    if (t.t === "word" && t.v === "not") {
      pos++;
      return { kind: "not", expr: unary() };
    }
    if (t.t === "punct" && t.v === "(") {
      pos++;
      const e = or();
      expect(")");
      return e;
    }
    if (t.t === "word" && FUNCTIONS.has(t.v)) {
      pos++;
      expect("(");
      const [name, type] = field();
      if (type !== "string") fail(`${t.v} takes a string field`);
      expect(",");
      const value = literal("string") as string;
      expect(")");
      return { kind: "call", fn: t.v, field: name, value };
    }
    const [name, type] = field();
    const op = peek();
    if (type === "bool" && (op?.t !== "word" || !(op.v in OPERATORS || op.v === "in"))) return { kind: "bool", field: name };
    const o = next();
    if (o.t !== "word") return fail("an operator expected");
    if (o.v === "in") {
      const open = next();
      if (open.t === "list") {
        if (type !== "ip") fail("only ip.src may be tested against a list");
        return { kind: "in_list", field: name, list: open.v };
      }
      if (open.v !== "{") fail("expected { or $list after in");
      const values: (string | number)[] = [];
      while (peek()?.v !== "}") values.push(literal(type));
      pos++;
      if (!values.length) fail("an empty set");
      return { kind: "in", field: name, values };
    }
    if (!OPERATORS[o.v]?.includes(type)) fail(`operator ${o.v} does not apply to ${name} (${type})`);
    return { kind: "compare", field: name, op: o.v, value: literal(type) };
  };
  const and = (): Node => {
    let left = unary();
    while (peek()?.t === "word" && peek()?.v === "and") {
      pos++;
      left = { kind: "and", left, right: unary() };
    }
    return left;
  };
  function or(): Node {
    let left = and();
    while (peek()?.t === "word" && peek()?.v === "or") {
      pos++;
      left = { kind: "or", left, right: and() };
    }
    return left;
  }
  const tree = or();
  if (pos < tokens.length) fail("unexpected trailing input");
  return tree;
}

/** The request paths an expression names: exact ones (eq, in) and prefixes (starts_with, wildcard up to its first *). */
export function pathsIn(node: Node): { exact: string[]; prefixes: string[] } {
  const out = { exact: [] as string[], prefixes: [] as string[] };
  const walk = (n: Node): void => {
    switch (n.kind) {
      case "and":
      case "or":
        walk(n.left);
        walk(n.right);
        return;
      case "not":
        walk(n.expr);
        return;
      case "compare":
        if (n.field !== "http.request.uri.path") return;
        if (n.op === "eq" || n.op === "ne") out.exact.push(String(n.value));
        if (n.op === "wildcard") out.prefixes.push(String(n.value).split("*")[0] as string);
        return;
      case "in":
        if (n.field === "http.request.uri.path") out.exact.push(...n.values.map(String));
        return;
      case "call":
        if (n.field === "http.request.uri.path" && n.fn === "starts_with") out.prefixes.push(n.value);
        return;
      default:
        return;
    }
  };
  walk(node);
  return out;
}
