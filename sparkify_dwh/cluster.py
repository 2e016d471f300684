"""cluster.py's work: the Redshift cluster, its IAM role and its network rule, created, described and
removed through boto3, and dwh.cfg filled in."""

from __future__ import annotations

import argparse
import configparser
import ipaddress
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkify_dwh import console, s3, settings
from sparkify_dwh.errors import ConfigError, DwhError
from sparkify_dwh.settings import Settings

CLUSTER_TAG_KEY = "sparkify-dwh-cluster"  # on the ingress rule: which cluster it was opened for


TAG_KEY, TAG_VALUE = "created-by", "sparkify-dwh-toolkit"

Row = tuple[str, str, str]


POLICY_NAME = "sparkify-dwh-toolkit-s3-read"


SECTION = "CLUSTER_SETUP"


TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "redshift.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


BAD_STATES = ("deleting", "final-snapshot", "paused", "hardware-failure", "incompatible-hsm",
              "incompatible-network", "incompatible-parameters", "incompatible-restore", "storage-full")


@dataclass(frozen=True)
class Setup:
    identifier: str
    node_type: str
    num_nodes: int
    role_name: str
    security_group: str
    ingress_cidr: str
    public: bool
    port: int
    db_name: str
    db_user: str
    password: str = field(repr=False)
    buckets: tuple[str, ...]
    config_file: Path


def setup_value(cfg: Settings, key: str) -> str:
    return str(getattr(cfg.cluster_setup, key.lower()))


def source_buckets(cfg: Settings) -> tuple[str, ...]:
    locations = (cfg.s3.log_data, cfg.s3.song_data, cfg.s3.log_jsonpath, cfg.s3.work_prefix)
    uris = [u for u in locations if s3.is_s3(u)]  # local folders need no access
    return tuple(sorted({s3.split_s3_uri(u)[0] for u in uris}))


def read_setup(cfg: Settings, config_file: Path) -> Setup:
    nodes = setup_value(cfg, "NUM_NODES")
    if not nodes.isdigit() or int(nodes) < 1:
        raise ConfigError(f"[{SECTION}] NUM_NODES is {nodes!r}; use 1 (single-node) or more")
    public = setup_value(cfg, "PUBLICLY_ACCESSIBLE").lower()
    if public not in configparser.ConfigParser.BOOLEAN_STATES:
        raise ConfigError(f"[{SECTION}] PUBLICLY_ACCESSIBLE is {public!r}; use true or false")
    c = cfg.cluster
    return Setup(
        identifier=setup_value(cfg, "CLUSTER_IDENTIFIER"),
        node_type=setup_value(cfg, "NODE_TYPE"),
        num_nodes=int(nodes),
        role_name=setup_value(cfg, "IAM_ROLE_NAME"),
        security_group=setup_value(cfg, "SECURITY_GROUP_ID"),
        ingress_cidr=setup_value(cfg, "INGRESS_CIDR"),
        public=configparser.ConfigParser.BOOLEAN_STATES[public],
        port=c.db_port,
        db_name=c.db_name or "dev",
        db_user=c.db_user,
        password=c.db_password,
        buckets=source_buckets(cfg),
        config_file=config_file,
    )


def check_ready_for_up(setup: Setup) -> None:
    """Refuse, before calling AWS, what AWS would refuse or what would be unsafe."""
    if not setup.ingress_cidr:
        raise ConfigError(
            f"[{SECTION}] INGRESS_CIDR is empty; set it to the addresses that may connect,"
            f" e.g. your public IP as 203.0.113.7/32 (or DWH_{SECTION}_INGRESS_CIDR)"
        )
    ingress_network(setup.ingress_cidr)
    if not setup.db_user:
        raise ConfigError("[CLUSTER] DB_USER is empty; set the master user name (or DWH_CLUSTER_DB_USER)")
    check_password(setup.password)
    if not setup.buckets:
        raise ConfigError("no s3:// location in [S3] LOG_DATA, SONG_DATA, LOG_JSONPATH or WORK_PREFIX;"
                              " a Redshift cluster loads from S3 only")


def ingress_network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(cidr, strict=True)
    except ValueError as exc:
        raise ConfigError(f"[{SECTION}] INGRESS_CIDR {cidr!r} is not a network ({exc});"
                              " write e.g. 203.0.113.7/32") from None


