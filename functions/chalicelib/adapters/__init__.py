"""The adapters: every port of :mod:`chalicelib.ports` implemented for AWS (boto3: DynamoDB, S3, the IoT data
plane, SageMaker runtime, SNS, Secrets Manager), for the chain (web3, in :mod:`chalicelib.adapters.chain`) and
in process (:mod:`chalicelib.adapters.memory`). Only the wiring (:mod:`chalicelib.wiring`) picks them."""
