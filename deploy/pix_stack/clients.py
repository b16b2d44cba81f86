"""The gateway's typed view of each service's answers, generated from the service's OpenAPI.

python -m pix_stack.clients write   # `make clients`: regenerate pix_gateway/clients/*_models.py
python -m pix_stack.clients check   # exit 1 if a committed module drifted from the code

The gateway may not import a service package, so the services' pydantic models reach it as
generated copies of their JSON schemas: one module per service, pydantic models with the
schema's names. Ids stay text (the pages put them into paths and compare them with form values);
moments and days become dt.datetime and dt.date (the page formatters take both).
"""

from __future__ import annotations

import keyword
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from pix_runtime.settings import PlatformSettings
from pydantic import BaseModel

from pix_stack.asyncapi import DOC_BOOTSTRAP, SERVICES

CLIENTS_DIR = (
    Path(__file__).resolve().parents[2] / "services" / "gateway" / "pix_gateway" / "clients"
)
# The services whose answers the gateway's pages read.
GATEWAY_SERVICES = (
    "auth",
    "orders",
    "media",
    "captioning",
    "export",
    "notify",
    "leads",
    "listings",
    "billing",
    "assistant",
)
RESERVED = set(dir(BaseModel)) | {"model_config"}


def openapi_documents() -> dict[str, dict[str, Any]]:
    documents = {}
    with tempfile.TemporaryDirectory() as scratch:
        platform = PlatformSettings(
            kafka_bootstrap=DOC_BOOTSTRAP,
            storage_url=f"file://{scratch}/storage",
            database_url="postgresql+asyncpg://docs@localhost/pix",
        )
        for name in GATEWAY_SERVICES:
            factory, settings_class = SERVICES[name]
            extra = {"outbox_dir": Path(scratch) / "mail"} if name == "notify" else {}
            app, _ = factory(settings_class(platform=platform, **extra))
            documents[name] = app.openapi()
    return documents


def class_name(schema_name: str) -> str:
    name = re.sub(r"\W", "_", schema_name)
    return name if not name[0].isdigit() else f"_{name}"


