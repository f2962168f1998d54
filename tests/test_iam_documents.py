import json

from gpufleet.core import iam_documents as d


def test_irsa_trust_is_scoped_to_one_subject():
    doc = json.loads(d.aws_irsa_trust("arn:aws:iam::1:oidc-provider/oidc.eks.x/id/AB", "oidc.eks.x/id/AB",
                                      "system:serviceaccount:llm-*:model-server"))
    st = doc["Statement"][0]
    assert st["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert st["Condition"]["StringEquals"] == {"oidc.eks.x/id/AB:aud": "sts.amazonaws.com"}
    assert st["Condition"]["StringLike"] == {"oidc.eks.x/id/AB:sub": "system:serviceaccount:llm-*:model-server"}


def test_weights_read_names_each_action_on_exact_resources():
    doc = d.aws_weights_read("arn:aws:s3:::b", "arn:aws:kms:r:1:key/k")
    assert d.actions(doc) == ["s3:ListBucket", "s3:GetObject", "kms:Decrypt"]
    resources = [st["Resource"] for st in json.loads(doc)["Statement"]]
    assert resources == [["arn:aws:s3:::b"], ["arn:aws:s3:::b/*"], ["arn:aws:kms:r:1:key/k"]]


def test_ram_documents_use_ram_version():
    doc = json.loads(d.ram_weights_read("bucket", "acs:kms:cn-hangzhou:1:key/k"))
    assert doc["Version"] == "1"
    assert d.actions(json.dumps(doc)) == ["oss:ListObjects", "oss:GetBucketInfo", "oss:GetObject", "kms:Decrypt"]


def test_kms_policy_lets_only_this_regions_logs_service_use_the_key():
    doc = json.loads(d.aws_kms_key_policy("123456789012", "aws", "eu-central-1"))
    logs = doc["Statement"][1]
    assert logs["Principal"] == {"Service": "logs.eu-central-1.amazonaws.com"}
    assert logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"] == "arn:aws:logs:eu-central-1:123456789012:*"
