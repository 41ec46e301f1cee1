"""The SageMaker endpoint the ingest function scores feature windows with: model, endpoint configuration,
endpoint, and autoscaling of its instances.

The model artifacts come from training (``python -m twinledger.deploy.sagemaker_deploy``, see
docs/anomaly.md): ``model.tar.gz`` and the ``sourcedir.tar.gz`` holding ``inference.py``, both in one S3
bucket named by stack parameters. The container is the scikit-learn framework image the training used.
The endpoint keeps the name the functions are given (``TWINLEDGER_ANOMALY_ENDPOINT``); a new model (new
parameter values) replaces the model and the endpoint configuration and updates the endpoint in place.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from twinledger_iac import logical_ids as ids

__all__ = ["SKLEARN_IMAGE_ACCOUNTS", "SKLEARN_IMAGE_TAG", "AnomalyEndpoint", "sklearn_image"]

#: The scikit-learn framework image the model is trained and served with (``SKLEARN_FRAMEWORK_VERSION``).
SKLEARN_IMAGE_TAG = "sagemaker-scikit-learn:1.2-1-cpu-py3"
#: The registry account of the framework images per region (from ``sagemaker.core.image_uris``).
SKLEARN_IMAGE_ACCOUNTS = {
    "eu-central-1": "492215442770",
    "eu-west-1": "141502667606",
    "eu-north-1": "662702820516",
    "us-east-1": "683313688378",
}
#: The one production variant (the name ``sagemaker_deploy`` uses too).
VARIANT = "AllTraffic"


def sklearn_image(region: str) -> str | None:
    """The framework image URI in ``region``, or None where the table has no entry (pass the parameter).

    Example:
        >>> sklearn_image("eu-central-1")
        '492215442770.dkr.ecr.eu-central-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3'
    """
    account = SKLEARN_IMAGE_ACCOUNTS.get(region)
    return f"{account}.dkr.ecr.{region}.amazonaws.com/{SKLEARN_IMAGE_TAG}" if account else None


class AnomalyEndpoint(Construct):
    """Model, endpoint configuration and endpoint ``endpoint_name``, scaled on invocations per instance."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        instance_type: str = "ml.m5.large",
        min_instances: int = 1,
        max_instances: int = 4,
        invocations_per_instance: int = 600,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.model_bucket = cdk.CfnParameter(
            self,
            ids.ANOMALY_MODEL_BUCKET_PARAM,
            type="String",
            description="S3 bucket holding the anomaly model's model.tar.gz and sourcedir.tar.gz",
            allowed_pattern=r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$",
        )
        self.model_bucket.override_logical_id(ids.ANOMALY_MODEL_BUCKET_PARAM)
        self.model_key = cdk.CfnParameter(
            self,
            ids.ANOMALY_MODEL_KEY_PARAM,
            type="String",
            description="Key of model.tar.gz (the training job's output)",
            allowed_pattern=r"^\S+\.tar\.gz$",
        )
        self.model_key.override_logical_id(ids.ANOMALY_MODEL_KEY_PARAM)
        self.source_key = cdk.CfnParameter(
            self,
            ids.ANOMALY_SOURCE_KEY_PARAM,
            type="String",
            description="Key of sourcedir.tar.gz (inference.py and the domain modules it imports)",
            allowed_pattern=r"^\S+\.tar\.gz$",
        )
        self.source_key.override_logical_id(ids.ANOMALY_SOURCE_KEY_PARAM)
        image = sklearn_image(stack.region) if not cdk.Token.is_unresolved(stack.region) else None
        self.image_uri = cdk.CfnParameter(
            self,
            ids.ANOMALY_IMAGE_PARAM,
            type="String",
            description="Serving container (the scikit-learn framework image the model was trained with)",
            default=image,
        )
        self.image_uri.override_logical_id(ids.ANOMALY_IMAGE_PARAM)

        bucket = self.model_bucket.value_as_string
        self.role = iam.Role(
            self,
            ids.ANOMALY_MODEL_ROLE,
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="The anomaly model's container: read its two artifacts, pull its image, write its logs",
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[
                    f"arn:{stack.partition}:s3:::{bucket}/{self.model_key.value_as_string}",
                    f"arn:{stack.partition}:s3:::{bucket}/{self.source_key.value_as_string}",
                ],
            )
        )
        # GetAuthorizationToken has no resource-level permissions; the image layers are read from the
        # framework's repository only.
        self.role.add_to_principal_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        # the image's own repository: <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>
        image_uri = self.image_uri.value_as_string
        image_account = cdk.Fn.select(0, cdk.Fn.split(".", image_uri))
        repository = cdk.Fn.select(0, cdk.Fn.split(":", cdk.Fn.select(1, cdk.Fn.split("/", image_uri))))
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                resources=[f"arn:{stack.partition}:ecr:{stack.region}:{image_account}:repository/{repository}"],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[
                    stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name=f"/aws/sagemaker/Endpoints/{endpoint_name}:*",
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}},
            )
        )

        self.model = sagemaker.CfnModel(
            self,
            ids.ANOMALY_MODEL,
            execution_role_arn=self.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=self.image_uri.value_as_string,
                model_data_url=f"s3://{bucket}/{self.model_key.value_as_string}",
                environment={
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{bucket}/{self.source_key.value_as_string}",
                    "SAGEMAKER_REGION": stack.region,
                    "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                },
            ),
            enable_network_isolation=False,  # the framework container fetches sourcedir.tar.gz from S3 itself
        )
        self.model.node.add_dependency(self.role)
        self.config = sagemaker.CfnEndpointConfig(
            self,
            ids.ANOMALY_ENDPOINT_CONFIG,
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT,
                    model_name=self.model.attr_model_name,
                    instance_type=instance_type,
                    initial_instance_count=min_instances,
                    initial_variant_weight=1.0,
                )
            ],
        )
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            ids.ANOMALY_ENDPOINT,
            endpoint_name=endpoint_name,
            endpoint_config_name=self.config.attr_endpoint_config_name,
        )
        self.endpoint_name = endpoint_name

        self.scaling = autoscaling.CfnScalableTarget(
            self,
            ids.ANOMALY_SCALING_TARGET,
            service_namespace="sagemaker",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            resource_id=f"endpoint/{self.endpoint.attr_endpoint_name}/variant/{VARIANT}",
            min_capacity=min_instances,
            max_capacity=max_instances,
        )
        self.scaling_policy = autoscaling.CfnScalingPolicy(
            self,
            ids.ANOMALY_SCALING_POLICY,
            policy_name="anomaly-invocations-per-instance",
            policy_type="TargetTrackingScaling",
            scaling_target_id=self.scaling.ref,
            target_tracking_scaling_policy_configuration=autoscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                target_value=float(invocations_per_instance),
                predefined_metric_specification=autoscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(
                    predefined_metric_type="SageMakerVariantInvocationsPerInstance"
                ),
                scale_in_cooldown=600,
                scale_out_cooldown=120,
            ),
        )

    @property
    def endpoint_arn(self) -> str:
        """The endpoint's ARN (``Ref`` of ``AWS::SageMaker::Endpoint``)."""
        return self.endpoint.ref

    def grant_invoke(self, role: iam.IRole) -> None:
        """``sagemaker:InvokeEndpoint`` on this endpoint only."""
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["sagemaker:InvokeEndpoint"], resources=[self.endpoint_arn])
        )
