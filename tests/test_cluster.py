"""cluster.py as a user runs it, against moto's server mode over HTTP (IAM, Redshift and EC2 on
one endpoint): what `up` creates, that it is idempotent and edits dwh.cfg in place, what `status`
shows, that `down` deletes only the toolkit's own resources, and one-line errors without secrets."""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from conftest import FAKE_AWS, PLANTED_SECRETS, ROOT, S3Server, free_port, one_line_error

from sparkify_dwh.cluster import POLICY_NAME, set_in_file

PASSWORD = PLANTED_SECRETS[1]
TAG = {"Key": "created-by", "Value": "sparkify-dwh-toolkit"}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "redshift.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}

CONFIG = """\
; Sparkify DWH toolkit configuration, as a user keeps it: comments everywhere.
# Precedence: environment > this file > built-in defaults.

[WAREHOUSE]
TARGET = redshift           ; HOST is still empty: cluster.py up fills it in

[CLUSTER]
HOST =
DB_NAME = sparkify          ; the database cluster.py creates
DB_USER = awsuser
DB_PASSWORD =               ; prefer the environment variable DWH_CLUSTER_DB_PASSWORD
DB_PORT = 5439

[IAM_ROLE]
; the role Redshift's COPY uses to read S3
ARN =                       ; written by cluster.py up

[S3]
LOG_DATA = s3://{logs}/log_data
LOG_JSONPATH = s3://{logs}/log_json_path.json
SONG_DATA = s3://{songs}/song_data
WORK_PREFIX = s3://{work}/manifests
REGION = us-east-1

[CLUSTER_SETUP]
CLUSTER_IDENTIFIER = {cluster}
NODE_TYPE = dc2.large
NUM_NODES = {nodes}
IAM_ROLE_NAME = {role}
INGRESS_CIDR = {cidr}       ; the office
"""


