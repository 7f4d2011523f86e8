// The deployment pages in Debian's Chromium against a real stack whose data plane (listener and
// the operator's local runtime) runs beside it: create a listener and read its install values,
// create a deployment from an image, watch it reach DEPLOYED, read its logs, change its secrets
// (a new revision), redeploy the older revision, and delete it. Configured by the environment
// (UI, ADMIN_EMAIL, ADMIN_PASSWORD, IMAGE, SCREENSHOTS); prints what it saw as JSON.
import { openBrowser, signIn, text, until } from "./browser.mjs";

process.removeAllListeners("warning");
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const UI = env("UI");
const out = { pages: {}, axe: {} };

const { page, check, close } = await openBrowser(out, process.env.SCREENSHOTS ?? "");
try {
  const workspace = await signIn(page, UI, env("ADMIN_EMAIL"), env("ADMIN_PASSWORD"));

  // The nav shows Deployments when the control plane runs.
  await page.getByRole("link", { name: "Deployments" }).click();
  await page.waitForURL(/\/host\/deployments$/);
  await check("deployments-empty");

  // A listener for a cluster of the user's, and what to install there.
  await page.getByRole("link", { name: "Listeners" }).click();
  await page.getByRole("button", { name: "New listener" }).click();
  await page.getByLabel("Compute id (the cluster's name)").fill("kind-cluster");
  await page.getByLabel("Namespaces (comma-separated)").fill("agents, agents-staging");
  await page.getByRole("button", { name: "Create" }).click();
  const row = page.locator("tr[data-listener='kind-cluster']");
  await row.waitFor();
  out.listener_connection = await row.locator("[data-connection]").getAttribute("data-connection");
  await row.getByRole("button", { name: "Install values" }).click();
  out.install_values = await text(page.getByLabel("Install values of kind-cluster"));
  await check("listeners");

  // A deployment from an image, on the installation's in-cluster listener.
  await page.goto(`${UI}/o/${workspace}/host/deployments`);
  await page.getByRole("button", { name: "New deployment" }).click();
  await page.getByLabel("Name", { exact: true }).fill("ui-agent");
  await page.getByLabel("Image").fill(env("IMAGE"));
  await page.getByLabel(/^Secrets/).fill("GREETING=from the ui");
  await page.getByRole("button", { name: "Create" }).click();
  await page.waitForURL(/\/host\/deployments\/[0-9a-f-]{36}$/);
  out.deployment_id = page.url().split("/").pop();
  await until("the first revision to be deployed", async () => (await page.locator("[data-revision] [data-status='DEPLOYED']").count()) === 1, 120_000);
  await until("the deployment to be READY", async () => (await page.locator(".page-head [data-status]").getAttribute("data-status")) === "READY");
  out.url = await text(page.locator(".facts dd.mono").first());
  await check("deployment-ready");

  // Its logs.
  await page.getByRole("tab", { name: "Logs" }).click();
  await until("deploy logs", async () => (await text(page.getByLabel("Logs"))).includes("Ready at"));
  out.logs = (await text(page.getByLabel("Logs"))).split("\n").slice(0, 4);
  await check("deployment-logs");

  // New secrets make a second revision.
  await page.getByRole("tab", { name: "Secrets" }).click();
  await page.getByRole("button", { name: "Edit secrets" }).click();
  await page.getByRole("form", { name: "Edit secrets" }).locator("textarea").fill("GREETING=changed in the ui");
  await page.getByRole("button", { name: "Save and redeploy" }).click();
  await page.getByRole("tab", { name: "Revisions" }).click();
  await until("the second revision to be deployed", async () => (await page.locator("[data-revision] [data-status='DEPLOYED']").count()) === 2, 120_000);

  // Redeploy the older one: a third revision with its image.
  const older = page.locator("[data-revision]").last();
  const olderId = (await older.getAttribute("data-revision")) ?? "";
  await older.getByRole("button", { name: /^Redeploy/ }).click();
  await until("the redeployed revision to be deployed", async () => (await page.locator("[data-revision] [data-status='DEPLOYED']").count()) === 3, 120_000);
  out.revisions = await page.locator("[data-revision]").count();
  out.redeployed_from = olderId;
  await check("deployment-redeployed");

  // Delete it: the list no longer shows it once the data plane has torn it down.
  await page.getByRole("tab", { name: "Settings" }).click();
  await page.getByLabel("Confirm name").fill("ui-agent");
  await page.getByRole("button", { name: "Delete deployment" }).click();
  await page.waitForURL(/\/host\/deployments$/);
  await until("the deployment to disappear", async () => (await page.getByRole("link", { name: "ui-agent" }).count()) === 0, 60_000);
  await check("deployments-after-delete");
} finally {
  await close();
}
console.log(JSON.stringify(out));
