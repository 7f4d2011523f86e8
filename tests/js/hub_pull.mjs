// Pulls one prompt commit (IRONSMITH_PROMPT) with the JS SDK and prints its manifest.
import { Client } from "langsmith";

const commit = await new Client().pullPromptCommit(process.env.IRONSMITH_PROMPT, { skipCache: true });
process.stdout.write(JSON.stringify({ manifest: commit.manifest, commit_hash: commit.commit_hash }));
