from openai import AssistantEventHandler, OpenAI

client = OpenAI()
assistant = client.beta.assistants.create(model="gpt-4o-mini", tools=[{"type": "code_interpreter"}])


class StepLogger(AssistantEventHandler):
    def on_run_step_created(self, run_step):
        print("step", run_step.type)

    def on_event(self, event):
        if event.event == "thread.run.step.completed":
            print("done", event.data.id)


def run(thread_id):
    with client.beta.threads.runs.stream(thread_id=thread_id, assistant_id=assistant.id, event_handler=StepLogger(), additional_messages=[{"role": "user", "content": "Plot it"}]) as stream:
        stream.until_done()