def check_password(password: str) -> None:
    """Redshift's rules for a master password. The message never contains the password."""
    where = "[CLUSTER] DB_PASSWORD (better: the environment variable DWH_CLUSTER_DB_PASSWORD)"
    if not password:
        raise ConfigError(f"the cluster needs a master password: set {where}")
    problems = []
    if not 8 <= len(password) <= 64:
        problems.append("8 to 64 characters")
    if not (re.search(r"[A-Z]", password) and re.search(r"[a-z]", password) and re.search(r"\d", password)):
        problems.append("an upper-case letter, a lower-case letter and a digit")
    if any(not 33 <= ord(ch) <= 126 or ch in "'\"\\/@" for ch in password):
        problems.append("no spaces, quotes, \\, / or @")
    if problems:
        raise ConfigError(f"{where} does not meet Redshift's rules: it needs {'; '.join(problems)}")


class Aws:
    """IAM, Redshift and EC2 clients built like s3.s3_client, and one call() that turns every
    AWS failure into a one-line DwhError naming what to fix."""

    def __init__(self, cfg: Settings) -> None:
        import boto3
        from botocore.config import Config as BotoConfig

        self.cfg = cfg
        session = boto3.session.Session()
        options = {
            "region_name": cfg.s3.region or None,
            "endpoint_url": cfg.s3.endpoint_url or None,
            "config": BotoConfig(retries={"max_attempts": 8, "mode": "adaptive"},
                                 connect_timeout=5, read_timeout=60),
        }
        self.iam = session.client("iam", **options)
        self.redshift = session.client("redshift", **options)
        self.ec2 = session.client("ec2", **options)

    def call(self, client: Any, operation: str, what: str, **params: Any) -> dict[str, Any]:
        found = self.find(client, operation, what, (), **params)
        assert found is not None  # only codes in `absent` give None
        return found

    def find(self, client: Any, operation: str, what: str, absent: tuple[str, ...],
             **params: Any) -> dict[str, Any] | None:
        """The response, or None when the error code is one of `absent` (e.g. NoSuchEntity)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response: dict[str, Any] = getattr(client, operation)(**params)
            return response
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in absent:
                return None
            message = aws_error(exc, what, permission(client, operation))
        except BotoCoreError as exc:
            message = aws_error(exc, what, permission(client, operation))
        raise DwhError(settings.redact(message, self.cfg)) from None


def permission(client: Any, operation: str) -> str:
    """'iam:CreateRole' for (iam client, 'create_role'): the IAM action a denial is about."""
    return f"{client.meta.service_model.signing_name}:{client.meta.method_to_api_mapping[operation]}"


CREDENTIAL_CODES = ("InvalidClientTokenId", "UnrecognizedClientException", "AuthFailure",
                    "SignatureDoesNotMatch", "InvalidAccessKeyId", "IncompleteSignature")


HINTS = {
    "ExpiredToken": "refresh the AWS credentials",
    "ExpiredTokenException": "refresh the AWS credentials",
    "RequestExpired": "refresh the AWS credentials and check this machine's clock",
    "ClusterQuotaExceeded": "the account's Redshift cluster quota is used up; delete an unused cluster"
                            " or request a quota increase in Service Quotas",
    "NumberOfNodesQuotaExceeded": f"lower [{SECTION}] NUM_NODES or request a quota increase",
    "NumberOfNodesPerClusterLimitExceeded": f"lower [{SECTION}] NUM_NODES",
    "InsufficientClusterCapacity": f"no capacity for this node type now; try another [{SECTION}] NODE_TYPE"
                                   " or region, or later",
    "InvalidParameterValue": f"check [{SECTION}] and [CLUSTER] in dwh.cfg",
    "InvalidParameterCombination": f"check [{SECTION}] and [CLUSTER] in dwh.cfg",
    "InvalidGroup.NotFound": f"check [{SECTION}] SECURITY_GROUP_ID and [S3] REGION",
    "InvalidGroupId.Malformed": f"check [{SECTION}] SECURITY_GROUP_ID",
    "ValidationError": f"check [{SECTION}] in dwh.cfg",
    "LimitExceeded": "an IAM quota is reached; delete unused roles or policies",
    "EntityAlreadyExists": "it was created meanwhile; run the command again",
}


def aws_error(exc: BaseException, what: str, action: str) -> str:
    """One line: what failed, AWS's code and message, and what to fix."""
    from botocore import exceptions as bex

    if isinstance(exc, bex.ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", "?"))
        # EC2 appends a long encoded blob to denials; the readable part comes first
        message = " ".join(str(err.get("Message", "")).split("Encoded authorization failure")[0].split())
        if code in CREDENTIAL_CODES:
            hint = ("the AWS credentials are not valid;"
                    " check AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
        elif "AccessDenied" in code or "Unauthorized" in code:
            hint = f"the AWS credentials need the permission {action}"
        else:
            hint = HINTS.get(code, "")
        return f"{what}: {code} {message[:300]}".rstrip() + (f"; {hint}" if hint else "")
    if isinstance(exc, bex.NoCredentialsError):
        return f"{what}: no AWS credentials found; set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
    if isinstance(exc, bex.EndpointConnectionError | bex.ConnectTimeoutError | bex.ReadTimeoutError):
        return f"{what}: cannot reach AWS ({console.first_line(exc)}); check [S3] REGION and ENDPOINT_URL"
    return f"{what}: {console.first_line(exc)}"


def marked(tags: list[dict[str, str]] | None) -> bool:
    return any(t.get("Key") == TAG_KEY and t.get("Value") == TAG_VALUE for t in tags or [])


def read_policy(buckets: tuple[str, ...], partition: str) -> dict[str, Any]:
    """Read-only access to exactly these buckets: list them, find their region, get objects."""
    arns = [f"arn:{partition}:s3:::{b}" for b in buckets]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ListSourceBuckets", "Effect": "Allow",
             "Action": ["s3:GetBucketLocation", "s3:ListBucket"], "Resource": arns},
            {"Sid": "ReadSourceObjects", "Effect": "Allow",
             "Action": ["s3:GetObject"], "Resource": [f"{a}/*" for a in arns]},
        ],
    }


