// Calls of the newest JS SDK checked against upstream's answers: an annotation queue created
// with a rubric (conditions and requirements included) answers in the SDK's shape and reads
// back with the same rubric. Configured by LANGSMITH_ENDPOINT and LANGSMITH_API_KEY; prints
// what it saw as JSON for the Rust test.
import { Client } from "langsmith";

const client = new Client();
const rubricItems = [
  { feedback_key: "correct", description: "Is it right?", is_required: true },
  {
    feedback_key: "why",
    visible_if: { join: "all", rules: [{ key: "correct", op: "is", values: [0] }] },
    regex_validator: "\\w+",
  },
];
const created = await client.createAnnotationQueue({
  name: "js-review",
  description: "Reviews",
  rubricInstructions: "Be fair",
  rubricItems,
});
const read = await client.readAnnotationQueue(created.id);
process.stdout.write(
  JSON.stringify({
    created: {
      id: typeof created.id,
      name: created.name,
      description: created.description,
      tenant_id: typeof created.tenant_id,
      created_at: typeof created.created_at,
      updated_at: typeof created.updated_at,
    },
    read: {
      name: read.name,
      rubric_instructions: read.rubric_instructions,
      rubric_items: read.rubric_items,
    },
    sent_items: rubricItems,
  }),
);
