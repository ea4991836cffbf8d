/**
 * The platform's floor for a per-request connection: a bare worker, served by the same workerd as
 * the app, that opens a connection to its Hyperdrive binding (pointed at the same pgbouncer), runs
 * the statements the scenario's request i issues, and closes. perf/lib/floors.ts builds one bundle
 * per driver (pg.ts, postgres.ts) with esbuild and loads each scenario's statements into it.
 *
 * Protocol (chosen so that a timed request costs the worker nothing the app does not also pay):
 *  - `POST /` with a `FloorTable` (JSON) before a scenario's slices, untimed: kept in module scope
 *    (one isolate per worker in workerd). Parameters are already pg's text forms (strings or null).
 *  - `GET /<i>`: runs request `order[i % order.length]`; no body, no JSON parsing, no URL object,
 *    and the response is a few bytes (the row count): no result serialisation either.
 * Unloaded (isolate restarted) → 500, which the harness counts as errors.
 */

/** One statement as the floor runs it. */
export interface FloorStatement {
  text: string;
  /** pg's text form of each parameter (pg/lib/utils prepareValue), so both drivers send the same bytes. */
  values: (string | null)[];
  /** drizzle's select builder asks pg for rows as arrays. */
  array?: boolean;
  /**
   * Values the database produced earlier in the same request (e.g. the id `INSERT … RETURNING id`
   * returns, used by the next statements): [parameter index, statement index, column, recorded value].
   * The recorded value is replaced by the one this request's statement returned.
   */
  refs?: Ref[];
}

/** [parameter index, statement index, column (name, or index in array row mode), recorded value]. */
export type Ref = [number, number, string | number, string];

export interface FloorTable {
  /** Distinct requests (each a list of statements run in order on one connection). */
  requests: FloorStatement[][];
  /** Request i runs requests[order[i % order.length]]. */
  order: number[];
}

export interface FloorEnv {
  HYPERDRIVE: Hyperdrive;
  /** postgres.js floor only: "false" turns its prepared statements off (`node perf/bench.ts --postgres-prepare false`). */
  POSTGRES_PREPARE?: string;
}

/**
 * A driver's part: connect, run each statement in order with `params(k, firstRows)` (firstRows: the first
 * row each earlier statement returned), close in waitUntil, and return the number of rows.
 */
export type RunRequest = (
  env: FloorEnv,
  statements: FloorStatement[],
  params: (k: number, firstRows: unknown[]) => (string | null)[],
  ctx: ExecutionContext,
) => Promise<number>;

/** `values` with each ref's recorded value replaced by what that statement returned in this request (`firstRows`). */
export function withRefs<V>(values: V[], refs: Ref[] | undefined, firstRows: unknown[]): V[] {
  if (!refs) return values;
  const out = values.slice();
  for (const [param, from, column, token] of refs) {
    const actual = (firstRows[from] as Record<string | number, unknown> | undefined)?.[column];
    const v = out[param];
    if (typeof v === "string" && typeof actual === "string") out[param] = v.replaceAll(token, actual) as V;
  }
  return out;
}

export function floorWorker(run: RunRequest): ExportedHandler<FloorEnv> {
  let table: FloorTable | undefined;
  return {
    async fetch(request, env, ctx) {
      if (request.method === "POST") {
        table = await request.json<FloorTable>();
        return new Response(String(table.order.length));
      }
      if (!table?.order.length) return new Response("no statement table loaded", { status: 500 });
      const url = request.url;
      const i = Number(url.slice(url.lastIndexOf("/") + 1));
      const statements = table.requests[table.order[i % table.order.length] as number] as FloorStatement[];
      try {
        const params = (k: number, firstRows: unknown[]) => {
          const s = statements[k] as FloorStatement;
          return withRefs(s.values, s.refs, firstRows);
        };
        const rows = await run(env, statements, params, ctx);
        return new Response(String(rows));
      } catch (err) {
        return new Response(`floor: ${err instanceof Error ? err.message : String(err)}`, { status: 500 });
      }
    },
  };
}
