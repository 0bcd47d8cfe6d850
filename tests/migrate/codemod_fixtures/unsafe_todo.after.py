from openai import OpenAI

client = OpenAI()
ASSISTANT_ID = "asst_abc123"


def ask(thread_id):
    # TODO(onward-migrate): run settings truncation_strategy have no one-to-one Responses form; call responses.create(conversation=thread_id, **settings)
    run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=ASSISTANT_ID, truncation_strategy={"type": "last_messages", "last_messages": 5})
    # TODO(onward-migrate): run steps: read response.output items (function_call, file_search_call, code_interpreter_call, message)
    steps = client.beta.threads.runs.steps.list(thread_id=thread_id, run_id=run.id)
    return steps
