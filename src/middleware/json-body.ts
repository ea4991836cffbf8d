/**
 * For routes that take a body: 415 unless JSON, 413 past the byte cap (checked
 * on Content-Length and again while streaming, before any parsing), 400 on
 * malformed JSON, and 400 when the JSON breaks the input rules (src/lib/input-rules.ts:
 * NUL, lone surrogates, nesting depth). The body is read once; the validators read Hono's body cache.
 */
import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { AppEnv } from "../app-env.ts";
import type { Config } from "../config.ts";
import { parseJsonChecked } from "../lib/input-rules.ts";
import { ApiError } from "../lib/problem.ts";

const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);
const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i;

async function readCapped(req: Request, cap: number): Promise<string> {
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > cap) {
      await reader.cancel().catch(() => {});
      throw new ApiError("payload_too_large", `The request body exceeds ${cap} bytes.`);
    }
    chunks.push(value);
  }
  const buf = new Uint8Array(size);
  let off = 0;
  for (const ch of chunks) {
    buf.set(ch, off);
    off += ch.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(buf);
  } catch {
    throw new ApiError("malformed_json", "The request body is not valid UTF-8.");
  }
}

/** Per-path byte caps that differ from MAX_BODY_BYTES (e.g. bulk import). */
export type BodyLimits = Record<string, (cfg: Config) => number>;

export function jsonBody(limits: BodyLimits = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!BODY_METHODS.has(c.req.method)) return next();
    // Only when a route exists for this method: unknown routes fall through to 404/405.
    const routed = matchedRoutes(c).some((r) => r.method === c.req.method);
    if (!routed) return next();
    const cfg = c.get("config");
    const cap = limits[c.req.path]?.(cfg) ?? cfg.MAX_BODY_BYTES;
    const declared = Number(c.req.header("content-length") ?? "0");
    if (declared > cap) throw new ApiError("payload_too_large", `The request body exceeds ${cap} bytes.`);
    const type = c.req.header("content-type") ?? "";
    const text = await readCapped(c.req.raw, cap);
    // Hono's json()/text() read this cache (it holds promises at runtime, though typed
    // as values); the raw stream has been consumed above.
    c.req.bodyCache.text = Promise.resolve(text) as unknown as string;
    // No body at all: leave it to the route's schema to say what is required.
    if (text.length === 0 && !type) return next();
    if (!JSON_TYPE.test(type)) {
      throw new ApiError("unsupported_media_type", "Send the request body as application/json.", {
        headers: { "Accept-Post": "application/json" },
      });
    }
    // Parsed once here and walked: no NUL, no lone surrogate, at most MAX_JSON_DEPTH levels (400 naming the field).
    parseJsonChecked(text);
    return next();
  };
}