def find_role(aws: Aws, setup: Setup) -> dict[str, Any] | None:
    found = aws.find(aws.iam, "get_role", f"look up IAM role {setup.role_name}", ("NoSuchEntity",),
                     RoleName=setup.role_name)
    return found["Role"] if found else None


def find_policy(aws: Aws, setup: Setup) -> dict[str, Any] | None:
    found = aws.find(aws.iam, "get_role_policy", f"read the inline policy of role {setup.role_name}",
                     ("NoSuchEntity",), RoleName=setup.role_name, PolicyName=POLICY_NAME)
    return found["PolicyDocument"] if found else None


def trusts_redshift(role: dict[str, Any]) -> bool:
    for statement in role.get("AssumeRolePolicyDocument", {}).get("Statement", []):
        services = statement.get("Principal", {}).get("Service", [])
        if statement.get("Effect") == "Allow" and "redshift.amazonaws.com" in (
                [services] if isinstance(services, str) else services):
            return True
    return False


def ensure_role(aws: Aws, setup: Setup, changes: list[str]) -> str:
    """The role's ARN, creating the role if missing; an existing role is used as it is."""
    role = find_role(aws, setup)
    if role is None:
        role = aws.call(aws.iam, "create_role", f"create IAM role {setup.role_name}",
                        RoleName=setup.role_name, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
                        Description="Lets the Sparkify Redshift cluster read its S3 sources",
                        Tags=[{"Key": TAG_KEY, "Value": TAG_VALUE}])["Role"]
        changes.append(f"created IAM role {role['Arn']}")
    elif not trusts_redshift(role):
        raise DwhError(f"IAM role {setup.role_name} exists but does not trust redshift.amazonaws.com;"
                           f" choose another [{SECTION}] IAM_ROLE_NAME")
    arn: str = role["Arn"]
    return arn


def ensure_policy(aws: Aws, setup: Setup, role_arn: str, changes: list[str]) -> None:
    wanted = read_policy(setup.buckets, role_arn.split(":")[1])
    current = find_policy(aws, setup)
    if current == wanted:
        return
    aws.call(aws.iam, "put_role_policy", f"attach the S3 read policy to role {setup.role_name}",
             RoleName=setup.role_name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(wanted))
    verb = "attached" if current is None else "updated"
    changes.append(f"{verb} inline policy {POLICY_NAME}: read-only on s3://{', s3://'.join(setup.buckets)}")


