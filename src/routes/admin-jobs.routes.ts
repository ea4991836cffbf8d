/** ADMIN: the scheduled jobs, and running one by hand (the same code path as the Cron Trigger). */
import { createRoute, z } from "@hono/zod-openapi";
import { authResponses, jsonContent, problem, problemResponses } from "../schemas/common.ts";
import { JOB_NAMES, JOBS, runJob, scheduleFor } from "../services/jobs.service.ts";
import { createRouter } from "./router.ts";

const security = [{ bearerAuth: [] }];

const JobSchema = z
  .object({ name: z.enum(JOB_NAMES), description: z.string(), schedules: z.array(z.string()).openapi({ example: ["* * * * *"] }) })
  .openapi("Job");

const JobResultSchema = z
  .object({
    job: z.enum(JOB_NAMES),
    counts: z.record(z.string(), z.number().int()).openapi({ example: { expired: 3, restocked_units: 7, skipped: 0 } }),
    duration_ms: z.number().int(),
  })
  .openapi("JobResult");

export const adminJobsRouter = createRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/jobs",
      operationId: "adminListJobs",
      tags: ["Admin"],
      summary: "Scheduled jobs and their cron expressions",
      security,
      responses: {
        200: { description: "Jobs", content: jsonContent(z.object({ data: z.array(JobSchema) })) },
        ...authResponses,
        ...problemResponses,
      },
    }),
    (c) =>
      c.json(
        {
          data: JOB_NAMES.map((name) => ({
            name,
            description: JOBS[name].description,
            schedules: Object.entries(scheduleFor(c.get("config"))).flatMap(([cron, jobs]) => (jobs.includes(name) ? [cron] : [])),
          })),
        },
        200,
      ),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/jobs/{name}/run",
      operationId: "adminRunJob",
      tags: ["Admin"],
      summary: "Run a job now and wait for it (bounded by JOB_TIME_BUDGET_MS; jobs are idempotent)",
      security,
      request: { params: z.object({ name: z.enum(JOB_NAMES).openapi({ param: { name: "name", in: "path" } }) }) },
      responses: {
        200: { description: "Finished", content: jsonContent(JobResultSchema) },
        ...authResponses,
        ...problemResponses,
        404: problem("No such job"),
      },
    }),
    async (c) => {
      const result = await runJob(
        c.req.valid("param").name,
        {
          db: () => c.get("dbFresh").orm(),
          cfg: c.get("config"),
          log: c.get("log").child({ actor: c.get("principal").userId }),
          env: c.env,
        },
        "admin",
      );
      return c.json(result, 200, { "Cache-Control": "no-store" });
    },
  );
