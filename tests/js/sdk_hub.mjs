// Drives the prompt hub with the real JS `langsmith` SDK and LangChain.js: push a prompt and a
// second version, tag it, pull it back (by latest, tag and hash prefix), list, like, and pull
// the prompt the Python SDK pushed (IRONSMITH_PULL_PY); LangChain's `langchain/hub` push and
// pull against the same server. Configured by LANGSMITH_ENDPOINT and LANGSMITH_API_KEY.
// Prints what it saw as JSON; the Rust test checks it.
import { ChatPromptTemplate } from "@langchain/core/prompts";
import { pull as hubPull, push as hubPush } from "langchain/hub";
import { Client } from "langsmith";

const client = new Client();
const out = {};

const first = ChatPromptTemplate.fromMessages([
  ["system", "You answer in one word."],
  ["human", "What colour is {thing}?"],
]);
const second = ChatPromptTemplate.fromMessages([
  ["system", "You answer in one sentence."],
  ["human", "What colour is {thing} at {time}?"],
]);

out.push_url = await client.pushPrompt("js-colour", {
  object: first,
  description: "Colours",
  tags: ["colour"],
});
const firstHash = (await client.getPrompt("js-colour")).last_commit_hash;
await client.pushPrompt("js-colour", { object: second, commitTags: ["stable"] });
out.pushed_manifest = JSON.parse(JSON.stringify(second));

const latest = await client.pullPromptCommit("js-colour", { skipCache: true });
out.latest_vars = latest.manifest.kwargs.input_variables;
const tagged = await client.pullPromptCommit("js-colour:stable", { skipCache: true });
out.tagged_hash = tagged.commit_hash;
const byPrefix = await client.pullPromptCommit(`js-colour:${firstHash.slice(0, 8)}`, {
  skipCache: true,
});
out.prefix_vars = byPrefix.manifest.kwargs.input_variables;

const commits = [];
for await (const commit of client.listCommits("js-colour")) commits.push(commit.commit_hash);
out.commits = commits;
out.first_hash = firstHash;

const listed = [];
for await (const prompt of client.listPrompts({ query: "js-col" })) listed.push(prompt.repo_handle);
out.listed = listed;
out.like = (await client.likePrompt("js-colour")).likes;
out.exists = await client.promptExists("js-colour");
out.missing = await client.promptExists("js-no-such-prompt");

// A stale parent: the SDK raises the server's 409.
try {
  await client.createCommit("js-colour", ChatPromptTemplate.fromMessages([["human", "{x}"]]), {
    parentCommitHash: firstHash,
  });
  out.stale_push = "accepted";
} catch (error) {
  out.stale_push = String(error.message ?? error).includes("409") ? "conflict" : String(error);
}

// LangChain.js's hub module.
await hubPush("js-lc-hub", first, {
  apiUrl: process.env.LANGSMITH_ENDPOINT,
  apiKey: process.env.LANGSMITH_API_KEY,
});
const pulled = await hubPull("js-lc-hub", {
  apiUrl: process.env.LANGSMITH_ENDPOINT,
  apiKey: process.env.LANGSMITH_API_KEY,
  skipCache: true,
});
out.lc_hub_vars = [...pulled.inputVariables].sort();
out.lc_hub_messages = (await pulled.formatMessages({ thing: "the sky" })).map((m) => m.content);

// Directory repositories.
await client.pushAgent("js-agent", {
  files: { "AGENTS.md": { type: "file", content: "Be quick." } },
});
const agent = await client.pullAgent("js-agent");
out.agent_files = agent.files;

if (process.env.IRONSMITH_PULL_PY) {
  const py = await client.pullPromptCommit(process.env.IRONSMITH_PULL_PY, { skipCache: true });
  out.py_manifest = py.manifest;
}

await client.deletePrompt("js-lc-hub");
out.deleted = !(await client.promptExists("js-lc-hub"));

process.stdout.write(JSON.stringify(out));