def policy_buckets(document: dict[str, Any] | None) -> list[str]:
    if document is None:
        return []
    resources: set[str] = set()
    for statement in document.get("Statement", []):
        found = statement.get("Resource", [])
        resources.update([found] if isinstance(found, str) else found)
    return sorted({r.split(":::", 1)[-1].split("/", 1)[0] for r in resources})


def remove_role(aws: Aws, setup: Setup, changes: list[str], kept: list[str]) -> None:
    role = find_role(aws, setup)
    if role is None:
        return
    if find_policy(aws, setup) is not None:
        aws.call(aws.iam, "delete_role_policy", f"delete the inline policy of role {setup.role_name}",
                 RoleName=setup.role_name, PolicyName=POLICY_NAME)
        changes.append(f"deleted inline policy {POLICY_NAME}")
    if not marked(role.get("Tags")):
        kept.append(f"IAM role {setup.role_name} (not created by the toolkit)")
        return
    # A role that has gained other policies is in use elsewhere: IAM would refuse, and rightly
    what = f"list the policies of role {setup.role_name}"
    others = aws.call(aws.iam, "list_role_policies", what, RoleName=setup.role_name)["PolicyNames"]
    attached = aws.call(aws.iam, "list_attached_role_policies", what,
                        RoleName=setup.role_name)["AttachedPolicies"]
    if others or attached:
        kept.append(f"IAM role {setup.role_name} (it has other policies now)")
        return
    aws.call(aws.iam, "delete_role", f"delete IAM role {setup.role_name}", RoleName=setup.role_name)
    changes.append(f"deleted IAM role {role['Arn']}")


