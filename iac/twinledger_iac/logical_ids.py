"""Every construct id and pinned CloudFormation logical id of the app, in one place.

Tables and buckets have pinned logical ids (``HistoryTable``, ``ArchiveBucket``): renaming a
construct or moving it to another construct must never replace a data store. The Chalice
functions keep the logical ids ``chalice package`` gives them (``APIHandler``, ``Ingest``, ...).
"""

from __future__ import annotations

__all__ = [
    "bucket_logical_id",
    "function_log_group_id",
    "function_role_id",
    "pascal",
    "schedule_errors_alarm_id",
    "schedule_invoke_config_id",
    "table_logical_id",
]

STACK = "TwinLedger"

# Concerns (constructs composed by the stack).
DATA = "Data"
ALERTS = "Alerts"
AUTH = "Auth"
CHAIN = "Chain"
IOT = "Iot"
INGEST = "Ingest"
FUNCTIONS = "Functions"
OPERATIONS = "Operations"
ANOMALY = "Anomaly"

# Operations.
API_ACCESS_LOGS = "ApiAccessLogs"
API_LOGS_ROLE = "ApiGatewayLogsRole"
API_GATEWAY_ACCOUNT = "ApiGatewayAccount"
SCHEDULE_FAILURES_QUEUE = "ScheduleFailures"
SCHEDULE_FAILURES_ALARM = "ScheduleFailuresAlarm"
QUARANTINE_ALARM = "QuarantineAlarm"
CONFLICTING_DUPLICATES_ALARM = "ConflictingDuplicatesAlarm"
SHADOW_CONFLICTS_ALARM = "ShadowConflictsAlarm"
SCORING_FAILURES_ALARM = "ScoringFailuresAlarm"

# Anomaly endpoint (SageMaker).
ANOMALY_MODEL_BUCKET_PARAM = "AnomalyModelBucket"
ANOMALY_MODEL_KEY_PARAM = "AnomalyModelKey"
ANOMALY_SOURCE_KEY_PARAM = "AnomalySourceKey"
ANOMALY_IMAGE_PARAM = "AnomalyImageUri"
ANOMALY_MODEL_ROLE = "ModelRole"
ANOMALY_MODEL = "Model"
ANOMALY_ENDPOINT_CONFIG = "EndpointConfig"
ANOMALY_ENDPOINT = "Endpoint"
ANOMALY_SCALING_TARGET = "ScalingTarget"
ANOMALY_SCALING_POLICY = "ScalingPolicy"

# Data.
ACCESS_LOGS_BUCKET = "AccessLogsBucket"

# Alerts.
ALERT_TOPIC = "AlertTopic"

# Auth.
USER_POOL = "UserPool"
USER_POOL_CLIENT = "WebClient"
COGNITO_AUTHORIZER = "TwinLedgerCognito"

# Chain.
CHAIN_SIGNER_SECRET = "ChainSignerKey"
CHAIN_RPC_URL_PARAM = "ChainRpcUrl"
ANCHOR_REGISTRY_PARAM = "AnchorRegistryAddress"

# IoT.
GATEWAY_POLICY = "GatewayPolicy"

# Ingest.
TELEMETRY_QUEUE = "TelemetryQueue"
TELEMETRY_DLQ = "TelemetryDeadLetters"
TELEMETRY_RULE = "TelemetryRule"
TELEMETRY_RULE_ROLE = "TelemetryRuleRole"
TELEMETRY_RULE_ERRORS = "TelemetryRuleErrors"
INGEST_EVENT_SOURCE = "IngestEventSource"
DEAD_LETTERS_ALARM = "TelemetryDeadLettersAlarm"

# Functions (the Chalice app and its logical ids from ``chalice package``).
CHALICE_APP = "ChaliceApp"
API_HANDLER_FUNCTION = "APIHandler"
INGEST_FUNCTION = "Ingest"
#: The ingest function's name in ``functions/app.py`` (``@app.lambda_function(name="ingest")``).
INGEST_CHALICE_NAME = "ingest"
REST_API = "RestAPI"

# Stack outputs.
OUTPUT_API_URL = "ApiUrl"
OUTPUT_USER_POOL_ID = "UserPoolId"
OUTPUT_USER_POOL_CLIENT_ID = "UserPoolClientId"
OUTPUT_TELEMETRY_QUEUE_URL = "TelemetryQueueUrl"
OUTPUT_GATEWAY_POLICY = "GatewayPolicyName"
OUTPUT_CHAIN_SECRET_ARN = "ChainSignerSecretArn"
OUTPUT_ALERT_TOPIC_ARN = "AlertTopicArn"
OUTPUT_ANOMALY_ENDPOINT = "AnomalyEndpointName"
OUTPUT_ACCESS_LOGS = "ApiAccessLogGroup"


def pascal(key: str) -> str:
    """``alert_cooldown`` -> ``AlertCooldown``."""
    return "".join(part[:1].upper() + part[1:] for part in key.replace("-", "_").split("_") if part)


def table_logical_id(key: str) -> str:
    """The pinned logical id of table ``key`` (``history`` -> ``HistoryTable``)."""
    return f"{pascal(key)}Table"


def bucket_logical_id(key: str) -> str:
    """The pinned logical id of bucket ``key`` (``archive`` -> ``ArchiveBucket``)."""
    return f"{pascal(key)}Bucket"


def function_role_id(function: str) -> str:
    """The construct id of a Chalice function's role (``Ingest`` -> ``IngestRole``)."""
    return f"{function}Role"


def function_log_group_id(function: str) -> str:
    """The construct id of a Chalice function's log group."""
    return f"{function}Logs"


def schedule_invoke_config_id(function: str) -> str:
    """The construct id of a scheduled function's asynchronous-invocation settings."""
    return f"{function}InvokeConfig"


def schedule_errors_alarm_id(function: str) -> str:
    """The construct id of a scheduled function's Errors alarm."""
    return f"{function}ErrorsAlarm"
