// Streaming with event listeners, tool outputs submitted in the middle of the stream.
import OpenAI from "openai";
import type { AssistantStream } from "openai/lib/AssistantStream";

const client = new OpenAI();

function getWeather(city: string): string {
  return JSON.stringify({ city, temperature: 22 });
}

export async function chat(threadId: string, assistantId: string, text: string) {
  await client.beta.threads.messages.create(threadId, { role: "user", content: text }); // expect: beta.threads.messages.create
  const stream: AssistantStream = client.beta.threads.runs.stream(threadId, { assistant_id: assistantId }); // expect: beta.threads.runs.stream
  stream
    .on("textDelta", (delta) => process.stdout.write(delta.value ?? ""))
    .on("event", async (event) => {
      if (event.event === "thread.run.requires_action") { // expect: sse:thread.run.requires_action
        const run = event.data;
        const outputs = run.required_action!.submit_tool_outputs.tool_calls.map((call) => ({
          tool_call_id: call.id,
          output: getWeather(JSON.parse(call.function.arguments).city),
        }));
        const next = client.beta.threads.runs.submitToolOutputsStream(threadId, run.id, { tool_outputs: outputs }); // expect: beta.threads.runs.submitToolOutputsStream
        for await (const e of next) {
          if (e.event === "thread.message.delta") process.stdout.write(JSON.stringify(e.data.delta)); // expect: sse:thread.message.delta
        }
      }
    });
  return stream.finalRun();
}
