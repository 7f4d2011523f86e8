// Traces with the real JS `langsmith` SDK as users do: a RunTree with nested children (an LLM
// run reporting usage, a failing tool), posted and ended through the client's batched,
// gzip-streamed multipart path. Configured only by the environment. Prints the ids it made.
import { Client, RunTree } from "langsmith";

const client = new Client();
const root = new RunTree({
  name: "js-pipeline",
  run_type: "chain",
  inputs: { text: "hello from js" },
  client,
  tracingEnabled: true,
});
await root.postRun();
const llm = root.createChild({
  name: "chat",
  run_type: "llm",
  inputs: { messages: [{ role: "user", content: "hi" }] },
  extra: { metadata: { ls_provider: "openai", ls_model_name: "gpt-4o" } },
});
await llm.postRun();
const tool = llm.createChild({ name: "search", run_type: "tool", inputs: { q: "x" } });
await tool.postRun();
await tool.end(undefined, "search failed");
await tool.patchRun();
await llm.end({
  answer: "hey",
  usage_metadata: { input_tokens: 8, output_tokens: 2, total_tokens: 10 },
});
await llm.patchRun();
await root.end({ result: "done" });
await root.patchRun();
await client.awaitPendingTraceBatches();
console.log(JSON.stringify({ root: root.id, llm: llm.id, tool: tool.id }));
