"""Least-privilege IAM for the Karpenter controller and its interruption queue, as plain data.

Follows the controller policy of Karpenter's getting-started CloudFormation template
(https://karpenter.sh/docs/reference/cloudformation/, v1): launches and tags only
resources carrying this cluster's ownership tag, passes only the node role, reads
pricing, SSM AMI parameters and the region's EC2 offerings, and consumes only its own
interruption queue. Every action is named; `Resource: "*"` appears only where EC2's
API cannot scope by ARN and then with a region or tag condition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gpufleet.core.iam_documents import doc

# EventBridge events Karpenter handles (spot interruption, rebalance, scheduled change, state change).
INTERRUPTION_EVENTS: dict[str, dict[str, Any]] = {
    "scheduled-change": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
    "spot-interruption": {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
    "rebalance": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
    "state-change": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
}


@dataclass(frozen=True)
class KarpenterIamInputs:
    partition: str
    region: str
    account_id: str
    cluster_name: str
    queue_arn: str
    node_role_arn: str
    kms_key_arn: str


def controller_policy(i: KarpenterIamInputs) -> str:
    arn = f"arn:{i.partition}:ec2:{i.region}"
    owned = {f"aws:ResourceTag/kubernetes.io/cluster/{i.cluster_name}": "owned"}
    request_owned = {f"aws:RequestTag/kubernetes.io/cluster/{i.cluster_name}": "owned",
                     "aws:RequestTag/eks:eks-cluster-name": i.cluster_name}
    launched = [f"{arn}:*:{kind}/*" for kind in
                ("fleet", "instance", "volume", "network-interface", "launch-template", "spot-instances-request")]
    return doc(
        {"Sid": "AllowScopedEC2InstanceAccessActions", "Effect": "Allow",
         "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
         "Resource": [f"{arn}::image/*", f"{arn}::snapshot/*", f"{arn}:*:security-group/*", f"{arn}:*:subnet/*",
                      f"{arn}:*:capacity-reservation/*"]},
        {"Sid": "AllowScopedEC2LaunchTemplateAccessActions", "Effect": "Allow",
         "Action": ["ec2:RunInstances", "ec2:CreateFleet"], "Resource": f"{arn}:*:launch-template/*",
         "Condition": {"StringEquals": owned, "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}}},
        {"Sid": "AllowScopedEC2InstanceActionsWithTags", "Effect": "Allow",
         "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"], "Resource": launched,
         "Condition": {"StringEquals": request_owned, "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"}}},
        {"Sid": "AllowScopedResourceCreationTagging", "Effect": "Allow", "Action": ["ec2:CreateTags"],
         "Resource": launched,
         "Condition": {"StringEquals": {**request_owned,
                                        "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"]},
                       "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"}}},
        {"Sid": "AllowScopedResourceTagging", "Effect": "Allow", "Action": ["ec2:CreateTags"],
         "Resource": f"{arn}:*:instance/*",
         "Condition": {"StringEquals": owned, "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                       "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": i.cluster_name},
                       "ForAllValues:StringEquals": {"aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim",
                                                                     "Name"]}}},
        {"Sid": "AllowScopedDeletion", "Effect": "Allow",
         "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
         "Resource": [f"{arn}:*:instance/*", f"{arn}:*:launch-template/*"],
         "Condition": {"StringEquals": owned, "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}}},
        {"Sid": "AllowRegionalReadActions", "Effect": "Allow", "Resource": "*",
         "Action": ["ec2:DescribeCapacityReservations", "ec2:DescribeImages", "ec2:DescribeInstances",
                    "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplates",
                    "ec2:DescribeSecurityGroups", "ec2:DescribeSpotPriceHistory", "ec2:DescribeSubnets"],
         "Condition": {"StringEquals": {"aws:RequestedRegion": i.region}}},
        {"Sid": "AllowSSMReadActions", "Effect": "Allow", "Action": ["ssm:GetParameter"],
         "Resource": f"arn:{i.partition}:ssm:{i.region}::parameter/aws/service/*"},
        {"Sid": "AllowPricingReadActions", "Effect": "Allow", "Action": ["pricing:GetProducts"], "Resource": "*"},
        {"Sid": "AllowInterruptionQueueActions", "Effect": "Allow", "Resource": i.queue_arn,
         "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"]},
        {"Sid": "AllowPassingInstanceRole", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": i.node_role_arn,
         "Condition": {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com"]}}},
        {"Sid": "AllowScopedInstanceProfileActions", "Effect": "Allow",
         "Action": ["iam:CreateInstanceProfile", "iam:TagInstanceProfile", "iam:AddRoleToInstanceProfile",
                    "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"],
         "Resource": f"arn:{i.partition}:iam::{i.account_id}:instance-profile/*",
         "Condition": {"StringEquals": {f"aws:ResourceTag/kubernetes.io/cluster/{i.cluster_name}": "owned",
                                        "aws:ResourceTag/topology.kubernetes.io/region": i.region}}},
        {"Sid": "AllowInstanceProfileReadActions", "Effect": "Allow", "Action": ["iam:GetInstanceProfile"],
         "Resource": f"arn:{i.partition}:iam::{i.account_id}:instance-profile/*"},
        {"Sid": "AllowAPIServerEndpointDiscovery", "Effect": "Allow", "Action": ["eks:DescribeCluster"],
         "Resource": f"arn:{i.partition}:eks:{i.region}:{i.account_id}:cluster/{i.cluster_name}"},
        # Node volumes are encrypted with the stack's key: EC2 acts on it for the caller.
        {"Sid": "AllowEncryptedVolumes", "Effect": "Allow", "Resource": i.kms_key_arn,
         "Action": ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext",
                    "kms:ReEncryptFrom", "kms:ReEncryptTo"],
         "Condition": {"StringEquals": {"kms:ViaService": f"ec2.{i.region}.amazonaws.com"}}},
    )


def queue_policy(queue_arn: str) -> str:
    """Only EventBridge and SQS itself may send to the interruption queue, over TLS."""
    return doc(
        {"Sid": "EventBridgeWrite", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn,
         "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]}},
        {"Sid": "DenyHTTP", "Effect": "Deny", "Action": "sqs:*", "Resource": queue_arn, "Principal": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    )
