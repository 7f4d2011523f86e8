import { createBrowserRouter, type RouteObject } from "react-router";
import { Shell } from "./components/Shell";
import { RouteError } from "./components/common";
import { Home, LegacyDatasetRedirect, PromptLinkRedirect } from "./pages/Home";
import { Login } from "./pages/Login";
import { NotFound } from "./pages/NotFound";

// Pages load on first use, so the first screen downloads only what it shows.
const lazy = (load: () => Promise<{ Component: React.ComponentType }>) => ({ lazy: load });

const workspaceRoutes: RouteObject[] = [
  { index: true, ...lazy(() => import("./pages/Projects").then((m) => ({ Component: m.Projects }))) },
  { path: "projects", ...lazy(() => import("./pages/Projects").then((m) => ({ Component: m.Projects }))) },
  { path: "projects/p/:projectId", ...lazy(() => import("./pages/Project").then((m) => ({ Component: m.ProjectPage }))) },
  { path: "projects/p/:projectId/r/:runId", ...lazy(() => import("./pages/Trace").then((m) => ({ Component: m.TracePage }))) },
  { path: "datasets", ...lazy(() => import("./pages/Datasets").then((m) => ({ Component: m.Datasets }))) },
  { path: "datasets/:datasetId", ...lazy(() => import("./pages/Dataset").then((m) => ({ Component: m.DatasetPage }))) },
  { path: "datasets/:datasetId/compare", ...lazy(() => import("./pages/Compare").then((m) => ({ Component: m.Compare }))) },
  { path: "annotation-queues", ...lazy(() => import("./pages/Queues").then((m) => ({ Component: m.Queues }))) },
  { path: "annotation-queues/:queueId", ...lazy(() => import("./pages/Queues").then((m) => ({ Component: m.QueueReview }))) },
  { path: "prompts", ...lazy(() => import("./pages/Prompts").then((m) => ({ Component: m.Prompts }))) },
  { path: "prompts/:name", ...lazy(() => import("./pages/Prompts").then((m) => ({ Component: m.PromptPage }))) },
  { path: "playground", ...lazy(() => import("./pages/Playground").then((m) => ({ Component: m.Playground }))) },
  { path: "settings", ...lazy(() => import("./pages/Settings").then((m) => ({ Component: m.Settings }))) },
  { path: "host/deployments", ...lazy(() => import("./pages/Deployment").then((m) => ({ Component: m.Deployments }))) },
  { path: "host/deployments/:deploymentId", ...lazy(() => import("./pages/Deployment").then((m) => ({ Component: m.Deployment }))) },
  { path: "host/listeners", ...lazy(() => import("./pages/Listeners").then((m) => ({ Component: m.Listeners }))) },
  { path: "*", Component: NotFound },
];

export const router = createBrowserRouter([
  {
    errorElement: <RouteError />,
    children: [
      { path: "/login", Component: Login },
      { path: "/public/:token/r", ...lazy(() => import("./pages/Shared").then((m) => ({ Component: m.SharedRun }))) },
      { path: "/public/:token/d", ...lazy(() => import("./pages/Shared").then((m) => ({ Component: m.SharedDataset }))) },
      { path: "/hub/:owner/:nameAndCommit", ...lazy(() => import("./pages/Prompts").then((m) => ({ Component: m.PublicPrompt }))) },
      { path: "/", Component: Home },
      { path: "/oauth-callback", Component: Home },
      { path: "/datasets/:datasetId/*", Component: LegacyDatasetRedirect },
      { path: "/prompts/:name/:commit?", Component: PromptLinkRedirect },
      { path: "/o/:workspaceId", Component: Shell, children: workspaceRoutes },
      { path: "*", Component: NotFound },
    ],
  },
]);
