/**
 * Floor (b): postgres.js, the driver Cloudflare documents for Hyperdrive, with the documented options
 * (`fetch_types: false`, prepared statements on: its default, which Hyperdrive supports;
 * `--postgres-prepare false` turns them off for an experiment) except `max: 1` instead of 5: a
 * request's statements run one after another, so postgres.js would open one connection anyway,
 * and a transaction issued as statements (BEGIN … COMMIT) needs `max: 1`.
 * One client per request, ended after the response in waitUntil, like floor (a).
 *
 * Parameters arrive in pg's text form (both floors send the same bytes). postgres.js serialises by the
 * type the server describes, which would re-encode a JSON text (jsonb) or turn "true" into 'f', so its
 * json, boolean and date serialisers pass text through here; its parsers stay as they are.
 */
import postgres from "postgres";
import { floorWorker } from "./common.ts";

const text = (x: unknown) => String(x);
const types = {
  json: { to: 114, from: [114, 3802], serialize: text, parse: (x: string) => JSON.parse(x) as unknown },
  boolean: { to: 16, from: [16], serialize: text, parse: (x: string) => x === "t" },
  date: { to: 1184, from: [1082, 1114, 1184], serialize: text, parse: (x: string) => new Date(x) },
};

export default floorWorker(async (env, statements, params, ctx) => {
  const sql = postgres(env.HYPERDRIVE.connectionString, {
    max: 1,
    fetch_types: false,
    prepare: env.POSTGRES_PREPARE !== "false",
    types,
    onnotice: () => {},
  });
  const firstRows: unknown[] = [];
  let rows = 0;
  try {
    for (let k = 0; k < statements.length; k++) {
      const s = statements[k] as (typeof statements)[number];
      const q = sql.unsafe(s.text, params(k, firstRows) as string[]);
      const res = s.array ? await q.values() : await q;
      firstRows.push(res[0]);
      rows += res.count ?? res.length;
    }
  } catch (err) {
    await sql.unsafe("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    ctx.waitUntil(sql.end().catch(() => {}));
  }
  return rows;
});
