"""Bad stack configs: each gets one exact line naming stack, key and what is allowed,
and nothing is registered (the program stops before the first resource)."""

import pytest

from conftest import DELETE, edited_stack
from gpufleet.preview.engine import preview_stack
from gpufleet.core.config import PROJECT_KEYS, load_stack
from gpufleet.core.errors import StackConfigError

# The `gpufleet:` keys a stack may set; test_project_keys pins the list itself.
ALLOWED_KEYS = ", ".join(PROJECT_KEYS)

BAD_CONFIGS = [
    ('prod-cn-hangzhou', {'alicloud:region': 'cn-hongkong'},
     "stack 'prod-cn-hangzhou': alicloud:region: jurisdiction 'cn' needs a mainland China region (allowed: cn-beijing, cn-hangzhou, cn-shanghai, cn-shenzhen, cn-wulanchabu, cn-zhangjiakou); got 'cn-hongkong', which is not mainland China"),
    ('prod-cn-hangzhou', {'alicloud:region': 'ap-southeast-1'},
     "stack 'prod-cn-hangzhou': alicloud:region: jurisdiction 'cn' needs a mainland China region (allowed: cn-beijing, cn-hangzhou, cn-shanghai, cn-shenzhen, cn-wulanchabu, cn-zhangjiakou); got 'ap-southeast-1', which is not mainland China"),
    ('prod-cn-hangzhou', {'gpufleet:cloud': 'aws'},
     "stack 'prod-cn-hangzhou': gpufleet:cloud: jurisdiction 'cn' must run on Alibaba Cloud (allowed: alicloud); got 'aws'"),
    ('prod-us-east-1', {'aws:region': 'cn-north-1'},
     "stack 'prod-us-east-1': aws:region: jurisdiction 'global' cannot use a China region (allowed: ap-northeast-1, ap-southeast-1, eu-central-1, eu-west-1, us-east-1, us-west-2); got 'cn-north-1'"),
    ('prod-us-east-1', {'aws:region': 'cn-northwest-1'},
     "stack 'prod-us-east-1': aws:region: jurisdiction 'global' cannot use a China region (allowed: ap-northeast-1, ap-southeast-1, eu-central-1, eu-west-1, us-east-1, us-west-2); got 'cn-northwest-1'"),
    ('prod-us-east-1', {'gpufleet:cloud': 'alicloud'},
     "stack 'prod-us-east-1': gpufleet:cloud: jurisdiction 'global' must run on AWS (allowed: aws); got 'alicloud'"),
    ('prod-us-east-1', {'gpufleet:jurisdiction': 'eu'},
     "stack 'prod-us-east-1': gpufleet:jurisdiction: Input should be 'cn' or 'global'; got 'eu'"),
    ('prod-us-east-1', {'gpufleet:jurisdiction': DELETE},
     "stack 'prod-us-east-1': gpufleet:jurisdiction: is required"),
    ('prod-us-east-1', {'aws:region': DELETE},
     "stack 'prod-us-east-1': aws:region: is required when gpufleet:cloud is 'aws' (allowed: ap-northeast-1, ap-southeast-1, cn-north-1, cn-northwest-1, eu-central-1, eu-west-1, us-east-1, us-west-2)"),
    ('prod-us-east-1', {'aws:region': 'us-east-9'},
     "stack 'prod-us-east-1': aws:region: 'us-east-9' is not in the instance catalog (allowed: ap-northeast-1, ap-southeast-1, cn-north-1, cn-northwest-1, eu-central-1, eu-west-1, us-east-1, us-west-2)"),
    ('prod-us-east-1', {'alicloud:region': 'cn-hangzhou'},
     "stack 'prod-us-east-1': alicloud:region: must not be set when gpufleet:cloud is 'aws' (set aws:region only)"),
    ('prod-us-east-1', {'gpufleet:gpuPol': {'instanceType': 'g5.xlarge'}},
     "stack 'prod-us-east-1': gpufleet:gpuPol: unknown config key (allowed: " + ALLOWED_KEYS + ")"),
    ('prod-us-east-1', {'gpufleet:gpuPool.minSzie': 1},
     "stack 'prod-us-east-1': gpufleet:gpuPool.minSzie: unknown key (allowed: capacity, desiredSize, diskSizeGb, instanceType, instanceTypes, maxSize, minSize, onDemandFloor)"),
    ('prod-us-east-1', {'gpufleet:gpuPool.instanceType': 'g9.huge'},
     "stack 'prod-us-east-1': gpufleet:gpuPool.instanceType: 'g9.huge' is not a known aws GPU instance type (allowed: g5.xlarge, g5.2xlarge, g5.12xlarge, g5.48xlarge, g6.xlarge, g6.2xlarge, g6.12xlarge, g6e.xlarge, g6e.2xlarge, g6e.12xlarge, g6e.48xlarge, p4d.24xlarge, p5.48xlarge)"),
    ('prod-us-east-1', {'gpufleet:gpuPool.instanceType': 'ecs.gn7i-c8g1.2xlarge'},
     "stack 'prod-us-east-1': gpufleet:gpuPool.instanceType: 'ecs.gn7i-c8g1.2xlarge' is not a known aws GPU instance type (allowed: g5.xlarge, g5.2xlarge, g5.12xlarge, g5.48xlarge, g6.xlarge, g6.2xlarge, g6.12xlarge, g6e.xlarge, g6e.2xlarge, g6e.12xlarge, g6e.48xlarge, p4d.24xlarge, p5.48xlarge)"),
    ('prod-eu-central-1', {'gpufleet:gpuPool.instanceType': 'p5.48xlarge'},
     "stack 'prod-eu-central-1': gpufleet:gpuPool.instanceType: 'p5.48xlarge' is not offered in eu-central-1 (allowed: g5.xlarge, g5.2xlarge, g5.12xlarge, g5.48xlarge, g6.xlarge, g6.2xlarge, g6.12xlarge, g6e.xlarge, g6e.2xlarge, g6e.12xlarge, g6e.48xlarge, p4d.24xlarge)"),
    ('prod-cn-hangzhou', {'gpufleet:gpuPool.instanceType': 'g5.xlarge'},
     "stack 'prod-cn-hangzhou': gpufleet:gpuPool.instanceType: 'g5.xlarge' is not a known alicloud GPU instance type (allowed: ecs.gn6i-c4g1.xlarge, ecs.gn7i-c8g1.2xlarge, ecs.gn7i-c16g1.4xlarge, ecs.gn7i-c32g1.8xlarge, ecs.gn7i-c32g1.16xlarge, ecs.gn7i-c32g1.32xlarge, ecs.gn7e-c16g1.4xlarge, ecs.gn7e-c16g1.8xlarge, ecs.gn7e-c16g1.16xlarge, ecs.gn7e-c16g1.32xlarge)"),
    ('prod-us-east-1', {'gpufleet:gpuPool.instanceType': 'm7i.xlarge'},
     "stack 'prod-us-east-1': gpufleet:gpuPool.instanceType: 'm7i.xlarge' is not a known aws GPU instance type (allowed: g5.xlarge, g5.2xlarge, g5.12xlarge, g5.48xlarge, g6.xlarge, g6.2xlarge, g6.12xlarge, g6e.xlarge, g6e.2xlarge, g6e.12xlarge, g6e.48xlarge, p4d.24xlarge, p5.48xlarge)"),
    ('prod-us-east-1', {'gpufleet:systemPool.instanceType': 'g5.xlarge'},
     "stack 'prod-us-east-1': gpufleet:systemPool.instanceType: 'g5.xlarge' is not a known aws system instance type (allowed: m6i.xlarge, m7i.2xlarge, m7i.large, m7i.xlarge)"),
    ('prod-us-east-1', {'gpufleet:gpuPool.desiredSize': 1},
     "stack 'prod-us-east-1': gpufleet:gpuPool.desiredSize: must satisfy minSize <= desiredSize <= maxSize; got minSize=2, desiredSize=1, maxSize=16"),
    ('prod-us-east-1', {'gpufleet:gpuPool.maxSize': 3},
     "stack 'prod-us-east-1': gpufleet:gpuPool.desiredSize: must satisfy minSize <= desiredSize <= maxSize; got minSize=2, desiredSize=4, maxSize=3"),
    ('prod-us-east-1', {'gpufleet:gpuPool.minSize': -1},
     "stack 'prod-us-east-1': gpufleet:gpuPool.minSize: Input should be greater than or equal to 0; got -1"),
    ('prod-us-east-1', {'gpufleet:gpuPool.maxSize': 'many'},
     "stack 'prod-us-east-1': gpufleet:gpuPool.maxSize: Input should be a valid integer, unable to parse string as an integer; got 'many'"),
    ('prod-us-east-1', {'gpufleet:systemPool.minSize': 1, 'gpufleet:systemPool.desiredSize': 1},
     "stack 'prod-us-east-1': gpufleet:systemPool.minSize: the system pool runs cluster add-ons and needs at least 2 nodes; got 1"),
    ('prod-us-east-1', {'gpufleet:network.vpcCidr': '8.8.0.0/16'},
     "stack 'prod-us-east-1': gpufleet:network.vpcCidr: 8.8.0.0/16 is not a private range (allowed: within 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10)"),
    ('prod-us-east-1', {'gpufleet:network.vpcCidr': '10.30.0.0/33'},
     "stack 'prod-us-east-1': gpufleet:network.vpcCidr: '10.30.0.0/33' is not a valid IPv4 CIDR with host bits zero, e.g. 10.0.0.0/16"),
    ('prod-us-east-1', {'gpufleet:network.serviceCidr': '10.30.128.0/20'},
     "stack 'prod-us-east-1': gpufleet:network.serviceCidr: 10.30.128.0/20 overlaps network.vpcCidr 10.30.0.0/16; CIDRs must not overlap"),
    ('prod-cn-hangzhou', {'gpufleet:network.podCidr': '10.20.0.0/18'},
     "stack 'prod-cn-hangzhou': gpufleet:network.podCidr: 10.20.0.0/18 overlaps network.vpcCidr 10.20.0.0/16; CIDRs must not overlap"),
    ('prod-cn-hangzhou', {'gpufleet:network.podCidr': DELETE},
     "stack 'prod-cn-hangzhou': gpufleet:network.podCidr: is required on alicloud (ACK Terway pod vSwitches, a VPC secondary CIDR block), e.g. 172.20.0.0/16"),
    ('prod-us-east-1', {'gpufleet:network.podCidr': '172.21.0.0/16'},
     "stack 'prod-us-east-1': gpufleet:network.podCidr: must not be set on aws (the VPC CNI gives pods VPC addresses)"),
    ('prod-us-east-1', {'gpufleet:network.zones': ['us-east-1a']},
     "stack 'prod-us-east-1': gpufleet:network.zones: needs at least 2 zones for high availability (allowed: us-east-1a, us-east-1b, us-east-1c, us-east-1d, us-east-1f); got 1"),
    ('prod-us-east-1', {'gpufleet:network.zones': ['us-east-1a', 'us-east-1a']},
     "stack 'prod-us-east-1': gpufleet:network.zones: lists a zone twice; got us-east-1a, us-east-1a"),
    ('prod-us-east-1', {'gpufleet:network.zones': ['us-east-1a', 'eu-central-1b']},
     "stack 'prod-us-east-1': gpufleet:network.zones.1: 'eu-central-1b' is not a zone of us-east-1 (allowed: us-east-1a, us-east-1b, us-east-1c, us-east-1d, us-east-1f)"),
    ('prod-us-east-1', {'gpufleet:network.vpcCidr': '10.30.0.0/24'},
     "stack 'prod-us-east-1': gpufleet:network.vpcCidr: 10.30.0.0/24 is too small for 3 zones (private subnets would be /26; use a /22 or larger)"),
    ('prod-us-east-1', {'gpufleet:network.serviceCidr': '172.20.0.0/26'},
     "stack 'prod-us-east-1': gpufleet:network.serviceCidr: EKS needs a prefix between /12 and /24; got 172.20.0.0/26"),
    ('prod-us-east-1', {'gpufleet:cluster.kubernetesVersion': '1.29'},
     "stack 'prod-us-east-1': gpufleet:cluster.kubernetesVersion: '1.29' is not supported on aws (allowed: 1.33, 1.34, 1.35, 1.36)"),
    ('prod-us-east-1', {'gpufleet:cluster.publicEndpoint': True},
     "stack 'prod-us-east-1': gpufleet:cluster.publicAccessCidrs: is required when cluster.publicEndpoint is true (allow-list the CIDRs of your operators)"),
    ('prod-eu-central-1', {'gpufleet:cluster.publicAccessCidrs': ['0.0.0.0/0']},
     "stack 'prod-eu-central-1': gpufleet:cluster.publicAccessCidrs.0: 0.0.0.0/0 opens the Kubernetes API to the whole internet (allowed: specific operator CIDRs)"),
    ('prod-us-east-1', {'gpufleet:cluster.publicAccessCidrs': ['203.0.113.0/24']},
     "stack 'prod-us-east-1': gpufleet:cluster.publicAccessCidrs: is only allowed when cluster.publicEndpoint is true"),
    ('prod-cn-hangzhou', {'gpufleet:cluster.publicEndpoint': True, 'gpufleet:cluster.publicAccessCidrs': ['203.0.113.0/24']},
     "stack 'prod-cn-hangzhou': gpufleet:cluster.publicEndpoint: a public API server EIP is not supported for ACK stacks (allowed: false; reach the API over VPN or a bastion)"),
    ('prod-cn-hangzhou', {'gpufleet:cluster.logRetentionDays': 90},
     "stack 'prod-cn-hangzhou': gpufleet:cluster.logRetentionDays: cn stacks keep logs at least 184 days (Cybersecurity Law art. 21); got 90"),
    ('prod-us-east-1', {'gpufleet:cluster.logRetentionDays': 200},
     "stack 'prod-us-east-1': gpufleet:cluster.logRetentionDays: CloudWatch Logs accepts only these retention periods (allowed: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653); got 200"),
    ('prod-cn-hangzhou', {'gpufleet:gpuPool.capacity': 'spot'},
     "stack 'prod-cn-hangzhou': gpufleet:gpuPool.capacity: spot-only GPU capacity is not allowed for prod stacks (allowed: on-demand, or spot above gpuPool.onDemandFloor >= minSize 2)"),
    ('prod-us-east-1', {'gpufleet:gpuPool.capacity': 'reserved'},
     "stack 'prod-us-east-1': gpufleet:gpuPool.capacity: Input should be 'on-demand' or 'spot'; got 'reserved'"),
    ('prod-us-east-1', {'gpufleet:team': 'Assistant Platform'},
     "stack 'prod-us-east-1': gpufleet:team: must match ^[a-z0-9][a-z0-9-]{0,62}$; got 'Assistant Platform'"),
    ('prod-us-east-1', {'gpufleet:environment': 'production'},
     "stack 'prod-us-east-1': gpufleet:environment: Input should be 'prod', 'staging' or 'dev'; got 'production'"),
    ('prod-us-east-1', {'gpufleet:costCentre': DELETE},
     "stack 'prod-us-east-1': gpufleet:costCentre: is required"),
]