def security_group(aws: Aws, setup: Setup) -> str:
    """SECURITY_GROUP_ID, or the default security group of the default VPC."""
    if setup.security_group:
        return setup.security_group
    vpcs = aws.call(aws.ec2, "describe_vpcs", "find the default VPC",
                    Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise DwhError(f"this region has no default VPC; set [{SECTION}] SECURITY_GROUP_ID")
    groups = aws.call(aws.ec2, "describe_security_groups", "find the default VPC's default security group",
                      Filters=[{"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]},
                               {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]
    if not groups:
        raise DwhError(f"the default VPC has no default security group;"
                           f" set [{SECTION}] SECURITY_GROUP_ID")
    group: str = groups[0]["GroupId"]
    return group


def ingress_rules(aws: Aws, group: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    params: dict[str, Any] = {"Filters": [{"Name": "group-id", "Values": [group]}]}
    while True:
        page = aws.call(aws.ec2, "describe_security_group_rules", f"list the rules of security group {group}",
                        **params)
        rules += [r for r in page.get("SecurityGroupRules", []) if not r.get("IsEgress")]
        if not page.get("NextToken"):
            return rules
        params["NextToken"] = page["NextToken"]


def opens(rule: dict[str, Any], port: int, cidr: str) -> bool:
    """Whether the rule lets `cidr` reach `port` over TCP."""
    source = rule.get("CidrIpv4") or rule.get("CidrIpv6")
    if source != cidr:
        return False
    return rule.get("IpProtocol") == "-1" or (
        rule.get("IpProtocol") == "tcp" and rule.get("FromPort", 0) <= port <= rule.get("ToPort", -1))


def ours(rule: dict[str, Any], setup: Setup) -> bool:
    tags = rule.get("Tags") or []
    return marked(tags) and {"Key": CLUSTER_TAG_KEY, "Value": setup.identifier} in tags


def ensure_ingress(aws: Aws, setup: Setup, group: str, changes: list[str]) -> None:
    network = ingress_network(setup.ingress_cidr)
    cidr = str(network)
    if network.prefixlen == 0:  # allowed when asked for explicitly, but never quietly
        console.say(f"warning: INGRESS_CIDR {cidr} lets the whole internet try to log in on port {setup.port}")
    if any(opens(r, setup.port, cidr) for r in ingress_rules(aws, group)):
        return
    ip_range = {"CidrIp" if ":" not in cidr else "CidrIpv6": cidr,
                "Description": f"Redshift {setup.identifier}, by {TAG_VALUE}"}
    aws.call(aws.ec2, "authorize_security_group_ingress", f"open port {setup.port} in security group {group}",
             GroupId=group,
             IpPermissions=[{"IpProtocol": "tcp", "FromPort": setup.port, "ToPort": setup.port,
                             "IpRanges" if ":" not in cidr else "Ipv6Ranges": [ip_range]}],
             TagSpecifications=[{"ResourceType": "security-group-rule", "Tags": [
                 {"Key": TAG_KEY, "Value": TAG_VALUE}, {"Key": CLUSTER_TAG_KEY, "Value": setup.identifier}]}])
    changes.append(f"allowed {cidr} to reach port {setup.port} in security group {group}")


def remove_ingress(aws: Aws, setup: Setup, groups: list[str], changes: list[str]) -> None:
    for group in groups:
        rules = [r for r in ingress_rules(aws, group) if ours(r, setup)]
        if rules:
            aws.call(aws.ec2, "revoke_security_group_ingress", f"remove the toolkit's rule from {group}",
                     GroupId=group, SecurityGroupRuleIds=[r["SecurityGroupRuleId"] for r in rules])
            for r in rules:
                changes.append(f"removed the rule for {r.get('CidrIpv4') or r.get('CidrIpv6')}"
                               f" to port {r.get('FromPort')} from security group {group}")


def find_cluster(aws: Aws, setup: Setup) -> dict[str, Any] | None:
    found = aws.find(aws.redshift, "describe_clusters", f"look up cluster {setup.identifier}",
                     ("ClusterNotFound", "ClusterNotFoundFault"), ClusterIdentifier=setup.identifier)
    return found["Clusters"][0] if found and found.get("Clusters") else None


def create_cluster(aws: Aws, setup: Setup, role_arn: str, group: str, role_is_new: bool,
                   poll: float) -> None:
    size = {"ClusterType": "single-node"} if setup.num_nodes == 1 else {
        "ClusterType": "multi-node", "NumberOfNodes": setup.num_nodes}
    params = dict(
        ClusterIdentifier=setup.identifier, NodeType=setup.node_type, **size,
        DBName=setup.db_name, MasterUsername=setup.db_user, MasterUserPassword=setup.password,
        Port=setup.port, IamRoles=[role_arn], VpcSecurityGroupIds=[group],
        PubliclyAccessible=setup.public, Encrypted=True, Tags=[{"Key": TAG_KEY, "Value": TAG_VALUE}],
    )
    # A role created seconds ago may not be visible to Redshift yet (IAM is eventually consistent)
    for attempt in range(6 if role_is_new else 1):
        try:
            aws.call(aws.redshift, "create_cluster", f"create cluster {setup.identifier}", **params)
            return
        except DwhError as exc:
            unseen_role = re.search(r"InvalidParameterValue.*role", str(exc), re.IGNORECASE)
            if attempt == 5 or not role_is_new or not unseen_role:
                raise
            console.say("the new IAM role is not visible to Redshift yet; retrying")
            time.sleep(max(poll, 1))


def ensure_cluster(aws: Aws, setup: Setup, role_arn: str, group: str, role_is_new: bool, poll: float,
                   changes: list[str]) -> None:
    cluster = find_cluster(aws, setup)
    if cluster is None:
        create_cluster(aws, setup, role_arn, group, role_is_new, poll)
        nodes = "single node" if setup.num_nodes == 1 else f"{setup.num_nodes} nodes"
        changes.append(f"created cluster {setup.identifier} ({nodes} of {setup.node_type}, database "
                       f"{setup.db_name}, user {setup.db_user}, port {setup.port})")
        return
    # An existing cluster is used as it is: say what will not work, change nothing
    if not marked(cluster.get("Tags")):
        console.say(f"note: cluster {setup.identifier} was not created by the toolkit; `down` will leave it")
    if role_arn not in [r.get("IamRoleArn") for r in cluster.get("IamRoles", [])]:
        console.say(f"warning: cluster {setup.identifier} does not have role {role_arn}; COPY from S3 will fail"
                " until it is added (aws redshift modify-cluster-iam-roles)")
    if group not in [g.get("VpcSecurityGroupId") for g in cluster.get("VpcSecurityGroups", [])]:
        console.say(f"warning: cluster {setup.identifier} is not in security group {group}; the ingress rule"
                f" there does not reach it (set [{SECTION}] SECURITY_GROUP_ID)")


def wait_for(what: str, check: Callable[[], str | None], timeout: float, poll: float, hint: str) -> None:
    """Poll check() (None when done, else the current state) until done or timeout."""
    start = time.monotonic()
    while (state := check()) is not None:
        elapsed = time.monotonic() - start
        if elapsed >= timeout:
            raise DwhError(f"{what}: still {state} after {int(elapsed)} s; {hint}")
        console.say(f"{what}: {state} ({int(elapsed)} s)")
        time.sleep(poll)


def wait_available(aws: Aws, setup: Setup, timeout: float, poll: float) -> dict[str, Any]:
    latest: dict[str, Any] = {}

    def state() -> str | None:
        cluster = find_cluster(aws, setup)
        if cluster is None:
            raise DwhError(f"cluster {setup.identifier} disappeared while waiting for it")
        latest.update(cluster)
        status = cluster.get("ClusterStatus", "?")
        if status in BAD_STATES:
            raise DwhError(f"cluster {setup.identifier} is {status}; it cannot become available by itself"
                               " (see the Redshift console)")
        return None if status == "available" and cluster.get("Endpoint", {}).get("Address") else status

    wait_for(f"cluster {setup.identifier}", state, timeout, poll,
             "run `python cluster.py up` again later: it carries on where it stopped")
    return latest


def delete_cluster(aws: Aws, setup: Setup, snapshot: bool, timeout: float, poll: float,
                   changes: list[str]) -> None:
    final = ({"SkipFinalClusterSnapshot": False,
              "FinalClusterSnapshotIdentifier": f"{setup.identifier}-final-{time.strftime('%Y%m%d-%H%M%S')}"}
             if snapshot else {"SkipFinalClusterSnapshot": True})
    aws.call(aws.redshift, "delete_cluster", f"delete cluster {setup.identifier}",
             ClusterIdentifier=setup.identifier, **final)
    wait_for(f"deleting cluster {setup.identifier}",
             lambda: None if (c := find_cluster(aws, setup)) is None else c.get("ClusterStatus", "?"),
             timeout, poll, "it carries on; run `python cluster.py status` later")
    changes.append(f"deleted cluster {setup.identifier}"
                   + (f" (final snapshot {final['FinalClusterSnapshotIdentifier']})" if snapshot else ""))


def set_in_file(text: str, section: str, values: dict[str, str]) -> str:
    """text with `KEY = value` set in [section]: the value of an existing line is replaced (its
    inline comment and alignment kept), a missing key or section is added. configparser.write
    would drop every comment, so the lines are edited here."""
    lines = text.splitlines(keepends=True)
    start, end = None, len(lines)
    for i, line in enumerate(lines):
        header = re.match(r"\s*\[([^\]]+)\]", line)
        if header and start is not None:
            end = i
            break
        if header and header.group(1).strip() == section:
            start = i
    if start is None:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines += (["\n"] if lines else []) + [f"[{section}]\n"]
        start, end = len(lines) - 1, len(lines)
    for key, value in values.items():
        key_line = re.compile(rf"(\s*{re.escape(key)}\s*[=:])(.*)", re.IGNORECASE)
        matches = [i for i in range(start + 1, end) if key_line.fullmatch(lines[i].rstrip("\r\n"))]
        for i in matches:
            lines[i] = replace_value(lines[i], key_line, value)
        if not matches:
            keys = [i for i in range(start + 1, end) if re.match(r"\s*[^\s;#\[][^=:]*[=:]", lines[i])]
            last_key = max(keys, default=start)
            eol = "\r\n" if lines[start].endswith("\r\n") else "\n"
            lines.insert(last_key + 1, f"{key} = {value}{eol}")
            end += 1
    return "".join(lines)


def replace_value(line: str, key_line: re.Pattern[str], value: str) -> str:
    body = line.rstrip("\r\n")
    match = key_line.fullmatch(body)
    assert match is not None
    lead, rest = match.groups()
    comment = re.search(r"\s[;#]", rest)  # an inline comment, as settings.load_config reads them
    new = f" {value}" if value else ""
    if comment:
        old = rest[: comment.start()]
        new = new.ljust(len(old)) + rest[comment.start():]
    return lead + new + line[len(body):]


def write_config(path: Path, updates: dict[tuple[str, str], str]) -> list[str]:
    """Set each (section, key) to its value in the file; return 'SECTION KEY = value' per change."""
    path = path.resolve()
    old = path.read_bytes().decode("utf-8") if path.exists() else ""
    current = configparser.ConfigParser(inline_comment_prefixes=(";", "#"), interpolation=None)
    current.optionxform = str.upper  # type: ignore[assignment,method-assign]
    current.read_string(old)
    text, changed = old, []
    for (section, key), value in updates.items():
        if current.get(section, key, fallback="").strip() != value:
            text = set_in_file(text, section, {key: value})
            changed.append(f"[{section}] {key} = {value}")
    if changed:
        # Write beside, then swap: a crash never leaves half a dwh.cfg
        with tempfile.NamedTemporaryFile("wb", dir=path.parent, prefix=".dwh.cfg.", delete=False) as tmp:
            tmp.write(text.encode("utf-8"))
        if path.exists():
            shutil.copymode(path, tmp.name)  # dwh.cfg may hold a password: keep its permissions
        os.replace(tmp.name, path)
    return changed


def note_overrides(keys: list[tuple[str, str]]) -> None:
    for section, key in keys:
        if os.environ.get(f"DWH_{section}_{key}"):
            console.say(f"note: DWH_{section}_{key} is set and overrides the {key} in dwh.cfg")


def up(aws: Aws, setup: Setup, args: argparse.Namespace) -> int:
    check_ready_for_up(setup)
    changes: list[str] = []
    role_arn = ensure_role(aws, setup, changes)
    role_is_new = bool(changes)
    ensure_policy(aws, setup, role_arn, changes)
    group = security_group(aws, setup)
    ensure_cluster(aws, setup, role_arn, group, role_is_new, args.poll_seconds, changes)
    ensure_ingress(aws, setup, group, changes)
    cluster = wait_available(aws, setup, args.timeout, args.poll_seconds)
    host = cluster["Endpoint"]["Address"]
    if cluster["Endpoint"].get("Port") not in (None, setup.port):
        console.say(f"warning: the cluster listens on port {cluster['Endpoint']['Port']}, [CLUSTER] DB_PORT says"
                f" {setup.port}; set DB_PORT to match")
    written = write_config(setup.config_file, {("CLUSTER", "HOST"): host, ("IAM_ROLE", "ARN"): role_arn})
    note_overrides([("CLUSTER", "HOST"), ("IAM_ROLE", "ARN")])
    for change in changes:
        print(change)
    for line in written:
        print(f"wrote {line} to {setup.config_file}")
    if not changes and not written:
        print(f"nothing to change: role, policy, cluster {setup.identifier}, ingress rule and dwh.cfg"
              " are already as configured")
    print(f"cluster {setup.identifier} is available at {host}:{setup.port}")
    return 0


ORIGIN = {True: ", created by the toolkit", False: ", not created by the toolkit"}


def role_rows(aws: Aws, setup: Setup) -> list[Row]:
    role = find_role(aws, setup)
    if role is None:
        return [("IAM role", "missing", setup.role_name), ("S3 read policy", "missing", POLICY_NAME)]
    policy = find_policy(aws, setup)
    buckets = f"{POLICY_NAME}: read-only on {', '.join(policy_buckets(policy))}" if policy else POLICY_NAME
    return [("IAM role", "present", f"{role['Arn']}{ORIGIN[marked(role.get('Tags'))]}"),
            ("S3 read policy", "present" if policy else "missing", buckets)]


def cluster_row(aws: Aws, setup: Setup) -> Row:
    cluster = find_cluster(aws, setup)
    if cluster is None:
        return ("cluster", "missing", setup.identifier)
    endpoint = cluster.get("Endpoint", {})
    address = endpoint.get("Address")
    where = f"{address}:{endpoint.get('Port')}" if address else "(no endpoint yet)"
    size = f"{cluster.get('NumberOfNodes')} x {cluster.get('NodeType')}"
    return ("cluster", cluster.get("ClusterStatus", "?"),
            f"{setup.identifier} at {where}, {size}{ORIGIN[marked(cluster.get('Tags'))]}")


def ingress_row(aws: Aws, setup: Setup) -> Row:
    group = security_group(aws, setup)
    rules = ingress_rules(aws, group)
    if setup.ingress_cidr:
        sources = [str(ingress_network(setup.ingress_cidr))]
        present = any(opens(r, setup.port, sources[0]) for r in rules)
    else:  # no CIDR configured: show what the toolkit opened for this cluster
        sources = [r.get("CidrIpv4") or r.get("CidrIpv6") or "?" for r in rules if ours(r, setup)]
        present = bool(sources)
    shown = ", ".join(sources) or f"[{SECTION}] INGRESS_CIDR (not set)"
    return ("ingress rule", "present" if present else "missing", f"{group} tcp/{setup.port} from {shown}")


def status(aws: Aws, setup: Setup, args: argparse.Namespace) -> int:
    rows = [*role_rows(aws, setup), cluster_row(aws, setup), ingress_row(aws, setup)]
    print(console.format_table(["what", "state", "details"], rows))
    return 0


def confirm_down(setup: Setup, cluster: dict[str, Any]) -> bool:
    """Ask before deleting the cluster; the answer to the second question: keep a final snapshot?"""
    if not sys.stdin.isatty():
        raise DwhError(f"down deletes cluster {setup.identifier} and its data; add --yes to confirm"
                           " when not run interactively (no final snapshot is kept)")
    answer = input(f"Delete cluster {setup.identifier} ({cluster.get('NumberOfNodes')} x "
                   f"{cluster.get('NodeType')}) and its data? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise DwhError("nothing deleted")
    answer = input("Keep a final snapshot (billed as storage until you delete it)? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def down(aws: Aws, setup: Setup, args: argparse.Namespace) -> int:
    changes: list[str] = []
    kept: list[str] = []
    group = security_group(aws, setup)
    cluster = find_cluster(aws, setup)
    groups = [group]
    host = ""
    if cluster is not None and marked(cluster.get("Tags")):
        host = cluster.get("Endpoint", {}).get("Address", "")
        groups += [g["VpcSecurityGroupId"] for g in cluster.get("VpcSecurityGroups", [])
                   if g.get("VpcSecurityGroupId") not in groups]
        snapshot = False if args.yes else confirm_down(setup, cluster)
        delete_cluster(aws, setup, snapshot, args.timeout, args.poll_seconds, changes)
    elif cluster is not None:
        kept.append(f"cluster {setup.identifier} (not created by the toolkit: no {TAG_KEY}={TAG_VALUE} tag)")
    remove_ingress(aws, setup, groups, changes)
    role_arn = (find_role(aws, setup) or {}).get("Arn", "")
    remove_role(aws, setup, changes, kept)
    cleared = clear_config(setup, host, role_arn)
    for line in changes:
        print(line)
    for line in cleared:
        print(f"cleared {line} in {setup.config_file}")
    for line in kept:
        print(f"left alone: {line}")
    if not changes and not cleared:
        print("nothing to delete: the toolkit's role, cluster and ingress rule are not there")
    return 0


def clear_config(setup: Setup, host: str, role_arn: str) -> list[str]:
    """Empty HOST and ARN when they point at what was just deleted, and only then."""
    if not setup.config_file.exists():
        return []
    current = configparser.ConfigParser(inline_comment_prefixes=(";", "#"), interpolation=None)
    current.optionxform = str.upper  # type: ignore[assignment,method-assign]
    current.read(setup.config_file, encoding="utf-8")
    file_host = current.get("CLUSTER", "HOST", fallback="").strip()
    file_arn = current.get("IAM_ROLE", "ARN", fallback="").strip()
    updates = {}
    if file_host and (file_host == host or file_host.startswith(f"{setup.identifier}.")):
        updates[("CLUSTER", "HOST")] = ""
    if file_arn and (file_arn == role_arn or file_arn.endswith(f":role/{setup.role_name}")):
        updates[("IAM_ROLE", "ARN")] = ""
    return [line.rstrip(" =") for line in write_config(setup.config_file, updates)]
