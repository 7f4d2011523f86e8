// The typed API client: every call goes through the same REST API the SDKs use, typed by the
// OpenAPI document the services generate (`npm run types` regenerates `schema.d.ts`).
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Run = Schemas["Run"];
export type Project = Schemas["Project"];
export type Dataset = Schemas["Dataset"];
export type Example = Schemas["Example"];
export type FeedbackStats = Schemas["FeedbackStats"];
export type Me = Schemas["Me"];

/** An answer other than 2xx, with the server's `detail` as it wrote it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly body: unknown,
  ) {
    super(detail);
  }
}

// The workspace the page is in (from its URL); sent with every call as `X-Tenant-Id`.
let workspace: string | null = null;
export function setWorkspace(id: string | null) {
  workspace = id;
}
export function currentWorkspace() {
  return workspace;
}

export const api = createClient<paths>({ baseUrl: "", credentials: "same-origin" });
api.use({
  onRequest({ request }) {
    if (workspace && !request.headers.has("X-Tenant-Id")) {
      request.headers.set("X-Tenant-Id", workspace);
    }
    return request;
  },
});

/** The text a failed answer carries: `detail` (a string, or validation errors), else the status. */
export function detailOf(body: unknown, status: number): string {
  if (body && typeof body === "object" && "detail" in body) {
    const detail = (body as { detail: unknown }).detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail
        .map((d) => (d && typeof d === "object" && "msg" in d ? String((d as { msg: unknown }).msg) : JSON.stringify(d)))
        .join("; ");
    }
    return JSON.stringify(detail);
  }
  if (typeof body === "string" && body.length > 0 && body.length < 300) return body;
  return `The server answered ${status}`;
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

/** Awaits an openapi-fetch call: its data, or an `ApiError` (a 401 sends the page to sign-in). */
export async function call<T>(request: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await request;
  if (!response.ok) {
    if (response.status === 401 && !location.pathname.startsWith("/login") && !location.pathname.startsWith("/public/")) {
      const next = location.pathname + location.search;
      location.assign(`/login?next=${encodeURIComponent(next)}`);
    }
    throw new ApiError(response.status, detailOf(error, response.status), error);
  }
  return data as T;
}