@dataclass
class Stack:
    """One test's names (unique: the moto server is shared by the session), its dwh.cfg and
    clients for checking what cluster.py did."""

    moto: S3Server
    tmp: Path
    cluster: str
    role: str
    cidr: str
    buckets: tuple[str, str, str]

    @property
    def config(self) -> Path:
        return self.tmp / "dwh.cfg"

    def write_config(self, *, nodes: int = 2, cidr: str | None = None) -> str:
        logs, songs, work = self.buckets
        text = CONFIG.format(logs=logs, songs=songs, work=work, cluster=self.cluster, role=self.role,
                             nodes=nodes, cidr=self.cidr if cidr is None else cidr)
        self.config.write_text(text)
        return text

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """cluster.py in a subprocess, as a user starts it; never a traceback, never a secret."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("DWH_", "AWS_"))}
        clean.update(self.moto.env)  # fake credentials, DWH_S3_ENDPOINT_URL, DWH_S3_REGION
        clean.update({"AWS_EC2_METADATA_DISABLED": "true", "DWH_CLUSTER_DB_PASSWORD": PASSWORD,
                      "AWS_SHARED_CREDENTIALS_FILE": str(self.tmp / "none"),
                      "AWS_CONFIG_FILE": str(self.tmp / "none")})
        clean.update(env or {})
        command = [sys.executable, str(ROOT / "cluster.py"), *args, "--config", str(self.config)]
        if args[0] != "status":
            command += ["--poll-seconds", "0.1"]
        proc = subprocess.run(command, capture_output=True, text=True, env=clean, cwd=self.tmp,
                              stdin=subprocess.DEVNULL, timeout=60)
        assert "Traceback" not in proc.stderr
        for secret in (PASSWORD, clean["DWH_CLUSTER_DB_PASSWORD"], clean["AWS_SECRET_ACCESS_KEY"]):
            assert not secret or secret not in proc.stdout + proc.stderr
        return proc

    def ok(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        proc = self.run(*args, env=env)
        assert proc.returncode == 0, (proc.stdout, proc.stderr)
        return proc

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.moto.endpoint_url, region_name="us-east-1",
                            aws_access_key_id=FAKE_AWS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=FAKE_AWS["AWS_SECRET_ACCESS_KEY"])


@pytest.fixture
def stack(moto_server: S3Server, tmp_path: Path) -> Stack:
    tag = uuid.uuid4().hex[:8]
    octet = int(tag[:2], 16)
    s = Stack(moto_server, tmp_path, cluster=f"sparkify-{tag}", role=f"sparkify-read-{tag}",
              cidr=f"203.0.{octet}.7/32", buckets=(f"logs-{tag}", f"songs-{tag}", f"work-{tag}"))
    s.write_config()
    return s


def default_group(stack: Stack) -> str:
    ec2 = stack.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    return ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                 {"Name": "group-name", "Values": ["default"]}]
                                        )["SecurityGroups"][0]["GroupId"]


def ingress(stack: Stack) -> list[dict]:
    rules = stack.client("ec2").describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [default_group(stack)]}])["SecurityGroupRules"]
    return sorted((r for r in rules if not r["IsEgress"]), key=lambda r: r["SecurityGroupRuleId"])


def rule_for(stack: Stack, cidr: str, port: int = 5439) -> list[dict]:
    return [r for r in ingress(stack) if r.get("CidrIpv4") == cidr and r["FromPort"] == port]


def cluster_ids(stack: Stack) -> set[str]:
    return {c["ClusterIdentifier"] for c in stack.client("redshift").describe_clusters()["Clusters"]}


def role_names(stack: Stack) -> set[str]:
    return {r["RoleName"] for r in stack.client("iam").list_roles()["Roles"]}


def changed_lines(before: str, after: str) -> dict[int, tuple[str, str]]:
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(old) == len(new), "lines were added or removed"
    return {i: (a, b) for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b}


# --------------------------------------------------------------------------- up


def test_up_creates_exactly_what_it_should_and_writes_dwh_cfg_in_place(stack: Stack) -> None:
    original = stack.config.read_text()
    rules_before, roles_before, clusters_before = ingress(stack), role_names(stack), cluster_ids(stack)

    proc = stack.ok("up")

    iam = stack.client("iam")
    role = iam.get_role(RoleName=stack.role)["Role"]
    assert role["AssumeRolePolicyDocument"] == TRUST
    assert TAG in role["Tags"]
    assert iam.list_role_policies(RoleName=stack.role)["PolicyNames"] == [POLICY_NAME]
    assert iam.list_attached_role_policies(RoleName=stack.role)["AttachedPolicies"] == []  # no managed policy
    arns = [f"arn:aws:s3:::{b}" for b in sorted(stack.buckets)]
    assert iam.get_role_policy(RoleName=stack.role, PolicyName=POLICY_NAME)["PolicyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ListSourceBuckets", "Effect": "Allow",
             "Action": ["s3:GetBucketLocation", "s3:ListBucket"], "Resource": arns},
            {"Sid": "ReadSourceObjects", "Effect": "Allow",
             "Action": ["s3:GetObject"], "Resource": [f"{a}/*" for a in arns]},
        ],
    }
    assert role_names(stack) == roles_before | {stack.role}

    cluster = stack.client("redshift").describe_clusters(ClusterIdentifier=stack.cluster)["Clusters"][0]
    assert (cluster["NodeType"], cluster["NumberOfNodes"], cluster["DBName"], cluster["MasterUsername"]) == (
        "dc2.large", 2, "sparkify", "awsuser")
    assert cluster["Endpoint"]["Port"] == 5439
    assert cluster["PubliclyAccessible"] is True
    assert [r["IamRoleArn"] for r in cluster["IamRoles"]] == [role["Arn"]]
    assert [g["VpcSecurityGroupId"] for g in cluster["VpcSecurityGroups"]] == [default_group(stack)]
    assert TAG in cluster["Tags"]
    assert cluster_ids(stack) == clusters_before | {stack.cluster}

    added = [r for r in ingress(stack) if r not in rules_before]
    assert len(added) == 1
    assert (added[0]["IpProtocol"], added[0]["FromPort"], added[0]["ToPort"], added[0]["CidrIpv4"]) == (
        "tcp", 5439, 5439, stack.cidr)

    # dwh.cfg: HOST and ARN filled in, the ARN line's comment kept, every other byte the same
    host = cluster["Endpoint"]["Address"]
    after = stack.config.read_text()
    changes = changed_lines(original, after)
    assert [new for _, new in changes.values()] == [
        f"HOST = {host}\n", f"ARN = {role['Arn']} ; written by cluster.py up\n"]
    assert f"[CLUSTER] HOST = {host}" in proc.stdout and f"[IAM_ROLE] ARN = {role['Arn']}" in proc.stdout
    assert f"created cluster {stack.cluster}" in proc.stdout

    # Again: nothing new anywhere, and it says so
    again = stack.ok("up")
    assert "nothing to change" in again.stdout
    assert stack.config.read_text() == after
    assert ingress(stack) == sorted(rules_before + added, key=lambda r: r["SecurityGroupRuleId"])
    assert cluster_ids(stack) == clusters_before | {stack.cluster}
    assert role_names(stack) == roles_before | {stack.role}
    assert iam.list_role_policies(RoleName=stack.role)["PolicyNames"] == [POLICY_NAME]

    status = stack.ok("status").stdout
    for expected in (role["Arn"], f"{host}:5439", "available", "2 x dc2.large", f"tcp/5439 from {stack.cidr}",
                     ", ".join(sorted(stack.buckets))):
        assert expected in status, status
    assert "missing" not in status

    stack.ok("down", "--yes")


def test_up_single_node_and_an_existing_rule_is_reused(stack: Stack) -> None:
    stack.write_config(nodes=1)
    ec2 = stack.client("ec2")
    ec2.authorize_security_group_ingress(GroupId=default_group(stack), IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5439, "ToPort": 5439, "IpRanges": [{"CidrIp": stack.cidr}]}])
    before = ingress(stack)

    stack.ok("up")

    cluster = stack.client("redshift").describe_clusters(ClusterIdentifier=stack.cluster)["Clusters"][0]
    assert cluster["NumberOfNodes"] == 1
    assert ingress(stack) == before  # the user's own rule already opens the port
    stack.ok("down", "--yes")
    assert ingress(stack) == before  # and it is not the toolkit's to remove


# --------------------------------------------------------------------------- down


def test_down_deletes_only_what_up_created(stack: Stack) -> None:
    iam, redshift, ec2 = stack.client("iam"), stack.client("redshift"), stack.client("ec2")
    other = f"{stack.cluster}-other"
    iam.create_role(RoleName=f"{stack.role}-other", AssumeRolePolicyDocument=json.dumps(TRUST))
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    iam.put_role_policy(RoleName=f"{stack.role}-other", PolicyName="theirs",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    redshift.create_cluster(ClusterIdentifier=other, NodeType="dc2.large", ClusterType="single-node",
                            MasterUsername="them", MasterUserPassword="Th3irPassword",
                            VpcSecurityGroupIds=[default_group(stack)], Tags=[{"Key": "team", "Value": "bi"}])
    ec2.authorize_security_group_ingress(GroupId=default_group(stack), IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5439, "ToPort": 5439, "IpRanges": [{"CidrIp": "198.51.100.0/24"}]}])
    rules_before, roles_before, clusters_before = ingress(stack), role_names(stack), cluster_ids(stack)
    original = stack.config.read_text()
    stack.ok("up")

    proc = stack.ok("down", "--yes")

    assert cluster_ids(stack) == clusters_before
    assert role_names(stack) == roles_before
    assert ingress(stack) == rules_before
    assert iam.list_role_policies(RoleName=f"{stack.role}-other")["PolicyNames"] == ["theirs"]
    for what in (f"deleted cluster {stack.cluster}", f"deleted inline policy {POLICY_NAME}",
                 f"deleted IAM role arn:aws:iam::123456789012:role/{stack.role}",
                 f"removed the rule for {stack.cidr}", "cleared [CLUSTER] HOST", "cleared [IAM_ROLE] ARN"):
        assert what in proc.stdout, proc.stdout
    # HOST and ARN empty again; comments and every other line as they were
    changes = changed_lines(original, stack.config.read_text())
    assert [new.split(";")[0].strip() for _, new in changes.values()] == ["ARN ="]
    assert changes and all(new.endswith("; written by cluster.py up\n") for _, new in changes.values())

    again = stack.ok("down", "--yes")
    assert "nothing to delete" in again.stdout
    status = stack.ok("status").stdout
    assert status.count("missing") == 4, status
    redshift.delete_cluster(ClusterIdentifier=other, SkipFinalClusterSnapshot=True)


def test_down_without_yes_and_without_a_terminal_refuses(stack: Stack) -> None:
    stack.ok("up")
    error = one_line_error(stack.run("down"), alone=True)
    assert "add --yes" in error
    assert stack.cluster in cluster_ids(stack) and stack.role in role_names(stack)
    assert rule_for(stack, stack.cidr)
    stack.ok("down", "--yes")


def test_down_leaves_a_cluster_the_toolkit_did_not_create(stack: Stack) -> None:
    stack.client("redshift").create_cluster(
        ClusterIdentifier=stack.cluster, NodeType="dc2.large", ClusterType="single-node",
        MasterUsername="them", MasterUserPassword="Th3irPassword")
    proc = stack.ok("down", "--yes")
    assert f"left alone: cluster {stack.cluster} (not created by the toolkit" in proc.stdout
    assert stack.cluster in cluster_ids(stack)
    stack.client("redshift").delete_cluster(ClusterIdentifier=stack.cluster, SkipFinalClusterSnapshot=True)


def test_down_asks_on_a_terminal_and_can_keep_a_final_snapshot(stack: Stack) -> None:
    stack.ok("up")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DWH_", "AWS_"))}
    env.update(stack.moto.env, AWS_EC2_METADATA_DISABLED="true", DWH_CLUSTER_DB_PASSWORD=PASSWORD)
    pid, fd = pty.fork()
    if pid == 0:  # the child: cluster.py on a terminal; never back into pytest
        try:
            os.execve(sys.executable, [sys.executable, str(ROOT / "cluster.py"), "down", "--config",
                                       str(stack.config), "--poll-seconds", "0.1"], env)
        finally:
            os._exit(127)
    screen = ""
    for prompt in ("and its data? [y/N] ", "final snapshot (billed as storage until you delete it)? [y/N] "):
        screen = read_until(fd, prompt, screen)
        os.write(fd, b"y\n")
    screen = read_until(fd, "cleared [IAM_ROLE] ARN", screen)
    assert os.waitpid(pid, 0)[1] == 0, screen
    redshift = stack.client("redshift")
    snapshots = redshift.describe_cluster_snapshots(ClusterIdentifier=stack.cluster)["Snapshots"]
    assert [s["SnapshotIdentifier"] for s in snapshots if s["SnapshotType"] == "manual"] == [
        screen.split("(final snapshot ")[1].split(")")[0]]
    assert stack.cluster not in cluster_ids(stack)


def read_until(fd: int, text: str, screen: str) -> str:
    deadline = time.monotonic() + 20
    while text not in screen:
        assert time.monotonic() < deadline, screen
        if select.select([fd], [], [], 0.2)[0]:
            screen += os.read(fd, 4096).decode()
    return screen


# --------------------------------------------------------------------------- errors


def test_help_documents_the_commands_and_settings() -> None:
    run = [sys.executable, str(ROOT / "cluster.py")]
    main = subprocess.run([*run, "--help"], capture_output=True, text=True, check=True).stdout
    for text in ("{up,status,down}", "--config PATH", "[CLUSTER_SETUP]", "CLUSTER_IDENTIFIER = sparkify-dwh",
                 "NODE_TYPE = ra3.xlplus", "NUM_NODES = 2", "IAM_ROLE_NAME = sparkify-dwh-s3-read",
                 "SECURITY_GROUP_ID", "INGRESS_CIDR", "PUBLICLY_ACCESSIBLE = true"):
        assert text in main
    down = subprocess.run([*run, "down", "--help"], capture_output=True, text=True, check=True).stdout
    assert "--yes" in down and "without a final snapshot" in down


@pytest.mark.parametrize(("env", "cidr", "message"), [
    ({"DWH_CLUSTER_DB_PASSWORD": ""}, None, "DWH_CLUSTER_DB_PASSWORD"),
    ({"DWH_CLUSTER_DB_PASSWORD": "Weakpassword"}, None, "does not meet Redshift's rules"),
    ({}, "", "INGRESS_CIDR is empty; set it to the addresses that may connect, e.g. your public IP"
             " as 203.0.113.7/32"),
    ({}, "203.0.113.7/24", "INGRESS_CIDR '203.0.113.7/24' is not a network"),
])
def test_bad_settings_are_one_line_and_create_nothing(stack: Stack, env: dict[str, str], cidr: str | None,
                                                      message: str) -> None:
    stack.write_config(cidr=cidr)
    roles_before = role_names(stack)
    error = one_line_error(stack.run("up", env=env), alone=True)
    assert message in error
    assert role_names(stack) == roles_before


@pytest.fixture(scope="module")
def strict_moto() -> Iterator[tuple[str, dict[str, str]]]:
    """A second moto server that checks credentials and IAM policies, as AWS does, and the keys of
    a user allowed only to look (iam:Get*, ec2:Describe*, redshift:Describe*)."""
    port = free_port()
    # The first three requests are not checked: they create that user
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            env=dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="3"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                           aws_secret_access_key="y")
        iam.create_user(UserName="looker")
        key = iam.create_access_key(UserName="looker")["AccessKey"]
        iam.put_user_policy(UserName="looker", PolicyName="look", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
                "iam:Get*", "iam:List*", "ec2:Describe*", "redshift:Describe*"]}]}))
        yield url, {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
                    "DWH_S3_ENDPOINT_URL": url}
    finally:
        proc.terminate()
        proc.wait(10)


def test_invalid_credentials_are_one_line(stack: Stack, strict_moto: tuple[str, dict[str, str]]) -> None:
    url, _ = strict_moto
    env = {"AWS_ACCESS_KEY_ID": "AKIAUNKNOWNKEY", "DWH_S3_ENDPOINT_URL": url}
    error = one_line_error(stack.run("status", env=env), alone=True)
    assert "InvalidClientTokenId" in error
    assert error.endswith("not valid; check AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")


def test_a_missing_permission_is_named(stack: Stack, strict_moto: tuple[str, dict[str, str]]) -> None:
    _, looker = strict_moto
    error = one_line_error(stack.run("up", env=looker), alone=True)
    assert error.startswith(f"error: create IAM role {stack.role}: AccessDenied ")
    assert error.endswith("; the AWS credentials need the permission iam:CreateRole")
    assert "missing" in stack.ok("status", env=looker).stdout  # looking is allowed


# --------------------------------------------------------------------------- dwh.cfg editing


def test_set_in_file_keeps_everything_else() -> None:
    text = "; top\n[CLUSTER]\nHOST = old   ; note\nDB_NAME = dev\r\n\n; next\n[S3]\nREGION = x\n"
    assert set_in_file(text, "CLUSTER", {"HOST": "new"}) == text.replace("HOST = old   ; note",
                                                                         "HOST = new   ; note")
    assert set_in_file(text, "CLUSTER", {"db_port": "5439"}) == text.replace(
        "DB_NAME = dev\r\n", "DB_NAME = dev\r\ndb_port = 5439\n")
    assert set_in_file(text, "IAM_ROLE", {"ARN": "a"}) == text + "\n[IAM_ROLE]\nARN = a\n"
    unterminated = "[S3]\nREGION = x"
    assert set_in_file(unterminated, "IAM_ROLE", {"ARN": "a"}) == "[S3]\nREGION = x\n\n[IAM_ROLE]\nARN = a\n"
    assert set_in_file(text, "S3", {"HOST": "h"}) == text + "HOST = h\n"  # HOST of [CLUSTER] untouched
