"""Prompt files: loaded by name only from prompts/, strict schema, declared variables must match."""

import textwrap

import pytest

from chains import MissingVariables, PromptError
from chains.config import DEFAULT_PROMPTS_DIR
from chains.prompts import PromptLibrary


def lib_with(tmp_path, **files):
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(textwrap.dedent(text))
    return PromptLibrary(tmp_path)


GOOD = """
input_variables: [question]
messages:
  - {role: system, content: Be brief.}
  - {role: human, content: "Q: {question}"}
metadata: {task: qa, max_tokens: 100}
"""


def test_every_shipped_prompt_loads():
    lib = PromptLibrary(DEFAULT_PROMPTS_DIR)
    assert {"qa", "summarize"} <= set(lib.names())
    assert all(err is None for err in lib.validate_all().values()), lib.validate_all()


def test_load_and_format(tmp_path):
    p = lib_with(tmp_path, good=GOOD).load("good")
    msgs = p.format_messages({"question": "why?"})
    assert [m.type for m in msgs] == ["system", "human"]
    assert msgs[1].content == "Q: why?"
    assert p.metadata.max_tokens == 100


@pytest.mark.parametrize(
    "name",
    ["../config", "/etc/passwd", "..", "qa/../qa", "qa.yaml", "q a", "", "%2e%2e", "qa\x00", "nope", "ＱＡ", None, 3],
)
def test_names_that_are_not_files_in_prompts_are_refused(name):
    lib = PromptLibrary(DEFAULT_PROMPTS_DIR)
    with pytest.raises(PromptError) as err:
        lib.load(name)
    assert "available prompts: " in str(err.value) and "qa" in str(err.value)


def test_symlink_escape_is_not_a_name(tmp_path):
    (tmp_path / "outside.txt").write_text("secret")
    folder = tmp_path / "prompts"
    folder.mkdir()
    lib = PromptLibrary(folder)
    with pytest.raises(PromptError):
        lib.load("../outside")


def test_declared_variables_must_match_template(tmp_path):
    lib = lib_with(tmp_path, extra=GOOD.replace("[question]", "[question, tone]"),
                   undeclared=GOOD.replace("[question]", "[]"))
    with pytest.raises(PromptError, match="declared but not used: tone"):
        lib.load("extra")
    with pytest.raises(PromptError, match="used but not declared: question"):
        lib.load("undeclared")


def test_unknown_keys_and_roles_are_errors_naming_the_file(tmp_path):
    lib = lib_with(tmp_path, typo=GOOD.replace("messages:", "mesages: []\nmessages:"),
                   role=GOOD.replace("role: system", "role: tool"))
    with pytest.raises(PromptError, match="typo.yaml: mesages: unknown key"):
        lib.load("typo")
    with pytest.raises(PromptError, match="role.yaml"):
        lib.load("role")


def test_yaml_tags_are_not_executed(tmp_path):
    lib = lib_with(tmp_path, evil="!!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(PromptError, match="cannot be read as YAML"):
        lib.load("evil")


def test_mustache_format(tmp_path):
    lib = lib_with(tmp_path, m="""
        template_format: mustache
        input_variables: [name]
        messages:
          - {role: human, content: "Hello {{name}}, what is {x}?"}
        """)
    msgs = lib.load("m").format_messages({"name": "Ada"})
    assert msgs[0].content == "Hello Ada, what is {x}?"


def test_missing_and_optional_variables(tmp_path):
    p = PromptLibrary(DEFAULT_PROMPTS_DIR).load("qa")
    with pytest.raises(MissingVariables) as err:
        p.variables({"context": "x"})
    assert err.value.status == 400 and err.value.details["missing"] == ["question"]
    assert p.variables({"question": "q"})["context"] == ""


def test_request_text_is_never_treated_as_a_template(tmp_path):
    p = PromptLibrary(DEFAULT_PROMPTS_DIR).load("qa")
    msgs = p.format_messages({"question": "{context} {{x}} {% for %} {0.__class__}"})
    assert "{context} {{x}} {% for %} {0.__class__}" in msgs[-1].content


def test_cache_reloads_a_changed_file(tmp_path):
    import os
    import time

    lib = lib_with(tmp_path, good=GOOD)
    first = lib.load("good")
    assert lib.load("good") is first
    (tmp_path / "good.yaml").write_text(textwrap.dedent(GOOD).replace("Be brief.", "Be very brief."))
    os.utime(tmp_path / "good.yaml", (time.time() + 5, time.time() + 5))
    assert lib.load("good").format_messages({"question": "q"})[0].content == "Be very brief."


# --- the per-request fast paths (chains.prompts: cached file check, direct formatting) -------------------------

def test_a_cached_prompt_replaced_by_a_symlink_out_of_the_folder_is_refused(tmp_path):
    folder = tmp_path / "prompts"
    folder.mkdir()
    lib = lib_with(folder, good=GOOD)
    assert lib.load("good").name == "good"  # cached now
    secret = tmp_path / "secret.yaml"
    secret.write_text(GOOD.replace("Be brief.", "secret_key 1"))
    (folder / "good.yaml").unlink()
    (folder / "good.yaml").symlink_to(secret)
    with pytest.raises(PromptError) as err:
        lib.load("good")
    assert "secret_key" not in str(err.value)


def test_a_changed_prompt_file_is_read_again(tmp_path):
    lib = lib_with(tmp_path, good=GOOD)
    assert lib.load("good").format_messages({"question": "x"})[0].content == "Be brief."
    (tmp_path / "good.yaml").write_text(textwrap.dedent(GOOD.replace("Be brief.", "Be very brief indeed.")))
    assert lib.load("good").format_messages({"question": "x"})[0].content == "Be very brief indeed."


@pytest.mark.parametrize("content", [
    "Q: {question}",                    # plain: formatted directly
    "Q: {{literal}} {question}",        # escaped braces
    "Q: {question!r}",                  # a conversion: LangChain formats
    "Q: {question:>10}",                # a format spec: LangChain formats
])
def test_direct_formatting_gives_the_messages_langchain_gives(tmp_path, content):
    lib = lib_with(tmp_path, p=GOOD.replace('"Q: {question}"', repr(content).replace("'", '"')))
    prompt = lib.load("p")
    values = {"question": "why {not} } {{"}
    ours = prompt.format_messages(values)
    theirs = prompt.template.format_messages(**prompt.variables(values))
    assert [(type(m), m.content) for m in ours] == [(type(m), m.content) for m in theirs]
