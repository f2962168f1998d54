"""Least-privilege policy documents as plain data, so tests can read them.

AWS IAM and Alibaba RAM share the same JSON grammar (Version/Statement/
Effect/Action/Resource/Condition); every action here is named, never '*'.
"""

from __future__ import annotations

import json
from typing import Any


def doc(*statements: dict[str, Any], version: str = "2012-10-17") -> str:
    return json.dumps({"Version": version, "Statement": list(statements)}, sort_keys=True)


def aws_service_trust(service: str) -> str:
    return doc({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})


def aws_irsa_trust(oidc_provider_arn: str, issuer_host: str, subject: str) -> str:
    """Trust one Kubernetes service account (subject may use '*' within namespace/name)."""
    return doc({
        "Effect": "Allow",
        "Principal": {"Federated": oidc_provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {f"{issuer_host}:aud": "sts.amazonaws.com"},
            "StringLike": {f"{issuer_host}:sub": subject},
        },
    })


def aws_weights_read(bucket_arn: str, key_arn: str) -> str:
    return doc(
        {"Sid": "ListWeights", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [bucket_arn]},
        {"Sid": "ReadWeights", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{bucket_arn}/*"]},
        {"Sid": "DecryptWeights", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [key_arn]},
    )


def aws_bucket_tls_only(bucket_arn: str) -> str:
    return doc({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    })


def aws_kms_key_policy(account_id: str, partition: str, region: str) -> str:
    """Account admins manage the key; CloudWatch Logs of this region may use it for log groups."""
    return doc(
        {"Sid": "AccountAdministration", "Effect": "Allow",
         "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
         "Action": ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
                    "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
                    "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
                    "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant"],
         "Resource": "*"},
        {"Sid": "CloudWatchLogs", "Effect": "Allow",
         "Principal": {"Service": f"logs.{region}.amazonaws.com"},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
         "Resource": "*",
         "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:{partition}:logs:{region}:{account_id}:*"}}},
        # Node groups launch through Auto Scaling; encrypted EBS volumes with a customer-managed key
        # need its service-linked role here (AWS: "Required AWS KMS key policy for use with encrypted volumes").
        {"Sid": "AutoScalingUseOfTheKey", "Effect": "Allow",
         "Principal": {"AWS": aws_autoscaling_slr_arn(account_id, partition)},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
         "Resource": "*"},
        {"Sid": "AutoScalingAttachmentOfPersistentResources", "Effect": "Allow",
         "Principal": {"AWS": aws_autoscaling_slr_arn(account_id, partition)},
         "Action": ["kms:CreateGrant"],
         "Resource": "*",
         "Condition": {"Bool": {"kms:GrantIsForAWSResource": True}}},
    )


def aws_autoscaling_slr_arn(account_id: str, partition: str) -> str:
    """The Auto Scaling service-linked role (it must exist before the key policy names it: `gpufleet doctor`)."""
    return f"arn:{partition}:iam::{account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"


def ram_rrsa_trust(oidc_provider_arn: str, issuer_url: str, subject: str) -> str:
    """Alibaba RRSA: a Kubernetes service account assumes a RAM role through the cluster's OIDC provider."""
    return doc({
        "Effect": "Allow",
        "Principal": {"Federated": [oidc_provider_arn]},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"oidc:aud": "sts.aliyuncs.com", "oidc:iss": issuer_url},
            "StringLike": {"oidc:sub": subject},
        },
    }, version="1")


def ram_weights_read(bucket: str, key_arn: str) -> str:
    return doc(
        {"Effect": "Allow", "Action": ["oss:ListObjects", "oss:GetBucketInfo"], "Resource": [f"acs:oss:*:*:{bucket}"]},
        {"Effect": "Allow", "Action": ["oss:GetObject"], "Resource": [f"acs:oss:*:*:{bucket}/*"]},
        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [key_arn]},
        version="1",
    )


def actions(document: str) -> list[str]:
    """Every action a document names (for least-privilege tests and policies)."""
    out: list[str] = []
    for st in json.loads(document)["Statement"]:
        acts = st.get("Action", [])
        out.extend([acts] if isinstance(acts, str) else acts)
    return out
