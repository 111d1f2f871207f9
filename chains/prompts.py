"""Prompt files: YAML in ``prompts/``, loaded by name, checked, cached.

A name is accepted only if it is the stem of a ``.yaml`` file that exists in the prompts folder, so no
path from a request can reach anything else. Files are parsed with ``yaml.safe_load`` into a strict model;
templates are f-string or mustache (never jinja2), and the declared variables must equal the ones used.
"""

from __future__ import annotations

import collections.abc as abc  # isinstance against typing.Mapping is ~10x slower
import os
import re
import stat
import threading
from pathlib import Path
from typing import Any, Dict, List, Literal, Mapping, Optional, Tuple, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chains.caching.facts import smallest_min_tokens
from chains.config import StrictModel
from chains.echo import clip
from chains.errors import BadRequest, MissingVariables, PromptError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class PromptMessage(StrictModel):
    # ``placeholder``: a list of messages supplied by the request (chat history), content "{var}".
    role: Literal["system", "human", "ai", "placeholder"]
    content: str


class PromptMetadata(BaseModel):
    # Open on purpose: later stages read their own keys (tier, domain preambles ...).
    model_config = ConfigDict(extra="allow")
    task: str = "general"
    max_tokens: Optional[int] = Field(default=None, ge=1)
    # What is stable across requests of this prompt (chains.caching): variable names whose value is followed by
    # a cache checkpoint, or ``instructions`` (the system prompt). Checked against the variables on load.
    cache_after: List[str] = Field(default_factory=list)


class PromptFile(StrictModel):
    description: str = ""
    template_format: Literal["f-string", "mustache"] = "f-string"
    input_variables: List[str]
    # Variables that may be left out of a request; they are filled with "" (or the default given here).
    optional_variables: Dict[str, str] = Field(default_factory=dict)
    messages: List[PromptMessage] = Field(min_length=1)
    metadata: PromptMetadata = PromptMetadata()


class LoadedPrompt:
    """A validated prompt file and the ChatPromptTemplate built from it."""

    def __init__(self, name: str, path: Path, spec: PromptFile, template: Any) -> None:
        self.name = name
        self.path = path
        self.spec = spec
        self.template = template

    @property
    def required(self) -> List[str]:
        return [v for v in self.spec.input_variables if v not in self.spec.optional_variables]

    @property
    def metadata(self) -> PromptMetadata:
        return self.spec.metadata

    @property
    def placeholders(self) -> List[str]:
        """Variables filled with a list of messages (``role: placeholder``), not a string."""
        return [_placeholder_variable(m.content) or "" for m in self.spec.messages if m.role == "placeholder"]

    def variables(self, data: Mapping[str, Any]) -> Dict[str, Any]:
        """The template's variables from a request's input: checks presence and types, fills optionals."""
        missing = [v for v in self.required if data.get(v) is None]
        if missing:
            raise MissingVariables(self.name, missing, self.spec.input_variables)
        values: Dict[str, Any] = {}
        for var in self.spec.input_variables:
            value = data.get(var)
            if var in self.placeholders:
                values[var] = _history(var, value)
                continue
            if value is None:
                value = self.spec.optional_variables.get(var, "")
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise BadRequest(
                    f"input '{var}' must be a string, got {type(value).__name__}", field=var
                )
            values[var] = str(value)
        return values

    def format_messages(self, data: Mapping[str, Any], cache: Union[bool, str] = False) -> List[Any]:
        """The prompt's messages; ``cache`` (True or a TTL, "5m" / "1h"): with candidate cache checkpoints after
        the stable parts (``metadata.cache_after``), which ``chains.caching.placement`` keeps or removes per model."""
        values = self.variables(data)
        if not cache or self.static_chars() + _value_chars(values) < smallest_min_tokens():
            # Hot path: no prefix of this request can reach the smallest minimum any model caches (an estimated
            # token is at most one character), so no checkpoint could be kept: skip marking and placement.
            return self._format(values)
        from chains.caching.marks import format_marked

        return format_marked(self.template, values, self.spec.metadata.cache_after, self.placeholders,
                             ttl=cache if isinstance(cache, str) else "5m")

    def _format(self, values: Mapping[str, Any]) -> List[Any]:
        """``template.format_messages(**values)``; for a prompt of plain f-string messages, the same messages
        built directly (~50 us less per request than LangChain's template machinery, measured in
        benchmarks/overhead.py)."""
        plain = self.__dict__.get("_plain", False)
        if plain is False:
            plain = self.__dict__["_plain"] = _plain_messages(self.spec)
        if plain is None:
            return self.template.format_messages(**values)
        return [cls(content=text.format_map(values)) for cls, text in plain]

    def static_chars(self) -> int:
        """Characters of the prompt file's own message text (what every request of it shares)."""
        chars = self.__dict__.get("_static_chars")
        if chars is None:
            chars = self.__dict__["_static_chars"] = sum(len(m.content or "") for m in self.spec.messages)
        return chars


