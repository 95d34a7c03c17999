#!/usr/bin/env python3
"""Runs a GitHub Actions workflow's jobs locally, the way a runner would, for tests.

    run_workflow.py WORKFLOW --event pull_request|push --workspace DIR --context FILE
                    [--substitute 'STEP NAME=COMMAND' ...] [--skip 'STEP NAME' ...] [--report FILE]

The workspace is a git clone the caller prepared (it stands in for `actions/checkout` with
`fetch-depth: 0`). Each job whose `if:` holds runs its steps in order in the workspace, with
GitHub's semantics as far as a single machine can have them:

- environment: workflow `env`, then job `env`, then step `env` (later wins), expressions in them
  evaluated; secrets and variables reach a step only through `${{ secrets.X }}` / `${{ vars.X }}`;
  the runner's own environment does not leak in (PATH and a scratch HOME only);
- `GITHUB_*` variables (`GITHUB_WORKSPACE`, `GITHUB_EVENT_NAME`, `GITHUB_REF`, `GITHUB_SHA`,
  `GITHUB_BASE_REF`, `GITHUB_HEAD_REF`, `GITHUB_REPOSITORY`), `CI`, `RUNNER_TEMP`;
- `GITHUB_OUTPUT` (step outputs, `name=value` and `name<<DELIMITER` forms), `GITHUB_ENV`,
  `GITHUB_PATH` and `GITHUB_STEP_SUMMARY`, one fresh file per step;
- `${{ }}` expressions: contexts `github`, `env`, `vars`, `secrets`, `steps`, `job`, `runner`;
  operators `! == != < <= > >= && ||` with GitHub's loose comparison (strings compared
  case-insensitively, mixed types as numbers); functions `success() failure() always()
  cancelled() hashFiles() contains() startsWith() endsWith() format() join() toJSON()`;
  a step `if:` without a status function means `success() && (...)`;
- `shell: bash` runs `bash --noprofile --norc -eo pipefail FILE`, `sh` runs `sh -e FILE`;
  `defaults.run` at workflow and job level, `working-directory`, `continue-on-error`,
  `timeout-minutes`;
- the `on:` trigger's `branches` and `paths` filters decide whether the workflow runs at all.

What needs GitHub itself is not run, and the report says so for each step:
- `actions/checkout` is replaced by the workspace; `actions/cache` is skipped (a cache miss);
  `actions/upload-artifact` copies its `path` into the report's artifact folder (and fails when
  the path does not exist); any other `uses:` step (such as `actions/github-script`, which
  calls GitHub's API) is skipped and its inputs are recorded;
- `container:`, `runs-on`, `permissions`, `environment` and `concurrency` are ignored: steps run
  on this machine;
- `--substitute NAME=COMMAND` replaces the `run:` of the step named NAME (the test's way of
  putting an already built `allot` on PATH instead of building it again), `--skip NAME` skips a
  step (package installation). A name given that matches no step is an error, so a renamed
  step cannot silently run for real.

Exit status: 0 when every job that ran succeeded (or nothing triggered), 1 when a job failed,
2 when the workflow or the arguments cannot be used. The report (JSON) lists every job and step
with its outcome, conclusion, exit status and log.
"""

import argparse
import fnmatch
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml


class WorkflowError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Expressions


TOKEN = re.compile(
    r"\s*(?:(?P<number>-?(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?))"
    r"|(?P<string>'(?:[^']|'')*')"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\],.*])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)


def tokenize(text):
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if not match or match.end() == position:
            raise WorkflowError(f"cannot read expression at {text[position:]!r} in {text!r}")
        position = match.end()
        for kind in ("number", "string", "op", "name"):
            if match.group(kind) is not None:
                tokens.append((kind, match.group(kind)))
                break
    return tokens


def truthy(value):
    if value is None or value is False:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return not (value == 0 or (isinstance(value, float) and math.isnan(value)))
    if isinstance(value, str):
        return value != ""
    return True


def to_number(value):
    if value is None:
        return 0
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0
        try:
            return int(text, 16) if text.lower().startswith("0x") else float(text)
        except ValueError:
            return float("nan")
    return float("nan")


def to_string(value):
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2)
    return str(value)


