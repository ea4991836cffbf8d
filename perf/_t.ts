import { startPooler } from "./lib/pgbouncer.ts";
const t = Date.now();
const p = await startPooler("postgres://postgres:postgres@127.0.0.1:5432/postgres", console.log);
console.log(p.label, p.url, p.pid, Date.now() - t);
await p.stop();
