"""Read template.yaml as CloudFormation does (short tags included) and translate it with SAM's translator.

`translate` runs samtranslator in .venv-tools (aws-sam-cli's venv, kept apart from the app's), offline: a
region is set and managed-policy names resolve from a stub, so no AWS call is made.
"""

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Final

import yaml

ROOT: Final = Path(__file__).resolve().parent.parent
TEMPLATE: Final = ROOT / "template.yaml"
TOOLS_PYTHON: Final = ROOT / ".venv-tools" / "bin" / "python"


class CfnLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no stubs
    """A YAML loader that reads CloudFormation short tags (!Ref, !GetAtt, !Sub, ...) as their long form."""


def _construct_tag(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{suffix}", node.start_mark)
    return {name: value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """Load a CloudFormation/SAM template, short tags included."""
    loaded: dict[str, Any] = yaml.load(path.read_text(), Loader=CfnLoader)  # noqa: S506  # nosec B506 (a SafeLoader subclass)
    return loaded


# Runs in .venv-tools: reads the template as JSON on stdin, prints the CloudFormation SAM would deploy.
TRANSLATE = r"""
import json, sys
from unittest import mock
from samtranslator.translator.transform import transform
from samtranslator.public.translator import ManagedPolicyLoader

loader = mock.Mock(spec=ManagedPolicyLoader)
loader.load.return_value = {}
template = json.load(sys.stdin)
print(json.dumps(transform(template, {}, loader)))
"""


def translate(template: dict[str, Any]) -> dict[str, Any]:
    """Return the CloudFormation template SAM's translator makes of a SAM template, offline."""
    translated: dict[str, Any] = run_in_tools(TRANSLATE, json.dumps(template))
    return translated


# Runs in .venv-tools: the IAM actions CloudFormation's resource handlers call (create, read, update, delete),
# from the resource provider schemas cfn-lint ships, for each resource type read on stdin.
HANDLER_PERMISSIONS = r"""
import json, sys
from pathlib import Path
import cfnlint.data.schemas
folder = Path(cfnlint.data.schemas.__file__).parent
index = json.loads((folder / "providers" / "us-east-1.json").read_text())
found = {}
for kind in json.load(sys.stdin):
    if kind in index:
        handlers = json.loads((folder / "resources" / f"{index[kind]}.json").read_text()).get("handlers", {})
        steps = ("create", "read", "update", "delete")
        found[kind] = sorted({p for step in steps for p in handlers.get(step, {}).get("permissions", [])})
print(json.dumps(found))
"""

# Runs in .venv-tools: the template of the stack `sam deploy --resolve-s3` creates for its artifact bucket.
SAM_MANAGED_STACK = r"""
from samcli.lib.bootstrap.bootstrap import _get_stack_template
print(_get_stack_template())
"""


def run_in_tools(script: str, stdin: str = "") -> Any:
    """Run a Python snippet in .venv-tools, offline, and return the JSON it prints."""
    if not TOOLS_PYTHON.exists():
        raise FileNotFoundError(f"{TOOLS_PYTHON.relative_to(ROOT)} is missing: run `make tools`")
    result = subprocess.run(  # noqa: S603 (the tools venv's python, a fixed script)
        [str(TOOLS_PYTHON), "-c", script],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "SAM_CLI_TELEMETRY": "0"},
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the tools' Python failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout)


def handler_permissions(kinds: set[str]) -> dict[str, list[str]]:
    """Return the IAM actions CloudFormation needs to create, read, update and delete each resource type."""
    found: dict[str, list[str]] = run_in_tools(HANDLER_PERMISSIONS, json.dumps(sorted(kinds)))
    return found


def sam_managed_stack() -> dict[str, Any]:
    """Return the CloudFormation template of SAM CLI's managed stack (the artifact bucket), translated."""
    return translate(run_in_tools(SAM_MANAGED_STACK))
