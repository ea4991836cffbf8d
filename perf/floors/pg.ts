/**
 * Floor (a): `pg`, as the app uses it (src/db/client.ts: a new Client per request, closed after the
 * response in waitUntil) but bare: no drizzle, no app options (timeouts), rows not serialised.
 */
import pg from "pg";
import { floorWorker } from "./common.ts";

export default floorWorker(async (env, statements, params, ctx) => {
  const client = new pg.Client({ connectionString: env.HYPERDRIVE.connectionString });
  client.on("error", () => {});
  await client.connect();
  const firstRows: unknown[] = [];
  let rows = 0;
  try {
    for (let k = 0; k < statements.length; k++) {
      const s = statements[k] as (typeof statements)[number];
      const values = params(k, firstRows);
      const res = s.array ? await client.query({ text: s.text, values, rowMode: "array" }) : await client.query({ text: s.text, values });
      firstRows.push(res.rows[0]);
      rows += res.rowCount ?? 0;
    }
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    ctx.waitUntil(client.end().catch(() => {}));
  }
  return rows;
});
