// Runs an experiment with the real JS `langsmith` SDK's evaluate() against Ironsmith and reads
// back what it recorded: each example's feedback and the experiment's statistics. Configured
// only by the environment. Prints the evaluator's scores and what was read back, as JSON.
import { Client } from "langsmith";
import { evaluate } from "langsmith/evaluation";

process.removeAllListeners("warning");
const client = new Client();
const dataset = await client.createDataset(`js-arith-${Date.now()}`, {
  description: "sums from js",
});
await client.createExamples({
  datasetId: dataset.id,
  inputs: [{ a: 1, b: 2 }, { a: 3, b: 4 }, { a: 5, b: 6 }],
  outputs: [{ sum: 3 }, { sum: 7 }, { sum: 11 }],
});

// Wrong on purpose for a=3.
const adder = async (inputs) => ({ sum: inputs.a + inputs.b + (inputs.a === 3 ? 1 : 0) });
const exact = ({ outputs, referenceOutputs }) => ({
  key: "exact",
  score: outputs.sum === referenceOutputs.sum ? 1 : 0,
});

const results = await evaluate(adder, {
  data: dataset.name,
  evaluators: [exact],
  experimentPrefix: "js-exp",
  maxConcurrency: 2,
  client,
});
const local = {};
for (const row of results.results) {
  for (const result of row.evaluationResults.results) {
    (local[row.example.id] ??= []).push(result.score);
  }
}
await client.awaitPendingTraceBatches();

const deadline = Date.now() + 90_000;
let project;
for (;;) {
  project = await client.readProject({ projectName: results.experimentName, includeStats: true });
  if (project.run_count === 3 && project.feedback_stats?.exact?.n === 3) break;
  if (Date.now() > deadline) {
    throw new Error(`timed out: ${JSON.stringify(project)}`);
  }
  await new Promise((r) => setTimeout(r, 500));
}

const read = {};
for await (const run of client.listRuns({ projectName: results.experimentName, isRoot: true })) {
  const feedback = [];
  for await (const fb of client.listFeedback({ runIds: [run.id], feedbackKeys: ["exact"] })) {
    feedback.push(fb.score);
  }
  read[run.reference_example_id] = { exact: feedback };
}

// Splits through updateDatasetSplits (the bulk metadata route; the SDK falls back to the
// older splits route only when that one is missing), then the bulk route itself.
const exampleIds = [];
for await (const example of client.listExamples({ datasetId: dataset.id })) {
  exampleIds.push(example.id);
}
exampleIds.sort();
await client.updateDatasetSplits({ datasetId: dataset.id, splitName: "test", exampleIds: exampleIds.slice(0, 2) });
await client.updateDatasetSplits({
  datasetId: dataset.id,
  splitName: "test",
  exampleIds: exampleIds.slice(0, 1),
  remove: true,
});
const inTest = [];
for await (const example of client.listExamples({ datasetId: dataset.id, splits: ["test"] })) {
  inTest.push(example.id);
}
const missing = "00000000-0000-4000-8000-000000000000";
const bulk = await fetch(`${process.env.LANGSMITH_ENDPOINT}/platform/datasets/${dataset.id}/examples/metadata`, {
  method: "PATCH",
  headers: { "x-api-key": process.env.LANGSMITH_API_KEY, "content-type": "application/json" },
  body: JSON.stringify({
    example_ids: [exampleIds[2], missing],
    operations: [{ key: "reviewed", operation: "SET", value: { by: "js" } }],
  }),
});
const splits = {
  listed: (await client.listDatasetSplits({ datasetId: dataset.id })).sort(),
  in_test: inTest,
  expected_in_test: [exampleIds[1]],
  bulk_status: bulk.status,
  bulk: await bulk.json(),
  reviewed: (await client.readExample(exampleIds[2])).metadata?.reviewed,
  missing,
  third: exampleIds[2],
};

console.log(
  JSON.stringify({
    splits,
    name: results.experimentName,
    local,
    read,
    stats: {
      run_count: project.run_count,
      exact: { n: project.feedback_stats.exact.n, avg: project.feedback_stats.exact.avg },
      reference_dataset_id: project.reference_dataset_id,
    },
    dataset_id: dataset.id,
  }),
);
