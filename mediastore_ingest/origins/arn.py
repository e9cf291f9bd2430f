"""ARNs and the AWS names in them: account ids, regions, partitions, distributions.

Shared by the origin kinds (a MediaStore container's ARN carries a region and an
account, an S3 bucket's neither) and by the policy builders, which name the
CloudFront distribution allowed to write (``AWS:SourceArn``).
"""

from __future__ import annotations

import re

from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.iam.secret import shown_hiding_secret

__all__ = ["distribution_arn"]

#: The AWS partitions an ARN built here may name.
PARTITIONS = ("aws", "aws-cn", "aws-us-gov")

_REGION_RE = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}", re.ASCII)
_ACCOUNT_RE = re.compile(r"\d{12}", re.ASCII)
_DISTRIBUTION_ID_RE = re.compile(r"[A-Z0-9]{1,128}", re.ASCII)
_DISTRIBUTION_ARN_RE = re.compile(
    r"arn:(aws|aws-cn|aws-us-gov):cloudfront::(\d{12}):distribution/([A-Z0-9]{1,128})",
    re.ASCII,
)


def check_region(region: object) -> str:
    """``region`` if it looks like an AWS region name (``us-west-2``), else an
    ``InvalidInputError``."""
    if not isinstance(region, str) or not _REGION_RE.fullmatch(region):
        raise InvalidInputError(
            f"region must look like 'us-west-2', got {shown_hiding_secret(region)}"
        )
    return region


def check_account_id(account_id: object) -> str:
    """``account_id`` if it is an AWS account id (12 digits), else an
    ``InvalidInputError``."""
    if not isinstance(account_id, str) or not _ACCOUNT_RE.fullmatch(account_id):
        raise InvalidInputError(
            f"account_id must be 12 digits, got {shown_hiding_secret(account_id)}"
        )
    return account_id


def check_partition(partition: object) -> str:
    """``partition`` if it is one of ``PARTITIONS``, else an
    ``InvalidInputError``."""
    if partition not in PARTITIONS:
        raise InvalidInputError(f"partition must be one of {', '.join(PARTITIONS)}")
    return str(partition)


def region_partition(region: str) -> str:
    """The partition ``region`` belongs to: ``aws-cn`` for ``cn-*``, ``aws-us-gov``
    for ``us-gov-*``, else ``aws``."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def is_distribution_id(text: object) -> bool:
    """True for a CloudFront distribution id such as ``E2EXAMPLE``."""
    return isinstance(text, str) and _DISTRIBUTION_ID_RE.fullmatch(text) is not None


def is_distribution_arn(text: object) -> bool:
    """True for ``arn:<partition>:cloudfront::<account>:distribution/<id>``."""
    return isinstance(text, str) and _DISTRIBUTION_ARN_RE.fullmatch(text) is not None


def distribution_arn(account_id: str, distribution_id: str, *, partition: str = "aws") -> str:
    """``arn:aws:cloudfront::<account>:distribution/<id>``."""
    check_account_id(account_id)
    if not is_distribution_id(distribution_id):
        raise InvalidInputError(
            f"not a CloudFront distribution id: {shown_hiding_secret(distribution_id, 128)}"
        )
    return (
        f"arn:{check_partition(partition)}:cloudfront::{account_id}:distribution/"
        f"{distribution_id}"
    )