def _value_chars(values: Mapping[str, Any]) -> int:
    total = 0
    for value in values.values():
        if isinstance(value, str):
            total += len(value)
        else:  # chat history: messages whose content is text or blocks
            for message in value or ():
                content = getattr(message, "content", "")
                total += len(content) if isinstance(content, str) else len(str(content))
    return total


class PromptLibrary:
    """Loads prompt files from one folder by name; thread-safe, cached per file modification time."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._folder_text = str(self.folder)
        # name -> (the file's stamp when it was loaded, the loaded prompt)
        self._cache: Dict[str, Tuple[Tuple[int, ...], LoadedPrompt]] = {}
        self._names: Tuple[Optional[int], List[str], "frozenset[str]"] = (None, [], frozenset())
        self._lock = threading.Lock()

    def names(self) -> List[str]:
        """The prompt names: stems of the ``.yaml`` files in the folder.

        Listed again only when the folder's modification time changes (a file added, removed or renamed),
        so the per-request cost is one ``stat`` rather than a directory scan.
        """
        return list(self._listed()[0])

    def names_view(self) -> "frozenset[str]":
        """The names as a set, without a copy (membership tests on the hot path)."""
        return self._listed()[1]

    def _listed(self) -> Tuple[List[str], "frozenset[str]"]:
        try:
            stamp = os.stat(self.folder).st_mtime_ns
        except OSError:
            return [], frozenset()
        cached_stamp, names, name_set = self._names
        if cached_stamp == stamp:
            return names, name_set
        try:
            names = sorted(p.stem for p in self.folder.glob("*.yaml")
                           if p.is_file() and _NAME.match(p.stem) and self._inside(p))
        except OSError:
            return [], frozenset()
        self._names = (stamp, names, frozenset(names))
        return names, self._names[2]

    def path_for(self, name: Any) -> Path:
        """The file for ``name``; refuses anything that is not exactly one of the existing names."""
        available = self.names()
        if not isinstance(name, str) or not _NAME.match(name) or name not in available:
            shown = name if isinstance(name, str) and len(name) <= 80 else "<invalid>"
            raise PromptError(
                f"unknown prompt {shown!r}; available prompts: {', '.join(available) or '(none)'}",
                available=available,
            )
        path = self.folder / f"{name}.yaml"
        if not self._inside(path):  # listed a moment ago, re-pointed since: still refused
            raise PromptError(f"prompt {name!r} resolves outside the prompts folder", available=available)
        return path

    def _inside(self, path: Path) -> bool:
        """Whether ``path`` resolves inside the prompts folder: a symlink out (to config.yaml, /etc ...) is not
        a prompt file, so its content can never reach an error message or a model."""
        try:
            return path.resolve().is_relative_to(self.folder.resolve())
        except (OSError, RuntimeError):  # a symlink loop
            return False

    def load(self, name: str) -> LoadedPrompt:
        """The prompt file ``name``, parsed again only when the file changed.

        Per request this costs two ``stat`` calls (the folder's, in ``names``, and the file's own ``lstat``):
        a regular file (not a symlink) that is one of the listed names lies in the folder by construction, so
        the path is resolved (``_inside``, ~30-90 us) only for a symlink, or when the file changed.
        """
        cached = self._cache.get(name) if isinstance(name, str) else None
        if cached is not None and name in self.names_view():
            try:
                st = os.lstat(os.path.join(self._folder_text, name + ".yaml"))  # (pathlib's join costs more)
            except OSError:
                st = None
            if st is not None and stat.S_ISREG(st.st_mode) and _stamp(st) == cached[0]:
                return cached[1]
        path = self.path_for(name)  # unknown names, symlinks out of the folder: refused here
        st = path.stat()
        with self._lock:
            cached = self._cache.get(name)
            if cached and cached[0] == _stamp(st):
                return cached[1]
        loaded = _load_file(name, path)
        with self._lock:
            self._cache[name] = (_stamp(st), loaded)
        return loaded

    def validate_all(self) -> Dict[str, Optional[str]]:
        """Load every prompt file; returns name -> error message (None when it loaded)."""
        results: Dict[str, Optional[str]] = {}
        for name in self.names():
            try:
                self.load(name)
                results[name] = None
            except PromptError as exc:
                results[name] = exc.message
        return results


_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _plain_messages(spec: "PromptFile") -> Optional[List[Tuple[type, str]]]:
    """(message class, f-string) per message when every message is a system/human/ai text whose fields are bare
    variable names (no placeholder, no attribute or index access, no conversion or format spec): then
    ``str.format_map`` gives exactly what LangChain's template does. None otherwise (LangChain formats)."""
    import string

    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    if spec.template_format != "f-string":
        return None
    classes = {"system": SystemMessage, "human": HumanMessage, "ai": AIMessage}
    out: List[Tuple[type, str]] = []
    for m in spec.messages:
        if m.role not in classes:
            return None
        try:
            for _, field, spec_, conversion in string.Formatter().parse(m.content):
                if field is not None and (not _FIELD.match(field) or spec_ or conversion):
                    return None
        except ValueError:
            return None
        out.append((classes[m.role], m.content))
    return out


