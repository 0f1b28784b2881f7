"""The local deploy puts a bucket's template NotificationConfiguration through the S3 API (moto's
CloudFormation ignores it), so S3 event notifications (recovery's) reach their queue in the local run."""

from __future__ import annotations

from typing import Any

from sagemaker_async_results.local.deploy import bucket_notification_configuration


def test_template_notification_configuration_becomes_the_s3_api_shape() -> None:
    queue = {"Fn::GetAtt": ["RecoveryQueue", "Arn"]}
    template: dict[str, Any] = {
        "QueueConfigurations": [
            {
                "Event": "s3:ObjectCreated:*",
                "Filter": {
                    "S3Key": {
                        "Rules": [{"Name": "prefix", "Value": "out/"}, {"Name": "suffix", "Value": ".out"}]
                    }
                },
                "Queue": queue,
            },
            {"Event": "s3:ObjectRemoved:*", "Queue": queue},
        ],
        "TopicConfigurations": [{"Event": "s3:ObjectCreated:Put", "Topic": {"Ref": "Topic"}}],
        "LambdaConfigurations": [{"Event": "s3:ObjectCreated:*", "Function": "arn:fn"}],
    }
    resolved = {"RecoveryQueue": "arn:aws:sqs:us-east-1:123456789012:recovery", "Topic": "arn:aws:sns:t"}

    def resolve(value: Any) -> str:
        return resolved[value["Fn::GetAtt"][0] if "Fn::GetAtt" in value else value["Ref"]]

    assert bucket_notification_configuration(template, resolve) == {
        "QueueConfigurations": [
            {
                "QueueArn": resolved["RecoveryQueue"],
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {
                    "Key": {
                        "FilterRules": [
                            {"Name": "prefix", "Value": "out/"},
                            {"Name": "suffix", "Value": ".out"},
                        ]
                    }
                },
            },
            {"QueueArn": resolved["RecoveryQueue"], "Events": ["s3:ObjectRemoved:*"]},
        ],
        "TopicConfigurations": [{"TopicArn": "arn:aws:sns:t", "Events": ["s3:ObjectCreated:Put"]}],
    }
