// Express handler that polls a run by hand and reports token usage.
import express from "express";
import OpenAI from "openai";

const app = express();
const openai = new OpenAI({ apiKey: process.env.OPENAI_API_KEY });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

app.post("/ask", async (req, res) => {
  const thread = await openai.beta.threads.create({ messages: [{ role: "user", content: req.body.q }] }); // expect: beta.threads.create
  let run = await openai.beta.threads.runs.create(thread.id, { // expect: beta.threads.runs.create [retired_model, additional_instructions]
    assistant_id: process.env.ASSISTANT_ID!,
    model: "gpt-3.5-turbo",
    additional_instructions: "Answer in French.",
  });
  while (["queued", "in_progress"].includes(run.status)) {
    await sleep(1000);
    run = await openai.beta.threads.runs.retrieve(thread.id, run.id); // expect: beta.threads.runs.retrieve [run_status_polling]
  }
  const list = await openai.beta.threads.messages.list(thread.id); // expect: beta.threads.messages.list
  res.json({
    answer: list.data[0].content,
    promptTokens: run.usage?.prompt_tokens, // expect: usage.prompt_tokens
    completionTokens: run.usage?.completion_tokens, // expect: usage.completion_tokens
  });
});

app.listen(3000);