def _stamp(st: os.stat_result) -> Tuple[int, ...]:
    """What identifies one version of a file: a rewrite or a replacement changes at least one of these."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _load_file(name: str, path: Path) -> LoadedPrompt:
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PromptError(f"{path.name}: cannot be read as YAML: {exc}") from None
    try:
        spec = PromptFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: "
            f"{'unknown key' if e['type'] == 'extra_forbidden' else e['msg']}"
            for e in exc.errors()
        )
        raise PromptError(f"{path.name}: {problems}") from None

    from langchain_core.prompts import ChatPromptTemplate

    from langchain_core.prompts import MessagesPlaceholder

    parts: List[Any] = []
    for m in spec.messages:
        if m.role == "placeholder":
            var = _placeholder_variable(m.content)
            if var is None:
                raise PromptError(f"{path.name}: a placeholder's content must be one variable, e.g. '{{messages}}'")
            parts.append(MessagesPlaceholder(var, optional=var in spec.optional_variables))
        else:
            parts.append((m.role, m.content))
    try:
        template = ChatPromptTemplate.from_messages(parts, template_format=spec.template_format)
    except Exception as exc:  # a malformed template (unbalanced braces ...) is the file's fault
        raise PromptError(f"{path.name}: invalid {spec.template_format} template: {exc}") from None

    used = set(template.input_variables) | set(template.optional_variables)
    declared = set(spec.input_variables)
    if used != declared:
        parts = []
        if used - declared:
            parts.append(f"used but not declared: {', '.join(sorted(used - declared))}")
        if declared - used:
            parts.append(f"declared but not used: {', '.join(sorted(declared - used))}")
        raise PromptError(f"{path.name}: input_variables do not match the template ({'; '.join(parts)})")
    if "options" in declared:
        raise PromptError(f"{path.name}: 'options' is reserved for per-request options; rename the variable")
    from chains.caching.marks import INSTRUCTIONS

    unknown_stable = [v for v in spec.metadata.cache_after if v not in declared and v != INSTRUCTIONS]
    if unknown_stable:
        raise PromptError(f"{path.name}: metadata.cache_after names {', '.join(sorted(unknown_stable))[:200]}, which "
                          f"is not a variable (variables: {', '.join(sorted(declared))}; or '{INSTRUCTIONS}')")
    unknown_optional = set(spec.optional_variables) - declared
    if unknown_optional:
        raise PromptError(f"{path.name}: optional_variables not declared: {', '.join(sorted(unknown_optional))}")
    return LoadedPrompt(name, path, spec, template)


_PLACEHOLDER = re.compile(r"^\s*\{\{?\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}?\s*$")
_HISTORY_ROLES = {"user": "human", "human": "human", "assistant": "ai", "ai": "ai"}
# The most messages a request's conversation may carry (a 400 above it, before any per-message work): far
# beyond what any model's window holds after trimming, small enough that checking them costs nothing.
MAX_HISTORY_MESSAGES = 1000


def _placeholder_variable(content: str) -> Optional[str]:
    m = _PLACEHOLDER.match(content)
    return m.group(1) if m else None


def _history(var: str, value: Any) -> List[Any]:
    """A request's message list ({"role": "user"|"assistant", "content": "..."}) as LangChain messages.

    System messages are refused: the system prompt belongs to the prompt file, not to the caller.
    """
    from langchain_core.messages import AIMessage, HumanMessage

    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest(f"input '{var}' must be a list of messages, got {type(value).__name__}", field=var)
    if len(value) > MAX_HISTORY_MESSAGES:
        raise BadRequest(f"input '{var}' has {len(value):,} messages; at most {MAX_HISTORY_MESSAGES:,} are "
                         f"accepted (older turns would be trimmed anyway)", field=var,
                         limit=MAX_HISTORY_MESSAGES)
    out: List[Any] = []
    for i, item in enumerate(value):
        if not isinstance(item, abc.Mapping) or set(item) - {"role", "content"}:
            raise BadRequest(f"{var}[{i}] must be an object with 'role' and 'content'", field=var)
        raw_role = item.get("role")
        role = _HISTORY_ROLES.get(raw_role) if isinstance(raw_role, str) else None
        content = item.get("content")
        if role is None:
            got = clip(raw_role, 40) if isinstance(raw_role, str) else f"a {type(raw_role).__name__}"
            raise BadRequest(f"{var}[{i}].role must be one of user, assistant (got {got!r})",
                             field=f"{var}[{i}].role")
        if not isinstance(content, str) or not content.strip():
            raise BadRequest(f"{var}[{i}].content must be a non-empty string", field=var)
        out.append(HumanMessage(content) if role == "human" else AIMessage(content))
    return out
