"""The lessor's Flower SuperLink as a container service: ECS Fargate behind a TLS Network Load Balancer.

Why Fargate and not a SageMaker job: the SuperLink is a long-running server the lessees' SuperNodes
connect to and poll between rounds; a SageMaker training job is a batch job with no inbound endpoint,
so it would need the nodes to reach it some other way. The ServerApp runs inside the SuperLink's task
(Flower's ``subprocess`` isolation), so one service is the whole lessor side.

* **Network**: a VPC of two public and two isolated subnets, flow logs to CloudWatch. The task sits in
  the isolated subnets with no public address; the NLB in the public subnets listens on 443 with TLS (the
  certificate is the ``FederationCertificateArn`` parameter, an ACM certificate for the SuperLink's name)
  and forwards to the SuperLink's one HTTP port (Flower 1.42 serves Fleet, Control and Runtime APIs on
  it). Only the NLB's security group reaches the task.
* **Image**: the ``FederationImage`` parameter, Flower's ``flwr/superlink`` image with the twinledger
  apps installed (pushed to the lessor's ECR); it needs no runtime dependency installation.
* **Identity**: the task role has no policy (the ServerApp writes its round records for the anchoring
  queue through the API, not through AWS); the execution role pulls the image and writes the logs.
* **SuperNode authentication**: ``--enable-supernode-auth`` with the lessees' public keys is Flower's
  mechanism; the key list is operational data and not part of this template (see ``docs/federated.md``).

Example:
    >>> import aws_cdk as cdk
    >>> stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(region="eu-central-1"))
    >>> link = FederationLink(stack, "Federation")
    >>> link.port
    9093
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from constructs import Construct

__all__ = ["FederationLink"]

#: The SuperLink's HTTP port inside the task.
SUPERLINK_PORT = 9093

#: Why each accepted cdk-nag finding on this construct is accepted.
REASONS = {
    "endpoint-ingress": (
        "The interface endpoints admit HTTPS from the VPC's own CIDR (a token at synthesis, which the rule cannot "
        "evaluate): only the SuperLink task lives in this VPC."
    ),
    "AwsSolutions-ELB2": (
        "The NLB only terminates TLS for the SuperLink; every request it forwards is logged by the SuperLink "
        "itself (uvicorn access log in the task's log group), so NLB access logs would duplicate them."
    ),
    "AwsSolutions-ECS2": (
        "The variables are not secrets: the Flower home directory and the Python path of the installed apps."
    ),
    "AwsSolutions-EC23": (
        "The NLB is the SuperLink's public endpoint for the lessees' SuperNodes (in their own networks); it "
        "admits TLS on 443 only, and the task is reachable from the NLB's security group alone."
    ),
}


class FederationLink(Construct):
    """VPC, Fargate cluster and service running ``flower-superlink``, and its TLS NLB."""

    def __init__(self, scope: Construct, construct_id: str, *, cpu: int = 512, memory_mib: int = 1024) -> None:
        super().__init__(scope, construct_id)
        self.port = SUPERLINK_PORT
        image = cdk.CfnParameter(
            self,
            "FederationImage",
            type="String",
            default="flwr/superlink:1.42.0",
            description="SuperLink container image with the twinledger Flower apps installed",
        )
        certificate = cdk.CfnParameter(
            self,
            "FederationCertificateArn",
            type="String",
            description="ACM certificate ARN for the SuperLink's public name (TLS on the load balancer)",
            allowed_pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+$",
        )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="tasks", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ],
        )
        self.vpc.add_flow_log("FlowLog")
        # isolated subnets: the task reaches ECR and CloudWatch Logs through endpoints, not the internet
        for name, service in (
            ("EcrApi", ec2.InterfaceVpcEndpointAwsService.ECR),
            ("EcrDocker", ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER),
            ("Logs", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS),
        ):
            endpoint = self.vpc.add_interface_endpoint(name, service=service)
            cdk.Validations.of(endpoint).acknowledge(
                cdk.Acknowledgment(id="AwsSolutions::AwsSolutions-EC23", reason=REASONS["endpoint-ingress"])
            )
        self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)

        cluster = ecs.Cluster(self, "Cluster", vpc=self.vpc, container_insights_v2=ecs.ContainerInsights.ENHANCED)
        task = ecs.FargateTaskDefinition(self, "Task", cpu=cpu, memory_limit_mib=memory_mib)
        log_group = logs.LogGroup(self, "Logs", retention=logs.RetentionDays.THREE_MONTHS)
        task.add_container(
            "SuperLink",
            image=ecs.ContainerImage.from_registry(image.value_as_string),
            command=[
                "--insecure",  # TLS ends at the load balancer; inside the VPC only the NLB reaches the task
                "--host",
                "0.0.0.0",
                "--port",
                str(SUPERLINK_PORT),
                "--disable-runtime-dependency-installation",
            ],
            environment={"FLWR_HOME": "/app/.flwr"},
            port_mappings=[ecs.PortMapping(container_port=SUPERLINK_PORT)],
            logging=ecs.LogDrivers.aws_logs(stream_prefix="superlink", log_group=log_group),
        )
        self.task_security_group = ec2.SecurityGroup(
            self, "TaskSecurityGroup", vpc=self.vpc, allow_all_outbound=True, description="SuperLink task"
        )
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=cluster,
            task_definition=task,
            desired_count=1,  # the SuperLink keeps its run state in memory: one task
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[self.task_security_group],
            assign_public_ip=False,
        )
        self.lb_security_group = ec2.SecurityGroup(
            self, "LoadBalancerSecurityGroup", vpc=self.vpc, allow_all_outbound=False, description="SuperLink NLB"
        )
        self.lb_security_group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "SuperNodes over TLS")
        self.lb_security_group.add_egress_rule(
            self.task_security_group, ec2.Port.tcp(SUPERLINK_PORT), "to the SuperLink task"
        )
        self.task_security_group.add_ingress_rule(
            self.lb_security_group, ec2.Port.tcp(SUPERLINK_PORT), "from the NLB only"
        )
        self.load_balancer = elbv2.NetworkLoadBalancer(
            self,
            "LoadBalancer",
            vpc=self.vpc,
            internet_facing=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_groups=[self.lb_security_group],
        )
        listener = self.load_balancer.add_listener(
            "Tls",
            port=443,
            protocol=elbv2.Protocol.TLS,
            certificates=[elbv2.ListenerCertificate.from_arn(certificate.value_as_string)],
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
        )
        listener.add_targets("SuperLink", port=SUPERLINK_PORT, protocol=elbv2.Protocol.TCP, targets=[self.service])
        cdk.CfnOutput(self, "SuperLinkAddress", value=f"{self.load_balancer.load_balancer_dns_name}:443")
        for rule, target in (
            ("AwsSolutions-ELB2", self.load_balancer),
            ("AwsSolutions-ECS2", task),
            ("AwsSolutions-EC23", self.lb_security_group),
        ):
            cdk.Validations.of(target).acknowledge(cdk.Acknowledgment(id=rule, reason=REASONS[rule]))
