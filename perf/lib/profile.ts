/**
 * CPU profiles of the app inside workerd (`npm run bench -- --profile`): the V8 sampling profiler
 * over the inspector protocol (Miniflare's `inspectorPort`), while the scenario's load runs.
 * The bundle is built unminified for this, so every sample maps to a source module through
 * esbuild's `// path` comments; self time is summed per module (node_modules by package) and
 * per function, inclusive time per function (each stack counted once per function).
 */
import { readFileSync, writeFileSync } from "node:fs";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The smallest CDP client that can drive the profiler: one WebSocket, request ids, replies by id. */
class Inspector {
  private seq = 0;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private ws: WebSocket;
  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.addEventListener("message", (ev) => {
      const msg = JSON.parse(String(ev.data)) as { id?: number; result?: unknown; error?: { message: string } };
      const p = msg.id === undefined ? undefined : this.pending.get(msg.id);
      if (!p || msg.id === undefined) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(msg.error.message));
      else p.resolve(msg.result);
    });
  }

  static async open(port: number, worker: string): Promise<Inspector> {
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { id: string; webSocketDebuggerUrl?: string }[];
    const target = targets.find((t) => t.id.endsWith(`:${worker}`) || t.id === worker);
    const url = target?.webSocketDebuggerUrl ?? `ws://127.0.0.1:${port}/core:user:${worker}`;
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error(`inspector: cannot open ${url} (targets: ${targets.map((t) => t.id)})`)), {
        once: true,
      });
    });
    return new Inspector(ws);
  }

  send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.seq;
    this.ws.send(JSON.stringify({ id, method, params }));
    return new Promise<T>((resolve, reject) => this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject }));
  }

  close(): void {
    this.ws.close();
  }
}

/** Samples `worker` every `intervalUs` while `run` runs. */
export async function profileWhile(port: number, worker: string, run: () => Promise<void>, intervalUs = 200): Promise<CpuProfile> {
  const inspector = await Inspector.open(port, worker);
  try {
    await inspector.send("Profiler.enable");
    await inspector.send("Profiler.setSamplingInterval", { interval: intervalUs });
    await inspector.send("Profiler.start");
    await run();
    return (await inspector.send<{ profile: CpuProfile }>("Profiler.stop")).profile;
  } finally {
    inspector.close();
  }
}

/** Line (0-based) → source module, from esbuild's `// path` comments in an unminified bundle. */
function moduleIndex(bundle: string): (line: number) => string {
  const starts: { line: number; name: string }[] = [];
  bundle.split("\n").forEach((text, line) => {
    const m = /^\/\/ ((?:node_modules|src|durable-objects|queues|node-built-in-modules)[^\s]*)$/.exec(text);
    if (m?.[1]) starts.push({ line, name: m[1] });
  });
  return (line) => {
    let lo = 0;
    let hi = starts.length - 1;
    let found = "(bundle prelude)";
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = starts[mid] as { line: number; name: string };
      if (s.line <= line) {
        found = s.name;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
}

/** node_modules/hono/dist/… → "hono"; node_modules/@scope/pkg/… → "@scope/pkg"; src/… stays a file. */
function groupOf(module: string): string {
  const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(module);
  return m?.[1] ?? module;
}

export interface ProfileSummary {
  /** Sampled wall time of the isolate's thread (ms) and the part that was not idle. */
  totalMs: number;
  busyMs: number;
  requests: number;
  /** Self time per source module or package, ms per request. */
  modules: { name: string; msPerReq: number; share: number }[];
  /** Self time per function, ms per request. */
  selfFns: { name: string; msPerReq: number; share: number }[];
  /** Inclusive time per function (the function and everything it called), ms per request. */
  totalFns: { name: string; msPerReq: number; share: number }[];
}

const SPECIAL = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"]);

export function summarise(profile: CpuProfile, bundlePath: string, requests: number, top = 15): ProfileSummary {
  const moduleAt = moduleIndex(readFileSync(bundlePath, "utf8"));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const isBundle = (cf: CallFrame) => cf.url !== "" && !SPECIAL.has(cf.functionName);
  const label = (cf: CallFrame) => {
    if (SPECIAL.has(cf.functionName)) return cf.functionName;
    if (!isBundle(cf)) return `${cf.functionName || "(anonymous)"} [native]`;
    return `${cf.functionName || "(anonymous)"} ${groupOf(moduleAt(cf.lineNumber))}:${cf.lineNumber + 1}`;
  };
  const mod = new Map<string, number>();
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    total += us;
    const cf = node.callFrame;
    if (cf.functionName === "(idle)") {
      idle += us;
      continue;
    }
    // Native frames (JSON.stringify, crypto…) are charged to the nearest bundle frame above them.
    let owner: ProfileNode | undefined = node;
    while (owner && !isBundle(owner.callFrame)) owner = byId.get(parent.get(owner.id) ?? -1);
    const m = owner ? groupOf(moduleAt(owner.callFrame.lineNumber)) : cf.functionName || "(native)";
    mod.set(m, (mod.get(m) ?? 0) + us);
    self.set(label(cf), (self.get(label(cf)) ?? 0) + us);
    const seen = new Set<string>();
    for (let n: ProfileNode | undefined = node; n; n = byId.get(parent.get(n.id) ?? -1)) {
      const l = label(n.callFrame);
      if (seen.has(l) || SPECIAL.has(n.callFrame.functionName)) continue;
      seen.add(l);
      incl.set(l, (incl.get(l) ?? 0) + us);
    }
  }
  const busy = total - idle;
  const rank = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, msPerReq: us / 1000 / Math.max(1, requests), share: us / Math.max(1, busy) }));
  return { totalMs: total / 1000, busyMs: busy / 1000, requests, modules: rank(mod), selfFns: rank(self), totalFns: rank(incl) };
}

export function renderSummary(scenario: string, s: ProfileSummary): string {
  const table = (title: string, rows: ProfileSummary["modules"]) =>
    [
      `| ${title} | ms/req | share of busy |`,
      "|---|---:|---:|",
      ...rows.map((r) => `| \`${r.name}\` | ${r.msPerReq.toFixed(3)} | ${(r.share * 100).toFixed(1)} % |`),
    ].join("\n");
  return [
    `### ${scenario}`,
    "",
    `${s.requests} requests; isolate thread busy ${(s.busyMs / Math.max(1, s.requests)).toFixed(3)} ms/req ` +
      `(${s.busyMs.toFixed(0)} of ${s.totalMs.toFixed(0)} ms sampled; the rest idle, waiting on I/O or the load generator).`,
    "",
    table("self time by module", s.modules),
    "",
    table("self time by function", s.selfFns),
    "",
    table("inclusive time by function", s.totalFns),
    "",
  ].join("\n");
}

export function saveProfile(path: string, profile: CpuProfile): void {
  writeFileSync(path, JSON.stringify(profile));
}