class _Module:
    def __init__(self, service: str, schemas: dict[str, Any]) -> None:
        self.service = service
        self.schemas = schemas
        self.imports: set[str] = set()

    def ref(self, schema: dict[str, Any]) -> str | None:
        target = schema.get("$ref")
        return class_name(str(target).rsplit("/", 1)[-1]) if target else None

    def is_value(self, schema_name: str) -> bool:
        """A named schema that is a value, not a model (pydantic's JsonValue is `{}`): it is
        written inline where it is used, a class of it would refuse every value."""
        return "properties" not in self.schemas.get(schema_name, {"properties": {}})

    def type_of(self, schema: dict[str, Any]) -> str:
        if ref := self.ref(schema):
            name = str(schema["$ref"]).rsplit("/", 1)[-1]
            return self.type_of(self.schemas[name]) if self.is_value(name) else ref
        for combinator in ("anyOf", "oneOf"):
            if combinator in schema:
                parts: list[str] = []
                for option in schema[combinator]:
                    part = self.type_of(option)
                    if part not in parts:
                        parts.append(part)
                # None last, as a person writes X | None.
                parts.sort(key=lambda p: p == "None")
                return " | ".join(parts)
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.type_of(schema["allOf"][0])
        if "const" in schema:
            self.imports.add("Literal")
            return f"Literal[{schema['const']!r}]"
        if "enum" in schema:
            self.imports.add("Literal")
            return f"Literal[{', '.join(repr(v) for v in schema['enum'])}]"
        kind = schema.get("type")
        if isinstance(kind, list):
            return " | ".join(self.type_of({**schema, "type": k}) for k in kind)
        if kind == "string":
            fmt = schema.get("format")
            if fmt == "date-time":
                self.imports.add("dt")
                return "dt.datetime"
            if fmt == "date":
                self.imports.add("dt")
                return "dt.date"
            return "str"
        if kind == "integer":
            return "int"
        if kind == "number":
            return "float"
        if kind == "boolean":
            return "bool"
        if kind == "null":
            return "None"
        if kind == "array":
            items = schema.get("items")
            return f"list[{self.type_of(items) if items else self.any()}]"
        if kind == "object":
            extra = schema.get("additionalProperties")
            value = self.type_of(extra) if isinstance(extra, dict) and extra else self.any()
            return f"dict[str, {value}]"
        return self.any()

    def any(self) -> str:
        self.imports.add("Any")
        return "Any"

    def references(self, schema: Any) -> set[str]:
        found: set[str] = set()
        if isinstance(schema, dict):
            if ref := self.ref(schema):
                found.add(ref)
            for value in schema.values():
                found |= self.references(value)
        elif isinstance(schema, list):
            for value in schema:
                found |= self.references(value)
        return found

    def ordered(self) -> list[str]:
        """Schemas before the ones that use them (names sorted otherwise), so the module reads
        top-down and pydantic resolves every field when a class is made."""
        names = {class_name(n): n for n in self.schemas}
        done: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            for dependency in sorted(self.references(self.schemas[names[name]])):
                if dependency in names:
                    visit(dependency)
            done.append(name)

        for name in sorted(names):
            visit(name)
        return [names[n] for n in done]

    def model(self, schema_name: str) -> str:
        schema = self.schemas[schema_name]
        required = set(schema.get("required", []))
        lines = [f"class {class_name(schema_name)}(_Model):"]
        properties: dict[str, Any] = schema.get("properties", {})
        if not properties:
            lines.append("    pass")
        for field, spec in properties.items():
            annotation = self.type_of(spec)
            python_name = field
            alias = ""
            if not field.isidentifier() or keyword.iskeyword(field) or field in RESERVED:
                python_name = re.sub(r"\W", "_", field).lstrip("_") + "_"
                alias = f"alias={field!r}"
            default = ""
            if field not in required:
                if "default" in spec:
                    value = spec["default"]
                    default = repr(value)
                    if isinstance(value, list | dict):
                        default = f"Field(default_factory=lambda: {value!r})"
                else:
                    if "None" not in annotation.split(" | "):
                        annotation = f"{annotation} | None"
                    default = "None"
            if alias:
                self.imports.add("Field")
                inner = default[len("Field(") : -1] if default.startswith("Field(") else ""
                if default and not inner:
                    inner = f"default={default}"
                default = f"Field({', '.join(p for p in (inner, alias) if p)})"
            elif default.startswith("Field("):
                self.imports.add("Field")
            lines.append(f"    {python_name}: {annotation}" + (f" = {default}" if default else ""))
        return "\n".join(lines)

    def source(self) -> str:
        models = [name for name in self.ordered() if not self.is_value(name)]
        body = "\n\n\n".join(self.model(name) for name in models)
        typing_names = sorted(n for n in ("Any", "Literal") if n in self.imports)
        # A module alias: a field called `date` must not hide the type of another.
        dt_names = ["dt"] if "dt" in self.imports else []
        pydantic_names = ["BaseModel", "ConfigDict"] + (
            ["Field"] if "Field" in self.imports else []
        )
        header = [
            f'"""The {self.service} service\'s answers as the gateway reads them.',
            "",
            "Generated from the service's OpenAPI by `make clients` (pix_stack.clients): "
            "do not edit.",
            '"""',
            "",
        ]
        if dt_names:
            header.append("import datetime as dt")
        if typing_names:
            header.append(f"from typing import {', '.join(typing_names)}")
        if dt_names or typing_names:
            header.append("")
        header += [
            f"from pydantic import {', '.join(pydantic_names)}",
            "",
            "",
            "class _Model(BaseModel):",
            "    # Fields a newer service adds are ignored until the next `make clients`.",
            "    model_config = ConfigDict(",
            '        extra="ignore", populate_by_name=True, protected_namespaces=()',
            "    )",
            "",
            "",
        ]
        return "\n".join(header) + body + "\n"


def formatted(source: str, path: Path) -> str:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    result = subprocess.run(  # noqa: S603 - our own ruff on our own generated text
        [ruff, "format", "--quiet", "--stdin-filename", str(path), "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def modules() -> dict[str, str]:
    """File name → generated source, for every service the gateway reads."""
    result = {}
    for service, document in openapi_documents().items():
        schemas = document.get("components", {}).get("schemas", {})
        path = CLIENTS_DIR / f"{service}_models.py"
        result[path.name] = formatted(_Module(service, schemas).source(), path)
    return result


def write() -> None:
    CLIENTS_DIR.mkdir(parents=True, exist_ok=True)
    for name, source in modules().items():
        (CLIENTS_DIR / name).write_text(source)


def drifted() -> list[str]:
    return [
        name
        for name, source in modules().items()
        if not (CLIENTS_DIR / name).exists() or (CLIENTS_DIR / name).read_text() != source
    ]


if __name__ == "__main__":
    if sys.argv[1:] == ["write"]:
        write()
    elif stale := drifted():
        sys.exit(f"Gateway client models drifted from the services' OpenAPI: {stale}")
