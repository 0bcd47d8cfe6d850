import OpenAI from "openai";

const openai = new OpenAI();

async function main() {
  const assistant = await openai.beta.assistants.create({ // expect: beta.assistants.create [code_interpreter]
    name: "Math Tutor",
    instructions: "You are a personal math tutor. Write and run code to answer math questions.",
    tools: [{ type: "code_interpreter" }],
    model: "gpt-4o",
  });

  const thread = await openai.beta.threads.create(); // expect: beta.threads.create

  await openai.beta.threads.messages.create(thread.id, { // expect: beta.threads.messages.create
    role: "user",
    content: "I need to solve the equation `3x + 11 = 14`. Can you help me?",
  });

  let run = await openai.beta.threads.runs.createAndPoll(thread.id, { // expect: beta.threads.runs.createAndPoll
    assistant_id: assistant.id,
    instructions: "Please address the user as Jane Doe. The user has a premium account.",
  });

  if (run.status === "completed") {
    const messages = await openai.beta.threads.messages.list(run.thread_id); // expect: beta.threads.messages.list
    for (const message of messages.data.reverse()) {
      if (message.content[0].type === "text") console.log(`${message.role} > ${message.content[0].text.value}`);
    }
  } else {
    console.log(run.status);
  }
}

main();
