"""Drives the prompt hub with the real `langsmith` SDK and LangChain, as a team would: push a
prompt and new versions of it, tag a commit, pull by latest, tag and hash prefix, pull with
and without the model, list, like, update, make it public under the workspace's handle, pull
it with no key, and push on a stale parent. Also `langchain_classic.hub.push` / `pull`.
Configured by LANGSMITH_ENDPOINT and LANGSMITH_API_KEY; IRONSMITH_OTHER_KEY is a key of
another workspace. Prints what it saw as JSON; the Rust test checks it."""

import json
import os
import sys
import warnings

import requests
from langchain_classic import hub
from langchain_core.load import dumpd
from langchain_core.prompts import ChatPromptTemplate
from langchain_openai import ChatOpenAI
from langsmith import Client
from langsmith.utils import LangSmithConflictError, LangSmithNotFoundError

warnings.simplefilter("ignore")

ENDPOINT = os.environ["LANGSMITH_ENDPOINT"]
KEY = os.environ["LANGSMITH_API_KEY"]
HANDLE = os.environ["IRONSMITH_HANDLE"]
client = Client()
out = {}

# The workspace claims its handle (public prompts need one).
claimed = requests.post(
    f"{ENDPOINT}/settings/handle", headers={"x-api-key": KEY}, json={"tenant_handle": HANDLE}
)
out["claimed"] = [claimed.status_code, claimed.json().get("tenant_handle")]

first = ChatPromptTemplate.from_messages(
    [("system", "You are a terse assistant."), ("human", "Say hello to {name}.")]
)
second = ChatPromptTemplate.from_messages(
    [("system", "You are a cheerful assistant."), ("human", "Say hello to {name} in {language}.")]
)
out["push_url"] = client.push_prompt(
    "py-greeting", object=first, description="Greets people", tags=["greeting"]
)
first_hash = client.get_prompt("py-greeting").last_commit_hash
client.push_prompt("py-greeting", object=second, commit_tags=["prod"], commit_description="v2")
out["pushed_manifest"] = dumpd(second)

pulled = client.pull_prompt("py-greeting")
out["latest_messages"] = [m.to_json()["kwargs"]["content"] for m in pulled.format_messages(name="Ada", language="French")]
out["tagged_vars"] = sorted(client.pull_prompt("py-greeting:prod").input_variables)
out["prefix_vars"] = sorted(client.pull_prompt(f"py-greeting:{first_hash[:8]}").input_variables)

prompt = client.get_prompt("py-greeting")
out["prompt"] = {
    "repo_handle": prompt.repo_handle,
    "owner": prompt.owner,
    "full_name": prompt.full_name,
    "description": prompt.description,
    "tags": prompt.tags,
    "num_commits": prompt.num_commits,
    "is_public": prompt.is_public,
    "downloads": prompt.num_downloads,
}
commits = list(client.list_prompt_commits("py-greeting"))
out["commits"] = [
    {"hash": c.commit_hash, "parent": c.parent_commit_hash} for c in commits
]
out["first_hash"] = first_hash
out["listed"] = [p.repo_handle for p in client.list_prompts(query="py-gr").repos]
out["like"] = client.like_prompt("py-greeting")["likes"]
out["liked_by_me"] = client.get_prompt("py-greeting").liked_by_auth_user
out["unlike"] = client.unlike_prompt("py-greeting")["likes"]

# A push on a parent that is no longer the latest: the SDK's conflict error.
try:
    client.create_commit(
        "py-greeting",
        ChatPromptTemplate.from_messages([("human", "{x}")]),
        parent_commit_hash=first_hash,
    )
    out["stale_push"] = "accepted"
except LangSmithConflictError as error:
    out["stale_push"] = "conflict"
    out["stale_message"] = str(error)

# Pushing what is already the latest: nothing to commit.
try:
    client.push_prompt("py-greeting", object=second)
    out["same_push"] = "accepted"
except LangSmithConflictError:
    out["same_push"] = "conflict"

# A prompt with its model: pulled with include_model it is the chain, else the prompt alone.
model = ChatOpenAI(model="gpt-4o-mini", temperature=0.2, api_key="sk-not-used")
client.push_prompt("py-with-model", object=first | model)
chain = client.pull_prompt(
    "py-with-model", include_model=True, secrets={"OPENAI_API_KEY": "sk-not-used"}
)
out["with_model"] = [type(step).__name__ for step in chain.steps]
out["with_model_name"] = chain.steps[1].model_name
out["without_model"] = type(client.pull_prompt("py-with-model")).__name__

# Public under the handle: pulled with no key at all, and by another workspace's key.
client.update_prompt("py-greeting", is_public=True)
anonymous = requests.get(f"{ENDPOINT}/commits/{HANDLE}/py-greeting/latest")
out["anonymous_pull"] = [anonymous.status_code, anonymous.json().get("commit_hash")]
other = Client(api_url=ENDPOINT, api_key=os.environ["IRONSMITH_OTHER_KEY"])
foreign = other.pull_prompt(f"{HANDLE}/py-greeting", dangerously_pull_public_prompt=True)
out["other_workspace_vars"] = sorted(foreign.input_variables)
try:
    other.pull_prompt(f"{HANDLE}/py-with-model", dangerously_pull_public_prompt=True)
    out["other_private"] = "visible"
except LangSmithNotFoundError:
    out["other_private"] = "not found"

# LangChain's hub module pointed at the same server.
hub.push("lc-hub-prompt", first, api_url=ENDPOINT, api_key=KEY)
out["lc_hub_vars"] = sorted(hub.pull("lc-hub-prompt", api_url=ENDPOINT, api_key=KEY).input_variables)

# Directory repositories: a skill, and an agent that links to it.
from langsmith.schemas import FileEntry, SkillEntry  # noqa: E402

client.push_skill("py-search", files={"SKILL.md": FileEntry(content="# Search\nLook it up.")})
client.push_agent(
    "py-helper",
    files={
        "AGENTS.md": FileEntry(content="You help."),
        "tools/notes.txt": FileEntry(content="draft"),
        "skills/search": SkillEntry(repo_handle="py-search"),
    },
    description="A helper",
)
first_agent = client.pull_agent("py-helper")
client.push_agent(
    "py-helper",
    files={"tools/notes.txt": None, "AGENTS.md": FileEntry(content="You help, briefly.")},
    parent_commit=first_agent.commit_hash,
)
agent = client.pull_agent("py-helper")
out["agent_files"] = {
    path: entry.model_dump(exclude_none=True) for path, entry in sorted(agent.files.items())
}
out["agent_first_files"] = sorted(client.pull_agent("py-helper", version=first_agent.commit_hash[:8]).files)
out["skill_files"] = sorted(client.pull_skill("py-search").files)
out["agents_listed"] = [r.repo_handle for r in client.list_agents().repos]
try:
    client.push_agent(
        "py-helper",
        files={"x.md": FileEntry(content="x")},
        parent_commit=first_agent.commit_hash,
    )
    out["agent_stale_push"] = "accepted"
except LangSmithConflictError:
    out["agent_stale_push"] = "conflict"
client.delete_skill("py-search")
out["skill_deleted"] = [r.repo_handle for r in client.list_skills().repos]

# The JS-pushed prompt, if the JS script ran first.
if os.environ.get("IRONSMITH_PULL_JS"):
    out["js_manifest"] = client.pull_prompt_commit(os.environ["IRONSMITH_PULL_JS"]).manifest

client.delete_prompt("lc-hub-prompt")
out["deleted"] = client.get_prompt("lc-hub-prompt") is None

json.dump(out, sys.stdout)