def compare(left, right, operator):
    """GitHub's loose comparison: same-type strings case-insensitively, otherwise as numbers."""
    if isinstance(left, str) and isinstance(right, str):
        a, b = left.lower(), right.lower()
    elif isinstance(left, (dict, list)) or isinstance(right, (dict, list)):
        # Objects and arrays are equal only to themselves.
        return {"==": left is right, "!=": left is not right}.get(operator, False)
    else:
        a, b = to_number(left), to_number(right)
        if any(isinstance(x, float) and math.isnan(x) for x in (a, b)):
            return operator == "!="
    return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[operator]


class Expression:
    """A recursive-descent evaluator for one `${{ }}` expression."""

    def __init__(self, text, contexts, functions):
        self.text = text
        self.tokens = tokenize(text)
        self.position = 0
        self.contexts = contexts
        self.functions = functions

    def evaluate(self):
        value = self.parse_or()
        if self.position != len(self.tokens):
            raise WorkflowError(f"unexpected {self.tokens[self.position][1]!r} in expression {self.text!r}")
        return value

    def peek(self):
        return self.tokens[self.position] if self.position < len(self.tokens) else (None, None)

    def take(self, value=None):
        token = self.peek()
        if token[0] is None or (value is not None and token[1] != value):
            raise WorkflowError(f"expected {value or 'more'} in expression {self.text!r}")
        self.position += 1
        return token

    def parse_or(self):
        value = self.parse_and()
        while self.peek()[1] == "||":
            self.take()
            right = self.parse_and()
            value = value if truthy(value) else right
        return value

    def parse_and(self):
        value = self.parse_equality()
        while self.peek()[1] == "&&":
            self.take()
            right = self.parse_equality()
            value = right if truthy(value) else value
        return value

    def parse_equality(self):
        value = self.parse_comparison()
        while self.peek()[1] in ("==", "!="):
            operator = self.take()[1]
            value = compare(value, self.parse_comparison(), operator)
        return value

    def parse_comparison(self):
        value = self.parse_unary()
        while self.peek()[1] in ("<", "<=", ">", ">="):
            operator = self.take()[1]
            value = compare(value, self.parse_unary(), operator)
        return value

    def parse_unary(self):
        if self.peek()[1] == "!":
            self.take()
            return not truthy(self.parse_unary())
        return self.parse_postfix()

    def parse_postfix(self):
        value = self.parse_primary()
        while self.peek()[1] in (".", "["):
            if self.take()[1] == ".":
                kind, name = self.take()
                if kind != "name" and name != "*":
                    raise WorkflowError(f"expected a property name in {self.text!r}")
                value = value.get(name) if isinstance(value, dict) else None
            else:
                key = self.parse_or()
                self.take("]")
                if isinstance(value, dict):
                    value = value.get(to_string(key))
                elif isinstance(value, list) and isinstance(to_number(key), (int, float)):
                    index = int(to_number(key))
                    value = value[index] if 0 <= index < len(value) else None
                else:
                    value = None
        return value

    def parse_primary(self):
        kind, text = self.take()
        if kind == "number":
            number = to_number(text)
            return int(number) if float(number).is_integer() else number
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if text == "(":
            value = self.parse_or()
            self.take(")")
            return value
        if kind == "name":
            if text == "true":
                return True
            if text == "false":
                return False
            if text == "null":
                return None
            if self.peek()[1] == "(":
                self.take("(")
                arguments = []
                while self.peek()[1] != ")":
                    arguments.append(self.parse_or())
                    if self.peek()[1] == ",":
                        self.take(",")
                self.take(")")
                function = self.functions.get(text.lower())
                if function is None:
                    raise WorkflowError(f"unknown function {text}() in {self.text!r}")
                return function(*arguments)
            if text not in self.contexts:
                raise WorkflowError(f"unknown context {text!r} in {self.text!r}")
            return self.contexts[text]
        raise WorkflowError(f"unexpected {text!r} in expression {self.text!r}")


TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.S)
STATUS_FUNCTIONS = re.compile(r"\b(success|failure|always|cancelled)\s*\(", re.I)


# ---------------------------------------------------------------------------------------------
# The runner


def trigger_of(workflow):
    # YAML 1.1 reads the key `on` as the boolean true.
    return workflow.get("on", workflow.get(True))


def glob_match(path, pattern):
    """GitHub's filter patterns: `*` within a path segment, `**` across segments."""
    regex = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**", index):
            regex += ".*"
            index += 2
        elif pattern[index] == "*":
            regex += "[^/]*"
            index += 1
        elif pattern[index] == "?":
            regex += "[^/]"
            index += 1
        else:
            regex += re.escape(pattern[index])
            index += 1
    return re.fullmatch(regex, path) is not None


