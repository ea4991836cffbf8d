/** The caller's own account; other accounts only for ADMIN (others' ids are 404). */
import { createRoute } from "@hono/zod-openapi";
import { findUserById } from "../db/users.repo.ts";
import { ApiError } from "../lib/problem.ts";
import { createRouter } from "../lib/router.ts";
import { assertOwnerOrAdmin } from "../middleware/auth.ts";
import { UserIdParamSchema, UserSchema } from "../schemas/auth.ts";
import { authResponses, jsonContent, problemResponses } from "../schemas/common.ts";
import { toUserDto } from "../services/auth.service.ts";

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
    async (c) => {
      const user = await findUserById(await c.get("dbFresh").orm(), c.get("principal").userId);
      if (!user) throw new ApiError("not_found", "Your account no longer exists.");
      return c.json(toUserDto(user), 200);
    },
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
    async (c) => {
      const { id } = c.req.valid("param");
      assertOwnerOrAdmin(c.get("principal"), id.toLowerCase(), "account");
      const user = await findUserById(await c.get("dbFresh").orm(), id);
      if (!user) throw new ApiError("not_found", "No account with that id.");
      return c.json(toUserDto(user), 200);
    },
  );
