// Browser code reading the run stream with fetch and a hand-written SSE parser.
export async function streamRun(threadId, assistantId, onText) {
  const resp = await fetch(`/api/threads/${threadId}/runs`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "OpenAI-Beta": "assistants=v2" },
    body: JSON.stringify({ assistant_id: assistantId, stream: true }),
  });
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const chunk = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const event = /^event: (.*)$/m.exec(chunk)?.[1];
      const data = /^data: (.*)$/m.exec(chunk)?.[1];
      switch (event) {
        case "thread.message.delta": // expect: sse:thread.message.delta
          for (const part of JSON.parse(data).delta.content ?? []) onText(part.text?.value ?? "");
          break;
        case "thread.run.completed": // expect: sse:thread.run.completed
          return;
        case "error":
          throw new Error(data);
      }
    }
  }
}