def filter_matches(patterns, values):
    """A filter list with `!` negations: true when some value is included at the end."""
    if patterns is None:
        return True
    for value in values:
        included = False
        for pattern in patterns:
            if pattern.startswith("!"):
                if glob_match(value, pattern[1:]):
                    included = False
            elif glob_match(value, pattern):
                included = True
        if included:
            return True
    return False


class Runner:
    def __init__(self, workflow_path, event, workspace, context, substitutions, skips, report_dir):
        with open(workflow_path, encoding="utf-8") as handle:
            self.workflow = yaml.safe_load(handle)
        self.workflow_path = workflow_path
        self.event = event
        self.workspace = os.path.abspath(workspace)
        self.secrets = context.get("secrets", {})
        self.vars = context.get("vars", {})
        self.github = dict(context.get("github", {}))
        self.substitutions = dict(substitutions)
        self.skips = set(skips)
        self.report_dir = report_dir
        self.temp = tempfile.mkdtemp(prefix="workflow-run-", dir=report_dir)
        self.home = os.path.join(self.temp, "home")
        os.makedirs(self.home)
        self.artifacts = os.path.join(report_dir, "artifacts")
        self.summary = []
        self.secret_values = [value for value in self.secrets.values() if value]

    def mask(self, text):
        """Secrets never show in a log, as on GitHub (each line of a multi-line secret too)."""
        for secret in self.secret_values:
            text = text.replace(secret, "***")
            for line in secret.splitlines():
                if len(line.strip()) >= 8:
                    text = text.replace(line.strip(), "***")
        return text

    def log(self, text):
        print(self.mask(text), file=sys.stderr, flush=True)

    def git(self, *arguments):
        result = subprocess.run(["git", *arguments], cwd=self.workspace, capture_output=True, text=True)
        if result.returncode != 0:
            raise WorkflowError(f"git {' '.join(arguments)} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def github_context(self):
        sha = self.git("rev-parse", "HEAD")
        context = {
            "event_name": self.event,
            "sha": sha,
            "workspace": self.workspace,
            "repository": "example/experiments",
            "repository_owner": "example",
            "run_id": "1",
            "run_number": "1",
            "actor": "experiment-owner",
            "server_url": "https://github.com",
            "api_url": "https://api.github.com",
            "base_ref": "",
            "head_ref": "",
            "workflow": self.workflow.get("name", ""),
        }
        context.update(self.github)
        if "ref" not in context:
            raise WorkflowError("the context must give github.ref (refs/heads/main, refs/pull/1/merge)")
        context["ref_name"] = context["ref"].split("/", 2)[-1]
        return context

    def triggered(self, github):
        trigger = trigger_of(self.workflow)
        if isinstance(trigger, str):
            trigger = {trigger: None}
        elif isinstance(trigger, list):
            trigger = {name: None for name in trigger}
        if self.event not in trigger:
            return False, f"the workflow does not run on {self.event}"
        spec = trigger[self.event] or {}
        branch = github["base_ref"] if self.event == "pull_request" else github["ref_name"]
        if not filter_matches(spec.get("branches"), [branch]):
            return False, f"branch {branch} is not in the {self.event} branches filter"
        if "paths" in spec:
            if self.event == "pull_request":
                arguments = [f"origin/{github['base_ref']}...HEAD"]
            else:
                arguments = [github.get("before", "HEAD~1"), "HEAD"]
            changed = self.git("diff", "--name-only", *arguments).split("\n")
            changed = [path for path in changed if path]
            if not filter_matches(spec["paths"], changed):
                return False, f"no changed file matches the paths filter ({', '.join(changed) or 'nothing changed'})"
        return True, "triggered"

    def run(self):
        github = self.github_context()
        self.check_step_names()
        report = {"workflow": self.workflow_path, "event": self.event, "jobs": [], "summary": ""}
        triggered, why = self.triggered(github)
        report["triggered"] = triggered
        report["trigger"] = why
        self.log(f"== {self.workflow.get('name', 'workflow')} on {self.event}: {why}")
        if not triggered:
            return report
        results = {}
        for job_id, job in (self.workflow.get("jobs") or {}).items():
            job_report = self.run_job(job_id, job, github, results)
            results[job_id] = job_report["result"]
            report["jobs"].append(job_report)
        report["summary"] = "".join(self.summary)
        return report

    def check_step_names(self):
        names = {step.get("name") for job in (self.workflow.get("jobs") or {}).values() for step in job.get("steps", [])}
        unknown = [name for name in list(self.substitutions) + list(self.skips) if name not in names]
        if unknown:
            raise WorkflowError(f"no step is named {', '.join(map(repr, unknown))} (renamed? update the test)")

    def contexts(self, github, env, steps, job_status):
        return {
            "github": github,
            "env": env,
            "vars": self.vars,
            "secrets": self.secrets,
            "steps": steps,
            "job": {"status": job_status},
            "runner": {"os": "Linux", "arch": "X64", "temp": self.temp, "name": "local"},
            "inputs": {},
            "matrix": {},
            "needs": {},
            "strategy": {},
        }

    def functions(self, job_status):
        def hash_files(*patterns):
            matched = []
            for pattern in patterns:
                for root, directories, files in os.walk(self.workspace):
                    directories[:] = [name for name in directories if name != ".git"]
                    for name in files:
                        relative = os.path.relpath(os.path.join(root, name), self.workspace)
                        if glob_match(relative, pattern):
                            matched.append(relative)
            if not matched:
                return ""
            digest = hashlib.sha256()
            for relative in sorted(set(matched)):
                with open(os.path.join(self.workspace, relative), "rb") as handle:
                    digest.update(hashlib.sha256(handle.read()).digest())
            return digest.hexdigest()

        def contains(haystack, needle):
            if isinstance(haystack, list):
                return any(compare(item, needle, "==") for item in haystack)
            return to_string(needle).lower() in to_string(haystack).lower()

        def format_(text, *arguments):
            return re.sub(r"\{(\d+)\}", lambda m: to_string(arguments[int(m.group(1))]), to_string(text))

        return {
            "success": lambda: job_status == "success",
            "failure": lambda: job_status == "failure",
            "always": lambda: True,
            "cancelled": lambda: False,
            "hashfiles": hash_files,
            "contains": contains,
            "startswith": lambda a, b: to_string(a).lower().startswith(to_string(b).lower()),
            "endswith": lambda a, b: to_string(a).lower().endswith(to_string(b).lower()),
            "format": format_,
            "join": lambda items, separator=",": to_string(separator).join(map(to_string, items)) if isinstance(items, list) else to_string(items),
            "tojson": lambda value: json.dumps(value, indent=2),
        }

    def evaluate(self, text, contexts, functions):
        return Expression(text, contexts, functions).evaluate()

    def interpolate(self, value, contexts, functions):
        if not isinstance(value, str):
            return to_string(value)
        return TEMPLATE.sub(lambda m: to_string(self.evaluate(m.group(1), contexts, functions)), value)

    def condition(self, text, contexts, functions, status_default=True):
        if text is None:
            return functions["success"]() if status_default else True
        if isinstance(text, bool):
            return text
        text = str(text).strip()
        whole = TEMPLATE.fullmatch(text)
        if whole:
            text = whole.group(1)
        if status_default and not STATUS_FUNCTIONS.search(text):
            return functions["success"]() and truthy(self.evaluate(text, contexts, functions))
        return truthy(self.evaluate(text, contexts, functions))

    def run_job(self, job_id, job, github, results):
        name = job.get("name", job_id)
        job_report = {"id": job_id, "name": name, "result": "skipped", "steps": []}
        needs = job.get("needs", [])
        needs = [needs] if isinstance(needs, str) else needs
        base_contexts = self.contexts(github, {}, {}, "success")
        base_functions = self.functions("success")
        if any(results.get(need) != "success" for need in needs) and not STATUS_FUNCTIONS.search(str(job.get("if", ""))):
            self.log(f"== job {name}: skipped (a needed job did not succeed)")
            return job_report
        if not self.condition(job.get("if"), base_contexts, base_functions):
            self.log(f"== job {name}: skipped (if: {job.get('if')})")
            return job_report
        self.log(f"== job {name}")
        env = {}
        for source in (self.workflow.get("env") or {}, job.get("env") or {}):
            for key, value in source.items():
                env[key] = self.interpolate(value, self.contexts(github, env, {}, "success"), base_functions)
        defaults = {}
        defaults.update(((self.workflow.get("defaults") or {}).get("run") or {}))
        defaults.update(((job.get("defaults") or {}).get("run") or {}))
        steps_context = {}
        added_path = []
        job_status = "success"
        for index, step in enumerate(job.get("steps", [])):
            step_report = self.run_step(index, step, github, env, steps_context, added_path, defaults, job_status)
            job_report["steps"].append(step_report)
            if "id" in step:
                steps_context[step["id"]] = {
                    "outputs": step_report["outputs"],
                    "outcome": step_report["outcome"],
                    "conclusion": step_report["conclusion"],
                }
            if step_report["conclusion"] == "failure":
                job_status = "failure"
        job_report["result"] = job_status
        self.log(f"== job {name}: {job_status}")
        return job_report

    def run_step(self, index, step, github, env, steps_context, added_path, defaults, job_status):
        name = step.get("name") or step.get("uses") or (step.get("run") or "").split("\n")[0]
        report = {"index": index, "name": name, "outcome": "skipped", "conclusion": "skipped", "outputs": {}, "exit": None, "log": "", "note": ""}
        contexts = self.contexts(github, env, steps_context, job_status)
        functions = self.functions(job_status)
        if not self.condition(step.get("if"), contexts, functions):
            self.log(f"-- {name}: skipped (if: {step.get('if', 'success()')})")
            return report
        step_env = dict(env)
        for key, value in (step.get("env") or {}).items():
            step_env[key] = self.interpolate(value, self.contexts(github, step_env, steps_context, job_status), functions)
        contexts = self.contexts(github, step_env, steps_context, job_status)

        if "uses" in step:
            return self.use_action(step, report, contexts, functions)
        if step.get("name") in self.skips:
            report["note"] = "skipped by the test (--skip)"
            self.log(f"-- {name}: skipped by the test")
            return report

        script = step["run"]
        if step.get("name") in self.substitutions:
            report["note"] = "run: replaced by the test (--substitute)"
            script = self.substitutions[step["name"]]
        script = self.interpolate(script, contexts, functions)
        shell = step.get("shell", defaults.get("shell", "bash"))
        directory = step.get("working-directory", defaults.get("working-directory"))
        cwd = os.path.join(self.workspace, self.interpolate(directory, contexts, functions)) if directory else self.workspace

        files = {}
        for variable in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY"):
            path = os.path.join(self.temp, f"step{index}-{variable.lower()}")
            open(path, "w").close()
            files[variable] = path
        script_path = os.path.join(self.temp, f"step{index}.sh")
        with open(script_path, "w", encoding="utf-8") as handle:
            handle.write(script)
        command = {
            "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail", script_path],
            "sh": ["sh", "-e", script_path],
        }.get(shell)
        if command is None:
            if "{0}" not in shell:
                raise WorkflowError(f"step {name!r}: unsupported shell {shell!r}")
            command = [part.replace("{0}", script_path) for part in shell.split()]

        process_env = {
            "PATH": os.pathsep.join(list(reversed(added_path)) + [os.environ.get("PATH", "/usr/bin:/bin")]),
            "HOME": self.home,
            "LANG": "C.UTF-8",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": self.workspace,
            "GITHUB_EVENT_NAME": self.event,
            "GITHUB_REF": github["ref"],
            "GITHUB_REF_NAME": github["ref_name"],
            "GITHUB_SHA": github["sha"],
            "GITHUB_BASE_REF": github["base_ref"],
            "GITHUB_HEAD_REF": github["head_ref"],
            "GITHUB_REPOSITORY": github["repository"],
            "GITHUB_RUN_ID": github["run_id"],
            "GITHUB_ACTOR": github["actor"],
            "RUNNER_OS": "Linux",
            "RUNNER_TEMP": self.temp,
        }
        process_env.update(files)
        process_env.update(step_env)
        timeout = float(step.get("timeout-minutes", 10)) * 60
        self.log(f"-- {name}")
        try:
            result = subprocess.run(command, cwd=cwd, env=process_env, capture_output=True, text=True, timeout=timeout)
            status, output = result.returncode, result.stdout + result.stderr
        except subprocess.TimeoutExpired as error:
            status = 124
            output = to_string(error.stdout) + to_string(error.stderr) + f"\n(timed out after {timeout:.0f} s)"
        report["exit"] = status
        report["log"] = self.mask(output)
        for line in output.splitlines():
            self.log(f"   | {line}")

        report["outputs"] = self.read_outputs(files["GITHUB_OUTPUT"])
        for key, value in self.read_outputs(files["GITHUB_ENV"]).items():
            env[key] = value
        with open(files["GITHUB_PATH"], encoding="utf-8") as handle:
            added_path.extend(line.strip() for line in handle if line.strip())
        with open(files["GITHUB_STEP_SUMMARY"], encoding="utf-8") as handle:
            self.summary.append(handle.read())

        report["outcome"] = "success" if status == 0 else "failure"
        continue_on_error = step.get("continue-on-error", False)
        if isinstance(continue_on_error, str):
            continue_on_error = truthy(self.interpolate(continue_on_error, contexts, functions)) and continue_on_error != "false"
        report["conclusion"] = "success" if status == 0 or continue_on_error else "failure"
        self.log(f"-- {name}: {report['outcome']} (exit {status})")
        return report

    @staticmethod
    def read_outputs(path):
        outputs = {}
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().split("\n")
        index = 0
        while index < len(lines):
            line = lines[index]
            index += 1
            if not line:
                continue
            heredoc = re.fullmatch(r"([^=<]+)<<(.+)", line)
            if heredoc:
                name, delimiter = heredoc.group(1), heredoc.group(2)
                value = []
                while index < len(lines) and lines[index] != delimiter:
                    value.append(lines[index])
                    index += 1
                if index >= len(lines):
                    raise WorkflowError(f"{path}: no closing {delimiter} for {name}")
                index += 1
                outputs[name] = "\n".join(value)
            elif "=" in line:
                name, value = line.split("=", 1)
                outputs[name] = value
            else:
                raise WorkflowError(f"{path}: cannot read {line!r} (name=value or name<<DELIMITER)")
        return outputs

    def use_action(self, step, report, contexts, functions):
        uses = step["uses"]
        action = uses.split("@")[0]
        inputs = {key: self.interpolate(value, contexts, functions) for key, value in (step.get("with") or {}).items()}
        report["inputs"] = inputs
        if action == "actions/checkout":
            report["note"] = "replaced by the workspace, a full clone the test prepared"
            report["outcome"] = report["conclusion"] = "success"
        elif action == "actions/upload-artifact":
            source = os.path.join(self.workspace, inputs.get("path", ""))
            target = os.path.join(self.artifacts, inputs.get("name", "artifact"))
            if inputs.get("path") and os.path.isfile(source):
                os.makedirs(target, exist_ok=True)
                shutil.copy(source, target)
                report["note"] = f"copied {inputs['path']} to {target}"
                report["outcome"] = report["conclusion"] = "success"
            else:
                report["note"] = f"no file at {inputs.get('path')!r} to upload"
                report["outcome"] = report["conclusion"] = "failure"
        else:
            report["note"] = f"{action} needs GitHub; not run here"
        self.log(f"-- {report['name']}: {report['note']}")
        return report


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workflow")
    parser.add_argument("--event", required=True)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--context", required=True, help="JSON: {github: {ref, base_ref, head_ref, ...}, secrets: {}, vars: {}}")
    parser.add_argument("--substitute", action="append", default=[], metavar="NAME=COMMAND")
    parser.add_argument("--skip", action="append", default=[], metavar="NAME")
    parser.add_argument("--report", help="write the JSON report here (default: standard output)")
    arguments = parser.parse_args()
    try:
        with open(arguments.context, encoding="utf-8") as handle:
            context = json.load(handle)
        substitutions = []
        for item in arguments.substitute:
            if "=" not in item:
                raise WorkflowError(f"--substitute {item!r} is not NAME=COMMAND")
            substitutions.append(item.split("=", 1))
        report_dir = os.path.dirname(os.path.abspath(arguments.report)) if arguments.report else tempfile.mkdtemp(prefix="workflow-")
        runner = Runner(arguments.workflow, arguments.event, arguments.workspace, context, substitutions, arguments.skip, report_dir)
        report = runner.run()
    except (WorkflowError, OSError, yaml.YAMLError, json.JSONDecodeError) as error:
        print(f"run_workflow: {error}", file=sys.stderr)
        return 2
    text = json.dumps(report, indent=2)
    if arguments.report:
        with open(arguments.report, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        print(text)
    return 1 if any(job["result"] == "failure" for job in report["jobs"]) else 0


if __name__ == "__main__":
    sys.exit(main())
