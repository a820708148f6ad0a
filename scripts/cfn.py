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
    if not TOOLS_PYTHON.exists():
        raise FileNotFoundError(f"{TOOLS_PYTHON.relative_to(ROOT)} is missing: run `make tools`")
    result = subprocess.run(  # noqa: S603 (the tools venv's python, a fixed script)
        [str(TOOLS_PYTHON), "-c", TRANSLATE],
        input=json.dumps(template),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "SAM_CLI_TELEMETRY": "0"},
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"samtranslator refused the template:\n{result.stderr[-3000:]}")
    translated: dict[str, Any] = json.loads(result.stdout)
    return translated
