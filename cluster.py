"""Set up, inspect and tear down the Amazon Redshift cluster the Sparkify toolkit loads into.

    python cluster.py up       # IAM role + S3 read policy, cluster, ingress rule; writes HOST and ARN
    python cluster.py status   # what exists now, as one table
    python cluster.py down     # deletes only what `up` created; clears HOST and ARN

`up` is idempotent: it creates what is missing, waits until the cluster is available and writes
[CLUSTER] HOST and [IAM_ROLE] ARN into dwh.cfg in place (comments and other lines untouched).
Run again, it changes nothing and says so.

Settings, in dwh.cfg (each overridable by DWH_<SECTION>_<KEY>, e.g. DWH_CLUSTER_SETUP_INGRESS_CIDR):

  [CLUSTER_SETUP]
  CLUSTER_IDENTIFIER = sparkify-dwh          ; the cluster's name
  NODE_TYPE = ra3.xlplus                      ; or dc2.large, ...
  NUM_NODES = 2                               ; 1 means a single-node cluster
  IAM_ROLE_NAME = sparkify-dwh-s3-read        ; the role the cluster reads S3 with
  SECURITY_GROUP_ID =                         ; default: the default VPC's default security group
  INGRESS_CIDR =                              ; who may connect, e.g. 203.0.113.7/32; required by `up`
  PUBLICLY_ACCESSIBLE = true

  [CLUSTER] DB_NAME, DB_USER, DB_PASSWORD (prefer DWH_CLUSTER_DB_PASSWORD), DB_PORT: the database.
  [S3] REGION and ENDPOINT_URL: where the IAM, Redshift and EC2 APIs are called.
  [S3] LOG_DATA, SONG_DATA, LOG_JSONPATH, WORK_PREFIX: the buckets the role may read (s3:// only).

Credentials come from the standard AWS chain (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...).

What `up` creates is marked: the role and cluster carry the tag created-by=sparkify-dwh-toolkit,
the ingress rule that tag and a description, the inline policy its own name. `down` deletes only
marked things. It asks before deleting the cluster; --yes deletes without asking and without a
final snapshot. Asked interactively, it offers to keep a final snapshot. Without a terminal and
without --yes it refuses.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from sparkify_dwh import cli, settings
from sparkify_dwh.cluster import Aws, Setup, down, read_setup, status, up

# --------------------------------------------------------------------------- commands


Command = Callable[[Aws, Setup, argparse.Namespace], int]
COMMANDS: dict[str, Command] = {"up": up, "status": status, "down": down}


def parse_arguments() -> argparse.Namespace:
    parser = cli.argument_parser(__doc__.splitlines()[0], json_help=None)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = __doc__.split("\n", 2)[2]
    commands = parser.add_subparsers(dest="command", required=True, metavar="{up,status,down}")
    helps = {"up": "create what is missing, wait for the cluster, write HOST and ARN into dwh.cfg",
             "status": "show the role, its policy, the cluster and the ingress rule",
             "down": "delete what `up` created and clear HOST and ARN"}
    for name, text in helps.items():
        command = commands.add_parser(name, help=text, description=text)
        # also accepted after the command; SUPPRESS keeps a --config given before it
        command.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                             help="configuration file (default: dwh.cfg beside the scripts)")
        if name == "down":
            command.add_argument("--yes", action="store_true",
                                 help="do not ask; delete the cluster without a final snapshot")
        if name != "status":
            command.add_argument("--poll-seconds", type=cli.seconds, default=15.0, metavar="S",
                                 help="seconds between status checks while waiting (default: 15)")
            command.add_argument("--timeout", type=cli.seconds, default=1800.0, metavar="S",
                                 help="give up waiting for the cluster after S seconds (default: 1800)")
    return parser.parse_args()


def main() -> int:
    args = parse_arguments()
    cfg = settings.load_config(args.config)
    setup = read_setup(cfg, Path(args.config).expanduser() if args.config else settings.DEFAULT_CONFIG)
    return COMMANDS[args.command](Aws(cfg), setup, args)


if __name__ == "__main__":
    cli.run_script(main)
