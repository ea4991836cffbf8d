/**
 * `npm run test:e2e`: runs e2e/console.test.ts with node's test runner, the spec report on stdout and a
 * TAP copy in dist/e2e/results.tap (CI's summary counts it). Exit code 1 on any failure.
 */
import { createWriteStream, mkdirSync } from "node:fs";
import { run } from "node:test";
import { spec, tap } from "node:test/reporters";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL("../dist/e2e", import.meta.url));
mkdirSync(dir, { recursive: true });
const stream = run({ files: [fileURLToPath(new URL("console.test.ts", import.meta.url))], concurrency: 1 });
stream.on("test:fail", () => {
  process.exitCode = 1;
});
stream.compose(tap).pipe(createWriteStream(`${dir}/results.tap`));
stream.compose(spec).pipe(process.stdout);
