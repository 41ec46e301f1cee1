"""com.twinledger.TelemetryPublisher: source -> signed batches -> durable spool -> IoT Core over IPC."""

from __future__ import annotations

import sys

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

from edge_greengrass.greengrass import publisher_main

if __name__ == "__main__":
    sys.exit(publisher_main(GreengrassCoreIPCClientV2(), sys.argv[1:]))
