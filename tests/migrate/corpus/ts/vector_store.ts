// Upload a folder into a vector store (the v4 SDK's beta namespace) and attach it to an assistant.
import fs from "node:fs";
import path from "node:path";
import { OpenAI } from "openai";

export async function index(client: OpenAI, dir: string, assistantId: string) {
  const store = await client.beta.vectorStores.create({ name: path.basename(dir) }); // expect: beta.vectorStores.create
  const files = fs.readdirSync(dir).map((f) => fs.createReadStream(path.join(dir, f)));
  await client.beta.vectorStores.fileBatches.uploadAndPoll(store.id, { files }); // expect: beta.vectorStores.fileBatches.uploadAndPoll
  await client.beta.assistants.update(assistantId, { // expect: beta.assistants.update
    tool_resources: { file_search: { vector_store_ids: [store.id] } },
  });
  return store.id;
}
