import { useQuery } from "@tanstack/react-query";
import { api, call } from "./client";

/** Who is signed in, and their workspaces (a 401 sends the page to sign-in). */
export function useMe() {
  return useQuery({ queryKey: ["me"], queryFn: () => call(api.GET("/api/v1/me")), staleTime: 60_000 });
}

export function useProject(id: string) {
  return useQuery({
    queryKey: ["project", id],
    queryFn: () => call(api.GET("/api/v1/sessions/{id}", { params: { path: { id }, query: { include_stats: true } } })),
  });
}

/** The caller's permissions in the current workspace (`projects:create`, …): write actions
 * show only to those who may take them. Empty until known. */
export function usePermissions(workspaceId: string): Set<string> {
  const me = useQuery({
    queryKey: ["me-in", workspaceId],
    queryFn: () => call(api.GET("/api/v1/me")),
    staleTime: 60_000,
    enabled: !!workspaceId,
  });
  return new Set(me.data?.current_workspace?.permissions ?? []);
}

/** Whether the installation runs the deployment control plane (its pages show only then). */
export function useHostEnabled() {
  return useQuery({
    queryKey: ["host-enabled"],
    queryFn: async () => (await call(api.GET("/api/v1/info"))).instance_flags.deployments_enabled,
    staleTime: 300_000,
  });
}
