/** The caller's own account; other accounts only for ADMIN (others' ids are 404). */
import { createRoute } from "@hono/zod-openapi";
import { UserIdParamSchema, UserSchema } from "../schemas/auth.ts";
import { authResponses, jsonContent, problemResponses } from "../schemas/common.ts";
import { readAccount } from "../services/auth.service.ts";
import { createRouter } from "./router.ts";

export const usersRouter = createRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/me",
      operationId: "getMe",
      tags: ["Accounts"],
      summary: "The authenticated account",
      security: [{ bearerAuth: [] }],
      responses: { 200: { description: "Your account", content: jsonContent(UserSchema) }, ...authResponses, ...problemResponses },
    }),
    async (c) => c.json(await readAccount(await c.get("dbFresh").orm(), c.get("principal"), c.get("principal").userId), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{id}",
      operationId: "getUser",
      tags: ["Accounts"],
      summary: "An account by id (yours, or any for ADMIN)",
      security: [{ bearerAuth: [] }],
      request: { params: UserIdParamSchema },
      responses: { 200: { description: "The account", content: jsonContent(UserSchema) }, ...authResponses, ...problemResponses },
    }),
    async (c) => c.json(await readAccount(await c.get("dbFresh").orm(), c.get("principal"), c.req.valid("param").id), 200),
  );
