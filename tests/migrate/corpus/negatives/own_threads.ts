// A worker pool with its own `threads` and `runs`: nothing here is the OpenAI API.
import { Worker } from "node:worker_threads";
import * as threads from "./threads";
import { runs } from "./jobs";

const beta = { threads, assistants: { create: (n: string) => ({ id: n }) } };

export async function start(job: string) {
  let run = await runs.create(job);
  while (run.status === "queued" || run.status === "in_progress") {
    run = await runs.retrieve(run.id);
  }
  beta.threads.create("worker");
  beta.assistants.create("helper");
  new Worker(job);
  // client.beta.threads.runs.createAndPoll used to be here
  const note = "client.beta.assistants.create is gone";
  return [run, note];
}
