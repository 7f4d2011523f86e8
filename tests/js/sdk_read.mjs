// Reads back with the real JS `langsmith` SDK what it traced: readProject, listProjects,
// readRun with child runs, listRuns with a filter and a trace filter, listGroupRuns (threads),
// and share links. Configured only by the environment. Prints what it read as JSON.
import { Client, RunTree } from "langsmith";

process.removeAllListeners("warning");
const project = process.env.LANGSMITH_PROJECT;
const client = new Client();
const root = new RunTree({
  name: "js-pipeline",
  run_type: "chain",
  inputs: { text: "hello from js" },
  extra: { metadata: { thread_id: "js-thread" } },
  project_name: project,
  client,
  tracingEnabled: true,
});
await root.postRun();
const llm = root.createChild({ name: "js-llm", run_type: "llm", inputs: { q: "hi" } });
await llm.postRun();
await llm.end({ text: "hey" });
await llm.patchRun();
const tool = root.createChild({ name: "js-tool", run_type: "tool", inputs: { q: "x" } });
await tool.postRun();
await tool.end({ found: true });
await tool.patchRun();
await root.end({ answer: 42 });
await root.patchRun();
await client.awaitPendingTraceBatches();

const toArray = async (iterable) => {
  const out = [];
  for await (const item of iterable) out.push(item);
  return out;
};

// Ingestion is asynchronous: wait until all three runs are readable and ended.
const deadline = Date.now() + 30_000;
for (;;) {
  const runs = await toArray(client.listRuns({ projectName: project }));
  if (runs.length === 3 && runs.every((r) => r.end_time && r.name && r.dotted_order)) break;
  if (Date.now() > deadline) throw new Error(`only ${runs.length} runs readable`);
  await new Promise((resolve) => setTimeout(resolve, 200));
}

const out = { made: { root: root.id, llm: llm.id, tool: tool.id } };
const read = await client.readProject({ projectName: project, includeStats: true });
out.project = { name: read.name, run_count: read.run_count };
out.listed = (await toArray(client.listProjects({ nameContains: project }))).map((p) => p.name);
const run = await client.readRun(root.id, { loadChildRuns: true });
out.root = {
  name: run.name,
  outputs: run.outputs,
  children: run.child_runs.map((c) => c.name),
  child_run_ids: run.child_run_ids,
};
out.filtered = (
  await toArray(client.listRuns({ projectName: project, filter: 'eq(run_type, "llm")' }))
).map((r) => r.id);
out.trace_filtered = (
  await toArray(
    client.listRuns({ projectName: project, traceFilter: 'eq(name, "js-pipeline")', isRoot: false }),
  )
).map((r) => r.id);
const groups = await toArray(client.listGroupRuns({ projectName: project, groupBy: "conversation" }));
out.threads = { total: groups.length, key: groups[0]?.group_key };
await client.shareRun(root.id);
const link = await client.readRunSharedLink(root.id);
const token = link.split("/").at(-2);
out.share = {
  listed: (await toArray(client.listRuns({ projectName: project }))).length,
  shared_via_public: (await fetch(`${process.env.LANGSMITH_ENDPOINT}/public/${token}/run`)).status,
};
await client.unshareRun(root.id);
out.share.after_unshare = (await client.readRunSharedLink(root.id)) ?? null;
console.log(JSON.stringify(out));