@pytest.mark.parametrize("stack,changes,message", BAD_CONFIGS, ids=[
    f"{i:02d}-" + ",".join(c) for i, (_, c, _) in enumerate(BAD_CONFIGS)])
def test_bad_config_is_rejected_before_any_resource(stack, changes, message):
    preview = preview_stack(stack, text=edited_stack(stack, changes))
    assert preview.ok is False
    assert preview.error == message
    assert "\n" not in preview.error
    assert preview.resources == []  # nothing registered
    assert preview.outputs == {}


@pytest.mark.parametrize("stack,changes,message", BAD_CONFIGS[:5])
def test_tools_get_the_same_error_as_the_program(stack, changes, message):
    with pytest.raises(StackConfigError) as info:
        load_stack(stack, text=edited_stack(stack, changes))
    assert str(info.value) == message
    assert info.value.stack == stack


def test_table_is_large_enough_and_names_distinct_keys():
    assert len(BAD_CONFIGS) >= 25
    keys = {m.split(": ")[1] for _, _, m in BAD_CONFIGS}
    assert len(keys) >= 20


def test_missing_stack_file():
    preview = preview_stack("prod-mars-1")
    assert preview.error.startswith("stack 'prod-mars-1': stack: no stack file Pulumi.prod-mars-1.yaml (allowed: ")
    assert "prod-us-east-1" in preview.error and not preview.resources


def test_project_keys():
    assert PROJECT_KEYS == ("billing", "cloud", "cluster", "cnyPerUsd", "compliance", "costCentre", "environment", "fxAsOf",
                            "gpuPool", "jurisdiction", "network", "observability", "promotion", "releases", "slo",
                            "systemPool", "team",
                            "traffic", "weightsFetcherImage")
